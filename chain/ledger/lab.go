package ledger

import (
	"fmt"
	"slices"

	"github.com/exhibit-forensics/exhibit/chain"
)

// valueBlob is a lab result value kept out of its record.
type valueBlob struct {
	name string // the subject name: "value-<n>", n the result's 1-based position
	hash chain.Hash
	data []byte
}

// splitLabValues returns a copy of lab in which every result value longer
// than chain.MaxLabValue bytes is replaced by its digest and size, and the
// values so removed. A nil lab gives nil.
func splitLabValues(lab *chain.Lab) (*chain.Lab, []valueBlob) {
	if lab == nil {
		return nil, nil
	}
	out := *lab
	out.Results = slices.Clone(lab.Results)
	var values []valueBlob
	for i := range out.Results {
		r := &out.Results[i]
		if len(r.Value) <= chain.MaxLabValue {
			continue
		}
		b := []byte(r.Value)
		h := chain.Sum(b)
		values = append(values, valueBlob{name: fmt.Sprintf("value-%d", i+1), hash: h, data: b})
		r.ValueSHA256, r.ValueSize = h.Hex(), int64(len(b))
		r.Value, r.Number, r.Censor = "", "", ""
	}
	return &out, values
}
