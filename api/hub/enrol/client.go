package enrol

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/datadir"
)

// EnrolPath is the enrolment endpoint, the one the hub serves without a
// client certificate.
const EnrolPath = "/v1/enrol"

// ErrWrongHub: the server is not the hub the code names (its CA's
// fingerprint differs), or it is not a hub at all.
var ErrWrongHub = errors.New("the server is not the hub the enrolment code names")

// ErrClock: the hub is the one the code names, but this machine's clock
// and the hub's disagree by more than certificates allow (enrol.Backdate
// one way); docs/sync.md "Clocks".
var ErrClock = errors.New("this machine's clock and the hub's disagree")

// ErrWrongOperator: the hub names the device's log under another operator
// than the agent's data directory does.
var ErrWrongOperator = errors.New("the hub and the agent name the log under different operators")

// ErrRefused: the hub refused the enrolment; the message is the hub's.
var ErrRefused = errors.New("the hub refused the enrolment")

// NewCSR makes the certificate signing request of a device: its subject is
// the device id as common name, signed by the device key.
func NewCSR(deviceID string, priv ed25519.PrivateKey) ([]byte, error) {
	return x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: deviceID}}, priv)
}

// pinnedTLS returns a TLS client configuration that accepts only a server
// whose certificate chain holds a CA with the code's fingerprint and whose
// leaf that CA issued for host, valid at now.
func pinnedTLS(code Code, host string, now func() time.Time) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The usual verification (system roots) is replaced by the check
		// against the code, which VerifyConnection makes on every
		// handshake before any request is sent.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("%w: it presented no certificate", ErrWrongHub)
			}
			var ca *x509.Certificate
			for _, c := range cs.PeerCertificates[1:] {
				if c.IsCA && code.Matches(Fingerprint(c)) {
					ca = c
				}
			}
			if ca == nil {
				return fmt.Errorf("%w: no certificate it presented has the CA fingerprint in the code (a mistyped code, or another server)", ErrWrongHub)
			}
			roots := x509.NewCertPool()
			roots.AddCert(ca)
			leaf := cs.PeerCertificates[0]
			t := now()
			_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, CurrentTime: t})
			var invalid x509.CertificateInvalidError
			if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
				// The hub is the one the code names (its CA matched), but
				// its certificate is not valid at this machine's time.
				return fmt.Errorf("%w: the hub's certificate is valid from %s to %s and this machine's clock reads %s; set the clock that is wrong (both should follow NTP) and enrol again",
					ErrClock, leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
			}
			if err != nil {
				return fmt.Errorf("%w: its certificate does not verify under the CA the code names: %v", ErrWrongHub, err)
			}
			return nil
		},
	}
}

// An Agent is what enrolment needs of the agent: its device id, its key,
// its clock.
type Agent struct {
	DeviceID string
	Origin   string // the agent's log's origin; empty: under ledger.DefaultOperator
	Key      ed25519.PrivateKey
	Now      func() time.Time // nil: time.Now
}

// Enrol enrols the agent at the hub at hubURL (https://host:port) with
// code: it authenticates the hub by the code's CA fingerprint before
// sending anything, sends the code and a CSR signed by the device key, and
// checks the reply. Nothing is stored: SaveAgent does that.
func (a Agent) Enrol(ctx context.Context, hubURL, codeText string) (*Result, error) {
	now := a.Now
	if now == nil {
		now = time.Now
	}
	code, err := ParseCode(codeText)
	if err != nil {
		return nil, err
	}
	u, err := hubBase(hubURL)
	if err != nil {
		return nil, err
	}
	csr, err := NewCSR(a.DeviceID, a.Key)
	if err != nil {
		return nil, err
	}
	origin := a.Origin
	if origin == "" {
		origin = Origin(a.DeviceID)
	}
	body, _ := json.Marshal(Request{Format: RequestFormat, Code: code.String(), CSR: csr, Origin: origin})
	tr := &http.Transport{TLSClientConfig: pinnedTLS(code, u.Hostname(), now), ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: time.Minute}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u.JoinPath(EnrolPath).String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("enrol at %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("enrol at %s: reply: %w", u.Host, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(rb))
		if json.Unmarshal(rb, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return nil, fmt.Errorf("%w (HTTP %d): %s", ErrRefused, resp.StatusCode, clip(msg))
	}
	return ParseResponse(rb, code, a.DeviceID, origin, a.Key.Public().(ed25519.PublicKey), now())
}

func hubBase(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("hub URL %q: want https://HOST[:PORT][/PATH]", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// Agent data directory files.
const (
	AgentDir         = "hub"
	AgentCAFile      = "hub/ca.crt"
	AgentCertFile    = "hub/device.crt"
	AgentConfigFile  = "hub/hub.json"
	AgentFormat      = "exhibit-hub-enrolment v1"
	agentKeyFileName = datadir.KeyFile
)

// AgentConfig is DIR/hub/hub.json.
type AgentConfig struct {
	Format  string `json:"format"`
	URL     string `json:"url"`
	Device  string `json:"device"`
	Origin  string `json:"origin"`
	Witness string `json:"witness"`
}

// SaveAgent writes an enrolment's result into the agent's data directory:
// the CA certificate, the device certificate, then hub.json (which marks
// the enrolment complete), each atomically.
func SaveAgent(dir, hubURL string, r *Result) error {
	if err := writeFile(filepath.Join(dir, AgentCAFile), 0o644, certPEM(r.CACert.Raw)); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, AgentCertFile), 0o644, certPEM(r.Cert.Raw)); err != nil {
		return err
	}
	cfg, _ := json.MarshalIndent(AgentConfig{Format: AgentFormat, URL: hubURL, Device: r.Device, Origin: r.Origin, Witness: r.Witness}, "", "  ")
	return writeFile(filepath.Join(dir, AgentConfigFile), 0o644, append(cfg, '\n'))
}

// An Enrolled agent: its hub configuration and the TLS client
// configuration to reach the hub with.
type Enrolled struct {
	Config AgentConfig
	TLS    *tls.Config
}

// LoadAgent reads an enrolled agent's data directory: the device key, its
// certificate, and the hub's CA as the only root.
func LoadAgent(dir string) (*Enrolled, error) {
	b, err := os.ReadFile(filepath.Join(dir, AgentConfigFile))
	if err != nil {
		return nil, fmt.Errorf("not enrolled at a hub (exhibit agent enrol): %w", err)
	}
	var cfg AgentConfig
	if err := decodeStrict(b, &cfg); err != nil || cfg.Format != AgentFormat {
		return nil, fmt.Errorf("%s: not an %s file (%v)", AgentConfigFile, AgentFormat, err)
	}
	key, err := datadir.Keys(filepath.Join(dir, agentKeyFileName)).Load()
	if err != nil {
		return nil, err
	}
	cb, err := os.ReadFile(filepath.Join(dir, AgentCertFile))
	if err != nil {
		return nil, err
	}
	cert, err := parseCertPEM(cb, AgentCertFile)
	if err != nil {
		return nil, err
	}
	if pub, ok := cert.PublicKey.(ed25519.PublicKey); !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("%s is not for the device key (was the key rotated? enrol again)", AgentCertFile)
	}
	ab, err := os.ReadFile(filepath.Join(dir, AgentCAFile))
	if err != nil {
		return nil, err
	}
	ca, err := parseCertPEM(ab, AgentCAFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return &Enrolled{Config: cfg, TLS: &tls.Config{
		MinVersion:   tls.VersionTLS13,
		RootCAs:      roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}},
	}}, nil
}

// HostsFor returns the names a server certificate for listen address addr
// carries: localhost and the loopback addresses, the machine's host name,
// the listen host — or, for a wildcard address, every address of the
// machine's interfaces — and the extra names given.
func HostsFor(addr string, extra ...string) []string {
	host, _, _ := net.SplitHostPort(addr)
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if hn, err := os.Hostname(); err == nil && hn != "" {
		hosts = append(hosts, hn)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if as, err := net.InterfaceAddrs(); err == nil {
			for _, a := range as {
				if n, ok := a.(*net.IPNet); ok {
					hosts = append(hosts, n.IP.String())
				}
			}
		}
	} else {
		hosts = append(hosts, host)
	}
	hosts = append(hosts, extra...)
	seen := map[string]bool{}
	out := hosts[:0]
	for _, h := range hosts {
		if h != "" && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}
