package cli

import (
	"bytes"
	"fmt"
	"io"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/imaging/recipe"
)

func runImaging(e *env, args []string) int {
	if len(args) == 0 || args[0] != "reproduce" {
		fmt.Fprintln(e.stderr, "usage: exhibit imaging reproduce --data DIR --ref REF")
		return exitUsage
	}
	fs := newFlags(e, "imaging reproduce", "imaging reproduce --data DIR --ref REF")
	data := fs.String("data", "", "data directory")
	ref := fs.String("ref", "", "the derivative's exhibit reference, e.g. JS/7")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 || *data == "" || *ref == "" {
		return e.usageErr(fs, "--data and --ref are required")
	}
	l, code := openLedger(e, "imaging reproduce", *data)
	if l == nil {
		return code
	}
	defer l.Close()
	ex, err := l.ExhibitByRef(e.ctx, *ref)
	if err != nil {
		return e.fail("imaging reproduce", err)
	}
	if ex.DerivedFrom == "" || len(ex.Blobs) < 2 {
		return e.fail("imaging reproduce", fmt.Errorf("%s is not a derivative: it has no recipe to re-run", *ref))
	}
	read := func(h chain.Hash) ([]byte, error) {
		rc, _, err := l.Open(e.ctx, h)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(io.LimitReader(rc, recipe.MaxSize+1))
	}
	doc, err := read(ex.Blobs[1].Hash)
	if err != nil {
		return e.fail("imaging reproduce", fmt.Errorf("the recipe of %s: %w", *ref, err))
	}
	r, err := recipe.Parse(doc)
	if err != nil {
		return e.fail("imaging reproduce", fmt.Errorf("the recipe of %s: %w", *ref, err))
	}
	got, err := recipe.Run(e.ctx, r, l)
	if err != nil {
		return e.fail("imaging reproduce", err)
	}
	recorded, reproduced := ex.Blobs[0].Hash, chain.Sum(got)
	fmt.Fprintf(e.stdout, "recorded   %s %s\n", recorded, ex.Blobs[0].Name)
	fmt.Fprintf(e.stdout, "reproduced %s\n", reproduced)
	if !bytes.Equal(recorded[:], reproduced[:]) {
		fmt.Fprintf(e.stdout, "DIFFERENT: the recipe does not give the sealed bytes\n")
		return exitFail
	}
	fmt.Fprintf(e.stdout, "IDENTICAL\n")
	return exitOK
}
