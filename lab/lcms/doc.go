// Package lcms imports the confirmation results of an LC-MS/MS
// instrument: the results table its quantitation software exports as a
// CSV file into a folder this package watches.
//
// Parse reads one export (the format, and the quirks it accepts, are in
// firmware-notes/lcms-csv.md): a header row naming the columns, then one
// row per sample and analyte. It is liberal about the form — a UTF-8 BOM,
// Windows-1252 text, CRLF, a ',' ';' or tab delimiter, quoted fields,
// trailing empty columns, a decimal comma, thousands separators, "<LLOQ",
// "No Peak", "N/A" — and strict about the meaning: anything it cannot read
// one way only (a decimal mark it cannot tell, a sample type or value it
// does not know, two concentration columns, a row with more or fewer fields
// than the header, the same sample and analyte twice) is an error, and the
// caller quarantines the whole file. It never returns some of the rows.
//
// A Watcher polls a folder on an injected clock (internal/clock) and takes
// a file once it is complete: its size and modification time unchanged
// across two polls, or, in marker mode, once NAME.done exists beside it.
// It captures the file's bytes as received as one result exhibit
// (ledger.Capture, a chain.Lab section whose results are the rows) or, if
// Parse refuses it or it is over the size limit, the same bytes in
// quarantine with the reason and no results; only when the capture is
// durable does it move the file to done/ or quarantine/. The capture key
// is the SHA-256 of the bytes, so a file taken again — dropped twice, or
// left behind by a crash between the capture and the move — is recognised
// by the store and imported once.
package lcms
