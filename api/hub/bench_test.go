package hub_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/exhibit-forensics/exhibit/api/hub/enrol"
)

// BenchmarkRevocationCheck measures what checking every request against
// the registry costs (docs/BENCHMARKS.md): the check alone (Authorise: the
// certificate's chain and validity, one registry lookup), and a whole
// GET /v1/device over a kept-alive mutual-TLS connection, which includes it.
//
// The two alternate, rounds times (the machine is shared: both see the
// same load):
//
//	go test ./api/hub -run '^$' -bench RevocationCheck
func BenchmarkRevocationCheck(b *testing.B) {
	h := startHub(b, "hub-1")
	a := newAgent(b, h)
	r, err := a.Enrol(context.Background(), h.URL, h.code(b))
	if err != nil {
		b.Fatal(err)
	}
	const rounds = 7
	for i := range rounds {
		benchRound(b, h, a, r, i)
	}
}

func benchRound(b *testing.B, h *testHub, a enrol.Agent, r *enrol.Result, i int) {
	b.Run(fmt.Sprintf("check/%d", i), func(b *testing.B) {
		chain := []*x509.Certificate{r.Cert}
		for b.Loop() {
			if _, err := h.Authorise(context.Background(), chain); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(fmt.Sprintf("request/%d", i), func(b *testing.B) {
		c := mtls(h, a, r)
		url := devicePath(h)
		for b.Loop() {
			res, err := c.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Fatal(res.Status)
			}
		}
	})
}
