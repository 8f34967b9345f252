package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Parse(htmlSource))

// HTML renders the report as one self-contained HTML page (styles inline,
// printable on A4, no scripts), after Check. The same report gives the
// same bytes.
func HTML(r *Report) ([]byte, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, makeView(r)); err != nil {
		return nil, fmt.Errorf("report: html: %w", err)
	}
	return b.Bytes(), nil
}
