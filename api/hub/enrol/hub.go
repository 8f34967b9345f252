package enrol

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"

	"golang.org/x/mod/sumdb/note"

	"github.com/exhibit-forensics/exhibit/chain/tlog"
	"github.com/exhibit-forensics/exhibit/chain/witness"
	"github.com/exhibit-forensics/exhibit/internal/atomicfile"
)

// Files of the hub's data directory.
const (
	ConfigFile     = "hub.json"
	CAKeyFile      = "ca.key"
	CACertFile     = "ca.crt"
	WitnessKeyFile = "witness.key"
	DBFile         = "hub.db"
	// HubFormat is the format of hub.json.
	HubFormat = "exhibit-hub v1"
	// WitnessPrefix starts the witness's key name under the default
	// operator; the hub id follows (WitnessName).
	WitnessPrefix = ledger.DefaultOperator + "/witness/"
	// CodeTTL is how long an enrolment code is valid by default.
	CodeTTL = 24 * time.Hour
)

// ErrNotInitialised and ErrInitialised: Open of a directory Init did not
// finish, Init of one it did.
var (
	ErrNotInitialised = errors.New("not an Exhibit hub data directory (run `exhibit hub init` first)")
	ErrInitialised    = errors.New("hub data directory is already initialised")
)

var hubIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Options are a hub's injected clock and entropy.
type Options struct {
	Now  func() time.Time // nil: time.Now
	Rand io.Reader        // nil: crypto/rand
	// Operator is the force's domain (Init only): the agents' logs the hub
	// enrols are named under it (ledger.OriginFor), and so is its witness
	// key. Empty: ledger.DefaultOperator.
	Operator string
	// DB is where the registry and the witness state live: empty, SQLite
	// in DIR/hub.db; a postgres:// URL, that PostgreSQL database, which
	// several hub processes (each given the same data directory) share.
	// Init records which in hub.json (the URL without its password) and
	// binds the database to the hub's CA; Open must be given the same
	// kind, and refuses a database bound to another hub.
	DB string
}

func (o Options) fill() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return o
}

type config struct {
	Format   string `json:"format"`
	ID       string `json:"id"`
	Operator string `json:"operator,omitempty"` // empty: ledger.DefaultOperator
	Witness  string `json:"witness"`            // the witness key's vkey (chain/witness.VerifierKey)
	// DB is absent for SQLite (DIR/hub.db); for PostgreSQL, the database's
	// URL as given to Init, without its password: a reminder for the
	// operator, not used to connect (each process is given --db).
	DB string `json:"db,omitempty"`
}

// WitnessName is the witness key's name: OPERATOR/witness/HUB-ID.
func WitnessName(operator, hubID string) string {
	if operator == "" {
		operator = ledger.DefaultOperator
	}
	return operator + "/witness/" + hubID
}

// Init makes a hub data directory: the CA, the witness key, the registry,
// and hub.json last. A directory with hub.json is refused (ErrInitialised);
// one that a crash left without it is started over.
func Init(ctx context.Context, dir, hubID string, opt Options) error {
	opt = opt.fill()
	if !hubIDRE.MatchString(hubID) {
		return fmt.Errorf("hub id %q: lower-case letters, digits and '-', at most 63", hubID)
	}
	if opt.Operator != "" {
		if err := ledger.ValidOperator(opt.Operator); err != nil {
			return err
		}
	}
	if opt.DB != "" && !IsPostgresURL(opt.DB) {
		return fmt.Errorf("database %q: want a postgres:// URL, or none for SQLite in %s", RedactDB(opt.DB), DBFile)
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil {
		return fmt.Errorf("%s: %w", dir, ErrInitialised)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range []string{DBFile, DBFile + "-wal", DBFile + "-shm"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	ca, err := NewCA(hubID, opt.Now(), opt.Rand)
	if err != nil {
		return err
	}
	_, wkey, err := ed25519.GenerateKey(opt.Rand)
	if err != nil {
		return err
	}
	if err := writeKey(filepath.Join(dir, CAKeyFile), ca.key); err != nil {
		return err
	}
	if err := writeKey(filepath.Join(dir, WitnessKeyFile), wkey); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, CACertFile), 0o644, certPEM(ca.Cert.Raw)); err != nil {
		return err
	}
	var dbName string
	if opt.DB == "" {
		reg, err := OpenSQLite(ctx, filepath.Join(dir, DBFile))
		if err != nil {
			return err
		}
		reg.Close()
	} else {
		reg, err := OpenPostgres(ctx, opt.DB)
		if err != nil {
			return err
		}
		err = reg.bind(ctx, hubID, FingerprintHex(ca.Fingerprint()))
		reg.Close()
		if err != nil {
			return err
		}
		dbName = RedactDB(opt.DB)
	}
	name := WitnessName(opt.Operator, hubID)
	cfg, _ := json.MarshalIndent(config{Format: HubFormat, ID: hubID, Operator: opt.Operator, Witness: witness.VerifierKey(name, wkey.Public().(ed25519.PublicKey)), DB: dbName}, "", "  ")
	return writeFile(filepath.Join(dir, ConfigFile), 0o644, append(cfg, '\n'))
}

// A Hub is an open hub data directory.
type Hub struct {
	Dir      string
	ID       string
	CA       *CA
	Registry Registry
	// WitnessKey is the vkey agents check the hub's cosignatures with.
	WitnessKey string
	cosigner   note.Signer
	state      witness.State
	opt        Options
}

// Open opens an initialised hub data directory.
func Open(ctx context.Context, dir string, opt Options) (*Hub, error) {
	opt = opt.fill()
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNotInitialised)
	}
	if err != nil {
		return nil, err
	}
	var cfg config
	if err := decodeStrict(b, &cfg); err != nil || cfg.Format != HubFormat || !hubIDRE.MatchString(cfg.ID) {
		return nil, fmt.Errorf("%s: not an %s file (%v)", filepath.Join(dir, ConfigFile), HubFormat, err)
	}
	cakey, err := readKey(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, err
	}
	cab, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, err
	}
	cacert, err := parseCertPEM(cab, filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, err
	}
	if pub, ok := cacert.PublicKey.(ed25519.PublicKey); !ok || !pub.Equal(cakey.Public()) {
		return nil, fmt.Errorf("%s does not hold the key of %s", CAKeyFile, CACertFile)
	}
	wkey, err := readKey(filepath.Join(dir, WitnessKeyFile))
	if err != nil {
		return nil, err
	}
	if cfg.Operator != "" {
		if err := ledger.ValidOperator(cfg.Operator); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
		}
	}
	opt.Operator = cfg.Operator
	name := WitnessName(cfg.Operator, cfg.ID)
	if witness.VerifierKey(name, wkey.Public().(ed25519.PublicKey)) != cfg.Witness {
		return nil, fmt.Errorf("%s does not hold the witness key %s names", WitnessKeyFile, ConfigFile)
	}
	cos, err := witness.NewCosigner(name, wkey, opt.Now)
	if err != nil {
		return nil, err
	}
	ca := &CA{Cert: cacert, key: cakey}
	reg, err := openRegistry(ctx, dir, cfg, ca, opt.DB)
	if err != nil {
		return nil, err
	}
	return &Hub{Dir: dir, ID: cfg.ID, CA: ca, Registry: reg, WitnessKey: cfg.Witness,
		cosigner: cos, state: reg, opt: opt}, nil
}

// A registryState is a Registry that keeps the witness state too.
type registryState interface {
	Registry
	witness.State
}

// openRegistry opens the registry hub.json names: SQLite in DIR/hub.db, or
// the PostgreSQL database at db, which must be bound to this hub's CA.
func openRegistry(ctx context.Context, dir string, cfg config, ca *CA, db string) (registryState, error) {
	switch {
	case cfg.DB == "" && db != "":
		return nil, fmt.Errorf("%s: this hub keeps its state in %s (SQLite), not in a database given by URL: it was initialised without one (moving a hub's state is not supported yet)", dir, DBFile)
	case cfg.DB != "" && db == "":
		return nil, fmt.Errorf("%s: this hub keeps its state in PostgreSQL (%s at init): give the database's URL (--db)", dir, cfg.DB)
	case db == "":
		return OpenSQLite(ctx, filepath.Join(dir, DBFile))
	}
	reg, err := OpenPostgres(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := reg.checkBound(ctx, cfg.ID, FingerprintHex(ca.Fingerprint())); err != nil {
		reg.Close()
		return nil, fmt.Errorf("%s: %w", RedactDB(db), err)
	}
	return reg, nil
}

// Close closes the registry.
func (h *Hub) Close() error { return h.Registry.Close() }

// Now is the hub clock's time.
func (h *Hub) Now() time.Time { return h.opt.Now() }

// NewCode makes and records a one-time enrolment code valid for ttl.
func (h *Hub) NewCode(ctx context.Context, ttl time.Duration) (Code, time.Time, error) {
	if ttl <= 0 {
		return Code{}, time.Time{}, fmt.Errorf("enrolment code lifetime %v: it must be positive", ttl)
	}
	c, err := NewCode(h.CA.Fingerprint(), h.opt.Rand)
	if err != nil {
		return Code{}, time.Time{}, err
	}
	now := h.opt.Now()
	exp := now.Add(ttl)
	if err := h.Registry.AddCode(ctx, c.Hash(), now, exp); err != nil {
		return Code{}, time.Time{}, err
	}
	return c, exp, nil
}

// Enrol takes an enrolment request body and returns the response, or an
// error wrapping ErrMalformed, ErrWrongHub or a registry error.
func (h *Hub) Enrol(ctx context.Context, body []byte) (*Response, error) {
	req, err := ParseRequest(body)
	if err != nil {
		return nil, err
	}
	if !req.Code.Matches(h.CA.Fingerprint()) {
		return nil, fmt.Errorf("%w: the code names another hub's CA (or was mistyped)", ErrCodeUnknown)
	}
	origin := ledger.OriginFor(h.opt.Operator, req.DeviceID)
	if req.Origin != "" && req.Origin != origin {
		// Refused before the code is used: the agent can be set up again
		// and enrol with the same code.
		return nil, fmt.Errorf("%w: this hub names logs %q; the agent's is %q (exhibit init --operator and exhibit hub init --operator must agree)", ErrWrongOperator, origin, req.Origin)
	}
	now := h.opt.Now()
	cert, err := h.CA.issueDevice(req.DeviceID, req.Public, now, h.opt.Rand)
	if err != nil {
		return nil, err
	}
	err = h.Registry.Enrol(ctx, Enrolment{CodeHash: req.Code.Hash(), At: now, Serial: serialHex(cert),
		NotAfter: cert.NotAfter, Device: Device{ID: req.DeviceID, Origin: origin, Public: req.Public}})
	if err != nil {
		return nil, err
	}
	return &Response{Format: ResponseFormat, Device: req.DeviceID, Origin: origin, Certificate: cert.Raw, CA: h.CA.Cert.Raw, Witness: h.WitnessKey}, nil
}

func serialHex(c *x509.Certificate) string { return hex.EncodeToString(c.SerialNumber.Bytes()) }

// Authorise checks a TLS peer's certificate chain at the hub's time: issued
// by the hub's CA, valid now, known to the registry, for the registered
// key, and the device not revoked. It returns the device.
func (h *Hub) Authorise(ctx context.Context, chain []*x509.Certificate) (*Device, error) {
	id, err := h.CA.VerifyClient(chain, h.opt.Now())
	if err != nil {
		return nil, err
	}
	leaf := chain[0]
	d, err := h.Registry.CertDevice(ctx, serialHex(leaf))
	if errors.Is(err, ErrUnknownCert) {
		return nil, fmt.Errorf("%w: the certificate of %s is not in the registry", ErrCertificate, id)
	}
	if err != nil {
		return nil, err
	}
	if pub, ok := leaf.PublicKey.(ed25519.PublicKey); d.ID != id || !ok || !pub.Equal(d.Public) {
		return nil, fmt.Errorf("%w: the certificate does not match the registry's device %s", ErrCertificate, d.ID)
	}
	if d.IsRevoked() {
		return d, fmt.Errorf("%w: device %s was revoked at %s: %s", ErrRevoked, d.ID, d.Revoked.Format(time.RFC3339), d.Reason)
	}
	return d, nil
}

// Revoke revokes a device at once: its next request is refused, on a
// connection already open too.
func (h *Hub) Revoke(ctx context.Context, id, reason string) (*Device, error) {
	if reason == "" {
		return nil, errors.New("a revocation needs a reason")
	}
	return h.Registry.Revoke(ctx, id, reason, h.opt.Now())
}

// ServerCertificate issues a TLS server certificate for hosts.
func (h *Hub) ServerCertificate(hosts []string) (*tls.Certificate, error) {
	return h.CA.IssueServer(hosts, h.opt.Now(), h.opt.Rand)
}

// Witness returns the hub's witness of agent logs: it co-signs with the
// hub's witness key, trusts the logs of enrolled devices that are not
// revoked, and keeps its state in the registry database.
func (h *Hub) Witness() *witness.Witness {
	return witness.New(h.cosigner, Keys{h.Registry}, h.state, h.opt.Now)
}

// Keys is the witness.Keys of a registry: a log's verifier is its
// device's enrolled key under the log's origin; the log of a device that
// is unknown or revoked is unknown.
type Keys struct{ Registry Registry }

func (k Keys) LogVerifiers(ctx context.Context, origin string) (note.Verifiers, error) {
	d, err := k.Registry.DeviceByOrigin(ctx, origin)
	if errors.Is(err, ErrUnknown) {
		return nil, fmt.Errorf("%w: %v", witness.ErrUnknownLog, err)
	}
	if err != nil {
		return nil, err
	}
	if d.IsRevoked() {
		return nil, fmt.Errorf("%w: %s's device %s was revoked: %s", witness.ErrUnknownLog, origin, d.ID, d.Reason)
	}
	v, err := tlog.NewVerifier(origin, d.Public)
	if err != nil {
		return nil, err
	}
	return note.VerifierList(v), nil
}

// Key files: PKCS#8 PEM, mode 0600, written atomically.

func writeKey(path string, priv ed25519.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	return writeFile(path, 0o600, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func writeFile(path string, mode fs.FileMode, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, mode, func(w io.Writer) error { _, err := w.Write(b); return err })
}

func readKey(path string) (ed25519.PrivateKey, error) { return datadir.ReadKey(path, "key") }

// FingerprintHex is the CA fingerprint in hex, as the CLI shows it.
func FingerprintHex(fp [32]byte) string { return hex.EncodeToString(fp[:]) }

// Cosigner is the witness's signer: the hub co-signs agents' checkpoints
// and its own log's (api/hub/hublog) with it.
func (h *Hub) Cosigner() note.Signer { return h.cosigner }

// Operator is the force's domain the hub's logs are named under (empty:
// ledger.DefaultOperator).
func (h *Hub) Operator() string { return h.opt.Operator }
