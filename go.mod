module github.com/exhibit-forensics/exhibit

go 1.26.0

require (
	github.com/creack/pty v1.1.24
	github.com/disintegration/imaging v1.6.2
	github.com/go-json-experiment/json v1.27.2
	github.com/google/uuid v1.6.0
	github.com/mattn/go-sqlite3 v1.14.53
	github.com/secure-systems-lab/go-securesystemslib v0.10.0
	github.com/transparency-dev/merkle v0.0.2
	go.bug.st/serial v1.8.0
	gocv.io/x/gocv v0.31.0
	golang.org/x/crypto v0.48.0
	golang.org/x/mod v0.43.0
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
	golang.org/x/text v0.44.0
	golang.org/x/tools v0.52.0
)

require golang.org/x/image v0.0.0-20191009234506-e7c1f5e7dbb8 // indirect
