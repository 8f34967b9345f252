package panel

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The built-in panels: one file per version, named NAME.vVERSION.json.
//
//go:embed data/*.json
var builtin embed.FS

// DefaultName is the panel the lab uses unless told otherwise.
const DefaultName = "spiking-panel"

// ErrNotFound is wrapped when a named panel is not built in.
var ErrNotFound = errors.New("no such panel")

var loaded = sync.OnceValues(func() ([]*Panel, map[string]error) {
	return load(builtin, "data")
})

func load(fsys fs.FS, dir string) ([]*Panel, map[string]error) {
	bad := map[string]error{}
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		bad[dir] = err
		return nil, bad
	}
	var all []*Panel
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			bad[e.Name()] = err
			continue
		}
		p, err := Parse(b)
		if err != nil {
			bad[e.Name()] = err
			continue
		}
		if want := p.Name + ".v" + strconv.Itoa(p.Version) + ".json"; e.Name() != want {
			bad[e.Name()] = fmt.Errorf("%w: the file holds %s, so it must be named %s", ErrInvalid, p.ID(), want)
			continue
		}
		all = append(all, p)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Name != all[j].Name {
			return all[i].Name < all[j].Name
		}
		return all[i].Version < all[j].Version
	})
	return all, bad
}

// All returns every built-in panel, every version, by name then version.
// The panels are shared: callers must not change them.
func All() []*Panel {
	all, _ := loaded()
	return append([]*Panel(nil), all...)
}

// Lookup returns the built-in panel called name in its latest version, or
// the version asked for with "name@version". The error wraps ErrNotFound.
func Lookup(name string) (*Panel, error) {
	all, bad := loaded()
	base, ver, pinned := strings.Cut(name, "@")
	want := 0
	if pinned {
		v, err := strconv.Atoi(ver)
		if err != nil || v < 1 || strconv.Itoa(v) != ver {
			return nil, fmt.Errorf("panel %q: %w: the version after @ must be a whole number of 1 or more", name, ErrNotFound)
		}
		want = v
	}
	var found *Panel
	var versions, names []string
	for _, p := range all {
		if len(names) == 0 || names[len(names)-1] != p.Name {
			names = append(names, p.Name)
		}
		if p.Name != base {
			continue
		}
		versions = append(versions, strconv.Itoa(p.Version))
		if want == 0 || p.Version == want {
			found = p
		}
	}
	if found != nil {
		return found, nil
	}
	for file, err := range bad {
		if strings.HasPrefix(file, base+".v") {
			return nil, fmt.Errorf("panel %q: built-in file is damaged: %w", name, err)
		}
	}
	if len(versions) > 0 {
		return nil, fmt.Errorf("panel %q: %w: %s has versions %s", name, ErrNotFound, base, strings.Join(versions, ", "))
	}
	return nil, fmt.Errorf("panel %q: %w (built in: %s)", name, ErrNotFound, strings.Join(names, ", "))
}
