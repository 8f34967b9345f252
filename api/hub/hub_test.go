package hub_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/api/hub"
	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/chain"
	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/witness"
	"github.com/exhibit-forensics/exhibit/internal/clock"
)

func init() { gin.SetMode(gin.TestMode) }

// testHub is a hub serving HTTPS on loopback, on a fake clock.
type testHub struct {
	*enrol.Hub
	URL   string
	Clock *clock.Fake
}

func startHub(t testing.TB, id string) *testHub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	clk := clock.NewFake(time.Now().Truncate(time.Second))
	dir := t.TempDir()
	opt := enrol.Options{Now: clk.Now}
	if err := enrol.Init(ctx, dir, id, opt); err != nil {
		t.Fatal(err)
	}
	h, err := enrol.Open(ctx, dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hub.New(hub.Config{Hub: h, Hosts: enrol.HostsFor("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		h.Close()
	})
	return &testHub{Hub: h, URL: "https://" + ln.Addr().String() + "/", Clock: clk}
}

func (h *testHub) code(t testing.TB) string {
	t.Helper()
	c, _, err := h.NewCode(context.Background(), enrol.CodeTTL)
	if err != nil {
		t.Fatal(err)
	}
	return c.String()
}

// newAgent is a device: an id and an Ed25519 key, on the hub's clock.
func newAgent(t testing.TB, h *testHub) enrol.Agent {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return enrol.Agent{DeviceID: uuid.Must(uuid.NewV7()).String(), Key: priv, Now: h.Clock.Now}
}

func enrolOK(t *testing.T, h *testHub, a enrol.Agent) *enrol.Result {
	t.Helper()
	r, err := a.Enrol(context.Background(), h.URL, h.code(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// mtls is an HTTP/1.1 client presenting the device certificate r to the
// hub, trusting the hub's CA only, at the hub's time.
func mtls(h *testHub, a enrol.Agent, r *enrol.Result) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(r.CACert)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{r.Cert.Raw}, PrivateKey: a.Key, Leaf: r.Cert}},
		Time:         h.Clock.Now,
	}}}
}

// get fetches path and returns the status, the body and whether the
// connection was reused.
func get(t *testing.T, c *http.Client, url string, check ...func(*http.Response)) (int, string, bool) {
	t.Helper()
	var reused bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	for _, f := range check {
		f(res)
	}
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), reused
}

func devicePath(h *testHub) string { return strings.TrimSuffix(h.URL, "/") + hub.DevicePath }

// An agent enrols with a code and then reaches the hub with its
// certificate: the hub knows it as its device. Without a certificate, the
// hub refuses with a reason.
func TestEnrolThenMutualTLS(t *testing.T) {
	h := startHub(t, "hub-1")
	a := newAgent(t, h)
	r := enrolOK(t, h, a)
	if r.Device != a.DeviceID || r.Origin != "exhibit-forensics.github.io/log/"+a.DeviceID || r.Witness != h.WitnessKey {
		t.Fatalf("result %+v", r.Response)
	}
	if !r.Cert.PublicKey.(ed25519.PublicKey).Equal(a.Key.Public()) {
		t.Fatal("the certificate is not for the device key")
	}
	code, body, _ := get(t, mtls(h, a, r), devicePath(h))
	var info hub.DeviceInfo
	if code != 200 || json.Unmarshal([]byte(body), &info) != nil || info.Device != a.DeviceID || info.Origin != r.Origin {
		t.Fatalf("GET %s: %d %s", hub.DevicePath, code, body)
	}
	d, err := h.Registry.Device(context.Background(), a.DeviceID)
	if err != nil || !d.Public.Equal(a.Key.Public()) || d.Origin != r.Origin || d.IsRevoked() {
		t.Fatalf("registry: %+v %v", d, err)
	}

	roots := x509.NewCertPool()
	roots.AddCert(r.CACert)
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Time: h.Clock.Now}}}
	for _, p := range []string{hub.DevicePath, hub.WitnessPath, "/no/such/route"} {
		code, body, _ := get(t, anon, strings.TrimSuffix(h.URL, "/")+p)
		if code != http.StatusUnauthorized || !strings.Contains(body, "no client certificate was presented") {
			t.Errorf("GET %s without a certificate: %d %s", p, code, body)
		}
	}
}

// Each refusal of an enrolment or of a request, with its reason.
func TestRefusals(t *testing.T) {
	ctx := context.Background()
	h := startHub(t, "hub-1")
	// Another hub of the same name: its CA has the same subject, another
	// key, so only the signature tells their certificates apart.
	other := startHub(t, "hub-1")

	t.Run("used code", func(t *testing.T) {
		code := h.code(t)
		if _, err := newAgent(t, h).Enrol(ctx, h.URL, code); err != nil {
			t.Fatal(err)
		}
		_, err := newAgent(t, h).Enrol(ctx, h.URL, code)
		if !errors.Is(err, enrol.ErrRefused) || !strings.Contains(err.Error(), "HTTP 403") || !strings.Contains(err.Error(), "already used") {
			t.Fatalf("second use: %v", err)
		}
	})
	t.Run("expired code", func(t *testing.T) {
		code := h.code(t)
		h.Clock.Advance(enrol.CodeTTL)
		_, err := newAgent(t, h).Enrol(ctx, h.URL, code)
		if !errors.Is(err, enrol.ErrRefused) || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("expired code: %v", err)
		}
	})
	t.Run("wrong CA fingerprint", func(t *testing.T) {
		// A code of the other hub taken to h: the agent refuses h in the
		// handshake and never sends the code, which still works at its own.
		code := other.code(t)
		a := newAgent(t, h)
		_, err := a.Enrol(ctx, h.URL, code)
		if !errors.Is(err, enrol.ErrWrongHub) || !strings.Contains(err.Error(), "CA fingerprint") {
			t.Fatalf("wrong hub: %v", err)
		}
		if _, err := h.Registry.Device(ctx, a.DeviceID); !errors.Is(err, enrol.ErrUnknown) {
			t.Fatalf("the wrong hub enrolled the device: %v", err)
		}
		if _, err := a.Enrol(ctx, other.URL, code); err != nil {
			t.Fatalf("the code at its own hub: %v", err)
		}
		// A fingerprint mistyped by one character fails the same way.
		c, _ := enrol.ParseCode(h.code(t))
		c.Fingerprint[3] ^= 0x10
		if _, err := newAgent(t, h).Enrol(ctx, h.URL, c.String()); !errors.Is(err, enrol.ErrWrongHub) {
			t.Fatalf("mistyped fingerprint: %v", err)
		}
	})
	t.Run("CSR not signed by the device key", func(t *testing.T) {
		a := newAgent(t, h)
		csr, err := enrol.NewCSR(a.DeviceID, a.Key)
		if err != nil {
			t.Fatal(err)
		}
		csr[len(csr)-1] ^= 1 // the signature's last byte
		code := h.code(t)
		status, msg := postEnrol(t, h, enrol.Request{Format: enrol.RequestFormat, Code: code, CSR: csr})
		if status != http.StatusBadRequest || !strings.Contains(msg, "signature does not verify") {
			t.Fatalf("bad CSR signature: %d %s", status, msg)
		}
		// A CSR signed by another key than the one it carries, assembled
		// from two: the same refusal, and the code was not used up.
		_, k2, _ := ed25519.GenerateKey(rand.Reader)
		csr2, _ := enrol.NewCSR(a.DeviceID, k2)
		mixed := swapKey(t, csr2, a.Key.Public().(ed25519.PublicKey))
		status, msg = postEnrol(t, h, enrol.Request{Format: enrol.RequestFormat, Code: code, CSR: mixed})
		if status != http.StatusBadRequest || !strings.Contains(msg, "signature does not verify") {
			t.Fatalf("CSR signed by another key: %d %s", status, msg)
		}
		if _, err := a.Enrol(ctx, h.URL, code); err != nil {
			t.Fatalf("the code after refused CSRs: %v", err)
		}
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		// The other hub of the same name (only the signature differs), and
		// one of another name (the issuer differs too).
		for _, o := range []*testHub{other, startHub(t, "hub-2")} {
			a := newAgent(t, o)
			r := enrolOK(t, o, a)
			c := mtls(h, a, r)
			c.Transport.(*http.Transport).TLSClientConfig.InsecureSkipVerify = true // the client would refuse h too
			code, body, _ := get(t, c, devicePath(h))
			if code != http.StatusForbidden || !strings.Contains(body, "not issued by this hub's CA") {
				t.Fatalf("another hub's certificate: %d %s", code, body)
			}
		}
	})
	t.Run("expired certificate", func(t *testing.T) {
		hx := startHub(t, "hub-3")
		a := newAgent(t, hx)
		r := enrolOK(t, hx, a)
		hx.Clock.Advance(enrol.DeviceValidity + time.Minute)
		code, body, _ := get(t, mtls(hx, a, r), devicePath(hx))
		if code != http.StatusForbidden || !strings.Contains(body, "expired at "+r.Cert.NotAfter.UTC().Format(time.RFC3339)) {
			t.Fatalf("expired certificate: %d %s", code, body)
		}
	})
	t.Run("same device, another key", func(t *testing.T) {
		a := newAgent(t, h)
		enrolOK(t, h, a)
		b := newAgent(t, h)
		b.DeviceID = a.DeviceID
		_, err := b.Enrol(ctx, h.URL, h.code(t))
		if !errors.Is(err, enrol.ErrRefused) || !strings.Contains(err.Error(), "HTTP 409") || !strings.Contains(err.Error(), "another key") {
			t.Fatalf("another key: %v", err)
		}
		// The same key enrolling again (a renewal) is taken.
		if _, err := a.Enrol(ctx, h.URL, h.code(t)); err != nil {
			t.Fatalf("renewal: %v", err)
		}
	})
}

// swapKey returns csr (DER) with its public key replaced by pub, the
// signature left as it was: a request signed by another key than the one
// it names.
func swapKey(t *testing.T, csr []byte, pub ed25519.PublicKey) []byte {
	t.Helper()
	parsed, err := x509.ParseCertificateRequest(csr)
	if err != nil {
		t.Fatal(err)
	}
	old := parsed.PublicKey.(ed25519.PublicKey)
	i := bytes.Index(csr, old)
	if i < 0 {
		t.Fatal("key not found in CSR")
	}
	out := bytes.Clone(csr)
	copy(out[i:], pub)
	return out
}

// postEnrol posts an enrolment request as is (trusting the hub's CA) and
// returns the status and the error message.
func postEnrol(t *testing.T, h *testHub, req enrol.Request) (int, string) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(h.CA.Cert)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Time: h.Clock.Now}}}
	b, _ := json.Marshal(req)
	res, err := c.Post(strings.TrimSuffix(h.URL, "/")+enrol.EnrolPath, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e struct{ Error string }
	body, _ := io.ReadAll(res.Body)
	json.Unmarshal(body, &e)
	return res.StatusCode, e.Error
}

// A revocation refuses the device's next request on the connection it
// already has open (HTTP/1.1 keep-alive, and HTTP/2), with the reason; its
// log becomes unknown to the witness, and it cannot enrol again.
func TestRevokeOnOpenConnection(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1.1", true: "h2"}[h2], func(t *testing.T) {
			ctx := context.Background()
			h := startHub(t, "hub-1")
			a := newAgent(t, h)
			r := enrolOK(t, h, a)
			c := mtls(h, a, r)
			c.Transport.(*http.Transport).ForceAttemptHTTP2 = h2
			if code, body, _ := get(t, c, devicePath(h)); code != 200 {
				t.Fatalf("before revocation: %d %s", code, body)
			}
			if code, _, reused := get(t, c, devicePath(h)); code != 200 || !reused {
				t.Fatalf("second request: %d, reused %v", code, reused)
			}
			if _, err := h.Revoke(ctx, a.DeviceID, "kiosk stolen from the custody suite"); err != nil {
				t.Fatal(err)
			}
			code, body, reused := get(t, c, devicePath(h), func(res *http.Response) {
				if got := res.ProtoMajor == 2; got != h2 {
					t.Errorf("protocol %s", res.Proto)
				}
			})
			if !reused {
				t.Fatal("the request after revocation went over a new connection; the test shows nothing")
			}
			if code != http.StatusForbidden || !strings.Contains(body, "device revoked") || !strings.Contains(body, "kiosk stolen from the custody suite") {
				t.Fatalf("after revocation: %d %s", code, body)
			}
			if _, err := (enrol.Keys{Registry: h.Registry}).LogVerifiers(ctx, r.Origin); !errors.Is(err, witness.ErrUnknownLog) {
				t.Fatalf("witness keys of a revoked device: %v", err)
			}
			if _, err := a.Enrol(ctx, h.URL, h.code(t)); !errors.Is(err, enrol.ErrRefused) || !strings.Contains(err.Error(), "revoked") {
				t.Fatalf("re-enrolment after revocation: %v", err)
			}
		})
	}
}

// The witness behind mutual TLS: a device gets its own log's checkpoint
// co-signed, and is refused for another device's log.
func TestWitness(t *testing.T) {
	ctx := context.Background()
	h := startHub(t, "hub-1")
	a, b := newAgent(t, h), newAgent(t, h)
	ra, rb := enrolOK(t, h, a), enrolOK(t, h, b)
	url := strings.TrimSuffix(h.URL, "/") + hub.WitnessPath

	checkpoint := func(ag enrol.Agent, origin string, size uint64) []byte {
		s, err := tlog.NewSigner(origin, ag.Key)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := tlog.Sign(&tlog.Checkpoint{Origin: origin, Size: size, Root: chain.Hash{1, 2, 3}}, s)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	cp := checkpoint(a, ra.Origin, 1)
	sigs, err := witness.Submit(ctx, mtls(h, a, ra), url, witness.Request{Checkpoint: cp})
	if err != nil {
		t.Fatal(err)
	}
	wv, err := witness.ParseVerifierKey(ra.Witness)
	if err != nil {
		t.Fatal(err)
	}
	dv, _ := tlog.NewVerifier(ra.Origin, a.Key.Public().(ed25519.PublicKey))
	n, err := note.Open(append(bytes.Clone(cp), sigs...), note.VerifierList(dv, wv))
	if err != nil || len(n.Sigs) != 2 {
		t.Fatalf("co-signed checkpoint: %v %+v", err, n)
	}
	if w, err := h.Registry.(witness.State).Latest(ctx, ra.Origin); err != nil || w == nil || w.Size != 1 {
		t.Fatalf("witnessed state: %+v %v", w, err)
	}

	// b submits a's log (signed by a's key, even): refused.
	_, err = witness.Submit(ctx, mtls(h, b, rb), url, witness.Request{OldSize: 1, Checkpoint: checkpoint(a, ra.Origin, 1)})
	var we *witness.Error
	if !errors.As(err, &we) || we.Status != http.StatusForbidden || !strings.Contains(err.Error(), "its own log") {
		t.Fatalf("another device's log: %v", err)
	}
}
