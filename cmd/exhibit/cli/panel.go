package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/exhibit-forensics/exhibit/chain/ledger"
	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/receive"
	"github.com/exhibit-forensics/exhibit/lab/review"
	"github.com/exhibit-forensics/exhibit/lab/value"
)

const (
	panelSynopsis         = "panel list|coverage [flags]   (run `exhibit panel coverage -h` for its flags)"
	panelListSynopsis     = "panel list [--panel NAME[@VERSION]] [--json]"
	panelCoverageSynopsis = "panel coverage --data DIR --kit FILE --stage screen|confirm [--case REF] [--exclude SPECIMEN]... [--panel NAME[@VERSION]] [--json]"
)

// runPanel runs `exhibit panel list|coverage`: the drug panel built into
// this binary (lab/panel), and what a test kit would have found of the
// lab's positives.
func runPanel(e *env, args []string) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "coverage") {
		fs := newFlags(e, "panel", panelSynopsis)
		if len(args) == 0 {
			return e.usageErr(fs, "which action? (list, coverage)")
		}
		return e.usageErr(fs, "unknown action %q (list, coverage)", args[0])
	}
	if args[0] == "coverage" {
		return panelCoverage(e, args[1:])
	}
	return panelList(e, args[1:])
}

// panelAnalyte is one element of `exhibit panel list --json`.
type panelAnalyte struct {
	Panel               string        `json:"panel"`
	ID                  string        `json:"id"`
	Name                string        `json:"name"`
	Class               string        `json:"class"`
	Units               string        `json:"units"`
	ScreenCutoff        json.Number   `json:"screen_cutoff"`
	ConfirmCutoff       json.Number   `json:"confirm_cutoff"`
	EndogenousThreshold *json.Number  `json:"endogenous_threshold"` // null: none
	WindowHours         int           `json:"window_hours"`
	Source              string        `json:"source"` // "figure: source-id; …"
	Sources             []panelFigSrc `json:"sources"`
	Note                string        `json:"note,omitempty"`
}

// panelFigSrc is the source of one figure, in full.
type panelFigSrc struct {
	Figure   string `json:"figure"`
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Citation string `json:"citation"`
}

func panelJSON(p *panel.Panel, a panel.Analyte) panelAnalyte {
	out := panelAnalyte{Panel: p.ID(), ID: a.ID, Name: a.Name, Class: a.Class, Units: a.Units,
		ScreenCutoff: json.Number(a.Screen), ConfirmCutoff: json.Number(a.Confirm), WindowHours: a.WindowHours, Note: a.Note}
	if a.Endogenous != "" {
		n := json.Number(a.Endogenous)
		out.EndogenousThreshold = &n
	}
	figs := []struct{ figure, id string }{{"screen_cutoff", a.Sources.Screen}, {"confirm_cutoff", a.Sources.Confirm}}
	if a.Endogenous != "" {
		figs = append(figs, struct{ figure, id string }{"endogenous_threshold", a.Sources.Endogenous})
	}
	figs = append(figs, struct{ figure, id string }{"window_hours", a.Sources.Window})
	var names []string
	for _, f := range figs {
		s, _ := p.Source(f.id) // the panel's parser checked every reference
		out.Sources = append(out.Sources, panelFigSrc{Figure: f.figure, ID: s.ID, Kind: s.Kind, Citation: s.Citation})
		names = append(names, f.figure+": "+f.id)
	}
	out.Source = strings.Join(names, "; ")
	return out
}

func panelList(e *env, args []string) int {
	fs := newFlags(e, "panel list", panelListSynopsis)
	name := fs.String("panel", panel.DefaultName, "the built-in panel, NAME or NAME@VERSION")
	asJSON := fs.Bool("json", false, "print JSON (an array of the analytes, each with the source of each figure) instead of one line per analyte")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 {
		return e.usageErr(fs, "unexpected arguments %q", pos)
	}
	p, err := panel.Lookup(*name)
	if err != nil {
		return e.usageErr(fs, "--panel: %v", err)
	}
	if *asJSON {
		out := make([]panelAnalyte, 0, len(p.Analytes))
		for _, a := range p.Analytes {
			out = append(out, panelJSON(p, a))
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return e.fail("panel list", err)
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, a := range p.Analytes {
		endo := "-"
		if a.Endogenous != "" {
			endo = a.Endogenous
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\tscreen %s\tconfirm %s\tendogenous %s\t%d h\t%s\n",
			a.ID, a.Class, a.Units, a.Screen, a.Confirm, endo, a.WindowHours, a.Name)
	}
	if err := tw.Flush(); err != nil {
		return e.fail("panel list", err)
	}
	return exitOK
}

// panelCovered is one positive of `exhibit panel coverage --json`.
type panelCovered struct {
	Ref       string `json:"ref"`
	Specimen  string `json:"specimen"`
	Analyte   string `json:"analyte"`
	Value     string `json:"value"` // in the panel's units
	Units     string `json:"units"`
	Outcome   string `json:"outcome"`
	Detection string `json:"detection"`
	KitCutoff string `json:"kit_cutoff,omitempty"`
	KitUnits  string `json:"kit_units,omitempty"`
	KitValue  string `json:"kit_value,omitempty"`
	Reason    string `json:"reason"`
}

// panelSkipped is a result coverage did not interpret.
type panelSkipped struct {
	Ref      string `json:"ref"`
	Specimen string `json:"specimen"`
	Code     string `json:"code"`
	Reason   string `json:"reason"`
}

// panelCoverageReport is the output of `exhibit panel coverage --json`.
type panelCoverageReport struct {
	Kit          string         `json:"kit"`
	Illustrative bool           `json:"illustrative"`
	Panel        string         `json:"panel"`
	Stage        string         `json:"stage"`
	Positives    []panelCovered `json:"positives"`
	NotPositive  int            `json:"not_positive"`
	Skipped      []panelSkipped `json:"skipped"`
	Detected     int            `json:"detected"`
	BelowCutoff  int            `json:"missed_below_cutoff"`
	NotClaimed   int            `json:"missed_not_claimed"`
	Undetermined int            `json:"undetermined"`
}

func panelCoverage(e *env, args []string) int {
	const name = "panel coverage"
	fs := newFlags(e, name, panelCoverageSynopsis)
	data := fs.String("data", "", "data directory whose analyser results (`exhibit lab results`) are read")
	kitFile := fs.String("kit", "", `kit capability file ("exhibit-kit v1", docs/panel.md)`)
	stageName := fs.String("stage", "", "what the stored results are: screen (immunoassay: its positives are presumptive) or confirm (LC-MS/MS, GC-MS); the records do not say")
	caseRef := fs.String("case", "", "only this case")
	var exclude listFlag
	fs.Var(&exclude, "exclude", "leave out this specimen id (repeatable): quality-control specimens, which the records do not mark")
	pname := fs.String("panel", panel.DefaultName, "the built-in panel, NAME or NAME@VERSION")
	asJSON := fs.Bool("json", false, "print JSON instead of one line per positive")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 {
		return e.usageErr(fs, "unexpected arguments %q", pos)
	}
	if *data == "" || *kitFile == "" || *stageName == "" {
		return e.usageErr(fs, "--data, --kit and --stage are required")
	}
	stage, err := panel.ParseStage(*stageName)
	if err != nil {
		return e.usageErr(fs, "--stage: %v", err)
	}
	p, err := panel.Lookup(*pname)
	if err != nil {
		return e.usageErr(fs, "--panel: %v", err)
	}
	kb, err := os.ReadFile(*kitFile)
	if err != nil {
		return e.fail(name, err)
	}
	kit, err := panel.ParseKit(kb, p)
	if err != nil {
		return e.fail(name, fmt.Errorf("%s: %w", *kitFile, err))
	}
	skip := map[string]bool{}
	for _, s := range exclude {
		skip[s] = true
	}
	l, code := openLedger(e, name, *data)
	if l == nil {
		return code
	}
	defer l.Close()
	positive := panel.ConfirmedPositive
	if stage == panel.Screen {
		positive = panel.PresumptivePositive
	}
	rep := panelCoverageReport{Kit: kit.Name, Illustrative: kit.Illustrative, Panel: p.ID(), Stage: stage.String(),
		Positives: []panelCovered{}, Skipped: []panelSkipped{}}
	var findings []panel.Finding
	var outcomes []panel.Interpretation
	listErr := receive.List(e.ctx, l, func(en receive.Entry) error {
		if en.Quarantined() || (*caseRef != "" && en.Case != *caseRef) {
			return nil
		}
		for _, r := range en.Lab.Results {
			if skip[r.Specimen] {
				continue
			}
			skipped := func(format string, args ...any) {
				rep.Skipped = append(rep.Skipped, panelSkipped{Ref: en.Ref, Specimen: r.Specimen, Code: r.Code, Reason: fmt.Sprintf(format, args...)})
			}
			switch {
			case r.Analyte == "":
				skipped("test code %q is not in the analyser's code map", r.Code)
				continue
			case r.ValueSHA256 != "":
				skipped("a %d-byte value, not a concentration", r.ValueSize)
				continue
			}
			if _, ok := p.Analyte(r.Analyte); !ok {
				skipped("analyte %q is not in %s", r.Analyte, p.ID())
				continue
			}
			in, err := p.Interpret(r.Analyte, stage, review.ValueOf(r, en.Lab), r.Units)
			if err != nil {
				skipped("%v", err)
				continue
			}
			if in.Outcome != positive {
				rep.NotPositive++
				continue
			}
			findings = append(findings, panel.Finding{Label: en.Ref + " " + r.Specimen, Analyte: r.Analyte,
				Value: value.Parse(in.Value, value.Point), Units: in.Units})
			outcomes = append(outcomes, in)
		}
		return nil
	})
	// As `lab results` does: records over the size limit are named after
	// the report of everything else.
	if listErr != nil && !errors.Is(listErr, ledger.ErrOversized) {
		return e.fail(name, listErr)
	}
	cov, err := kit.Coverage(findings)
	if err != nil {
		return e.fail(name, err)
	}
	for i, c := range cov {
		ref, specimen, _ := strings.Cut(c.Label, " ")
		rep.Positives = append(rep.Positives, panelCovered{Ref: ref, Specimen: specimen, Analyte: c.Analyte,
			Value: outcomes[i].Value, Units: outcomes[i].Units, Outcome: outcomes[i].Outcome.String(), Detection: c.Detection.String(),
			KitCutoff: c.KitCutoff, KitUnits: c.KitUnits, KitValue: c.KitValue, Reason: c.Reason})
		switch c.Detection {
		case panel.Detected:
			rep.Detected++
		case panel.BelowKitCutoff:
			rep.BelowCutoff++
		case panel.NotClaimed:
			rep.NotClaimed++
		case panel.Undetermined:
			rep.Undetermined++
		}
	}
	code = exitOK
	if listErr != nil {
		defer func() { e.fail(name, listErr) }()
		code = exitFail
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return e.fail(name, err)
		}
		return code
	}
	kitDesc := kit.Name
	if kit.Illustrative {
		kitDesc += " (illustrative, not a real product)"
	}
	fmt.Fprintf(e.stdout, "kit %s against the %s positives of %s in %s\n", kitDesc, stage, p.ID(), filepath.Clean(*data))
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, c := range rep.Positives {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\n", c.Detection, c.Ref, c.Specimen, c.Analyte, c.Value, c.Units, c.Reason)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(tw, "skipped\t%s\t%s\t%s\t\t%s\n", s.Ref, s.Specimen, s.Code, s.Reason)
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "%d positives: %d detected, %d missed (%d below the kit's cut-off, %d not claimed), %d undetermined; %d results not positive, %d skipped\n",
		len(rep.Positives), rep.Detected, rep.BelowCutoff+rep.NotClaimed, rep.BelowCutoff, rep.NotClaimed, rep.Undetermined, rep.NotPositive, len(rep.Skipped))
	return code
}
