package report_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/exhibit-forensics/exhibit/lab/report"
)

// TestPDFPages renders the fixture's pages to PNG with poppler's pdftoppm,
// so that a reader can look at them: into $REPORT_ARTEFACTS if set (kept),
// else a temporary directory. It checks that every page rasterises.
func TestPDFPages(t *testing.T) {
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		t.Skip("pdftoppm not found: install poppler-utils (scripts/setup does) to rasterise the report")
	}
	dir := os.Getenv("REPORT_ARTEFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	pdf, err := report.PDF(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(in, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "pdftoppm", "-r", "80", "-png", in, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "page-*.png"))
	if len(pngs) != 2 {
		t.Fatalf("%d pages rasterised, want the fixture's 2: %v", len(pngs), pngs)
	}
	for _, p := range pngs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) < 8 || string(b[1:4]) != "PNG" {
			t.Errorf("%s is not a PNG (%v)", p, err)
		}
	}
	t.Logf("pages in %s", dir)
}
