package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/exhibit-forensics/exhibit/api/auth"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/review"
)

// labReview runs `exhibit lab review` and `exhibit lab authorise`: the
// person named authenticates with their password at that moment, as for a
// handover.
func labReview(e *env, args []string, authorise bool) int {
	name, synopsis := "lab review", "lab review --data DIR --sample REF --setup FILE --by USERID   (the password is asked)"
	if authorise {
		name, synopsis = "lab authorise", "lab authorise --data DIR --sample REF --setup FILE --by USERID [--reason TEXT]   (the password is asked; --reason for an amendment)"
	}
	fs := newFlags(e, name, synopsis)
	data := fs.String("data", "", "data directory")
	ref := fs.String("sample", "", "the sample's reference (as received, not an aliquot)")
	setupPath := fs.String("setup", "", "the laboratory's setup file (exhibit-lab-setup v1, docs/review.md)")
	by := fs.String("by", "", "user id of the reviewer (or authoriser)")
	reason := fs.String("reason", "", "authorise: why this version amends the one before")
	pname := fs.String("panel", panel.DefaultName, "the built-in panel, NAME or NAME@VERSION")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 || *data == "" || *ref == "" || *setupPath == "" || *by == "" {
		return e.usageErr(fs, "--data, --sample, --setup and --by are required")
	}
	b, err := os.ReadFile(*setupPath)
	if err != nil {
		return e.fail(name, err)
	}
	setup, err := review.ParseSetup(b)
	if err != nil {
		return e.fail(name, fmt.Errorf("%s: %w", *setupPath, err))
	}
	p, err := panel.Lookup(*pname)
	if err != nil {
		return e.usageErr(fs, "--panel: %v", err)
	}
	l, code := openLedger(e, name, *data)
	if l == nil {
		return code
	}
	defer l.Close()
	pw, err := newPasswordReader(e).read(fmt.Sprintf("%s (%s %s): password: ", *by, name, *ref))
	if err != nil {
		return e.fail(name, err)
	}
	party, err := auth.Open(*data, l.Now).Authenticate(*by, pw)
	if err != nil {
		return e.fail(name, fmt.Errorf("%s: %w", *by, err))
	}
	who := party.Person
	if !authorise {
		d, err := review.Review(e.ctx, l, *ref, setup, p, who)
		if err != nil {
			return e.fail(name, err)
		}
		for _, r := range d.Report.Results {
			fmt.Fprintf(e.stdout, "%s\t%s %s\t%s\t%s\trun %s QC %s\n", r.Aliquot, r.Value, r.Units, r.Analyte, r.Outcome, r.Run, r.QC.State)
		}
		for _, s := range d.Left {
			fmt.Fprintf(e.stdout, "left out: %s\n", s)
		}
		fmt.Fprintf(e.stdout, "%s reviewed by %s\n", *ref, who.Name)
		return exitOK
	}
	rex, rep, err := review.Authorise(e.ctx, l, *ref, setup, p, who, *reason)
	if err != nil {
		if errors.Is(err, review.ErrNotReviewed) {
			return e.fail(name, fmt.Errorf("%w (exhibit lab review first)", err))
		}
		return e.fail(name, err)
	}
	fmt.Fprintf(e.stdout, "%s %s report %s version %d authorised by %s\n", rex.Ref, rex.Blobs[0].Hash, rep.ID, rep.Version, who.Name)
	return exitOK
}
