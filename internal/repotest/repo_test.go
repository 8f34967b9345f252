package repotest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/exhibit-forensics/exhibit"

type pkg struct {
	ImportPath  string
	Name        string
	Doc         string
	Imports     []string
	Deps        []string
	TestImports []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json", module+"/...")
	cmd.Dir = "../.."
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(&out)
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 3 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func TestEveryPackageHasDoc(t *testing.T) {
	for _, p := range listPackages(t) {
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("package %s has no doc comment", p.ImportPath)
		}
	}
}

// rule forbids packages outside allowed from importing the module prefix.
type rule struct {
	imported string
	allowed  func(rel string) bool
	direct   bool // only direct imports count (else transitive deps too)
	why      string
}

func under(prefixes ...string) func(string) bool {
	return func(rel string) bool {
		for _, p := range prefixes {
			if rel == p || strings.HasPrefix(rel, p+"/") {
				return true
			}
		}
		return false
	}
}

var rules = []rule{
	{"github.com/gin-gonic/gin", func(rel string) bool { return !under("chain", "lab", "imaging")(rel) }, false,
		"evidence, lab and imaging cores must not depend on the web framework"},
	{"go.bug.st/serial", under("devices"), true,
		"only device adapters open serial ports"},
	{"gocv.io/x/gocv", under("devices/camera", "imaging"), true,
		"OpenCV stays in the camera driver and the imaging operations"},
	{"github.com/mattn/go-sqlite3", under("chain/store/sqlitestore"), true,
		"the SQLite driver stays in its store package"},
	{"github.com/jackc/pgx/v5", under("chain/store/pgstore"), true,
		"the PostgreSQL driver stays in its store package"},
	// The layers: evidence (chain) knows nothing of the devices, the lab,
	// the web or the commands; devices know nothing of evidence; the lab and
	// imaging cores know nothing of the web. Transitive dependencies count.
	{module + "/lab", not(under("chain", "devices")), false, "the evidence core and the device drivers never depend on the lab"},
	{module + "/devices", not(under("chain")), false, "the evidence core never depends on device drivers"},
	{module + "/api", not(under("chain", "devices", "lab", "imaging")), false, "only the web layer and the commands depend on api"},
	{module + "/cmd", not(under("chain", "devices", "lab", "imaging", "api")), false, "nothing depends on the commands"},
	{module + "/imaging", not(under("chain")), false, "the evidence core never depends on imaging"},
	{module + "/chain", not(under("devices")), false, "device drivers know nothing of evidence"},
	// The packages that verify a bundle build anywhere (no cgo): a browser
	// verifier and a defence expert's laptop build them.
	{"github.com/mattn/go-sqlite3", not(verifying), false, "the bundle verifier never reaches SQLite"},
	{"gocv.io/x/gocv", not(verifying), false, "the bundle verifier never reaches OpenCV"},
	{"go.bug.st/serial", not(verifying), false, "the bundle verifier never reaches serial ports"},
}

// verifying reports the packages a bundle verifier is built from: chain
// itself and the pure packages under it.
func verifying(rel string) bool {
	return rel == "chain" || under("chain/bundle", "chain/bagit", "chain/tlog", "chain/store", "chain/blobstore")(rel) &&
		!under("chain/store/sqlitestore", "chain/blobstore/fsstore")(rel) && !strings.HasSuffix(rel, "test")
}

// not inverts a matcher: the packages it names are the ones barred.
func not(barred func(string) bool) func(string) bool {
	return func(rel string) bool { return !barred(rel) }
}

func TestImportRules(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, r := range rules {
			if r.allowed(rel) {
				continue
			}
			list := p.Deps
			if r.direct {
				list = append(append([]string{}, p.Imports...), p.TestImports...)
			}
			for _, imp := range list {
				if imp == r.imported || strings.HasPrefix(imp, r.imported+"/") {
					t.Errorf("%s imports %s: %s", p.ImportPath, imp, r.why)
				}
			}
		}
	}
}

// TestRulesCanFail checks the rule matcher itself against known cases, so
// that a broken matcher cannot pass everything silently.
func TestRulesCanFail(t *testing.T) {
	cases := []struct {
		rule int
		rel  string
		ok   bool
	}{
		{0, "chain/store", false}, {0, "api", true}, {0, "lab/astm", false},
		{1, "devices/serialport", true}, {1, "lab/astm", false}, {1, "devicesx", false},
		{2, "imaging/register", true}, {2, "devices/camera/v4l2", true}, {2, "devices/light", false},
		{5, "chain/ledger", false}, {5, "chain", false}, {5, "devices/light", false}, {5, "cmd/exhibit/cli", true},
		{6, "chain/bundle", false}, {6, "lab/transport", true},
		{10, "devices/light", false}, {10, "lab/astm", true},
		{11, "chain/bundle", false}, {11, "chain", false}, {11, "chain/store/sqlitestore", true}, {11, "chain/ledger", true},
	}
	for _, c := range cases {
		if got := rules[c.rule].allowed(c.rel); got != c.ok {
			t.Errorf("rule %d allowed(%q) = %v, want %v", c.rule, c.rel, got, c.ok)
		}
	}
}
