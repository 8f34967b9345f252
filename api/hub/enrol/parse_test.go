package enrol

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/witness"
	"github.com/exhibit-forensics/exhibit/internal/fuzzseed"
)

// detRand is a deterministic byte stream (SHA-256 in counter mode), so
// that the certificates and requests of the fuzz seeds are the same on
// every run.
type detRand struct {
	seed string
	n    uint64
	buf  []byte
}

func (r *detRand) Read(p []byte) (int, error) {
	for i := range p {
		if len(r.buf) == 0 {
			h := sha256.Sum256([]byte(r.seed + string(rune(r.n))))
			r.n++
			r.buf = h[:]
		}
		p[i] = r.buf[0]
		r.buf = r.buf[1:]
	}
	return len(p), nil
}

var (
	fixedNow    = time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	fixedDevice = "01a2483c-de14-7c2b-bcb7-9ce54487a4ee"
	fixedKey    = ed25519.NewKeyFromSeed(make([]byte, 32))
	fixedCode   = Code{Fingerprint: [FingerprintLen]byte{1, 2, 3}, Secret: [SecretLen]byte{9, 8, 7}}
)

var codeCases = []struct {
	name, in string
	ok       bool
}{
	{"canonical", fixedCode.String(), true},
	{"lower case, spaces", strings.ToLower(strings.ReplaceAll(fixedCode.String(), "-", " ")), true},
	{"no separators", strings.ReplaceAll(fixedCode.String(), "-", ""), true},
	{"one short", fixedCode.String()[:len(fixedCode.String())-1], false},
	{"one long", fixedCode.String() + "A", false},
	{"digit 1", strings.Replace(fixedCode.String(), "A", "1", 1), false},
	{"padding", fixedCode.String() + "=", false},
	{"empty", "", false},
	{"unicode", "AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAÄ", false},
	{"very long", strings.Repeat("-", 200), false},
}

func TestParseCode(t *testing.T) {
	for _, tc := range codeCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCode(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseCode(%q): %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrCode) {
				t.Fatalf("error %v does not wrap ErrCode", err)
			}
			if err == nil && c != fixedCode {
				t.Fatalf("ParseCode(%q) = %v, want %v", tc.in, c, fixedCode)
			}
		})
	}
	if s := fixedCode.String(); len(s) != 49 || strings.Count(s, "-") != 9 {
		t.Fatalf("code text %q: want 10 groups of 4", s)
	}
}

func FuzzParseCode(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCode(s)
		if err != nil {
			if !errors.Is(err, ErrCode) {
				t.Fatalf("error %v does not wrap ErrCode", err)
			}
			return
		}
		back, err := ParseCode(c.String())
		if err != nil || back != c {
			t.Fatalf("%q: round trip %v %v", s, back, err)
		}
	})
}

func mustCSR(t testing.TB, id string, key ed25519.PrivateKey) []byte {
	csr, err := NewCSR(id, key)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func reqJSON(code string, csr []byte) string {
	b, _ := json.Marshal(Request{Format: RequestFormat, Code: code, CSR: csr})
	return string(b)
}

func requestCases(t testing.TB) []struct {
	name, in string
	ok       bool
} {
	csr := mustCSR(t, fixedDevice, fixedKey)
	bad := append([]byte(nil), csr...)
	bad[len(bad)-1] ^= 1
	return []struct {
		name, in string
		ok       bool
	}{
		{"good", reqJSON(fixedCode.String(), csr), true},
		{"bad signature", reqJSON(fixedCode.String(), bad), false},
		{"not a uuid", reqJSON(fixedCode.String(), mustCSR(t, "kiosk-1", fixedKey)), false},
		{"upper-case uuid", reqJSON(fixedCode.String(), mustCSR(t, strings.ToUpper(fixedDevice), fixedKey)), false},
		{"bad code", reqJSON("AAAA", csr), false},
		{"wrong format", strings.Replace(reqJSON(fixedCode.String(), csr), "v1", "v2", 1), false},
		{"unknown field", strings.Replace(reqJSON(fixedCode.String(), csr), `{`, `{"extra":1,`, 1), false},
		{"trailing data", reqJSON(fixedCode.String(), csr) + "{}", false},
		{"csr not base64", `{"format":"` + RequestFormat + `","code":"` + fixedCode.String() + `","csr":"!!"}`, false},
		{"csr truncated", reqJSON(fixedCode.String(), csr[:len(csr)/2]), false},
		{"csr empty", reqJSON(fixedCode.String(), nil), false},
		{"not json", "old 0\n\n", false},
		{"too long", `{"format":"` + strings.Repeat("x", MaxRequest) + `"}`, false},
		{"with origin", strings.Replace(reqJSON(fixedCode.String(), csr), `{`, `{"origin":"evidence.example.police.uk/log/`+fixedDevice+`",`, 1), true},
		{"origin of another device", strings.Replace(reqJSON(fixedCode.String(), csr), `{`, `{"origin":"evidence.example.police.uk/log/x",`, 1), false},
		{"origin with a bad operator", strings.Replace(reqJSON(fixedCode.String(), csr), `{`, `{"origin":"Not A Domain/log/`+fixedDevice+`",`, 1), false},
	}
}

func TestParseRequest(t *testing.T) {
	for _, tc := range requestCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRequest([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("ParseRequest: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if err == nil && (r.DeviceID != fixedDevice || !r.Public.Equal(fixedKey.Public()) || r.Code != fixedCode) {
				t.Fatalf("parsed %+v", r)
			}
		})
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRequest(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if checkDeviceID(r.DeviceID) != nil || len(r.Public) != ed25519.PublicKeySize || r.CSR.CheckSignature() != nil {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// fixedIssue makes a CA for fixedCode's context and a response of it for
// fixedDevice, deterministically.
func fixedResponse(t testing.TB) (Code, Response) {
	ca, err := NewCA("hub-1", fixedNow, &detRand{seed: "ca"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.issueDevice(fixedDevice, fixedKey.Public().(ed25519.PublicKey), fixedNow, &detRand{seed: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	var code Code
	fp := ca.Fingerprint()
	copy(code.Fingerprint[:], fp[:])
	wpub := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	return code, Response{Format: ResponseFormat, Device: fixedDevice, Origin: Origin(fixedDevice), Certificate: cert.Raw, CA: ca.Cert.Raw,
		Witness: witness.VerifierKey(WitnessPrefix+"hub-1", wpub)}
}

func responseCases(t testing.TB) (Code, []struct {
	name, in string
	ok       bool
}) {
	code, good := fixedResponse(t)
	enc := func(mod func(r *Response)) string {
		r := good
		if mod != nil {
			mod(&r)
		}
		b, _ := json.Marshal(r)
		return string(b)
	}
	_, other := fixedResponse(t)
	otherCA, _ := NewCA("hub-2", fixedNow, &detRand{seed: "other"})
	return code, []struct {
		name, in string
		ok       bool
	}{
		{"good", enc(nil), true},
		{"another CA", enc(func(r *Response) { r.CA = otherCA.Cert.Raw }), false},
		{"device certificate as CA", enc(func(r *Response) { r.CA = other.Certificate }), false},
		{"another device", enc(func(r *Response) { r.Device = "01a2483c-de14-7c2b-bcb7-9ce54487a4ef" }), false},
		{"another origin", enc(func(r *Response) { r.Origin = "example.org/log/x" }), false},
		{"certificate truncated", enc(func(r *Response) { r.Certificate = r.Certificate[:40] }), false},
		{"bad witness key", enc(func(r *Response) { r.Witness = "hub+00000000+AAAA" }), false},
		{"wrong format", enc(func(r *Response) { r.Format = RequestFormat }), false},
		{"unknown field", strings.Replace(enc(nil), "{", `{"x":1,`, 1), false},
		{"not json", base64.StdEncoding.EncodeToString([]byte("x")), false},
	}
}

func TestParseResponse(t *testing.T) {
	code, cases := responseCases(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseResponse([]byte(tc.in), code, fixedDevice, Origin(fixedDevice), fixedKey.Public().(ed25519.PublicKey), fixedNow)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseResponse: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrWrongHub) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrWrongHub", err)
			}
			if err == nil && r.Cert.Subject.CommonName != fixedDevice {
				t.Fatalf("parsed %+v", r)
			}
		})
	}
	// The certificate is checked at the agent's time.
	_, cases = responseCases(t)
	if _, err := ParseResponse([]byte(cases[0].in), code, fixedDevice, Origin(fixedDevice), fixedKey.Public().(ed25519.PublicKey), fixedNow.Add(DeviceValidity+time.Hour)); err == nil {
		t.Fatal("an expired certificate was taken")
	}
}

func FuzzParseResponse(f *testing.F) {
	code, _ := fixedResponse(f)
	pub := fixedKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseResponse(body, code, fixedDevice, Origin(fixedDevice), pub, fixedNow)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrWrongHub) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrWrongHub", err)
			}
			return
		}
		if !r.Cert.PublicKey.(ed25519.PublicKey).Equal(pub) || !code.Matches(Fingerprint(r.CACert)) {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// TestWriteCorpus keeps the fuzz targets' committed seed corpora equal to
// the tables; -write-corpus rewrites them.
func TestWriteCorpus(t *testing.T) {
	var seeds []fuzzseed.Seed
	for _, tc := range codeCases {
		seeds = append(seeds, fuzzseed.Seed{Args: []any{tc.in}})
	}
	fuzzseed.Sync(t, "FuzzParseCode", seeds)
	seeds = nil
	for _, tc := range requestCases(t) {
		seeds = append(seeds, fuzzseed.Seed{Args: []any{[]byte(tc.in)}})
	}
	fuzzseed.Sync(t, "FuzzParseRequest", seeds)
	seeds = nil
	_, cases := responseCases(t)
	for _, tc := range cases {
		seeds = append(seeds, fuzzseed.Seed{Args: []any{[]byte(tc.in)}})
	}
	fuzzseed.Sync(t, "FuzzParseResponse", seeds)
	seeds = nil
	for _, tc := range redactCases {
		seeds = append(seeds, fuzzseed.Seed{Args: []any{tc.in}})
	}
	fuzzseed.Sync(t, "FuzzRedactDB", seeds)
}
