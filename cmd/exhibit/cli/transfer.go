package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/exhibit-forensics/exhibit/api/auth"
	"github.com/exhibit-forensics/exhibit/chain"
)

// passwordReader reads passwords: without echo from a terminal, else one
// line at a time from standard input (for scripts and tests).
type passwordReader struct {
	e  *env
	in *bufio.Reader
}

func newPasswordReader(e *env) *passwordReader {
	return &passwordReader{e: e, in: bufio.NewReader(e.stdin)}
}

func (p *passwordReader) read(prompt string) (string, error) {
	fmt.Fprint(p.e.stderr, prompt)
	if f, ok := p.e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(p.e.stderr)
		return string(b), err
	}
	line, err := p.in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password given")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func runUser(e *env, args []string) int {
	fs := newFlags(e, "user", `user add --data DIR --id ID --name "Full Name" --role ROLE   (password read from the terminal or stdin)`)
	data := fs.String("data", "", "data directory")
	id := fs.String("id", "", "user id (lowercase)")
	name := fs.String("name", "", "full name")
	role := fs.String("role", "", "role: "+strings.Join(auth.Roles, ", "))
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 || pos[0] != "add" || *data == "" || *id == "" || *name == "" || *role == "" {
		return e.usageErr(fs, "give `add` with --data, --id, --name and --role")
	}
	l, code := openLedger(e, "user", *data)
	if l == nil {
		return code
	}
	l.Close()
	pr := newPasswordReader(e)
	pw, err := pr.read(fmt.Sprintf("password for %s (at least %d characters): ", *id, auth.MinPasswordLen))
	if err != nil {
		return e.fail("user", err)
	}
	again, err := pr.read("the same password again: ")
	if err != nil {
		return e.fail("user", err)
	}
	if pw != again {
		return e.fail("user", errors.New("the two passwords differ"))
	}
	if err := auth.Open(*data, nil).Add(*id, *name, *role, pw); err != nil {
		return e.fail("user", err)
	}
	fmt.Fprintf(e.stdout, "user %s (%s, %s) added\n", *id, *name, *role)
	return exitOK
}

// runTransfer records a physical handover: both people authenticate with
// their passwords at that moment, and the record names both and when each
// authenticated.
func runTransfer(e *env, args []string) int {
	fs := newFlags(e, "transfer", "transfer --data DIR --ref JS/1 --from ID --to ID [--reason TEXT] [--seal NUMBER]   (each person's password is asked)")
	data := fs.String("data", "", "data directory")
	ref := fs.String("ref", "", "exhibit reference")
	from := fs.String("from", "", "user id of the person handing over")
	to := fs.String("to", "", "user id of the person receiving")
	reason := fs.String("reason", "", "why the item moves")
	seal := fs.String("seal", "", "seal number checked at handover")
	if _, err := parse(fs, args); err != nil {
		return exitUsage
	}
	if *data == "" || *ref == "" || *from == "" || *to == "" {
		return e.usageErr(fs, "--data, --ref, --from and --to are required")
	}
	if *from == *to {
		return e.fail("transfer", errors.New("the giver and the receiver must be different people"))
	}
	l, code := openLedger(e, "transfer", *data)
	if l == nil {
		return code
	}
	defer l.Close()
	users := auth.Open(*data, l.Now)
	pr := newPasswordReader(e)
	authenticate := func(id, role string) (chain.Party, error) {
		pw, err := pr.read(fmt.Sprintf("%s (%s %s): password: ", id, role, *ref))
		if err != nil {
			return chain.Party{}, fmt.Errorf("%s: %w", id, err)
		}
		a, err := users.Authenticate(id, pw)
		if err != nil {
			return chain.Party{}, fmt.Errorf("%s: %w", id, err)
		}
		return a, nil
	}
	fa, err := authenticate(*from, "handing over")
	if err != nil {
		return e.fail("transfer", err)
	}
	ta, err := authenticate(*to, "receiving")
	if err != nil {
		return e.fail("transfer", err)
	}
	rec, err := l.Transfer(e.ctx, *ref, fa, ta, *reason, *seal)
	if err != nil {
		return e.fail("transfer", err)
	}
	fmt.Fprintf(e.stdout, "%s #%d transferred from %s to %s %s\n", *ref, rec.Statement.Predicate.Seq, fa.Name, ta.Name, rec.Hash)
	return exitOK
}
