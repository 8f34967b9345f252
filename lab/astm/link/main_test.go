package link_test

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"

	"github.com/exhibit-forensics/exhibit/lab/astm/link"
)

// covered records which rows of the state table the tests drove.
var covered = struct {
	sync.Mutex
	rows map[string]bool
}{rows: map[string]bool{}}

func rowKey(from link.State, ev link.Event, role link.Role) string {
	return fmt.Sprintf("%v --%v--> (%v)", from, ev, role)
}

// record notes a traced step taken by a link in role r.
func record(r link.Role, s link.Step) {
	covered.Lock()
	defer covered.Unlock()
	covered.rows[rowKey(s.From, s.Event, r)] = true
}

// TestMain fails the run if, when all tests ran, a row of the table was
// never taken: every transition has a test.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == "" {
		var missing []string
		covered.Lock()
		for _, t := range link.Table() {
			roles := []link.Role{t.Role}
			if t.Role == 0 {
				roles = []link.Role{link.Host, link.Instrument}
			}
			hit := false
			for _, r := range roles {
				hit = hit || covered.rows[rowKey(t.From, t.Event, r)]
			}
			if !hit {
				missing = append(missing, fmt.Sprintf("%v --%v--> %v (%v)", t.From, t.Event, t.To, t.Role))
			}
		}
		covered.Unlock()
		if len(missing) > 0 {
			sort.Strings(missing)
			fmt.Println("FAIL: transitions no test takes:")
			for _, m := range missing {
				fmt.Println("  ", m)
			}
			code = 1
		}
	}
	os.Exit(code)
}
