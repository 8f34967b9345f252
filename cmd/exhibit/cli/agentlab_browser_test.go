package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/exhibit-forensics/exhibit/api/web/webtest"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/devices/serialport/pty"
	"github.com/exhibit-forensics/exhibit/lab/astm"
	"github.com/exhibit-forensics/exhibit/lab/astm/link"
	"github.com/exhibit-forensics/exhibit/lab/labsim"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

const labJourneySetup = `{"format":"exhibit-lab-setup","version":1,"lab":"Test Toxicology Lab","controls":[
 {"specimen":"QC-L1","name":"GHB low","analyte":"ghb","lot":"L23","level":1,"mean":5,"sd":0.5,"unit":"mg/L"},
 {"specimen":"QC-L2","name":"GHB high","analyte":"ghb","lot":"H23","level":2,"mean":20,"sd":1,"unit":"mg/L"},
 {"specimen":"QC-L1","name":"Diazepam low","analyte":"diazepam","lot":"L23","level":1,"mean":50,"sd":5,"unit":"ng/mL"},
 {"specimen":"QC-L2","name":"Diazepam high","analyte":"diazepam","lot":"H23","level":2,"mean":200,"sd":10,"unit":"ng/mL"},
 {"specimen":"QC-L1","name":"THC-COOH low","analyte":"thc-cooh","lot":"L23","level":1,"mean":15,"sd":1.5,"unit":"ng/mL"},
 {"specimen":"QC-L2","name":"THC-COOH high","analyte":"thc-cooh","lot":"H23","level":2,"mean":40,"sd":3,"unit":"ng/mL"}]}
`

// labJourneyDeadline stops a hung browser from hanging the run; nothing
// is timed against it.
var labJourneyDeadline = 4 * time.Minute

// labJourneyTube is a tube of the simulated analysers' racks.
func labJourneyTube(id string, control bool, results ...string) labsim.Tube {
	t := labsim.Tube{ID: id, Control: control, Type: "URINE"}
	if control {
		t.Type, t.Lot, t.Level = "", "L23", "1"
	}
	for _, r := range results {
		f := strings.Fields(r)
		t.Results = append(t.Results, labsim.Result{Code: f[0], Value: f[1], Units: f[2]})
	}
	return t
}

// TestAgentLabJourney is a technician's and an authoriser's day at the
// bench in Debian's chromium, with `exhibit agent --role lab` receiving in
// its own process from two simulated analysers (lab/labsim, the simulator
// of `exhibit sim analyser`) on pseudo-terminals, each opened by the
// agent's receiver through the real serial driver:
//
//   - screen-a works in order download mode: the technician receives a
//     kit, splits it and orders tests on bottle A from the sample's page;
//     the agent downloads the order, the analyser runs the tube (after its
//     two GHB controls, which pass), and the results — a GHB positive, a
//     negative THC, a censored benzodiazepine — appear on the open page
//     without a reload;
//   - screen-b sends unasked: a second kit's bottle A, with a low control
//     eight SDs off its target (1-3s: the run is rejected), so its results
//     are shown held; then a message with a broken escape, which is kept
//     whole in quarantine and shown there;
//   - the technician reviews both samples; the authoriser (another user)
//     is not offered the held one (TestHeldCannotBeAuthorised: the
//     bench refuses it too) and authorises the other.
//
// Every page is photographed into the test's artefacts. At the end the
// agent stops cleanly, and every message the analysers saw acknowledged
// is in the log exactly once.
//
// screen-b's rack is loaded only after the second sample's page is open,
// so its results can only reach that page live; screen-a's may already
// be there when the page after ordering is drawn (TestBrowserLive, in
// api/bench, holds the live update to a result stored after the page).
// An analyser's QC run is its UTC day (docs/review.md): a run of this
// test across midnight UTC would split a rack's controls from its tubes.
func TestAgentLabJourney(t *testing.T) {
	webtest.Chromium(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustRun(t, "init", "--data", data, "--producer", "Lab Bench", "--initials", "LB")
	for _, u := range []struct{ id, name, role string }{{"atech", "Alex Turing", "lab-technician"}, {"bauth", "Bea Okoro", "lab-authoriser"}} {
		pw := u.id + "-password-1"
		if code, _, errs := run(t, pw+"\n"+pw+"\n", "user", "add", "--data", data, "--id", u.id, "--name", u.name, "--role", u.role); code != 0 {
			t.Fatal(errs)
		}
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("toxsim.testcode", "testcode v1\nanalyser toxsim\nGHB ghb mg/L\nDIAZ diazepam ng/mL\nTHC thc-cooh ng/mL\nKET ketamine ng/mL\n")
	setup := write("setup.json", labJourneySetup)
	linkA, linkB := filepath.Join(dir, "screen-a"), filepath.Join(dir, "screen-b")
	// Short reply timers on both sides: a first ENQ sent before the
	// receiver opened the line (it flushes what came before) is sent again
	// soon.
	cfgA := write("screen-a.json", `{"format":"exhibit-analyser","version":1,"name":"screen-a","protocol":"astm","transport":"serial",
 "link":"`+linkA+`","baud":115200,"codes":"toxsim.testcode","download":true,"download_every":"200ms","reply_timer":"3s"}`)
	cfgB := write("screen-b.json", `{"format":"exhibit-analyser","version":1,"name":"screen-b","protocol":"astm","transport":"serial",
 "link":"`+linkB+`","baud":115200,"codes":"toxsim.testcode","reply_timer":"3s"}`)
	d, err := protocol.Lookup(protocol.ASTM, "lis2a2")
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	// The analysers are plugged in before the agent starts, but their
	// racks are loaded once the bottles exist (their labels are the
	// aliquots' references): until then each waits, silent, on its line.
	newSim := func(download bool, tubes ...labsim.Tube) *labsim.Sim {
		s, err := labsim.New(labsim.Config{Dialect: d, Logger: quiet, Timers: link.Timers{Reply: 3 * time.Second}, ReplyTimeout: 10 * time.Minute,
			RetryWait: 200 * time.Millisecond, Scenario: &labsim.Scenario{Analyser: "ToxSim^2.1", Download: download,
				Racks: []labsim.Rack{{ID: "R1", Tubes: tubes}}}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var lines sync.WaitGroup
	ready := make(chan string, 8)
	runLine := func(path string, session transport.Session) {
		line := &labsim.PTYLine{Link: pty.Link(path), Logger: quiet, Ready: func(p string) { ready <- p }}
		lines.Add(1)
		go func() { defer lines.Done(); line.Run(ctx, session) }()
		<-ready
	}
	simA, simB := make(chan *labsim.Sim, 1), make(chan *labsim.Sim, 1)
	var sims []*labsim.Sim
	runLine(linkA, func(ctx context.Context, c transport.Conn) error {
		select {
		case s := <-simA:
			simA <- s
			return s.Serve(ctx, c)
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	// screen-b, after its rack, hangs up, and on the next line (a new
	// pseudo-terminal behind the same path) sends a message whose escape
	// is broken.
	malformed := make(chan error, 1)
	sessionsB := 0
	runLine(linkB, func(ctx context.Context, c transport.Conn) error {
		if sessionsB++; sessionsB == 1 {
			var s *labsim.Sim
			select {
			case s = <-simB:
			case <-ctx.Done():
				return ctx.Err()
			}
			sctx, stop := context.WithCancel(ctx)
			go func() {
				select {
				case <-s.Done():
				case <-sctx.Done():
				}
				stop()
			}()
			err := s.Serve(sctx, c)
			stop()
			return err
		}
		if sessionsB == 2 {
			malformed <- labSendMalformed(ctx, c, d)
		}
		<-ctx.Done()
		return ctx.Err()
	})

	// The agent, as `exhibit agent --role lab --analyser …` runs it.
	actx, stopAgent := context.WithCancel(context.Background())
	defer stopAgent()
	pr, pw := io.Pipe()
	var errb lockedBuilder
	agentDone := make(chan int, 1)
	go func() {
		code := Main(actx, []string{"agent", "--role", "lab", "--data", data, "--listen", "127.0.0.1:0", "--setup", setup,
			"--analyser", cfgA, "--analyser", cfgB}, strings.NewReader(""), pw, &errb)
		pw.Close()
		agentDone <- code
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("agent printed nothing; exit %d\n%s", <-agentDone, errb.String())
	}
	url, ok := strings.CutPrefix(sc.Text(), "lab bench: ")
	if !ok {
		t.Fatalf("first line %q", sc.Text())
	}
	url = strings.TrimSuffix(url, "/")
	var outMu sync.Mutex
	var out []string
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		for sc.Scan() {
			outMu.Lock()
			out = append(out, sc.Text())
			outMu.Unlock()
		}
	}()

	t.Cleanup(func() {
		if t.Failed() {
			outMu.Lock()
			t.Logf("agent output:\n%s\nagent log:\n%s", strings.Join(out, "\n"), errb.String())
			outMu.Unlock()
		}
	})
	shots := webtest.Artefacts(t, "lab-journey")
	bctx := webtest.Browser(t, 1280, 1000, labJourneyDeadline)
	signIn := func(id string) {
		webtest.Do(t, bctx, "sign in as "+id,
			chromedp.Navigate(url+"/"),
			chromedp.WaitVisible(chromedp.CSS("#user")),
			chromedp.SendKeys(chromedp.CSS("#user"), id),
			chromedp.SendKeys(chromedp.CSS("#password"), id+"-password-1"),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#links")),
		)
	}
	// receiveKit receives a kit, opens it and splits it; it returns the
	// sample's reference and bottle A's.
	receiveKit := func(kit, seal, sealA, sealB string) (string, string) {
		webtest.Do(t, bctx, "receive kit "+kit,
			chromedp.Click(chromedp.CSS("#nav-intake")),
			chromedp.WaitVisible(chromedp.CSS("#kit")),
			chromedp.SendKeys(chromedp.CSS("#kit"), kit),
			chromedp.SendKeys(chromedp.CSS("#case"), "01/900/26"),
			chromedp.SendKeys(chromedp.CSS("#seals"), seal),
			chromedp.SetValue(chromedp.CSS("#collected"), time.Now().Add(-6*time.Hour).Format("2006-01-02T15:04")),
			chromedp.SetValue(chromedp.CSS("#incident"), time.Now().Add(-9*time.Hour).Format("2006-01-02T15:04")),
			chromedp.SendKeys(chromedp.CSS("#volume"), "80"),
			chromedp.Click(chromedp.CSS("#receive")),
			chromedp.WaitVisible(chromedp.CSS("#form-open")),
			chromedp.SendKeys(chromedp.CSS("#open-seal"), seal),
			chromedp.SendKeys(chromedp.CSS("#open-reason"), "split into A and B"),
			chromedp.Click(chromedp.CSS("#do-open")),
			chromedp.WaitVisible(chromedp.CSS("#form-split")),
			chromedp.SendKeys(chromedp.CSS("#volume_A"), "50"),
			chromedp.SendKeys(chromedp.CSS("#seal_A"), sealA),
			chromedp.SendKeys(chromedp.CSS("#volume_B"), "25"),
			chromedp.SendKeys(chromedp.CSS("#seal_B"), sealB),
			chromedp.SendKeys(chromedp.CSS("#storage"), "fridge 2, shelf B"),
			chromedp.Click(chromedp.CSS("#do-split")),
			chromedp.WaitVisible(chromedp.CSS("#form-order")),
		)
		ref := strings.TrimPrefix(webtest.Text(t, bctx, "#sample-ref"), "Sample ")
		a := strings.Fields(webtest.Text(t, bctx, "#aliquots tbody tr:first-child"))
		if len(a) < 2 || a[0] != "A" {
			t.Fatalf("aliquots of %s: %q", ref, a)
		}
		return ref, a[1]
	}
	order := func(bottle string, tests ...string) {
		steps := []chromedp.Action[chromedp.Void]{chromedp.SetValue(chromedp.CSS("#or-target"), bottle)}
		for _, c := range tests {
			steps = append(steps, chromedp.Click(chromedp.CSS("#test-"+c)))
		}
		steps = append(steps, chromedp.Click(chromedp.CSS("#do-order")), chromedp.WaitVisible(chromedp.CSS("#sample-orders")))
		webtest.Do(t, bctx, "order on "+bottle, steps...)
	}
	// waitLive waits, on the page as it is, for sel: no navigation, no
	// reload (a mark set on the window before must still be there).
	waitLive := func(what, sel string) {
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.exhibitMark = true`)); err != nil {
			t.Fatal(err)
		}
		webtest.Do(t, bctx, what, chromedp.WaitVisible(chromedp.CSS(sel)))
		mark, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.exhibitMark === true`))
		if err != nil || !mark {
			t.Fatalf("%s: the page was reloaded (mark %v, %v)", what, mark, err)
		}
	}

	signIn("atech")
	if got := webtest.Text(t, bctx, "#links"); !strings.Contains(got, "screen-a") || !strings.Contains(got, "line open") || !strings.Contains(got, "screen-b") {
		t.Errorf("analyser links: %q", got)
	}
	// review records the technician's review of the open sample's results.
	review := func(ref string) {
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(function () { var n = document.getElementById('notice'); if (n) { n.remove(); } return true; })()`)); err != nil {
			t.Fatal(err)
		}
		webtest.Do(t, bctx, "review "+ref, chromedp.Click(chromedp.CSS("#do-review")), chromedp.WaitVisible(chromedp.CSS("#notice")))
		if got := webtest.Text(t, bctx, "#notice"); got != "Your review of the results is recorded." {
			t.Fatalf("review %s: %q", ref, got)
		}
	}
	ref1, bottle1 := receiveKit("K000417", "S-1", "S-10", "S-11")
	webtest.Shoot(t, bctx, shots, "01-split.png")
	webtest.TouchTargets(t, bctx, "sample page with the order form")
	ref2, bottle2 := receiveKit("K000418", "S-2", "S-20", "S-21")

	// screen-a's rack: its two GHB controls, then bottle A of the first
	// kit. In download mode it runs a tube once its order arrives: the
	// controls' orders are placed from the command line, the bottle's from
	// its sample's page.
	sA := newSim(true, labJourneyTube("QC-L1", true, "GHB 5.2 mg/L", "DIAZ 52 ng/mL", "THC 14.6 ng/mL"),
		labJourneyTube("QC-L2", true, "GHB 19.6 mg/L", "DIAZ 195 ng/mL", "THC 41 ng/mL"),
		labJourneyTube(bottle1, false, "GHB 42.0 mg/L", "DIAZ <0.5 ng/mL", "THC 3 ng/mL"))
	sims = append(sims, sA)
	simA <- sA
	for _, qc := range []string{"QC-L1", "QC-L2"} {
		mustRun(t, "lab", "order", "--data", data, "--specimen", qc, "--test", "GHB", "--test", "DIAZ", "--test", "THC")
	}
	webtest.Do(t, bctx, "the first sample", chromedp.Navigate(url+"/sample/"+ref1), chromedp.WaitVisible(chromedp.CSS("#form-order")))
	order(bottle1, "GHB", "DIAZ", "THC")
	webtest.Shoot(t, bctx, shots, "02-ordered.png")
	// screen-a takes the order, runs bottle A and sends its results: they
	// appear on the open page.
	waitLive("screen-a's results appear on the open page", "#results tbody tr:nth-child(3)")
	if got := webtest.Text(t, bctx, "#results"); !strings.Contains(got, "presumptive positive") || !strings.Contains(got, "negative") ||
		!strings.Contains(got, "<0.5") || strings.Contains(got, "held") {
		t.Errorf("sample %s results: %q", ref1, got)
	}
	webtest.Do(t, bctx, "the order resulted", chromedp.WaitVisible(chromedp.CSS("#sample-orders tr.state-resulted")))
	webtest.Do(t, bctx, "scroll to the results", chromedp.ScrollIntoView(chromedp.CSS("#orders-panel")))
	webtest.Shoot(t, bctx, shots, "03-results-live.png")
	review(ref1)

	// screen-b sends unasked: its low control is eight SDs high.
	webtest.Do(t, bctx, "the second sample", chromedp.Navigate(url+"/sample/"+ref2), chromedp.WaitVisible(chromedp.CSS("#form-order")))
	order(bottle2, "GHB", "DIAZ", "THC")
	sB := newSim(false, labJourneyTube("QC-L1", true, "GHB 9.0 mg/L", "DIAZ 48 ng/mL", "THC 15.9 ng/mL"),
		labJourneyTube("QC-L2", true, "GHB 20.3 mg/L", "DIAZ 207 ng/mL", "THC 38 ng/mL"),
		labJourneyTube(bottle2, false, "GHB 61.0 mg/L", "DIAZ 250 ng/mL", "THC 2 ng/mL"))
	sims = append(sims, sB)
	simB <- sB
	waitLive("screen-b's results appear on the open page", "#results tr.held")
	webtest.Do(t, bctx, "all three", chromedp.WaitVisible(chromedp.CSS("#results tbody tr:nth-child(3)")))
	if got := webtest.Text(t, bctx, "#results"); !strings.Contains(got, "held") || !strings.Contains(got, "1-3s") {
		t.Errorf("sample %s results: %q", ref2, got)
	}
	webtest.Do(t, bctx, "scroll to the results", chromedp.ScrollIntoView(chromedp.CSS("#orders-panel")))
	webtest.Shoot(t, bctx, shots, "04-results-held.png")
	review(ref2)

	if err := <-malformed; err != nil {
		t.Fatalf("the malformed message: %v", err)
	}
	webtest.Do(t, bctx, "the quarantine", chromedp.Click(chromedp.CSS("#nav-quarantine")), chromedp.WaitVisible(chromedp.CSS("#quarantine")))
	if got := webtest.Text(t, bctx, "#quarantine"); !strings.Contains(got, "screen-b") || !strings.Contains(got, "escape") {
		t.Errorf("quarantine: %q", got)
	}
	webtest.Shoot(t, bctx, shots, "05-quarantine.png")
	webtest.TouchTargets(t, bctx, "quarantine")
	webtest.Do(t, bctx, "the QC page", chromedp.Click(chromedp.CSS("#nav-qc")), chromedp.WaitVisible(chromedp.CSS(".chart svg")))
	if got := webtest.Text(t, bctx, "main"); !strings.Contains(got, "screen-b@") || !strings.Contains(got, "reject") || !strings.Contains(got, "screen-a@") {
		t.Errorf("QC page: %q", got)
	}
	webtest.Shoot(t, bctx, shots, "06-qc.png")
	webtest.Do(t, bctx, "the worklist", chromedp.Click(chromedp.CSS("#nav-worklist")), chromedp.WaitVisible(chromedp.CSS("#worklist")),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('#worklist tr.state-resulted').length === 4`))
	webtest.Shoot(t, bctx, shots, "07-worklist.png")
	webtest.TouchTargets(t, bctx, "worklist")

	// The authoriser: the held sample cannot be authorised; the other can.
	webtest.Do(t, bctx, "sign out", chromedp.Click(chromedp.CSS(".signout button")), chromedp.WaitVisible(chromedp.CSS("#user")))
	signIn("bauth")
	webtest.Do(t, bctx, ref2+": not offered for authorisation",
		chromedp.Navigate(url+"/sample/"+ref2),
		chromedp.WaitVisible(chromedp.CSS("#authorise-held")),
	)
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#do-authorise').length`)); err != nil || n != 0 {
		t.Errorf("the held sample offers authorisation (%d, %v)", n, err)
	}
	webtest.Shoot(t, bctx, shots, "08-held-not-offered.png")
	webtest.Do(t, bctx, ref1+": authorise",
		chromedp.Navigate(url+"/sample/"+ref1),
		chromedp.WaitVisible(chromedp.CSS("#do-authorise")),
		chromedp.Click(chromedp.CSS("#do-authorise")),
		chromedp.WaitVisible(chromedp.CSS("#notice")),
	)
	if got := webtest.Text(t, bctx, "#notice"); got != "Report authorised and sealed." {
		t.Errorf("authorise %s: %q", ref1, got)
	}
	webtest.Shoot(t, bctx, shots, "09-authorised.png")

	// The agent stops cleanly: each receiver signs a checkpoint on stop.
	stopAgent()
	if code := <-agentDone; code != exitOK {
		t.Fatalf("agent exit %d\n%s", code, errb.String())
	}
	<-outDone
	cancel()
	lines.Wait()
	outMu.Lock()
	all := strings.Join(out, "\n")
	outMu.Unlock()
	for _, want := range []string{"analyser screen-a stopped: 3 stored, 0 quarantined", "analyser screen-b stopped: 3 stored, 1 quarantined", "checkpoint: log size"} {
		if !strings.Contains(all, want) {
			t.Errorf("agent output lacks %q:\n%s", want, all)
		}
	}
	l, err := datadir.Open(context.Background(), data, datadir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ids := map[string]int{}
	if err := receive.List(context.Background(), l, func(e receive.Entry) error {
		if !e.Quarantined() {
			ids[e.Lab.MessageID]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(sims) != 2 {
		t.Fatalf("%d analysers ran", len(sims))
	}
	for _, dv := range append(sims[0].Acked(), sims[1].Acked()...) {
		if n := ids[dv.MessageID.String()]; n != 1 {
			t.Errorf("message %s (tube %s) stored %d times", dv.MessageID, dv.Tube.ID, n)
		}
	}
	if len(ids) != 6 {
		t.Errorf("%d messages stored, want 6", len(ids))
	}
}

// lockedBuilder is a strings.Builder for several goroutines.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// labSendMalformed sends, as an instrument on c, one message whose result
// value has an escape sequence no ASTM escape is (&Q&), until the host
// acknowledges it (it keeps it in quarantine first).
func labSendMalformed(ctx context.Context, c transport.Conn, d *protocol.Dialect) error {
	h := astm.HandlerFuncs{AcceptFunc: func(context.Context, *astm.Message) error { return nil },
		RejectFunc: func(context.Context, *astm.Rejected) error { return nil }}
	conn, err := astm.NewConn(c, astm.Config{Role: link.Instrument, Dialect: d.ASTM, Handler: h, Logger: slog.New(slog.DiscardHandler),
		Timers: link.Timers{Reply: 3 * time.Second}})
	if err != nil {
		return err
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go conn.Run(rctx)
	recs := [][]byte{[]byte(`H|\^&|||ToxSim^2.1`), []byte("P|1"), []byte("O|1|LB/6||^^^GHB"), []byte("R|1|^^^GHB|4&Q&2|mg/L"), []byte("L|1|N")}
	for attempt := 1; ; attempt++ {
		err := conn.SendRecords(ctx, recs)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || attempt == 20 || errors.Is(err, link.ErrClosed) {
			return fmt.Errorf("after %d attempts: %w", attempt, err)
		}
	}
}
