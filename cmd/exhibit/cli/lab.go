package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/testcode"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

// runLab runs `exhibit lab receive|watch|results|quarantine|intake|order|orders`.
func runLab(e *env, args []string) int {
	fs := newFlags(e, "lab", "lab receive|watch|results|quarantine|intake|open|split|dispose|order|orders|review|authorise [flags]   (run `exhibit lab receive -h` for a subcommand's flags)")
	if len(args) == 0 {
		return e.usageErr(fs, "which lab command? (receive, watch, results, quarantine, intake, open, split, dispose, order, orders, review, authorise)")
	}
	switch args[0] {
	case "intake":
		return labIntake(e, args[1:])
	case "open", "split", "dispose":
		return labCustody(e, args[0], args[1:])
	case "review":
		return labReview(e, args[1:], false)
	case "authorise", "authorize":
		return labReview(e, args[1:], true)
	case "order", "orders":
		return labOrderCmd(e, args)
	case "receive":
		return labReceive(e, args[1:])
	case "watch":
		return labWatch(e, args[1:])
	case "results":
		return labList(e, args[1:], false)
	case "quarantine":
		return labList(e, args[1:], true)
	}
	return e.usageErr(fs, "unknown lab command %q (receive, watch, results, quarantine, intake, open, split, dispose, order, orders, review, authorise)", args[0])
}

// labLogger logs to stderr at the given level.
func labLogger(e *env, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: l})), nil
}

// labOut serialises lines written to stdout from connection goroutines.
type labOut struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *labOut) printf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, format, args...)
}

func labReceive(e *env, args []string) int {
	fs := newFlags(e, "lab receive", "lab receive --data DIR --protocol astm|hl7 --transport serial|tcp [--link PATH | --listen ADDR | --connect ADDR] [--dialect NAME] [--case REF] [--analyser NAME] [--codes FILE]")
	data := fs.String("data", "", "data directory (see `exhibit init`)")
	proto := fs.String("protocol", "", "astm or hl7")
	var tr transport.Spec
	tr.Flags(fs, transport.Host)
	dialect := fs.String("dialect", "", "the instrument's dialect (astm: "+strings.Join(protocol.Names(protocol.ASTM), ", ")+"; hl7: "+strings.Join(protocol.Names(protocol.HL7), ", ")+"); default: the standard")
	caseRef := fs.String("case", receive.DefaultCase, "case reference the results are captured under")
	analyser := fs.String("analyser", "", "the instrument's name in records (default: as the messages give it)")
	codes := fs.String("codes", "", "the analyser's test-code map (a \"testcode v1\" file); without it every code is flagged unknown")
	level := fs.String("log-level", "info", "stderr log level: debug, info, warn, error")
	every := fs.Duration("checkpoint-every", time.Minute, "sign a checkpoint of the log this often while receiving (and always on stop)")
	procs := fs.Int("procs", receive.DefaultProcs, "processors the receiver may use at once (GOMAXPROCS)")
	ro := receiveOrderFlags(fs)
	reply := fs.Duration("reply-timer", 15*time.Second, "astm: the reply timer both sides keep (E1381: 15 s); set it to the instrument's if that differs, since an answer later than it is withheld")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 {
		return e.usageErr(fs, "unexpected arguments %q", pos)
	}
	if *data == "" || *proto == "" || tr.Transport == "" {
		return e.usageErr(fs, "--data, --protocol and --transport are required")
	}
	d, err := lookupDialect(*proto, *dialect)
	if err != nil {
		return e.usageErr(fs, "%v", err)
	}
	if err := tr.Validate(); err != nil {
		return e.usageErr(fs, "%v", err)
	}
	if err := chain.ValidCaseRef(*caseRef); err != nil {
		return e.usageErr(fs, "--case: %v", err)
	}
	if *reply <= 0 {
		return e.usageErr(fs, "--reply-timer %v: want a positive duration", *reply)
	}
	log, err := labLogger(e, *level)
	if err != nil {
		return e.usageErr(fs, "%v", err)
	}
	var cm receive.CodeMap
	if *codes != "" {
		b, err := os.ReadFile(*codes)
		if err != nil {
			return e.fail("lab receive", err)
		}
		m, err := testcode.Parse(b)
		if err != nil {
			return e.fail("lab receive", fmt.Errorf("%s: %w", *codes, err))
		}
		cm = m
	}
	receive.UseProcs(*procs)
	l, code := openLedger(e, "lab receive", *data)
	if l == nil {
		return code
	}
	defer l.Close()

	out := &labOut{w: e.stdout}
	var mu sync.Mutex
	tally := map[receive.OutcomeKind]int{}
	refusedForGood := 0
	// Input too large to hold in memory waits in DIR/spool, on the data
	// directory's file system, until it is quarantined.
	spool := filepath.Join(*data, "spool")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return e.fail("lab receive", err)
	}
	// The log's signed head follows what was received: a checkpoint every
	// --checkpoint-every while running, and one on stop.
	cfg := receive.Config{Store: l, Dialect: d, Case: *caseRef, Analyser: *analyser, Codes: cm, Logger: log,
		Timers: link.Timers{Reply: *reply}, Spool: spool, Checkpoints: l, CheckpointEvery: *every,
		Observe: func(o receive.Outcome) {
			mu.Lock()
			tally[o.Kind]++
			if o.Refused {
				refusedForGood++
			}
			mu.Unlock()
			switch {
			case o.Kind == receive.Stored:
				out.printf("stored %s %s results=%d unknown=%d durable=%s\n", o.Ref, o.Key, o.Results, len(o.Unknown), o.Durable.Round(10*time.Microsecond))
			case o.Kind == receive.Duplicate:
				out.printf("duplicate %s %s\n", o.Ref, o.Key)
			case o.Kind == receive.Quarantined && o.Refused:
				out.printf("quarantined and refused %s %s reason=%q\n", o.Ref, o.Key, o.Reason)
			case o.Kind == receive.Quarantined:
				out.printf("quarantined %s %s reason=%q\n", o.Ref, o.Key, o.Reason)
			case o.Kind == receive.Failed:
				out.printf("not stored, refused to be sent again %s error=%q\n", o.Key, o.Err.Error())
			}
		}}
	if err := ro.wire(e, *data, l, log, &cfg); err != nil {
		return e.fail("lab receive", err)
	}
	rcv, err := receive.New(cfg)
	if err != nil {
		return e.fail("lab receive", err)
	}
	runner, err := tr.Runner(transport.RunnerOptions{Logger: log, Ready: func(a net.Addr) { out.printf("listening on %s\n", a) }})
	if err != nil {
		return e.fail("lab receive", err)
	}
	out.printf("receiving %s (%s) over %s into %s, case %s\n", d.Protocol, d.Name, &tr, *data, *caseRef)
	cp, err := rcv.Run(e.ctx, runner)
	if cp != nil {
		out.printf("checkpoint: log size %d\n", cp.Size)
	}
	mu.Lock()
	line := fmt.Sprintf("stopped: %d stored, %d duplicates, %d quarantined (%d of them refused), %d not stored",
		tally[receive.Stored], tally[receive.Duplicate], tally[receive.Quarantined], refusedForGood, tally[receive.Failed])
	mu.Unlock()
	if d.ASTM != nil {
		line += "; link: " + rcv.LinkStats().String()
	}
	out.printf("%s\n", line)
	if err != nil {
		return e.fail("lab receive", err)
	}
	return exitOK
}

// labResult is one row of `exhibit lab results --json`.
type labResult struct {
	Ref       string    `json:"ref"`
	Exhibit   string    `json:"exhibit"`
	Case      string    `json:"case"`
	Captured  time.Time `json:"captured"`
	Protocol  string    `json:"protocol"`
	Dialect   string    `json:"dialect"`
	Analyser  string    `json:"analyser"`
	MessageID string    `json:"messageId"`
	Raw       string    `json:"raw"` // digest of the raw message blob
	Specimen  string    `json:"specimen"`
	Code      string    `json:"code"`
	Analyte   string    `json:"analyte,omitempty"`
	Unknown   bool      `json:"unknownCode,omitempty"`
	Value     string    `json:"value"`
	// ValueSHA256 and ValueSize name a value too long to keep in the
	// record (Value is then empty): a blob of the exhibit.
	ValueSHA256 string `json:"valueSha256,omitempty"`
	ValueSize   int64  `json:"valueSize,omitempty"`
	Number      string `json:"number,omitempty"`
	Censor      string `json:"censor,omitempty"`
	Units       string `json:"units,omitempty"`
	Range       string `json:"range,omitempty"`
	Flags       string `json:"flags,omitempty"`
	Status      string `json:"status,omitempty"`
	ResultTime  string `json:"resultTime,omitempty"`
}

// labQuarantined is one row of `exhibit lab quarantine --json`.
type labQuarantined struct {
	Ref       string    `json:"ref"`
	Exhibit   string    `json:"exhibit"`
	Case      string    `json:"case"`
	Captured  time.Time `json:"captured"`
	Protocol  string    `json:"protocol"`
	Dialect   string    `json:"dialect"`
	Analyser  string    `json:"analyser,omitempty"`
	MessageID string    `json:"messageId"`
	Reason    string    `json:"reason"`
	Raw       string    `json:"raw"`
	Size      int64     `json:"size"`
	// Preview is the start of the raw bytes, Go-quoted (control bytes
	// escaped).
	Preview string `json:"preview"`
}

const labPreviewBytes = 160

func labList(e *env, args []string, quarantine bool) int {
	name := "lab results"
	synopsis := "lab results --data DIR [--case REF] [--json]"
	if quarantine {
		name, synopsis = "lab quarantine", "lab quarantine --data DIR [--case REF] [--json]"
	}
	fs := newFlags(e, name, synopsis)
	data := fs.String("data", "", "data directory")
	caseRef := fs.String("case", "", "only this case")
	asJSON := fs.Bool("json", false, "print JSON (an array) instead of a table")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *data == "" || len(pos) > 0 {
		return e.usageErr(fs, "--data is required, and nothing else")
	}
	l, code := openLedger(e, name, *data)
	if l == nil {
		return code
	}
	defer l.Close()
	var results []labResult
	var quar []labQuarantined
	err = receive.List(e.ctx, l, func(en receive.Entry) error {
		if *caseRef != "" && en.Case != *caseRef || en.Quarantined() != quarantine {
			return nil
		}
		if quarantine {
			prev, err := labPreview(e.ctx, l, en.Blob)
			if err != nil {
				return fmt.Errorf("%s: raw message %s: %w", en.Ref, en.Blob, err)
			}
			quar = append(quar, labQuarantined{Ref: en.Ref, Exhibit: en.Exhibit, Case: en.Case, Captured: en.Time,
				Protocol: en.Lab.Protocol, Dialect: en.Lab.Dialect, Analyser: en.Lab.Analyser, MessageID: en.Lab.MessageID,
				Reason: en.Lab.Quarantine, Raw: en.Blob.String(), Size: en.Size, Preview: prev})
			return nil
		}
		for _, r := range en.Lab.Results {
			results = append(results, labResult{Ref: en.Ref, Exhibit: en.Exhibit, Case: en.Case, Captured: en.Time,
				Protocol: en.Lab.Protocol, Dialect: en.Lab.Dialect, Analyser: en.Lab.Analyser, MessageID: en.Lab.MessageID,
				Raw: en.Blob.String(), Specimen: r.Specimen, Code: r.Code, Analyte: r.Analyte, Unknown: r.Unknown,
				Value: r.Value, ValueSHA256: r.ValueSHA256, ValueSize: r.ValueSize,
				Number: r.Number, Censor: r.Censor, Units: r.Units, Range: r.Range, Flags: r.Flags,
				Status: r.Status, ResultTime: r.Time})
		}
		return nil
	})
	// Records over the size limit are named in err, after the listing of
	// everything else: one unreadable record hides nothing else.
	listErr := err
	if listErr != nil && !errors.Is(listErr, ledger.ErrOversized) {
		return e.fail(name, listErr)
	}
	code = exitOK
	if listErr != nil {
		defer func() { e.fail(name, listErr) }()
		code = exitFail
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		var v any = results
		if quarantine {
			v = quar
		}
		if results == nil && !quarantine {
			v = []labResult{}
		}
		if quar == nil && quarantine {
			v = []labQuarantined{}
		}
		if err := enc.Encode(v); err != nil {
			return e.fail(name, err)
		}
		return code
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	if quarantine {
		if len(quar) == 0 {
			fmt.Fprintln(e.stdout, "nothing in quarantine")
			return code
		}
		for _, q := range quar {
			fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%d bytes\t%s\n", q.Ref, q.Captured.Format(time.RFC3339), q.Protocol, q.Dialect,
				labOrDash(q.Analyser), q.Size, labShortDigest(q.Raw))
			fmt.Fprintf(tw, "\treason: %s\n", q.Reason)
			fmt.Fprintf(tw, "\traw: %s\n", q.Preview)
		}
		tw.Flush()
		return code
	}
	if len(results) == 0 {
		fmt.Fprintln(e.stdout, "no results")
		return code
	}
	fmt.Fprintln(tw, "REF\tSPECIMEN\tANALYTE\tVALUE\tUNITS\tFLAGS\tSTATUS\tANALYSER\tRAW")
	for _, r := range results {
		analyte := r.Analyte
		if r.Unknown {
			analyte = r.Code + " (unknown code)"
		}
		v := r.Value
		if r.Censor != "" {
			v += " (censored)"
		}
		if r.ValueSHA256 != "" {
			v = fmt.Sprintf("[%d-byte value: sha256:%s…]", r.ValueSize, r.ValueSHA256[:12])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Ref, r.Specimen, analyte, v, labOrDash(r.Units), labOrDash(r.Flags),
			labOrDash(r.Status), labOrDash(r.Analyser), labShortDigest(r.Raw))
	}
	tw.Flush()
	return code
}

func labOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func labShortDigest(s string) string {
	if len(s) > len("sha256:")+12 {
		return s[:len("sha256:")+12]
	}
	return s
}

// labPreview returns the first bytes of a blob, Go-quoted.
func labPreview(ctx context.Context, l *ledger.Ledger, h chain.Hash) (string, error) {
	rc, size, err := l.Blobs().Open(ctx, h)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	buf := make([]byte, labPreviewBytes)
	n, err := io.ReadFull(rc, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	s := fmt.Sprintf("%q", buf[:n])
	if size > int64(n) {
		s += "…"
	}
	return s, nil
}

// lookupDialect resolves --protocol and --dialect (the protocol's standard
// dialect when --dialect is empty).
func lookupDialect(proto, dialect string) (*protocol.Dialect, error) {
	p, err := protocol.Parse(proto)
	if err != nil {
		return nil, err
	}
	if dialect == "" {
		dialect = protocol.Default(p)
	}
	return protocol.Lookup(p, dialect)
}
