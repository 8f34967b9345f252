package cli

import (
	"io"
	"os"
	"path/filepath"

	"github.com/exhibit-forensics/exhibit/internal/progress"
)

// progressBar returns a progress line labelled label for long work,
// drawn on stderr when stderr is a terminal and quiet is false (quiet:
// the command's output is meant for a program, as with --json), and
// nothing otherwise. Its Update is the progress callback the libraries
// take, func(done, total int64); call Finish when the work ends.
func (e *env) progressBar(label string, quiet bool) *progress.Bar {
	if quiet {
		return progress.New(io.Discard, label)
	}
	return progress.New(e.stderr, label)
}

// openWithProgress opens the file at path for `exhibit import`: reading
// it draws a progress line labelled "import NAME" against the file's size
// (progressBar), and Close erases the line and closes the file.
func (e *env) openWithProgress(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	bar := e.progressBar("import "+filepath.Base(path), false)
	return &progressFile{Reader: bar.Reader(f, fi.Size()), f: f, bar: bar}, nil
}

type progressFile struct {
	io.Reader
	f   *os.File
	bar *progress.Bar
}

func (p *progressFile) Close() error {
	p.bar.Finish()
	return p.f.Close()
}
