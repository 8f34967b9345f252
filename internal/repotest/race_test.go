package repotest

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// racePackages reads RACE_PKGS from the Makefile: the packages `make test`
// runs under the race detector.
func racePackages(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	in := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !in {
			rest, ok := strings.CutPrefix(line, "RACE_PKGS :=")
			if !ok {
				continue
			}
			in, line = true, rest
		}
		more := strings.HasSuffix(line, `\`)
		pkgs = append(pkgs, strings.Fields(strings.TrimSuffix(line, `\`))...)
		if !more {
			break
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("the Makefile has no RACE_PKGS")
	}
	return pkgs
}

// startsGoroutines returns the position of the first go statement, or
// WaitGroup.Go / errgroup Go call, in the package's non-test files.
func startsGoroutines(t *testing.T, dir string, files []string) string {
	t.Helper()
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		var at token.Pos
		ast.Inspect(f, func(n ast.Node) bool {
			if at.IsValid() {
				return false
			}
			switch n := n.(type) {
			case *ast.GoStmt:
				at = n.Pos()
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Go" {
					at = n.Pos()
				}
			}
			return true
		})
		if at.IsValid() {
			return fset.Position(at).String()
		}
	}
	return ""
}

// TestRacePackages keeps the Makefile's claim true: every package whose
// code starts goroutines is tested under the race detector by `make test`,
// and every entry of RACE_PKGS is a package of the module.
func TestRacePackages(t *testing.T) {
	race := racePackages(t)
	cmd := exec.Command("go", append([]string{"list", "-e", "-f", "{{.ImportPath}}"}, race...)...)
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", race, err, out)
	}
	inRace := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		inRace[p] = true
	}
	if len(inRace) != len(race) {
		t.Errorf("RACE_PKGS names %d entries, which are %d packages: %s", len(race), len(inRace), out)
	}

	cmd = exec.Command("go", "list", "-e", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \",\"}}", module+"/...")
	cmd.Dir = "../.."
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	all := map[string]bool{}
	starting := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(line, "\t")
		if len(parts) != 3 {
			t.Fatalf("go list line %q", line)
		}
		all[parts[0]] = true
		if parts[2] == "" {
			continue
		}
		if at := startsGoroutines(t, parts[1], strings.Split(parts[2], ",")); at != "" {
			starting++
			if !inRace[parts[0]] {
				t.Errorf("%s starts goroutines (%s) but is not in the Makefile's RACE_PKGS, so make test never runs it under the race detector", parts[0], at)
			}
		}
	}
	for p := range inRace {
		if !all[p] {
			t.Errorf("RACE_PKGS names %s, which is not a package of the module", p)
		}
	}
	// The detector itself: the store's committer and the link's reader are
	// goroutines it must see.
	if starting < 10 {
		t.Errorf("found only %d packages that start goroutines; the detector is broken", starting)
	}

	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(mk, []byte("$(GO) test -race -count=1 -timeout 30m $(RACE_PKGS)")) {
		t.Error("the Makefile's test target no longer runs RACE_PKGS with -race")
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil || !bytes.Contains(ci, []byte("\nmake test\n")) {
		t.Errorf(".ci/run no longer runs make test (%v)", err)
	}
}
