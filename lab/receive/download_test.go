package receive

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
)

// feed is an order book in memory: due orders until marked sent.
type feed struct {
	mu     sync.Mutex
	due    []astm.Order
	marked chan []string
}

func (f *feed) Due(ctx context.Context) ([]astm.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.due), nil
}

func (f *feed) MarkSent(ctx context.Context, specimens []string) error {
	f.mu.Lock()
	f.due = slices.DeleteFunc(f.due, func(o astm.Order) bool { return slices.Contains(specimens, o.SpecimenID) })
	f.mu.Unlock()
	f.marked <- specimens
	return nil
}

// An order download the analyser refuses (six NAKs of its frame) is not
// marked sent, and is sent again until the analyser takes it; only then is
// it marked sent — once.
func TestDownloadMarkedSentOnlyWhenAcknowledged(t *testing.T) {
	l := newLedger(t)
	f := &feed{due: []astm.Order{{PatientID: "CASE-7", SpecimenID: "S7", Tests: []string{"GHB", "BENZ"}, Priority: "S"}},
		marked: make(chan []string, 10)}
	r, _ := newReceiver(t, l, protocol.ASTM, "lis2a2", func(c *Config) { c.Download, c.DownloadEvery = f, 5*time.Millisecond })
	end := serve(t, r)

	d, err := protocol.Lookup(protocol.ASTM, "lis2a2")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	refuse, refused := 7, 0 // more than one transfer's six attempts
	got := make(chan *astm.Message, 10)
	ic, err := astm.NewConn(end, astm.Config{Role: link.Instrument, Dialect: d.ASTM, Logger: quiet,
		Handler: astm.HandlerFuncs{
			AcceptFunc: func(ctx context.Context, m *astm.Message) error {
				mu.Lock()
				defer mu.Unlock()
				if refuse > 0 {
					refuse--
					refused++
					return errors.New("busy")
				}
				got <- m
				return nil
			},
			RejectFunc: func(context.Context, *astm.Rejected) error { return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ic.Run(ctx) }()
	defer func() { cancel(); <-done }()

	var m *astm.Message
	select {
	case m = <-got:
	case <-ctx.Done():
		t.Fatal("no download taken")
	}
	select {
	case sp := <-f.marked:
		if !slices.Equal(sp, []string{"S7"}) {
			t.Fatalf("marked sent: %v", sp)
		}
	case <-ctx.Done():
		t.Fatal("not marked sent")
	}
	mu.Lock()
	if refused != 7 {
		t.Errorf("the analyser refused %d times, want 7", refused)
	}
	mu.Unlock()
	o := m.Parsed.Patients[0].Orders[0]
	if m.Parsed.Terminator.Code != "N" || o.SpecimenID != "S7" || o.ReportType != "O" || o.Priority != "S" ||
		len(o.Tests) != 2 || o.Tests[0].Code(d.ASTM.TestCodeComponent) != "GHB" || m.Parsed.Patients[0].LabID != "CASE-7" {
		t.Errorf("download %+v", m.Parsed)
	}
	select {
	case sp := <-f.marked:
		t.Errorf("marked sent twice: %v", sp)
	default:
	}
}
