package cli

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/bundle"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

func runExport(e *env, args []string) int {
	fs := newFlags(e, "export", "export --data DIR --case CASEREF --out FILE.zip")
	data := fs.String("data", "", "data directory")
	caseRef := fs.String("case", "", "case reference")
	out := fs.String("out", "", "bundle file to write (a .zip); it must not exist")
	actor := fs.String("actor", "", "who is exporting (default: the producer)")
	if _, err := parse(fs, args); err != nil {
		return exitUsage
	}
	if *data == "" || *caseRef == "" || *out == "" {
		return e.usageErr(fs, "--data, --case and --out are required")
	}
	l, code := openLedger(e, "export", *data)
	if l == nil {
		return code
	}
	defer l.Close()
	bar := e.progressBar("export "+filepath.Base(*out), false)
	res, err := bundle.ExportFile(e.ctx, l, *caseRef, chain.Person{Name: *actor}, *out, bundle.ExportOptions{Progress: bar.Update})
	bar.Finish()
	if err != nil {
		return e.fail("export", err)
	}
	fmt.Fprintf(e.stdout, "wrote %s: bundle %s, %d exhibits, %d records, %d bytes of originals, log size %d\n",
		*out, res.Name, res.Exhibits, res.Records, res.Payload, res.Size)
	for _, s := range res.Superseded {
		fmt.Fprintf(e.stdout, "left out %s: its first record is over the record size limit and is superseded by %s, which is in the bundle\n", s.Ref, s.New.Ref)
	}
	return exitOK
}

// keyList is a repeatable --key flag.
type keyList []ed25519.PublicKey

func (k *keyList) String() string { return fmt.Sprint(len(*k), " keys") }
func (k *keyList) Set(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	pub, err := bundle.ParsePublicKey(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	*k = append(*k, pub)
	return nil
}

// witnessList is a repeatable --witness flag: a witness verifier key
// (name+keyid+base64 key, as hub.json and an agent's enrolment give it),
// or a file holding one on its first line.
type witnessList []string

func (k *witnessList) String() string { return fmt.Sprint(len(*k), " witness keys") }
func (k *witnessList) Set(v string) error {
	if _, err := witness.ParseVerifierKey(v); err == nil {
		*k = append(*k, v)
		return nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return fmt.Errorf("%q is neither a witness verifier key (name+keyid+key) nor a file holding one: %w", v, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSpace(line)
	if _, err := witness.ParseVerifierKey(line); err != nil {
		return fmt.Errorf("%s: %w", v, err)
	}
	*k = append(*k, line)
	return nil
}

func runVerify(e *env, args []string) int {
	fs := newFlags(e, "verify", "verify FILE.zip [--json] [--key TRUSTED.pem ...] [--witness VKEY ...]")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var keys keyList
	fs.Var(&keys, "key", "a trusted device public key (PEM); repeatable")
	var witnesses witnessList
	fs.Var(&witnesses, "witness", "a trusted hub witness key (its vkey, or a file holding it): a bundle a hub exported must be co-signed by it; repeatable")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		return e.usageErr(fs, "exactly one bundle file is required")
	}
	f, err := os.Open(pos[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "exhibit verify: %v\n", err)
		return exitUsage
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		fmt.Fprintf(e.stderr, "exhibit verify: %v\n", err)
		return exitUsage
	}
	if !fi.Mode().IsRegular() {
		fmt.Fprintf(e.stderr, "exhibit verify: %s is not a regular file\n", pos[0])
		return exitUsage
	}
	// Exit status (docs/bundle.md): 0 valid; 1 read and found invalid; 2
	// usage, or the file could not be opened or read as a zip archive at
	// all (bundle.ErrUnreadable), or reading failed.
	bar := e.progressBar("verify "+filepath.Base(pos[0]), *asJSON)
	res, err := bundle.Verify(e.ctx, f, fi.Size(), bundle.Options{Trusted: keys, Witnesses: witnesses, Progress: bar.Update})
	bar.Finish()
	if errors.Is(err, bundle.ErrUnreadable) {
		fmt.Fprintf(e.stderr, "exhibit verify: %s could not be read as a bundle: %v\n", pos[0], err)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "exhibit verify: %s: %v\n", pos[0], err)
		return exitUsage
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return exitUsage
		}
	} else {
		printVerify(e, pos[0], res)
	}
	if !res.Valid {
		return exitInvalid
	}
	return exitOK
}

func printVerify(e *env, file string, r *bundle.Result) {
	w := e.stdout
	if !r.Valid {
		noun := "problems"
		if len(r.Problems) == 1 {
			noun = "problem"
		}
		fmt.Fprintf(w, "INVALID: %s — %d %s:\n", file, len(r.Problems), noun)
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
		return
	}
	fmt.Fprintf(w, "VALID: %s\n", file)
	fmt.Fprintf(w, "  bundle %s, case %s\n", r.Bundle, r.Case)
	if r.Checkpoint != nil {
		fmt.Fprintf(w, "  log %s at size %d, root %s\n", r.Origin, r.Checkpoint.Size, r.Checkpoint.Root)
	}
	if h := r.Hub; h != nil {
		trust := "not checked against a trusted key"
		if h.Trusted {
			trust = "trusted"
		}
		fmt.Fprintf(w, "  exported by a hub: checkpoint co-signed by witness %s (%s)", h.Witness, trust)
		if !h.Cosigned.IsZero() {
			fmt.Fprintf(w, " at %s", h.Cosigned.Format(time.RFC3339))
		}
		fmt.Fprintf(w, "\n  hub log %s at size %d", h.Origin, h.Size)
		if h.Synced != nil && h.Exported != nil {
			fmt.Fprintf(w, ": the checkpoint recorded at index %d, this export at index %d", *h.Synced, *h.Exported)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  %d records: every signature, custody link and inclusion proof checked\n", r.Records)
	for _, ex := range r.Exhibits {
		for _, f := range ex.Files {
			fmt.Fprintf(w, "  %-8s %-9s %s %s (%d bytes, %d records)\n", ex.Ref, ex.Kind, f.SHA256, f.Name, f.Size, ex.Records)
		}
	}
	for _, k := range r.Keys {
		pin := "not pinned"
		if k.Pinned {
			pin = "trusted"
		}
		fmt.Fprintf(w, "  key ed25519 %s: signs from log index %d until %s (%s)\n", k.KeyID, k.From, k.Until, pin)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "  note: %s\n", warn)
	}
}
