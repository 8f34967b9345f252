package hub_test

import (
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"testing"
)

// BenchmarkRevocationCheck measures what checking every request against
// the registry costs (docs/BENCHMARKS.md): the check alone (Authorise: the
// certificate's chain and validity, one registry lookup), and a whole
// GET /v1/device over a kept-alive mutual-TLS connection, which includes it.
//
//	go test ./api/hub -run '^$' -bench RevocationCheck -count 5
func BenchmarkRevocationCheck(b *testing.B) {
	h := startHub(b, "hub-1")
	a := newAgent(b, h)
	r, err := a.Enrol(context.Background(), h.URL, h.code(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("check", func(b *testing.B) {
		chain := []*x509.Certificate{r.Cert}
		for b.Loop() {
			if _, err := h.Authorise(context.Background(), chain); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("request", func(b *testing.B) {
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
