package bagit_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/exhibit-forensics/exhibit/chain/bagit"
)

func Example() {
	ctx := context.Background()
	var zipped bytes.Buffer
	w := bagit.NewZipWriter(&zipped, "bundle-JS-4", bagit.Options{Time: time.Date(2025, 10, 2, 9, 30, 0, 0, time.UTC)})
	d, err := w.AddPayload(ctx, "data/originals/JS-4.tiff", strings.NewReader("II*\x00…"), false)
	if err != nil {
		panic(err)
	}
	if _, err := w.AddPayload(ctx, "data/custody.jsonl", strings.NewReader(`{"event":"sealed"}`+"\n"), true); err != nil {
		panic(err)
	}
	if err := w.AddInfo("Source-Organization", "Example Constabulary"); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}

	bag, err := bagit.OpenZip(bytes.NewReader(zipped.Bytes()), int64(zipped.Len()), bagit.Limits{})
	if err != nil {
		panic(err)
	}
	rep, err := bag.Validate(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("valid:", rep.Valid())
	fmt.Println("digest as written:", rep.SHA256["data/originals/JS-4.tiff"] == d.SHA256)
	fmt.Println("oxum:", rep.PayloadOctets, rep.PayloadFiles)
	// Output:
	// valid: true
	// digest as written: true
	// oxum: 26 2
}
