module github.com/exhibit-forensics/exhibit

go 1.26.0

require (
	github.com/creack/pty v1.1.24 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/mattn/go-sqlite3 v1.14.53 // indirect
	github.com/rogpeppe/go-internal v1.16.0 // indirect
	github.com/secure-systems-lab/go-securesystemslib v0.10.0 // indirect
	github.com/transparency-dev/merkle v0.0.2 // indirect
	go.bug.st/serial v1.8.0 // indirect
	gocv.io/x/gocv v0.31.0 // indirect
	golang.org/x/crypto v0.48.0 // indirect
	golang.org/x/mod v0.43.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/term v0.48.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	golang.org/x/tools v0.52.0 // indirect
)
