// Package receive is the durable receiving side of analyser interfacing:
// it turns every message an analyser sends into a captured evidence record
// before the analyser is told the message arrived.
//
// A Receiver serves connections (lab/transport gives it serial lines and
// TCP connections) with the host role of lab/astm or the server of lab/hl7.
// Both protocols call it back before they acknowledge, and it keeps the
// contract they state:
//
//   - A message that parses is captured (ledger.Capture) as a result
//     exhibit whose blob is the raw message exactly as received and whose
//     record carries a chain.Lab section: protocol, dialect, analyser,
//     message id, and every result with its specimen, instrument code,
//     panel analyte, value text, number or censoring, units, range, flags
//     and status. Only when Capture has returned — the blob and the signed
//     record are durable — does the protocol acknowledge (ASTM: the ACK of
//     the last frame; HL7: AA). A store failure returns an error, so the
//     frame is NAKed or the message answered AE, and the analyser sends it
//     again.
//   - The capture key is "<protocol>:<message id>" — for ASTM the SHA-256
//     of the message as received, for HL7 its identity (hl7.Identity: the
//     message without MSH-7, which senders restamp when they resend) — so a
//     retransmission — after a lost ACK, a refused frame, a dropped
//     connection or a crash of this process between commit and ACK — is
//     recognised by the store and kept once.
//   - The record stays within chain.MaxRecordSize, which every reader
//     shares: a value longer than chain.MaxLabValue becomes a blob the
//     record names (ledger.Capture does this). A message whose results do
//     not fit even so is captured raw in quarantine and refused for good
//     (ErrRefused: HL7 AR, ASTM NAK), never acknowledged as read.
//   - Input that cannot be read (a malformed message, records outside a
//     message, a transfer cut short, junk between HL7 frames) is captured
//     the same way with chain.Lab.Quarantine giving the reason and no
//     results, under the key "<protocol>:quarantine:<id>" (a separate key
//     space, so that a message quarantined under one configuration can
//     still be stored when it is sent again under a corrected one). Input
//     too large to hold in memory arrives spooled (Config.Spool) and is
//     streamed into the store.
//   - Result codes the analyser's code map does not know are kept with
//     Unknown set, never guessed.
//
// Run serves every connection a lab/transport Runner gives and keeps the
// log's signed head following what was received: a checkpoint every
// Config.CheckpointEvery and one when it stops. UseProcs sets the number
// of processors a receiving process runs on (DefaultProcs, and why).
//
// Orders: an ASTM host query is answered from Config.Orders (lab/order's
// Book), and with Config.Download the receiver also sends due orders to
// the analyser: over ASTM while the line is idle, over HL7 on the
// analyser's order port (Config.OrderLink, ServeOrders). Outcome.Captured carries a stored
// message's results, so that an Observe function can match them to orders
// (order.Book.Observer).
//
// List reads what was captured back from the log, for `exhibit lab results`
// and `exhibit lab quarantine`; it reads the records themselves and keeps
// no table of its own.
package receive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/store"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
	"github.com/exhibit-forensics/exhibit/lab/hl7"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/transport"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

// Store is what the receiver needs of the evidence store. *ledger.Ledger
// is one; Capture's contract (durable on a nil error, idempotent by Key) is
// what the acknowledgement guarantee rests on.
type Store interface {
	Capture(ctx context.Context, req ledger.CaptureRequest) (ex store.Exhibit, rec *chain.Record, fresh bool, err error)
}

var _ Store = (*ledger.Ledger)(nil)

// A CodeMap turns instrument test codes into panel analytes
// (lab/testcode.Map is one).
type CodeMap interface {
	Analyte(code string) (analyte string, ok bool)
}

// DefaultCase is the case results are captured under when none is given:
// an inbox from which technicians assign them.
const DefaultCase = "LAB-INBOX"

// Config configures a Receiver.
type Config struct {
	Store   Store             // required
	Dialect *protocol.Dialect // required
	// Case is the case reference results are captured under; DefaultCase
	// if empty.
	Case string
	// Analyser names the instrument in records. If empty, the name the
	// message gives (ASTM H-5, HL7 MSH-3) is used.
	Analyser string
	Codes    CodeMap // nil: every result code is flagged unknown
	// Orders answers ASTM host queries; nil answers "no information".
	Orders astm.OrderSource
	// Download, if set, is an order book the host downloads from. ASTM:
	// on every connection, while the line is idle, its due orders are
	// sent as an order message (astm.DownloadMessage) and, once the
	// analyser has acknowledged it, marked sent. The link's contention
	// rules apply: when both sides bid for the line the host gives way.
	// HL7: the orders go over a connection of their own, OrderLink, one
	// OML^O33 (or ORM^O01) per specimen, marked sent once the analyser
	// answers AA (ServeOrders).
	Download OrderFeed
	// OrderLink is the analyser's HL7 order port (required with Download
	// and an HL7 dialect): Run serves its connections with ServeOrders.
	OrderLink transport.Runner
	// OrderTimeout bounds the wait for the analyser's reply to an HL7
	// order message (on Clock); zero means 30 s.
	OrderTimeout time.Duration
	// DownloadEvery is how often Download is looked at for new orders;
	// zero means 1 s (measured on Clock).
	DownloadEvery time.Duration
	// Timers are the ASTM link timers; zero fields take the E1381 values.
	Timers link.Timers
	// StoreTimeout bounds one capture. The capture runs on its own
	// context so that a message being stored when the receiver is stopped
	// is still stored (and, if the line is still up, acknowledged).
	// Zero means 10 s. It is measured in real time whatever Clock is: it
	// bounds the store's own input and output.
	StoreTimeout time.Duration
	Logger       *slog.Logger // nil: slog.Default()
	// Observe, if set, is told the outcome of every capture attempt. It is
	// called from connection goroutines, possibly concurrently.
	Observe func(Outcome)
	// Spool is the directory where input too large to hold in memory (over
	// the dialect's max-message, or the HL7 size limit) is kept while it
	// arrives, before it is quarantined; "": os.TempDir(). Put it on the
	// data directory's file system.
	Spool string
	// Checkpoints, if set, keeps the log's signed head following what was
	// received while Run runs: a checkpoint every CheckpointEvery (none
	// while running if CheckpointEvery is zero or less) and always one when
	// Run stops. *ledger.Ledger is a Checkpointer.
	Checkpoints     Checkpointer
	CheckpointEvery time.Duration
	// Clock makes the receiver's timers (the checkpoint cadence, the ASTM
	// link timers, the HL7 message deadlines) and measures
	// Outcome.Durable. nil: clock.System.
	Clock clock.Clock
}

// An OutcomeKind says what became of one message.
type OutcomeKind uint8

// Outcomes.
const (
	Stored      OutcomeKind = iota + 1 // captured now
	Duplicate                          // captured before: a retransmission
	Quarantined                        // captured with a quarantine reason
	Failed                             // not captured: the message is refused and will be sent again
)

func (k OutcomeKind) String() string {
	switch k {
	case Stored:
		return "stored"
	case Duplicate:
		return "duplicate"
	case Quarantined:
		return "quarantined"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("OutcomeKind(%d)", uint8(k))
}

// An Outcome is what happened to one message.
type Outcome struct {
	Kind      OutcomeKind
	Protocol  protocol.Protocol
	Key       string
	MessageID chain.Hash
	Ref       string // exhibit reference of the capture (the first one, for a duplicate)
	Results   int
	Unknown   []string // result codes the code map did not know
	Reason    string   // why the input was quarantined
	// Durable is the time from the protocol handing the complete message
	// over to Capture returning.
	Durable time.Duration
	Err     error // Failed: why
	// Captured are the results of a message Stored or Duplicate, as
	// their record holds them (for matching them to orders).
	Captured []chain.LabResult
	// Refused is set when the message was kept in quarantine because its
	// results do not fit in one record, and refused (ErrRefused).
	Refused bool
}

// A Receiver captures what analysers send. It is safe for concurrent use
// by several connections.
type Receiver struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	done   astm.Stats          // link counts of ASTM connections that ended
	active map[*astm.Conn]bool // ASTM connections being served
}

// New returns a Receiver.
func New(cfg Config) (*Receiver, error) {
	if cfg.Store == nil {
		return nil, errors.New("receive: Config needs a Store")
	}
	if cfg.Dialect == nil || (cfg.Dialect.ASTM == nil) == (cfg.Dialect.HL7 == nil) {
		return nil, errors.New("receive: Config needs an ASTM or an HL7 dialect")
	}
	if cfg.Download != nil && cfg.Dialect.HL7 != nil && cfg.OrderLink == nil {
		return nil, errors.New("receive: HL7 order download needs an OrderLink (the analyser's order port)")
	}
	if cfg.Case == "" {
		cfg.Case = DefaultCase
	}
	if err := chain.ValidCaseRef(cfg.Case); err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 10 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System
	}
	r := &Receiver{cfg: cfg, log: cfg.Logger}
	if r.log == nil {
		r.log = slog.Default()
	}
	return r, nil
}

// Protocol returns the protocol the receiver speaks.
func (r *Receiver) Protocol() protocol.Protocol { return r.cfg.Dialect.Protocol }

// Serve serves one connection until it ends, fails, or ctx ends. The
// caller closes rw afterwards (lab/transport does).
func (r *Receiver) Serve(ctx context.Context, rw io.ReadWriter) error {
	d := r.cfg.Dialect
	if d.HL7 != nil {
		s := &hl7.Server{Handler: hl7Handler{r}, Framing: d.HL7.Framing, Options: d.HL7.Options,
			Codes: r.cfg.Codes, App: "EXHIBIT", OnFailure: hl7.SendAE, Logger: r.log, Spool: r.cfg.Spool, Clock: r.cfg.Clock}
		return s.ServeConn(ctx, rw)
	}
	cfg := astm.Config{Role: link.Host, Dialect: d.ASTM, Handler: astmHandler{r}, Codes: r.cfg.Codes,
		Sender: record.Repeat{"Exhibit"}, Timers: r.cfg.Timers, Logger: r.log, Spool: r.cfg.Spool, Clock: r.cfg.Clock}
	if r.cfg.Orders != nil {
		cfg.Answer = astm.OrdersAnswer(r.cfg.Orders)
	}
	c, err := astm.NewConn(rw, cfg)
	if err != nil {
		return err
	}
	r.mu.Lock()
	if r.active == nil {
		r.active = map[*astm.Conn]bool{}
	}
	r.active[c] = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.active, c)
		r.done.Add(c.Stats())
		r.mu.Unlock()
	}()
	if r.cfg.Download == nil {
		return c.Run(ctx)
	}
	dctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.download(dctx, c)
	}()
	err = c.Run(ctx)
	stop()
	wg.Wait()
	return err
}

// LinkStats returns the ASTM link counts (frames taken, NAKs and why,
// abandoned transfers) of every connection served so far, those still
// being served included. It is zero for HL7.
func (r *Receiver) LinkStats() astm.Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	total := r.done
	for c := range r.active {
		total.Add(c.Stats())
	}
	return total
}

// ASTMHandler returns the receiver as an astm.Handler.
func (r *Receiver) ASTMHandler() astm.Handler { return astmHandler{r} }

// HL7Handler returns the receiver as an hl7.Handler.
func (r *Receiver) HL7Handler() hl7.Handler { return hl7Handler{r} }

type astmHandler struct{ r *Receiver }
type hl7Handler struct{ r *Receiver }

var (
	_ astm.Handler = astmHandler{}
	_ hl7.Handler  = hl7Handler{}
)

// capture is one message to keep.
type capture struct {
	proto    protocol.Protocol
	id       chain.Hash
	raw      []byte
	body     io.Reader // if set, the bytes to store instead of raw (input spooled to disk); read once
	analyser string
	results  []chain.LabResult
	unknown  []string
	reason   string // quarantine reason; empty for a message that parsed
}

func (h astmHandler) Accept(ctx context.Context, m *astm.Message) error {
	c := capture{proto: protocol.ASTM, id: m.ID, raw: m.Raw, analyser: senderName(m.Parsed.Header.Sender)}
	for _, res := range m.Results {
		x := res.Result
		lr := chain.LabResult{Code: res.Code, Analyte: res.Analyte, Units: x.Units, Range: x.Range,
			Flags: strings.Join(x.Flags, ","), Status: x.Status, Time: x.Completed, Unknown: !res.Known}
		if res.Order != nil {
			lr.Specimen = res.Order.SpecimenID
		}
		setValue(&lr, x.Value)
		c.results = append(c.results, lr)
	}
	c.unknown = m.UnknownCodes()
	return refusedAs(h.r.keep(ctx, c), astm.ErrRefused)
}

func (h astmHandler) Reject(ctx context.Context, rj *astm.Rejected) error {
	// Body reads Raw, or the spool file of input over the dialect's
	// max-message (Raw nil); it is valid until Reject returns.
	c := capture{proto: protocol.ASTM, id: rj.ID, raw: rj.Raw, body: rj.Body(), reason: rj.Reason.Error()}
	return h.r.keep(ctx, c)
}

func (h hl7Handler) Accept(ctx context.Context, m *hl7.Received) error {
	// The key and messageId are the message's identity, which a
	// retransmission with a new MSH-7 shares; the blob is the bytes received.
	c := capture{proto: protocol.HL7, id: m.Identity, raw: m.Raw, analyser: m.MSH().Text(3), unknown: m.Unknown}
	if m.Results != nil {
		flagged := map[string]bool{}
		for _, u := range m.Unknown {
			flagged[u] = true
		}
		for _, p := range m.Results.Patients {
			for _, g := range p.Orders {
				for _, ob := range g.Observations {
					unknown := flagged[ob.ID.Code]
					lr := chain.LabResult{Specimen: g.SpecimenID, Code: ob.ID.Code, Units: ob.Units, Range: ob.Range,
						Flags: strings.Join(ob.Flags, ","), Status: ob.Status, Time: ob.ObservedAt, Unknown: unknown}
					if !unknown && h.r.cfg.Codes != nil {
						lr.Analyte, _ = h.r.cfg.Codes.Analyte(ob.ID.Code)
					}
					setValue(&lr, ob.Value)
					c.results = append(c.results, lr)
				}
			}
		}
	}
	return refusedAs(h.r.keep(ctx, c), hl7.ErrRefused)
}

// refusedAs marks a refusal (ErrRefused) with the protocol's own refusal
// error, so that the protocol answers it as a refusal (HL7 AR, ASTM NAK
// counted as refused) rather than as a failure to store.
func refusedAs(err, protoRefused error) error {
	var rf *Refusal
	switch {
	case errors.As(err, &rf) && protoRefused == hl7.ErrRefused:
		// The reason alone goes into the AR's MSA-3 and ERR-8.
		return &hl7.Refusal{Reason: rf.Reason + "; kept in quarantine"}
	case errors.Is(err, ErrRefused):
		return fmt.Errorf("%w: %w", protoRefused, err)
	}
	return err
}

func (h hl7Handler) Reject(ctx context.Context, rj *hl7.Rejected) error {
	// Body streams what was kept, which may be a frame spooled to disk.
	c := capture{proto: protocol.HL7, id: rj.ID, body: rj.Body(), reason: rj.Reason.Error()}
	return h.r.keep(ctx, c)
}

// setValue copies a classified value: the text always, the number only for
// a plain number, the comparator for a censored one (whose limit stays in
// the text and never becomes a number).
func setValue(lr *chain.LabResult, v value.Value) {
	lr.Value = v.Raw
	switch v.Kind {
	case value.Number:
		lr.Number = v.Decimal
	case value.Censored:
		lr.Censor = v.Comparator
	}
}

func senderName(s record.Repeat) string {
	return strings.TrimRight(strings.Join(s, "^"), "^")
}

// Key returns the capture key of a message: "<protocol>:<id>", or
// "<protocol>:quarantine:<id>" for quarantined input.
func Key(p protocol.Protocol, id chain.Hash, quarantined bool) string {
	if quarantined {
		return string(p) + ":quarantine:" + id.String()
	}
	return string(p) + ":" + id.String()
}

// ErrRefused is wrapped by the error the receiver returns for input it has
// kept, in quarantine, but refuses for good: a message whose results do not
// fit in one record (chain.MaxRecordSize). The protocol answers it as a
// refusal (HL7 AR, ASTM NAK), not as a storage failure to be retried.
var ErrRefused = errors.New("receive: message refused")

// A Refusal is the error for input kept in quarantine and refused for good;
// it matches ErrRefused.
type Refusal struct {
	Reason string // why, short enough for an HL7 MSA-3
	Ref    string // the quarantine exhibit that keeps the input
}

func (r *Refusal) Error() string {
	return "receive: message refused: " + r.Reason + " (kept in quarantine as " + r.Ref + ")"
}

// Is makes errors.Is(r, ErrRefused) true.
func (r *Refusal) Is(target error) bool { return target == ErrRefused }

// maxReason bounds a quarantine reason kept in a record, in bytes.
const maxReason = 1024

// maxAnalyser bounds the analyser name kept in a quarantine record.
const maxAnalyser = 256

// clipReason shortens a reason to maxReason bytes at a rune boundary.
func clipReason(s string) string { return clipText(s, maxReason) }

// clipText shortens s to at most n bytes at a rune boundary, marking the
// cut.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len(" [...]")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + " [...]"
}

// keep captures c and reports the outcome. A nil return promises c is
// durably stored; an error wrapping ErrRefused promises it is durably
// stored in quarantine and must be refused.
func (r *Receiver) keep(ctx context.Context, c capture) error {
	start := r.cfg.Clock.Now()
	c.reason = clipReason(c.reason)
	analyser := r.cfg.Analyser
	if analyser == "" {
		analyser = c.analyser
	}
	// The capture runs to completion even if ctx ends meanwhile: a message
	// half-way into the store is finished rather than abandoned, and the
	// acknowledgement still depends only on its result.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.StoreTimeout)
	defer cancel()
	out, ex, fresh, err := r.capture(sctx, c, analyser)
	refused, refusal := false, ""
	if errors.Is(err, chain.ErrRecordTooLarge) && c.reason == "" && c.body == nil {
		// The results do not fit in one record: keep the message as
		// received, in quarantine with no results, and refuse it.
		r.log.Warn("receive: the message's results do not fit in one record; quarantining it and refusing it",
			"protocol", c.proto, "id", c.id.String(), "results", len(c.results), "error", err)
		refusal = fmt.Sprintf("%d results do not fit in one record (1 MiB at most)", len(c.results))
		c.reason = refusal + ": the message is kept as received, its results not read"
		c.results, c.unknown = nil, nil
		refused = true
		out, ex, fresh, err = r.capture(sctx, c, analyser)
	}
	out.Durable = r.cfg.Clock.Now().Sub(start)
	out.Refused = refused && err == nil
	switch {
	case err != nil:
		out.Kind, out.Err = Failed, err
		r.log.Error("receive: message not stored; refusing it so the analyser sends it again",
			"protocol", c.proto, "id", c.id.String(), "error", err)
	case !fresh:
		out.Kind, out.Ref = Duplicate, ex.Ref
		if c.reason == "" {
			out.Captured = c.results
		}
		r.log.Info("receive: retransmission of a stored message", "protocol", c.proto, "id", c.id.String(), "ref", ex.Ref)
	case c.reason != "":
		out.Kind, out.Ref = Quarantined, ex.Ref
		r.log.Warn("receive: input quarantined", "protocol", c.proto, "id", c.id.String(), "ref", ex.Ref, "reason", c.reason)
	default:
		out.Kind, out.Ref, out.Captured = Stored, ex.Ref, c.results
		if len(c.unknown) > 0 {
			r.log.Warn("receive: unknown test codes flagged for review", "ref", ex.Ref, "codes", c.unknown)
		}
	}
	if r.cfg.Observe != nil {
		r.cfg.Observe(out)
	}
	switch {
	case err != nil:
		return fmt.Errorf("receive: store %s: %w", c.id, err)
	case out.Refused:
		return &Refusal{Reason: refusal, Ref: ex.Ref}
	}
	return nil
}

// capture makes one capture attempt of c.
func (r *Receiver) capture(ctx context.Context, c capture, analyser string) (Outcome, store.Exhibit, bool, error) {
	q := c.reason != ""
	if q {
		// Quarantine must always fit in a record, whatever the input
		// claimed to be its sender.
		analyser = clipText(analyser, maxAnalyser)
	}
	out := Outcome{Protocol: c.proto, Key: Key(c.proto, c.id, q), MessageID: c.id, Results: len(c.results),
		Unknown: c.unknown, Reason: c.reason}
	lab := &chain.Lab{Protocol: string(c.proto), Dialect: r.cfg.Dialect.Name, Analyser: analyser,
		MessageID: c.id.String(), Results: c.results, Quarantine: c.reason}
	name := fmt.Sprintf("%s-%s.%s", c.proto, c.id.Hex()[:16], c.proto)
	if q {
		name = "quarantine-" + name
	}
	// Each attempt reads the message afresh; a streamed body (spooled
	// input too large to hold) is read once, by the one attempt made.
	var body io.Reader = bytes.NewReader(c.raw)
	if c.body != nil {
		body = c.body
	}
	ex, _, fresh, err := r.cfg.Store.Capture(ctx, ledger.CaptureRequest{
		Case: r.cfg.Case, Kind: chain.ExhibitResult, FileName: name, Body: body,
		Device: analyser, Key: out.Key, Lab: lab,
	})
	return out, ex, fresh, err
}
