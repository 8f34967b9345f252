package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/exhibit-forensics/exhibit/api/auth"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

// labCustody runs `exhibit lab open|split|dispose`: a sample's custody
// steps (lab/sample), by the technician named.
func labCustody(e *env, verb string, args []string) int {
	name := "lab " + verb
	synopsis := map[string]string{
		"open":    "lab open --data DIR --ref REF --seal SEAL --reason TEXT --by USERID",
		"split":   "lab split --data DIR --ref REF --part LABEL:ML:SEAL [--part LABEL:ML:SEAL]... [--storage TEXT] --by USERID",
		"dispose": "lab dispose --data DIR --ref REF --reason TEXT --by USERID",
	}[verb]
	fs := newFlags(e, name, synopsis)
	data := fs.String("data", "", "data directory")
	ref := fs.String("ref", "", "the sample's (or an aliquot's) reference")
	by := fs.String("by", "", "user id of the technician")
	seal := fs.String("seal", "", "open: the seal number")
	reason := fs.String("reason", "", "open, dispose: why")
	storage := fs.String("storage", "", "split: where the bottles are kept")
	var parts listFlag
	fs.Var(&parts, "part", "split: a bottle as LABEL:ML:SEAL, e.g. A:40:S-10 (repeatable)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 || *data == "" || *ref == "" || *by == "" {
		return e.usageErr(fs, "--data, --ref and --by are required")
	}
	var als []sample.Aliquot
	for _, p := range parts {
		f := strings.Split(p, ":")
		if len(f) != 3 {
			return e.usageErr(fs, "--part %q: want LABEL:ML:SEAL", p)
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return e.usageErr(fs, "--part %q: %q is not a volume in mL", p, f[1])
		}
		als = append(als, sample.Aliquot{Label: f[0], VolumeML: v, Seal: f[2], Storage: *storage})
	}
	l, code := openLedger(e, name, *data)
	if l == nil {
		return code
	}
	defer l.Close()
	who, err := technician(e, name, *data, l, *by)
	if err != nil {
		return e.fail(name, err)
	}
	switch verb {
	case "open":
		rec, err := sample.OpenSeal(e.ctx, l, *ref, *seal, *reason, who)
		if err != nil {
			return e.fail(name, err)
		}
		fmt.Fprintf(e.stdout, "%s #%d opened %s\n", *ref, rec.Statement.Predicate.Seq, rec.Hash)
	case "split":
		exs, warns, err := sample.Split(e.ctx, l, *ref, als, who, l.Identity().DeviceID)
		if err != nil {
			return e.fail(name, err)
		}
		for i, ex := range exs {
			fmt.Fprintf(e.stdout, "%s %s bottle %s\n", ex.Ref, ex.Blobs[0].Hash, als[i].Label)
		}
		for _, w := range warns {
			fmt.Fprintf(e.stdout, "warning: %s\n", w.Message)
		}
	case "dispose":
		rec, err := sample.Dispose(e.ctx, l, *ref, *reason, who)
		if err != nil {
			return e.fail(name, err)
		}
		fmt.Fprintf(e.stdout, "%s #%d disposed %s\n", *ref, rec.Statement.Predicate.Seq, rec.Hash)
	}
	return exitOK
}

// technician is the person a lab command is done by: the user's account
// if there is one, else the id alone (said on stderr).
func technician(e *env, name, data string, l *ledger.Ledger, id string) (chain.Person, error) {
	u, ok, err := auth.Open(data, l.Now).Get(id)
	if err != nil {
		return chain.Person{}, err
	}
	if ok {
		return chain.Person{ID: u.ID, Name: u.Name, Role: u.Role}, nil
	}
	fmt.Fprintf(e.stderr, "exhibit %s: note: %s is not a user of %s; recorded by id only (add users with `exhibit user add`)\n", name, id, data)
	return chain.Person{ID: id, Name: id}, nil
}
