package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/lab/panel"
	"github.com/exhibit-forensics/exhibit/lab/sample"
)

const labIntakeSynopsis = "lab intake --data DIR --case REF --kit BARCODE --seal SEAL [--seal SEAL]... --collected TIME --incident TIME --by USERID [--expect-seal SEAL]... [--broken-seal SEAL]... [--volume ML] [--temperature C] [--venue ID] [--grid REF]   (TIME is RFC 3339)"

// labIntake runs `exhibit lab intake`: a kit received into evidence. It
// prints the sample's reference, then one line per warning, each starting
// "warning:".
func labIntake(e *env, args []string) int {
	const name = "lab intake"
	fs := newFlags(e, name, labIntakeSynopsis)
	data := fs.String("data", "", "data directory")
	caseRef := fs.String("case", "", "case reference")
	kit := fs.String("kit", "", "the kit's barcode as the scanner reads it")
	var seals, expect, broken listFlag
	fs.Var(&seals, "seal", "a seal number on the kit (repeatable)")
	fs.Var(&expect, "expect-seal", "a seal number on the kit's paperwork (repeatable): checked against --seal")
	fs.Var(&broken, "broken-seal", "a seal found broken or tampered with (repeatable)")
	collected := fs.String("collected", "", "when the urine was collected (RFC 3339)")
	incident := fs.String("incident", "", "when the incident is reported to have happened (RFC 3339)")
	venue := fs.String("venue", "", "where the incident happened: the venue's identifier in the force's register, if the request form gives one")
	grid := fs.String("grid", "", "where the incident happened: an Ordnance Survey grid reference (TQ 30123 80456), if the request form gives one")
	by := fs.String("by", "", "user id of the technician receiving the kit")
	volume := fs.String("volume", "", "urine volume in mL, if measured")
	temp := fs.String("temperature", "", "temperature on arrival in °C, if measured")
	pname := fs.String("panel", panel.DefaultName, "the built-in panel whose detection windows are judged, NAME or NAME@VERSION")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 || *data == "" || *caseRef == "" || *kit == "" || len(seals) == 0 || *collected == "" || *incident == "" || *by == "" {
		return e.usageErr(fs, "--data, --case, --kit, --seal, --collected, --incident and --by are required")
	}
	scan, err := sample.ParseScan(*kit)
	if err != nil {
		return e.fail(name, err)
	}
	req := sample.Request{Case: *caseRef, Kit: scan, Seals: seals, Expected: expect, Broken: broken,
		Place: sample.Place{Venue: strings.TrimSpace(*venue), Grid: strings.TrimSpace(*grid)}}
	if req.Collected, err = parseTime("--collected", *collected); err != nil {
		return e.fail(name, err)
	}
	if req.Incident, err = parseTime("--incident", *incident); err != nil {
		return e.fail(name, err)
	}
	if *volume != "" {
		if req.VolumeML, err = strconv.ParseFloat(*volume, 64); err != nil {
			return e.fail(name, fmt.Errorf("--volume %q: a number of mL", *volume))
		}
	}
	if *temp != "" {
		t, err := strconv.ParseFloat(*temp, 64)
		if err != nil {
			return e.fail(name, fmt.Errorf("--temperature %q: a number of °C", *temp))
		}
		req.TemperatureC = &t
	}
	p, err := panel.Lookup(*pname)
	if err != nil {
		return e.fail(name, err)
	}
	l, code := openLedger(e, name, *data)
	if l == nil {
		return code
	}
	defer l.Close()
	if req.By, err = technician(e, name, *data, l, *by); err != nil {
		return e.fail(name, err)
	}
	req.Device = l.Identity().DeviceID
	ex, warns, err := sample.Intake(e.ctx, l, req, sample.Windows(p))
	if err != nil {
		return e.fail(name, err)
	}
	fmt.Fprintln(e.stdout, ex.Ref)
	for _, w := range warns {
		fmt.Fprintf(e.stdout, "warning: %s\n", w.Message)
	}
	return exitOK
}

// parseTime reads an RFC 3339 time, with or without fractional seconds.
func parseTime(flagName, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: not an RFC 3339 time (for example 2026-12-04T23:00:00Z)", flagName, s)
	}
	return t, nil
}
