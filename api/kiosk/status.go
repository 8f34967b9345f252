package kiosk

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/exhibit-forensics/exhibit/api/hub/agentsync"

	"github.com/exhibit-forensics/exhibit/devices/camera"
	"github.com/exhibit-forensics/exhibit/devices/light"
)

// How fresh the status panel is, and how long the first page waits for
// the first reading.
const (
	statusEvery     = 2 * time.Second
	statusFirstWait = time.Second
)

// lightStatuser and cameraStatuser are the typed status reads the panel
// prefers to Describe's one line (*light.Dev and *netcam.Dev have them).
type lightStatuser interface {
	Status(ctx context.Context) (light.Status, error)
}

type cameraStatuser interface {
	Status(ctx context.Context) (camera.Status, error)
}

// deviceView is one device in the status panel.
type deviceView struct {
	Name  string   // "Light engine", "Camera"
	OK    bool     // false: a problem the photographer should see
	Lines []string // plain words: "Light off", "Safety interlock closed"
}

// statusView is the status panel.
type statusView struct {
	Known  bool
	Light  deviceView
	Camera deviceView
	Hub    *deviceView // the sync to the hub (Config.Outbox), if enrolled
	At     string      // when it was read, "15:04:05"
}

// statusCache reads the devices in the background and keeps the latest
// reading. Reads run under the Kiosk's context without a deadline of their
// own: the drivers bound them, and the light driver halts the light when a
// command's context ends, which must never happen to a capture because a
// status read was slow.
type statusCache struct {
	k *Kiosk

	mu      sync.Mutex
	v       statusView
	at      time.Time // clock time of the reading; zero: none yet
	running chan struct{}
}

// view returns the latest reading, starting a new read if it is older than
// statusEvery. Only when there has never been a reading does it wait, at
// most statusFirstWait.
func (s *statusCache) view() statusView {
	now := s.k.cfg.Clock.Now()
	s.mu.Lock()
	if s.running == nil && (s.at.IsZero() || now.Sub(s.at) >= statusEvery) {
		done := make(chan struct{})
		if s.k.goOwned(func() { s.read(done) }) {
			s.running = done
		}
	}
	v, have, running := s.v, !s.at.IsZero(), s.running
	s.mu.Unlock()
	if have || running == nil {
		return v
	}
	t := time.NewTimer(statusFirstWait)
	defer t.Stop()
	select {
	case <-running:
	case <-t.C:
	case <-s.k.ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.at.IsZero() {
		return statusView{Light: deviceView{Name: "Light engine", Lines: []string{"Checking…"}, OK: true},
			Camera: deviceView{Name: "Camera", Lines: []string{"Checking…"}, OK: true}}
	}
	return s.v
}

// readNow reads the devices in the calling goroutine (one the Kiosk owns),
// after any read already running.
func (s *statusCache) readNow() {
	s.mu.Lock()
	for s.running != nil {
		r := s.running
		s.mu.Unlock()
		select {
		case <-r:
		case <-s.k.ctx.Done():
			return
		}
		s.mu.Lock()
	}
	done := make(chan struct{})
	s.running = done
	s.mu.Unlock()
	s.read(done)
}

func (s *statusCache) read(done chan struct{}) {
	ctx := s.k.ctx
	var wg sync.WaitGroup
	var lv, cv deviceView
	wg.Add(2)
	go func() { defer wg.Done(); lv = lightView(ctx, s.k.cfg.Light) }()
	go func() { defer wg.Done(); cv = cameraView(ctx, s.k.cfg.Camera) }()
	wg.Wait()
	now := s.k.cfg.Clock.Now()
	s.mu.Lock()
	s.v = statusView{Known: true, Light: lv, Camera: cv, Hub: hubView(s.k.cfg.Outbox), At: now.Local().Format("15:04:05")}
	s.at = now
	s.running = nil
	s.mu.Unlock()
	close(done)
}

func lightView(ctx context.Context, l Light) deviceView {
	v := deviceView{Name: "Light engine"}
	if ls, ok := l.(lightStatuser); ok {
		st, err := ls.Status(ctx)
		if err != nil {
			v.Lines = []string{"Not answering", "Check its cable and power"}
			return v
		}
		v.OK = true
		if st.On {
			v.Lines = append(v.Lines, "Light on")
		} else {
			v.Lines = append(v.Lines, "Light off")
		}
		v.Lines = append(v.Lines, bandName(st.Band)+", "+filterName(st.Filter))
		if st.InterlockOpen {
			v.OK = false
			v.Lines = append(v.Lines, "Enclosure open: violet and UV light will not work")
		} else {
			v.Lines = append(v.Lines, "Enclosure closed")
		}
		if st.Derated() {
			v.Lines = append(v.Lines, fmt.Sprintf("Cooling down: at most %d %%", st.Derating))
		}
		return v
	}
	line, err := l.Describe(ctx)
	if err != nil {
		v.Lines = []string{"Not answering", "Check its cable and power"}
		return v
	}
	v.OK, v.Lines = true, []string{line}
	return v
}

func cameraView(ctx context.Context, c Camera) deviceView {
	v := deviceView{Name: "Camera"}
	if cs, ok := c.(cameraStatuser); ok {
		st, err := cs.Status(ctx)
		switch {
		case err != nil:
			v.Lines = []string{"Not answering", "Check its cable and power"}
		case st.Ready:
			v.OK, v.Lines = true, []string{"Ready"}
		default:
			v.OK, v.Lines = true, []string{"Busy taking a picture"}
		}
		return v
	}
	line, err := c.Describe(ctx)
	if err != nil {
		v.Lines = []string{"Not answering", "Check its cable and power"}
		return v
	}
	v.OK, v.Lines = true, []string{line}
	return v
}

// bandName and filterName are the words a photographer reads.
func bandName(b light.Band) string {
	switch b {
	case light.BandWhite:
		return "White light"
	case light.BandCrossPolarised:
		return "Cross-polarised white"
	case light.Band365:
		return "UV 365 nm"
	case light.Band415:
		return "Violet 415 nm"
	case light.Band450:
		return "Blue 450 nm"
	case light.Band535:
		return "Green 535 nm"
	case light.Band850:
		return "Infrared 850 nm"
	}
	return b.String()
}

func filterName(f light.Filter) string {
	if f == light.FilterNone {
		return "no filter"
	}
	return f.String() + " filter"
}

// hubView is the sync to the hub in the status panel.
func hubView(outbox func() *agentsync.Status) *deviceView {
	if outbox == nil {
		return nil
	}
	v := &deviceView{Name: "Hub", OK: true, Lines: []string{"Checking…"}}
	if st := outbox(); st != nil {
		v.OK, v.Lines = st.Words(time.Local)
	}
	return v
}
