package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
)

// runTransfer records a handover. Until user accounts exist (the agent's
// web UI brings them), both parties confirm by typing their full name on
// standard input at that moment, which the record notes as the method.
func runTransfer(e *env, args []string) int {
	fs := newFlags(e, "transfer", "transfer --data DIR --ref JS/1 --from ID:NAME --to ID:NAME [--reason TEXT] [--seal NUMBER]")
	data := fs.String("data", "", "data directory")
	ref := fs.String("ref", "", "exhibit reference")
	from := fs.String("from", "", "giving person as ID:Full Name")
	to := fs.String("to", "", "receiving person as ID:Full Name")
	reason := fs.String("reason", "", "why the item moves")
	seal := fs.String("seal", "", "seal number checked at handover")
	if _, err := parse(fs, args); err != nil {
		return exitUsage
	}
	fp, ok1 := person(*from)
	tp, ok2 := person(*to)
	if *data == "" || *ref == "" || !ok1 || !ok2 {
		return e.usageErr(fs, "--data, --ref, --from ID:NAME and --to ID:NAME are required")
	}
	l, code := openLedger(e, "transfer", *data)
	if l == nil {
		return code
	}
	defer l.Close()
	in := bufio.NewScanner(e.stdin)
	confirm := func(p chain.Person) (ledger.Authenticated, error) {
		fmt.Fprintf(e.stderr, "%s, type your full name to confirm the handover of %s: ", p.ID, *ref)
		if !in.Scan() {
			return ledger.Authenticated{}, fmt.Errorf("%s did not confirm", p.ID)
		}
		if strings.TrimSpace(in.Text()) != p.Name {
			return ledger.Authenticated{}, fmt.Errorf("%s's confirmation does not match the name %q", p.ID, p.Name)
		}
		return ledger.Authenticated{Person: p, Method: "typed-name-confirmation", At: l.Now()}, nil
	}
	fa, err := confirm(fp)
	if err != nil {
		return e.fail("transfer", err)
	}
	ta, err := confirm(tp)
	if err != nil {
		return e.fail("transfer", err)
	}
	rec, err := l.Transfer(e.ctx, *ref, fa, ta, *reason, *seal)
	if err != nil {
		return e.fail("transfer", err)
	}
	fmt.Fprintf(e.stdout, "%s #%d transferred %s → %s %s\n", *ref, rec.Statement.Predicate.Seq, fp.Name, tp.Name, rec.Hash)
	return exitOK
}

func person(s string) (chain.Person, bool) {
	id, name, ok := strings.Cut(s, ":")
	id, name = strings.TrimSpace(id), strings.TrimSpace(name)
	return chain.Person{ID: id, Name: name}, ok && id != "" && name != ""
}
