package enrol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/chain/witness"
)

// Formats of the enrolment messages.
const (
	RequestFormat  = "exhibit-enrolment-request v1"
	ResponseFormat = "exhibit-enrolment-response v1"
	// MaxRequest and MaxResponse bound the bodies.
	MaxRequest  = 8 << 10
	MaxResponse = 16 << 10
)

// ErrMalformed: an enrolment message that does not follow the format.
var ErrMalformed = errors.New("malformed enrolment message")

// A Request is the body of POST /v1/enrol: the code as typed and the
// device's certificate signing request (PKCS #10, DER; base64 in JSON),
// signed by the device's Ed25519 key, its subject's common name the
// device id.
type Request struct {
	Format string `json:"format"`
	Code   string `json:"code"`
	CSR    []byte `json:"csr"`
	// Origin is the agent's log's origin, so that a hub run under another
	// operator refuses before it uses the code. Optional: a request
	// without it is taken as naming the log under the hub's operator.
	Origin string `json:"origin,omitempty"`
}

// A ParsedRequest is a request whose parts were checked.
type ParsedRequest struct {
	Code     Code
	DeviceID string
	Origin   string // as the agent names its log; "" if not given
	Public   ed25519.PublicKey
	CSR      *x509.CertificateRequest
}

// decodeStrict decodes one JSON object into v: no unknown fields, nothing
// after it.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

// ParseRequest reads an enrolment request strictly: the format, a code,
// and a CSR whose signature verifies with the Ed25519 key it carries, whose
// subject is only a common name that is a device id, and that asks for no
// names or extensions of its own.
func ParseRequest(body []byte) (*ParsedRequest, error) {
	if len(body) > MaxRequest {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(body), MaxRequest)
	}
	var r Request
	if err := decodeStrict(body, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if r.Format != RequestFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrMalformed, clip(r.Format), RequestFormat)
	}
	code, err := ParseCode(r.Code)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	csr, err := x509.ParseCertificateRequest(r.CSR)
	if err != nil {
		return nil, fmt.Errorf("%w: csr: %v", ErrMalformed, err)
	}
	pub, ok := csr.PublicKey.(ed25519.PublicKey)
	if !ok || csr.SignatureAlgorithm != x509.PureEd25519 {
		return nil, fmt.Errorf("%w: csr: the key is %T, signed with %v; a device key is Ed25519", ErrMalformed, csr.PublicKey, csr.SignatureAlgorithm)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: csr: the signature does not verify with the key it carries (it must be signed by the device key): %v", ErrMalformed, err)
	}
	s := csr.Subject
	if len(s.Names) != 1 || s.CommonName == "" {
		return nil, fmt.Errorf("%w: csr: the subject must be the device id as its common name alone", ErrMalformed)
	}
	if err := checkDeviceID(s.CommonName); err != nil {
		return nil, fmt.Errorf("%w: csr: %v", ErrMalformed, err)
	}
	if len(csr.DNSNames)+len(csr.IPAddresses)+len(csr.URIs)+len(csr.EmailAddresses) != 0 || len(csr.Extensions) != 0 {
		return nil, fmt.Errorf("%w: csr: asks for names or extensions; the hub decides those", ErrMalformed)
	}
	if r.Origin != "" {
		op, ok := strings.CutSuffix(r.Origin, "/log/"+s.CommonName)
		if !ok || ledger.ValidOperator(op) != nil {
			return nil, fmt.Errorf("%w: origin %q is not OPERATOR/log/%s with OPERATOR a domain name", ErrMalformed, clip(r.Origin), s.CommonName)
		}
	}
	return &ParsedRequest{Code: code, DeviceID: s.CommonName, Public: pub, CSR: csr, Origin: r.Origin}, nil
}

// A Response is the hub's reply to an enrolment: the device's certificate
// and the CA's (DER; base64 in JSON), the device and its log origin as
// recorded, and the hub's witness key (a signed-note vkey,
// chain/witness.VerifierKey).
type Response struct {
	Format      string `json:"format"`
	Device      string `json:"device"`
	Origin      string `json:"origin"`
	Certificate []byte `json:"certificate"`
	CA          []byte `json:"ca"`
	Witness     string `json:"witness"`
}

// A Result is a response the agent checked.
type Result struct {
	Response
	Cert   *x509.Certificate
	CACert *x509.Certificate
}

// ParseResponse reads the hub's reply strictly and checks it against what
// the agent asked for: the CA is the one the code names, the certificate
// was issued by it, is for the device's key and names the device, and is
// valid at now.
//
// origin is the agent's own log's origin: the hub must name the device's
// log as the agent does (the same operator), or its witness would refuse
// every checkpoint.
func ParseResponse(body []byte, code Code, deviceID, origin string, pub ed25519.PublicKey, now time.Time) (*Result, error) {
	if len(body) > MaxResponse {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(body), MaxResponse)
	}
	var r Response
	if err := decodeStrict(body, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if r.Format != ResponseFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrMalformed, clip(r.Format), ResponseFormat)
	}
	if r.Device != deviceID {
		return nil, fmt.Errorf("%w: the hub enrolled %q, not this device %s", ErrMalformed, clip(r.Device), deviceID)
	}
	if r.Origin != origin {
		return nil, fmt.Errorf("%w: %w: the hub names this device's log %q, but it is %q: the hub and the agent must be set up under the same operator (exhibit hub init --operator, exhibit init --operator)", ErrWrongHub, ErrWrongOperator, clip(r.Origin), origin)
	}
	ca, err := x509.ParseCertificate(r.CA)
	if err != nil {
		return nil, fmt.Errorf("%w: ca: %v", ErrMalformed, err)
	}
	if !code.Matches(Fingerprint(ca)) || !ca.IsCA {
		return nil, fmt.Errorf("%w: the hub sent a CA certificate that is not the one the code names", ErrWrongHub)
	}
	cert, err := x509.ParseCertificate(r.Certificate)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %v", ErrMalformed, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("%w: the device certificate does not verify under the hub's CA: %v", ErrMalformed, err)
	}
	if got, ok := cert.PublicKey.(ed25519.PublicKey); !ok || !got.Equal(pub) {
		return nil, fmt.Errorf("%w: the device certificate is not for this device's key", ErrMalformed)
	}
	if cert.Subject.CommonName != deviceID {
		return nil, fmt.Errorf("%w: the device certificate names %q, not %s", ErrMalformed, clip(cert.Subject.CommonName), deviceID)
	}
	if _, err := witness.ParseVerifierKey(r.Witness); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &Result{Response: r, Cert: cert, CACert: ca}, nil
}
