// Package order is the laboratory's order book: which tests are wanted on
// which specimen, and what became of each order.
//
// An Order names a specimen (the barcode on the aliquot tube), the
// instrument test codes wanted, a priority, the aliquot's exhibit
// reference and when it was placed. Its state moves
//
//	pending → sent (downloaded to the analyser) or queried (given in
//	answer to the analyser's host query) → resulted
//
// and it is resulted once a result for every ordered test has arrived
// with its specimen id. Results for specimens the book does not know are
// kept as unmatched — the message itself is always in the evidence log
// (lab/receive captures it before it is acknowledged); the book only
// records that nothing was ordered for it.
//
// The book is a JSON file, DIR/lab/orders.json ("exhibit-orders v1",
// firmware-notes/astm-lis2a2.md "Orders"), replaced atomically
// (internal/atomicfile) under an flock(2) on DIR/lab/orders.lock, and
// re-read on every operation, so that `exhibit lab order` run beside a
// receiving process is seen by the next query or download. Why a file and
// not the data directory's database: the database is the evidence log,
// append-only and signed; an order's state changes, and an order is not
// evidence (the results and their captures are). The file holds a working
// list of at most a day's or a week's orders; a second implementation
// needs only JSON and a rename.
//
// Matching is idempotent by message id, and can be redone from the log
// (Reconcile): a receiving process that stops between storing a message
// and updating the book loses nothing, because the next Reconcile reads
// the captured results back from the log.
package order
