package cli

import (
	"fmt"
	"path/filepath"

	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
	"github.com/exhibit-forensics/exhibit/chain/datadir"
)

// runAgentEnrol enrols the agent's device at a hub with a one-time code
// (docs/hub-enrolment.md): the device's own key signs the request, and the
// certificate and the hub's CA are stored in the data directory.
func runAgentEnrol(e *env, args []string) int {
	fs := newFlags(e, "agent enrol", "agent enrol --hub URL --code CODE --data DIR")
	hubURL := fs.String("hub", "", "the hub's URL, as `exhibit hub` prints it (https://HOST:PORT/)")
	code := fs.String("code", "", "the one-time code from `exhibit hub enrolment-code`")
	data := fs.String("data", "", "the agent's data directory (exhibit init)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if *hubURL == "" || *code == "" || *data == "" || len(pos) > 0 {
		return e.usageErr(fs, "--hub, --code and --data are required")
	}
	l, rc := openLedger(e, "agent enrol", *data)
	if l == nil {
		return rc
	}
	id := l.Identity()
	l.Close()
	key, err := datadir.Keys(filepath.Join(*data, datadir.KeyFile)).Load()
	if err != nil {
		return e.fail("agent enrol", err)
	}
	res, err := enrol.Agent{DeviceID: id.DeviceID, Origin: id.Origin, Key: key}.Enrol(e.ctx, *hubURL, *code)
	if err != nil {
		return e.fail("agent enrol", err)
	}
	if err := enrol.SaveAgent(*data, *hubURL, res); err != nil {
		return e.fail("agent enrol", err)
	}
	fmt.Fprintf(e.stdout, "enrolled device %s at %s\n", res.Device, *hubURL)
	fmt.Fprintf(e.stdout, "log       %s\n", res.Origin)
	fmt.Fprintf(e.stdout, "valid     until %s\n", res.Cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z"))
	fmt.Fprintf(e.stdout, "witness   %s\n", res.Witness)
	return exitOK
}
