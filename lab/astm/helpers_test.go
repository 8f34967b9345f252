package astm

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/internal/streamtest"
	"github.com/exhibit-forensics/exhibit/lab/astm/record"
)

const guard = 10 * time.Second

// recorder is a Handler that keeps what it is given and can be told to fail.
type recorder struct {
	mu         sync.Mutex
	accepted   []*Message
	rejected   []*Rejected
	events     chan string
	failAccept int // refuse this many Accept calls
	failReject int
}

func newRecorder() *recorder { return &recorder{events: make(chan string, 100)} }

func (r *recorder) Accept(ctx context.Context, m *Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failAccept > 0 {
		r.failAccept--
		r.events <- "accept-failed"
		return fmt.Errorf("storage unavailable")
	}
	r.accepted = append(r.accepted, m)
	r.events <- "accept"
	return nil
}

func (r *recorder) Reject(ctx context.Context, rj *Rejected) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failReject > 0 {
		r.failReject--
		r.events <- "reject-failed"
		return fmt.Errorf("quarantine unavailable")
	}
	r.rejected = append(r.rejected, rj)
	r.events <- "reject"
	return nil
}

func (r *recorder) next() string {
	select {
	case e := <-r.events:
		return e
	case <-time.After(guard):
		return "timeout"
	}
}

func (r *recorder) snapshot() ([]*Message, []*Rejected) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Message(nil), r.accepted...), append([]*Rejected(nil), r.rejected...)
}

// quiet is a logger for tests.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// dump writes what a handler received in a stable text form for golden files.
func dump(ms []*Message, rs []*Rejected) string {
	var b strings.Builder
	for _, m := range ms {
		dumpMessage(&b, m)
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "reject %s\n  dialect %s\n  reason %v\n  raw %s\n", r.ID, r.Dialect, r.Reason, streamtest.Encode(r.Raw))
	}
	return b.String()
}

func dumpMessage(b *strings.Builder, m *Message) {
	p := m.Parsed
	fmt.Fprintf(b, "accept %s\n  dialect %s\n  delimiters %s\n", m.ID, m.Dialect, p.Delimiters)
	h := p.Header
	fmt.Fprintf(b, "  header sender=%s version=%s processing=%s time=%s\n", strings.Join(h.Sender, "^"), h.Version, h.ProcessingID, h.Timestamp)
	for _, c := range p.Comments {
		fmt.Fprintf(b, "  comment %s\n", fmtComment(c))
	}
	for _, pt := range p.Patients {
		fmt.Fprintf(b, "  patient %d lab-id=%q name=%q\n", pt.Seq, pt.LabID, strings.Join(pt.Name, "^"))
		for _, o := range pt.Orders {
			var tests []string
			for _, t := range o.Tests {
				tests = append(tests, t.Local())
			}
			fmt.Fprintf(b, "    order %d specimen=%q tests=%s priority=%s action=%s report=%s\n", o.Seq, o.SpecimenID, strings.Join(tests, ","), o.Priority, o.ActionCode, o.ReportType)
			for _, r := range o.Results {
				v := r.Value
				fmt.Fprintf(b, "      result %d test=%s value=%s:%q raw=%q units=%q range=%q flags=%s status=%s\n",
					r.Seq, r.Test.Local(), v.Kind, v.String(), v.Raw, r.Units, r.Range, strings.Join(r.Flags, ","), r.Status)
				for _, c := range r.Comments {
					fmt.Fprintf(b, "        comment %s\n", fmtComment(c))
				}
			}
		}
	}
	for _, q := range p.Queries {
		fmt.Fprintf(b, "  query %d specimens=%s status=%s\n", q.Seq, strings.Join(q.Specimens(2), ","), q.Status)
	}
	fmt.Fprintf(b, "  terminator %q\n", p.Terminator.Code)
	var mapped []string
	for _, r := range m.Results {
		if r.Known {
			mapped = append(mapped, r.Code+"="+r.Analyte)
		}
	}
	sort.Strings(mapped)
	fmt.Fprintf(b, "  mapped %s\n  unknown-codes %s\n", strings.Join(mapped, " "), strings.Join(m.UnknownCodes(), " "))
}

func fmtComment(c record.Comment) string {
	var parts []string
	for _, r := range c.Text {
		parts = append(parts, strings.Join(r, "^"))
	}
	return fmt.Sprintf("source=%s type=%s text=%q", c.Source, c.Type, strings.Join(parts, " / "))
}

// orderList is a test OrderSource: the orders for the specimens asked
// about, in the order asked.
type orderList []Order

func (l orderList) Orders(ctx context.Context, specimens []string) ([]Order, error) {
	var out []Order
	for _, s := range specimens {
		for _, o := range l {
			if o.SpecimenID == s {
				out = append(out, o)
			}
		}
	}
	return out, nil
}
