package profile

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The built-in profiles: one file per version, named NAME.vVERSION.profile.
//
//go:embed profiles/*.profile
var builtin embed.FS

// FileExt is the extension of profile files.
const FileExt = ".profile"

// loaded holds the built-in profiles, parsed once, and the problems of any
// file that did not parse (a build defect that TestBuiltin catches).
var loaded = sync.OnceValues(func() ([]Profile, map[string]error) {
	return load(builtin, "profiles")
})

// load parses every profile file in dir of fsys. Each file's name must
// agree with the name and version inside it.
func load(fsys fs.FS, dir string) ([]Profile, map[string]error) {
	ents, err := fs.ReadDir(fsys, dir)
	bad := map[string]error{}
	if err != nil {
		bad[dir] = err
		return nil, bad
	}
	var all []Profile
	seen := map[string]string{}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), FileExt) {
			continue
		}
		name := strings.TrimSuffix(e.Name(), FileExt)
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			bad[name] = err
			continue
		}
		p, err := Parse(b)
		if err != nil {
			bad[name] = fmt.Errorf("%s: %w", e.Name(), err)
			continue
		}
		if want := p.Name + ".v" + strconv.Itoa(p.Version); name != want {
			bad[name] = fmt.Errorf("%s: %w: the file holds %s, so it must be named %s%s", e.Name(), ErrInvalid, p.ID(), want, FileExt)
			continue
		}
		if other, dup := seen[p.ID()]; dup {
			bad[name] = fmt.Errorf("%s: %w: %s is also in %s", e.Name(), ErrInvalid, p.ID(), other)
			continue
		}
		seen[p.ID()] = e.Name()
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

// All returns every built-in profile, every version, sorted by name and
// then version. The slice and its shots are the caller's.
func All() []Profile {
	all, _ := loaded()
	out := make([]Profile, len(all))
	for i, p := range all {
		out[i] = p.clone()
	}
	return out
}

// Lookup returns the built-in profile called name, in its latest version,
// or the version asked for with "name@version" (e.g. "injury-standard@1").
// The error wraps ErrNotFound if there is no such profile or version.
func Lookup(name string) (Profile, error) {
	all, bad := loaded()
	base, ver, pinned := strings.Cut(name, "@")
	want := 0
	if pinned {
		v, err := whole(ver)
		if err != nil || v < 1 {
			return Profile{}, fmt.Errorf("profile %q: %w: the version after @ must be a whole number of 1 or more", name, ErrNotFound)
		}
		want = v
	}
	// all is sorted by version, so the last match is the latest.
	var found *Profile
	var versions []string
	for i := range all {
		p := &all[i]
		if p.Name != base {
			continue
		}
		versions = append(versions, strconv.Itoa(p.Version))
		if want == 0 || p.Version == want {
			found = p
		}
	}
	if found != nil {
		return found.clone(), nil
	}
	for file, err := range bad {
		if strings.HasPrefix(file, base+".v") {
			return Profile{}, fmt.Errorf("profile %q: built-in file is damaged: %w", name, err)
		}
	}
	if len(versions) > 0 {
		return Profile{}, fmt.Errorf("profile %q: %w: %s has versions %s", name, ErrNotFound, base, strings.Join(versions, ", "))
	}
	var names []string
	for _, p := range all {
		if len(names) == 0 || names[len(names)-1] != p.Name {
			names = append(names, p.Name)
		}
	}
	return Profile{}, fmt.Errorf("profile %q: %w (built-in: %s)", name, ErrNotFound, strings.Join(names, ", "))
}

func (p Profile) clone() Profile {
	p.Shots = append([]Shot(nil), p.Shots...)
	return p
}

// File returns the bytes of p's file when p is a built-in profile exactly
// as released: what a capture keeps as its plan, so that its digest is the
// one testdata/released.sha256 lists. For any other profile — one changed
// in code, even if it still carries the released Digest — it returns
// Format(p).
func File(p Profile) []byte {
	b, err := fs.ReadFile(builtin, path.Join("profiles", p.Name+".v"+strconv.Itoa(p.Version)+FileExt))
	if err == nil {
		if q, err := Parse(b); err == nil && reflect.DeepEqual(q, p) {
			return b
		}
	}
	return Format(p)
}
