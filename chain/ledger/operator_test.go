package ledger_test

import (
	"context"
	"strings"
	"testing"

	"github.com/exhibit-forensics/exhibit/chain/datadir"
	"github.com/exhibit-forensics/exhibit/chain/ledger"
)

func TestValidOperator(t *testing.T) {
	for op, ok := range map[string]bool{
		"exhibit-forensics.github.io": true, "evidence.example.police.uk": true, "a.b": true, "x-1.example": true,
		"": false, "localhost": false, "Example.org": false, "-a.org": false, "a-.org": false, "a..org": false,
		"a.org.": false, "a b.org": false, "a+b.org": false, "a/b.org": false, strings.Repeat("a", 64) + ".org": false,
		strings.Repeat("abcdefgh.", 29) + "org": false,
	} {
		if err := ledger.ValidOperator(op); (err == nil) != ok {
			t.Errorf("ValidOperator(%q) = %v, want ok %v", op, err, ok)
		}
	}
}

// TestOperatorOrigin: a log made under an operator is named under it, and
// its checkpoints carry that origin; a bad operator makes nothing.
func TestOperatorOrigin(t *testing.T) {
	ctx := context.Background()
	l, err := datadir.Init(ctx, t.TempDir(), "Lab Bench", "LB", datadir.Options{Operator: "evidence.example.police.uk"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	id := l.Identity()
	if id.Origin != "evidence.example.police.uk/log/"+id.DeviceID || id.Origin != ledger.OriginFor("evidence.example.police.uk", id.DeviceID) {
		t.Errorf("origin %q", id.Origin)
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(cp.Note), id.Origin+"\n") {
		t.Errorf("checkpoint %q", cp.Note)
	}
	if _, err := datadir.Init(ctx, t.TempDir(), "Lab Bench", "LB", datadir.Options{Operator: "Not A Domain"}); err == nil {
		t.Error("a bad operator accepted")
	}
	if got := ledger.OriginFor("", "d"); got != ledger.OriginPrefix+"d" {
		t.Errorf("default origin %q", got)
	}
}
