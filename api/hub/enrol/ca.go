package enrol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"sync"
	"time"
)

// Validity periods of what the CA issues.
const (
	CAValidity     = 20 * 365 * 24 * time.Hour
	DeviceValidity = 365 * 24 * time.Hour
	ServerValidity = 90 * 24 * time.Hour
	// Backdate: certificates start this long before they are issued, so
	// that a peer whose clock is a little behind still accepts them.
	Backdate = time.Hour
)

// ErrCertificate: a client certificate the hub does not accept.
var ErrCertificate = errors.New("client certificate refused")

// A CA is the hub's certificate authority: an Ed25519 key and its
// self-signed certificate.
type CA struct {
	Cert     *x509.Certificate
	key      ed25519.PrivateKey
	verified verifiedSet
}

// NewCA makes a CA named after the hub id.
func NewCA(hubID string, now time.Time, rnd io.Reader) (*CA, error) {
	pub, priv, err := ed25519.GenerateKey(rnd)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	serial, err := newSerial(rnd)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Exhibit hub CA " + hubID, Organization: []string{"Exhibit hub"}},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rnd, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, key: priv}, nil
}

// Fingerprint returns the SHA-256 of the CA certificate's
// SubjectPublicKeyInfo (DER): what an enrolment code carries a prefix of.
func Fingerprint(cert *x509.Certificate) [32]byte { return sha256.Sum256(cert.RawSubjectPublicKeyInfo) }

// Fingerprint is the CA's fingerprint.
func (c *CA) Fingerprint() [32]byte { return Fingerprint(c.Cert) }

// Pool returns a pool holding the CA certificate alone.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Cert)
	return p
}

func newSerial(rnd io.Reader) (*big.Int, error) {
	var b [16]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	b[0] &= 0x7f // positive, 127 random bits
	if b[0] == 0 {
		b[0] = 0x40 // and 16 bytes long: never a short or zero serial
	}
	return new(big.Int).SetBytes(b[:]), nil
}

// IssueServer makes a fresh Ed25519 key and a TLS server certificate for
// it naming hosts (DNS names or IP addresses), and returns both as a
// tls.Certificate whose chain includes the CA certificate, so that an agent
// checking the code's fingerprint finds the CA in the handshake.
func (c *CA) IssueServer(hosts []string, now time.Time, rnd io.Reader) (*tls.Certificate, error) {
	pub, priv, err := ed25519.GenerateKey(rnd)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial(rnd)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Exhibit hub", Organization: []string{"Exhibit hub"}},
		NotBefore:    now.Add(-Backdate),
		NotAfter:     now.Add(ServerValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rnd, tmpl, c.Cert, pub, c.key)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der, c.Cert.Raw}, PrivateKey: priv, Leaf: leaf}, nil
}

// issueDevice signs a client certificate for deviceID's key pub.
func (c *CA) issueDevice(deviceID string, pub ed25519.PublicKey, now time.Time, rnd io.Reader) (*x509.Certificate, error) {
	serial, err := newSerial(rnd)
	if err != nil {
		return nil, err
	}
	u, err := deviceURI(deviceID)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: deviceID, Organization: []string{"Exhibit device"}},
		NotBefore:    now.Add(-Backdate),
		NotAfter:     now.Add(DeviceValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{u},
	}
	der, err := x509.CreateCertificate(rnd, tmpl, c.Cert, pub, c.key)
	if err != nil {
		return nil, fmt.Errorf("device certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// VerifyClient checks that chain's leaf is a device certificate this CA
// issued, valid at now, and returns the device id it names. The signature
// is checked once per certificate (a certificate and the CA never change,
// so neither does the answer); the time on every call.
func (c *CA) VerifyClient(chain []*x509.Certificate, now time.Time) (string, error) {
	if len(chain) == 0 {
		return "", fmt.Errorf("%w: no client certificate was presented (enrol first: exhibit agent enrol)", ErrCertificate)
	}
	leaf := chain[0]
	if !bytes.Equal(leaf.RawIssuer, c.Cert.RawSubject) {
		return "", fmt.Errorf("%w: the certificate of %q was not issued by this hub's CA", ErrCertificate, leaf.Subject.CommonName)
	}
	if now.After(leaf.NotAfter) {
		return "", fmt.Errorf("%w: the certificate of %s expired at %s (enrol again for a new one)", ErrCertificate, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.After(c.Cert.NotAfter) {
		return "", fmt.Errorf("%w: the hub's CA expired at %s", ErrCertificate, c.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return "", fmt.Errorf("%w: the certificate of %s is valid only from %s", ErrCertificate, leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	key := sha256.Sum256(leaf.Raw)
	if !c.verified.has(key) {
		// Verify at a time inside the certificate's validity and the
		// CA's: the time was checked above, against the caller's clock.
		// (A certificate issued after the hub's clock was set back may
		// start before its CA does; the signature is what counts here.)
		at := leaf.NotBefore
		if at.Before(c.Cert.NotBefore) {
			at = c.Cert.NotBefore
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: c.Pool(), CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if err != nil {
			return "", fmt.Errorf("%w: the certificate of %q was not issued by this hub's CA: %v", ErrCertificate, leaf.Subject.CommonName, err)
		}
		c.verified.add(key)
	}
	id := leaf.Subject.CommonName
	if err := checkDeviceID(id); err != nil {
		return "", fmt.Errorf("%w: %v", ErrCertificate, err)
	}
	return id, nil
}

// verifiedSet remembers the hashes of certificates whose signature
// verified, at most maxVerified of them (forgotten all at once when full).
type verifiedSet struct {
	mu sync.Mutex
	m  map[[32]byte]bool
}

const maxVerified = 4096

func (v *verifiedSet) has(k [32]byte) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.m[k]
}

func (v *verifiedSet) add(k [32]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerified {
		v.m = map[[32]byte]bool{}
	}
	v.m[k] = true
}

// Cert PEM helpers.

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func parseCertPEM(b []byte, what string) (*x509.Certificate, error) {
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%s: not one PEM certificate", what)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return c, nil
}
