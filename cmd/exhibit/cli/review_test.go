package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

const setupJSON = `{"format":"exhibit-lab-setup","version":1,"lab":"Test Toxicology Lab","controls":[
 {"specimen":"QC-GHB-L1","name":"GHB-LOW","analyte":"ghb","lot":"L23","level":1,"mean":5,"sd":0.5,"unit":"mg/L"},
 {"specimen":"QC-GHB-L2","name":"GHB-HIGH","analyte":"ghb","lot":"H23","level":2,"mean":20,"sd":1,"unit":"mg/L"}]}`

// TestLabReviewAuthorise: a kit received, its LC-MS/MS run (with both
// GHB controls) dropped in the watched folder, the results reviewed by the
// technician and authorised by the authoriser — not by the reviewer — and
// the case's bundle, report included, verifies.
func TestLabReviewAuthorise(t *testing.T) {
	data := initData(t)
	pw := "correct horse battery"
	for _, u := range [][3]string{{"tech1", "Alex Turing", "lab-technician"}, {"auth1", "Bea Okoro", "lab-authoriser"}} {
		if code, _, errs := run(t, pw+"\n"+pw+"\n", "user", "add", "--data", data, "--id", u[0], "--name", u[1], "--role", u[2]); code != 0 {
			t.Fatal(errs)
		}
	}
	ref := strings.TrimSpace(mustRun(t, "lab", "intake", "--data", data, "--case", "01/901/26", "--kit", "K-1", "--seal", "S-1",
		"--collected", "2026-12-05T02:00:00Z", "--incident", "2026-12-04T23:00:00Z", "--by", "tech1"))
	folder := t.TempDir()
	writeFile(t, filepath.Join(folder, "run1.csv"), "Sample ID,Sample Type,Compound,Calculated Amt,Units\n"+
		"QC-GHB-L1,QC,GHB,5.2,mg/L\nQC-GHB-L2,QC,GHB,19.6,mg/L\n"+ref+",Unknown,GHB,45.0,mg/L\n")
	mustRun(t, "lab", "watch", "--data", data, "--folder", folder, "--case", "01/901/26", "--once", "--poll", "20ms")
	setup := filepath.Join(t.TempDir(), "setup.json")
	writeFile(t, setup, setupJSON)

	args := func(verb, by string) []string {
		return []string{"lab", verb, "--data", data, "--sample", ref, "--setup", setup, "--by", by}
	}
	if code, _, errs := run(t, pw+"\n", args("authorise", "auth1")...); code != 1 || !strings.Contains(errs, "not been reviewed") {
		t.Errorf("authorised before review: %d %s", code, errs)
	}
	code, out, errs := run(t, pw+"\n", args("review", "tech1")...)
	if code != 0 || !strings.Contains(out, "45.0 mg/L\tghb\tconfirmed-positive") || !strings.Contains(out, "reviewed by Alex Turing") {
		t.Fatalf("review: %d\n%s%s", code, out, errs)
	}
	if code, _, errs := run(t, "wrong password\n", args("authorise", "auth1")...); code != 1 || !strings.Contains(errs, "auth1") {
		t.Errorf("wrong password: %d %s", code, errs)
	}
	if code, _, errs := run(t, pw+"\n", args("authorise", "tech1")...); code != 1 || !strings.Contains(errs, "authoris") {
		t.Errorf("the reviewer authorising: %d %s", code, errs)
	}
	code, out, errs = run(t, pw+"\n", args("authorise", "auth1")...)
	if code != 0 || !strings.Contains(out, "report "+ref+" version 1 authorised by Bea Okoro") {
		t.Fatalf("authorise: %d\n%s%s", code, out, errs)
	}
	bundle := filepath.Join(t.TempDir(), "case.zip")
	mustRun(t, "export", "--data", data, "--case", "01/901/26", "--out", bundle)
	if code, out, errs := run(t, "", "verify", bundle); code != 0 {
		t.Fatalf("verify: %d\n%s%s", code, out, errs)
	}
}
