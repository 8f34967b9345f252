//go:build !linux

package fsstore

// renameNoReplace renames oldpath to newpath without replacing newpath.
func renameNoReplace(oldpath, newpath string) error { return linkRename(oldpath, newpath) }
