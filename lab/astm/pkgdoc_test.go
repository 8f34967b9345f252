package astm

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs checks that every package under lab/astm and lab/hl7 has a
// package doc comment.
func TestPackageDocs(t *testing.T) {
	for _, root := range []string{".", "../hl7"} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() || strings.Contains(path, "testdata") {
				return nil
			}
			pkgs, err := parser.ParseDir(token.NewFileSet(), path, func(fi fs.FileInfo) bool {
				return !strings.HasSuffix(fi.Name(), "_test.go")
			}, parser.ParseComments|parser.PackageClauseOnly)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				return nil
			}
			for name, p := range pkgs {
				doc := false
				for _, f := range p.Files {
					doc = doc || (f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package "+name+" "))
				}
				if !doc {
					t.Errorf("package %s (%s) has no doc comment starting \"Package %s \"", name, path, name)
				}
			}
			return nil
		})
	}
}
