package cli

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/exhibit-forensics/exhibit/api/hub/hubexport"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/atomicfile"
)

// hubMirrors opens a hub data directory's mirrors, blobs and own log for
// `exhibit hub export`; tests replace it with an in-memory hub.
var hubMirrors = openHubMirrors

// runHubExport is `exhibit hub export`: a bundle of a case as the hub holds
// it, proven against checkpoints of the agent's log that the hub
// co-signed, with the hub log's records of them (docs/bundle.md, "Bundles
// a hub exports"). Progress is drawn on a terminal, nothing in scripts.
func runHubExport(e *env, args []string) int {
	fs := newFlags(e, "hub export", "hub export --data DIR --case CASEREF --out FILE.zip [--device DEVICE-ID] [--actor NAME]")
	data := fs.String("data", "", "the hub's data directory")
	caseRef := fs.String("case", "", "case reference")
	out := fs.String("out", "", "bundle file to write (a .zip); it must not exist")
	device := fs.String("device", "", "the agent device whose log to export from, when the case's exhibits are on several")
	actor := fs.String("actor", "", "who is exporting (default: the hub)")
	db := fs.String("db", "", "the hub's PostgreSQL database, if it keeps its state there (as given to exhibit hub)")
	blobsURL := fs.String("blobs", "", "the hub's blob store, if not DATA/blobs (as given to exhibit hub)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *data == "" || *caseRef == "" || *out == "" || len(pos) > 0 {
		return e.usageErr(fs, "--data, --case and --out are required")
	}
	if err := chain.ValidCaseRef(*caseRef); err != nil {
		return e.usageErr(fs, "--case: %v", err)
	}
	src, closeSrc, err := hubMirrors(e, *data, hubStores{db: *db, blobs: *blobsURL})
	if err != nil {
		return e.fail("hub export", err)
	}
	defer closeSrc()
	bar := e.progressBar("export "+filepath.Base(*out), false)
	res, err := writeHubBundle(e, src, *caseRef, chain.Person{Name: *actor}, *out, hubexport.Options{Device: *device, Progress: bar.Update})
	bar.Finish()
	if err != nil {
		return e.fail("hub export", err)
	}
	fmt.Fprintf(e.stdout, "wrote %s: bundle %s, device %s (log %s, co-signed at size %d), %d exhibits, %d records, %d bytes of originals\n",
		*out, res.Name, res.Device, res.Origin, res.Checkpoint, res.Exhibits, res.Records, res.Payload)
	return exitOK
}

// writeHubBundle writes the bundle to a new file at path, mode 0600,
// linked into place only when complete; a file already at path is never
// replaced (as bundle.ExportFile).
func writeHubBundle(e *env, src hubexport.Source, caseRef string, exporter chain.Person, path string, opt hubexport.Options) (*hubexport.Result, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%s already exists: choose another name (a bundle is never overwritten): %w", path, fs.ErrExist)
	}
	var res *hubexport.Result
	err := atomicfile.WriteNew(path, 0o600, func(w io.Writer) error {
		var err error
		res, err = hubexport.Export(e.ctx, src, caseRef, exporter, w, opt)
		return err
	})
	return res, err
}
