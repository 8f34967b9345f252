package astm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/internal/clock"
	"github.com/exhibit-forensics/exhibit/lab/astm/frame"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
)

// A Query is a request for information that arrived in a message.
type Query struct {
	Message *Message
	Dialect *Dialect
	// Specimens are the specimen ids asked for, from the dialect's
	// component of Q-3, over all Q records, in order.
	Specimens []string
	Requests  []record.Query
}

// A QueryHandler answers Q records: a host returns the orders for the
// specimens asked about (see OrdersAnswer). Answer runs after the query
// message has been accepted; the reply is sent as a new transfer once the
// line is free. A nil message sends no reply; an error is logged and
// answered with an L record coded E.
type QueryHandler interface {
	Answer(ctx context.Context, q *Query) (*record.Message, error)
}

// Config configures a Conn.
type Config struct {
	Role    link.Role // link.Host or link.Instrument
	Dialect *Dialect  // required
	Handler Handler   // required
	Answer  QueryHandler
	Codes   CodeMap // nil: every result code is flagged unknown
	// Sender is H-5 of messages this side builds (e.g. {"Exhibit", "1.0"}).
	Sender record.Repeat

	Clock            clock.Clock // nil: clock.System
	Timers           link.Timers
	Busy             func() bool
	Interrupt        bool
	IgnoreInterrupts bool
	Trace            func(link.Step)
	Logger           *slog.Logger // nil: slog.Default()
	// Spool is the directory where input over the dialect's max-message is
	// written for the Handler to read (Rejected.Body); "" means
	// os.TempDir(). A spool file holds at most max-message plus one frame
	// and is removed once Reject returns.
	Spool string
}

// A Conn is one ASTM connection.
type Conn struct {
	d     *Dialect
	h     Handler
	ans   QueryHandler
	codes CodeMap
	clk   clock.Clock
	log   *slog.Logger
	send  record.Repeat
	spool string
	asm   *assembler
	link  *link.Link
	enc   *record.Encoder
	role  link.Role

	mu      sync.Mutex
	waiter  chan *Message // Query waiting for the reply
	replies sync.WaitGroup

	statsMu sync.Mutex
	stats   Stats
}

// NewConn returns a connection over s. Call Run to start it.
func NewConn(s link.Stream, cfg Config) (*Conn, error) {
	if cfg.Dialect == nil || cfg.Handler == nil {
		return nil, errors.New("astm: Config needs a Dialect and a Handler")
	}
	if err := cfg.Dialect.Validate(); err != nil {
		return nil, err
	}
	enc, err := record.NewEncoder(cfg.Dialect.Record)
	if err != nil {
		return nil, err
	}
	if cfg.Spool != "" {
		if fi, err := os.Stat(cfg.Spool); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("astm: spool directory %q: not a directory (%v)", cfg.Spool, err)
		}
	}
	c := &Conn{d: cfg.Dialect, h: cfg.Handler, ans: cfg.Answer, codes: cfg.Codes, clk: cfg.Clock,
		log: cfg.Logger, send: cfg.Sender, spool: cfg.Spool, enc: enc, role: cfg.Role}
	if c.clk == nil {
		c.clk = clock.System
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	a := newAssembler(c)
	c.asm = a
	c.link, err = link.New(s, link.Config{Role: cfg.Role, Frame: cfg.Dialect.Frame, Receiver: a, Clock: c.clk,
		Timers: cfg.Timers, Busy: cfg.Busy, Interrupt: cfg.Interrupt, IgnoreInterrupts: cfg.IgnoreInterrupts, Trace: cfg.Trace,
		OnNAK: c.onNAK})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Run runs the connection until ctx ends or the stream fails. Replies to
// queries still being sent are waited for.
func (c *Conn) Run(ctx context.Context) error {
	err := c.link.Run(ctx)
	c.replies.Wait()
	return err
}

// Encode turns a message skeleton into records for the wire (record.Message.Build
// with the Conn's sender and a timestamp filled in when empty) and returns
// the records and the Message the other side will see, with its ID.
func (c *Conn) Encode(m *record.Message) ([][]byte, *Message, error) {
	mm := *m
	if len(mm.Header.Sender) == 0 {
		mm.Header.Sender = c.send
	}
	if mm.Header.Timestamp == "" {
		mm.Header.Timestamp = c.clk.Now().Format("20060102150405")
	}
	if mm.Header.ProcessingID == "" {
		mm.Header.ProcessingID = "P"
	}
	if mm.Header.Version == "" {
		mm.Header.Version = "LIS2-A2"
	}
	raws, err := c.enc.Encode(mm.Build())
	if err != nil {
		return nil, nil, err
	}
	raw := join(raws, nil)
	parsed, err := record.ParseMessage(raws, c.d.Record)
	if err != nil {
		return nil, nil, fmt.Errorf("astm: built message does not parse: %w", err)
	}
	return raws, &Message{ID: chain.Sum(raw), Raw: raw, Dialect: c.d.Name, Received: c.clk.Now(), Parsed: parsed}, nil
}

// Send builds, encodes and transfers a message, returning it as the other
// side will see it (with its ID) once the last frame is acknowledged.
func (c *Conn) Send(ctx context.Context, m *record.Message) (*Message, error) {
	raws, msg, err := c.Encode(m)
	if err != nil {
		return nil, err
	}
	if err := c.SendRecords(ctx, raws); err != nil {
		return nil, err
	}
	return msg, nil
}

// SendRecords transfers encoded records (each without CR), packed in frames
// as the dialect says.
func (c *Conn) SendRecords(ctx context.Context, raws [][]byte) error {
	return c.link.Send(ctx, frame.Split(raws, c.d.Packing, c.d.Frame.Max()))
}

// ErrNotInstrument is returned by Query on a host connection.
var ErrNotInstrument = errors.New("astm: only an instrument asks the host for orders")

// Query sends, as the instrument, a request for the orders of the given
// specimens (H, Q, L) and returns the next message the host sends back.
func (c *Conn) Query(ctx context.Context, specimens ...string) (*Message, error) {
	if c.role != link.Instrument {
		return nil, ErrNotInstrument
	}
	var start []record.Repeat
	for _, s := range specimens {
		rep := make(record.Repeat, c.d.QuerySpecimenComponent)
		rep[c.d.QuerySpecimenComponent-1] = s
		start = append(start, rep)
	}
	all := make(record.TestID, c.d.TestCodeComponent)
	all[c.d.TestCodeComponent-1] = "ALL"
	q := &record.Message{
		Queries:    []record.Query{{Start: start, Tests: []record.TestID{all}, Status: "O"}},
		Terminator: record.Terminator{Code: "N"},
	}
	raws, _, err := c.Encode(q)
	if err != nil {
		return nil, err
	}
	return c.QueryRecords(ctx, raws)
}

// QueryRecords sends encoded records holding a query, as the instrument,
// and returns the next message the host sends back. The first message the
// host sends after the query is taken as the reply.
func (c *Conn) QueryRecords(ctx context.Context, raws [][]byte) (*Message, error) {
	if c.role != link.Instrument {
		return nil, ErrNotInstrument
	}
	wait := make(chan *Message, 1)
	c.mu.Lock()
	if c.waiter != nil {
		c.mu.Unlock()
		return nil, errors.New("astm: a query is already waiting for its reply")
	}
	c.waiter = wait
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.waiter = nil
		c.mu.Unlock()
	}()
	if err := c.SendRecords(ctx, raws); err != nil {
		return nil, err
	}
	select {
	case m := <-wait:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// accepted is called (on the link goroutine) after Handler.Accept
// succeeded.
func (c *Conn) accepted(ctx context.Context, m *Message) {
	if len(m.Parsed.Queries) == 0 {
		c.mu.Lock()
		if c.waiter != nil {
			select {
			case c.waiter <- m:
			default:
			}
		}
		c.mu.Unlock()
		return
	}
	if c.ans == nil {
		c.log.Warn("astm: query received but no QueryHandler is configured", "id", m.ID.String())
	}
	q := &Query{Message: m, Dialect: c.d, Requests: m.Parsed.Queries}
	for _, r := range m.Parsed.Queries {
		q.Specimens = append(q.Specimens, r.Specimens(c.d.QuerySpecimenComponent)...)
	}
	c.replies.Add(1)
	go func() {
		defer c.replies.Done()
		c.answer(ctx, q)
	}()
}

func (c *Conn) answer(ctx context.Context, q *Query) {
	var reply *record.Message
	var err error
	if c.ans != nil {
		reply, err = c.ans.Answer(ctx, q)
	} else {
		reply = &record.Message{Terminator: record.Terminator{Code: "I"}}
	}
	if err != nil {
		c.log.Error("astm: answering a query failed", "error", err, "query", q.Message.ID.String())
		reply = &record.Message{Terminator: record.Terminator{Code: "E"}}
	}
	if reply == nil {
		return
	}
	if _, err := c.Send(ctx, reply); err != nil {
		c.log.Error("astm: sending a query reply failed", "error", err, "query", q.Message.ID.String())
	}
}

// An Order is one specimen's tests, for a reply to a query.
type Order struct {
	PatientID    string   // written to P-4 (laboratory-assigned patient id), as the case reference
	SpecimenID   string   // O-3
	Tests        []string // instrument test codes, O-5 (the dialect's component)
	Priority     string   // O-6; default R (routine)
	ActionCode   string   // O-12; default N (new)
	SpecimenType string   // O-16
}

// An OrderSource finds the orders for specimens.
type OrderSource interface {
	Orders(ctx context.Context, specimens []string) ([]Order, error)
}

// OrdersAnswer answers queries with orders from src: H, then a P record
// per patient (in order of first appearance) with its O records (report
// type Q, "response to query"), then L coded with the dialect's
// ReplyTermination — or, when there are no orders, H and L coded I ("no
// information available").
func OrdersAnswer(src OrderSource) QueryHandler { return ordersAnswer{src} }

type ordersAnswer struct{ src OrderSource }

func (o ordersAnswer) Answer(ctx context.Context, q *Query) (*record.Message, error) {
	orders, err := o.src.Orders(ctx, q.Specimens)
	if err != nil {
		return nil, err
	}
	return OrdersMessage(q.Dialect, orders), nil
}

// OrdersMessage builds the reply for orders under dialect d.
func OrdersMessage(d *Dialect, orders []Order) *record.Message {
	m := &record.Message{}
	if len(orders) == 0 {
		m.Terminator.Code = "I"
		return m
	}
	m = ordersRecords(d, orders, "Q")
	m.Terminator.Code = d.ReplyTermination
	return m
}

// DownloadMessage builds an order download under dialect d — the host
// sending orders unasked: H, a P record per patient with its O records
// (report type O, "order"), L coded N. It is nil when there are no orders.
func DownloadMessage(d *Dialect, orders []Order) *record.Message {
	if len(orders) == 0 {
		return nil
	}
	m := ordersRecords(d, orders, "O")
	m.Terminator.Code = "N"
	return m
}

func ordersRecords(d *Dialect, orders []Order, reportType string) *record.Message {
	m := &record.Message{}
	idx := map[string]int{}
	for _, o := range orders {
		i, ok := idx[o.PatientID]
		if !ok {
			i = len(m.Patients)
			idx[o.PatientID] = i
			m.Patients = append(m.Patients, record.Patient{LabID: o.PatientID})
		}
		var tests []record.TestID
		for _, t := range o.Tests {
			id := make(record.TestID, d.TestCodeComponent)
			id[d.TestCodeComponent-1] = t
			tests = append(tests, id)
		}
		ro := record.Order{SpecimenID: o.SpecimenID, Tests: tests, Priority: o.Priority, ActionCode: o.ActionCode, ReportType: reportType}
		if ro.Priority == "" {
			ro.Priority = "R"
		}
		if ro.ActionCode == "" {
			ro.ActionCode = "N"
		}
		if o.SpecimenType != "" {
			ro.SpecimenDescriptor = record.Repeat{o.SpecimenType}
		}
		m.Patients[i].Orders = append(m.Patients[i].Orders, ro)
	}
	return m
}
