package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/lab/protocol"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/transport"
)

// The analyser file (docs/analyser-config.md): one instrument the lab
// agent receives from, with what `exhibit lab receive` takes as flags.
const (
	analyserFormat  = "exhibit-analyser"
	analyserVersion = 1
	// analyserMaxFile bounds the file: a few hundred bytes in practice.
	analyserMaxFile = 64 << 10
)

// errAnalyserConfig is wrapped by every error parseAnalyser returns.
var errAnalyserConfig = errors.New("analyser file")

// analyserFile is the JSON object of an analyser file, member for member.
type analyserFile struct {
	Format          string `json:"format"`
	Version         int    `json:"version"`
	Name            string `json:"name"`
	Protocol        string `json:"protocol"`
	Dialect         string `json:"dialect,omitempty"`
	Transport       string `json:"transport"`
	Link            string `json:"link,omitempty"`
	Baud            int    `json:"baud,omitempty"`
	Listen          string `json:"listen,omitempty"`
	Connect         string `json:"connect,omitempty"`
	MaxConns        int    `json:"max_conns,omitempty"`
	Case            string `json:"case,omitempty"`
	Codes           string `json:"codes,omitempty"`
	Download        bool   `json:"download,omitempty"`
	DownloadEvery   string `json:"download_every,omitempty"`
	OrdersConnect   string `json:"orders_connect,omitempty"`
	OrdersTimeout   string `json:"orders_timeout,omitempty"`
	ReplyTimer      string `json:"reply_timer,omitempty"`
	CheckpointEvery string `json:"checkpoint_every,omitempty"`
}

// analyserConfig is an analyser file read and checked, with its defaults
// filled in.
type analyserConfig struct {
	Name            string
	Dialect         *protocol.Dialect
	Transport       transport.Spec
	Case            string
	Codes           string // path, relative paths resolved against the file's directory by loadAnalyser
	Download        bool
	DownloadEvery   time.Duration
	OrdersConnect   string        // hl7 with download: the analyser's order port
	OrdersTimeout   time.Duration // hl7 with download: how long an order's reply may take
	ReplyTimer      time.Duration
	CheckpointEvery time.Duration
}

// parseAnalyser reads an analyser file. Every error wraps
// errAnalyserConfig and names the member at fault.
func parseAnalyser(data []byte) (*analyserConfig, error) {
	bad := func(format string, args ...any) (*analyserConfig, error) {
		return nil, fmt.Errorf("%w: %s", errAnalyserConfig, fmt.Sprintf(format, args...))
	}
	if len(data) > analyserMaxFile {
		return bad("%d bytes: want at most %d", len(data), analyserMaxFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f analyserFile
	if err := dec.Decode(&f); err != nil {
		return bad("%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("data after the object")
	}
	if f.Format != analyserFormat || f.Version != analyserVersion {
		return bad("format %q version %d: want %q version %d", clipText(f.Format), f.Version, analyserFormat, analyserVersion)
	}
	name := strings.TrimSpace(f.Name)
	if name == "" || len(name) > 64 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return bad("name %q: want 1–64 characters, no control characters", clipText(f.Name))
	}
	c := &analyserConfig{Name: name, Case: f.Case, Codes: f.Codes, Download: f.Download,
		DownloadEvery: time.Second, ReplyTimer: 15 * time.Second, CheckpointEvery: time.Minute,
		OrdersConnect: f.OrdersConnect, OrdersTimeout: 30 * time.Second}
	if f.Protocol == "" || f.Transport == "" {
		return bad("protocol and transport are required")
	}
	d, err := lookupDialect(f.Protocol, f.Dialect)
	if err != nil {
		return bad("%v", err)
	}
	c.Dialect = d
	if f.Transport != "serial" && f.Transport != "tcp" {
		return bad("transport %q: want serial or tcp", clipText(f.Transport))
	}
	c.Transport = transport.Spec{Side: transport.Host, Transport: f.Transport, Link: f.Link, Listen: f.Listen,
		Connect: f.Connect, Baud: f.Baud, MaxConns: f.MaxConns}
	if f.Transport == "serial" {
		if f.Baud == 0 {
			c.Transport.Baud = 9600
		}
		if f.MaxConns != 0 {
			return bad("max_conns is for tcp with listen")
		}
	} else {
		if f.Baud != 0 {
			return bad("baud is for a serial line")
		}
		if f.MaxConns == 0 {
			c.Transport.MaxConns = transport.DefaultMaxConns
		} else if f.MaxConns < 0 || f.Listen == "" {
			return bad("max_conns %d: want a positive number, with listen", f.MaxConns)
		}
	}
	if err := c.Transport.Validate(); err != nil {
		// Validate names flags (--link); the file's members have the same
		// names without the dashes.
		return bad("%s", strings.ReplaceAll(err.Error(), "--", ""))
	}
	if c.Case == "" {
		c.Case = receive.DefaultCase
	}
	if err := chain.ValidCaseRef(c.Case); err != nil {
		return bad("case: %v", err)
	}
	switch {
	case c.Download && d.HL7 != nil && f.OrdersConnect == "":
		return bad("download with hl7 needs orders_connect: the analyser's order port (host:port)")
	case f.OrdersConnect != "" && (d.HL7 == nil || !c.Download):
		return bad("orders_connect is for hl7 with download")
	case f.OrdersTimeout != "" && f.OrdersConnect == "":
		return bad("orders_timeout without orders_connect")
	}
	for _, p := range []struct {
		name, text string
		into       *time.Duration
	}{{"download_every", f.DownloadEvery, &c.DownloadEvery}, {"reply_timer", f.ReplyTimer, &c.ReplyTimer},
		{"checkpoint_every", f.CheckpointEvery, &c.CheckpointEvery}, {"orders_timeout", f.OrdersTimeout, &c.OrdersTimeout}} {
		if p.text == "" {
			continue
		}
		v, err := time.ParseDuration(p.text)
		if err != nil || v <= 0 || v > 24*time.Hour {
			return bad("%s %q: want a duration such as \"15s\", more than zero and at most 24h", p.name, clipText(p.text))
		}
		*p.into = v
	}
	if f.DownloadEvery != "" && !c.Download {
		return bad("download_every without download")
	}
	return c, nil
}

// clipText shortens s for an error message.
func clipText(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// loadAnalyser reads the analyser file at path; a relative codes path is
// taken from the file's directory.
func loadAnalyser(path string) (*analyserConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := parseAnalyser(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.Codes != "" && !filepath.IsAbs(c.Codes) {
		c.Codes = filepath.Join(filepath.Dir(path), c.Codes)
	}
	return c, nil
}
