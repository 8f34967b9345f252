package kiosk

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"
)

// fragments renders parts of a page without the layout, for the little
// script that refreshes the progress and status panels in place.
type fragments struct{ t *template.Template }

func newFragments() (*fragments, error) {
	t, err := template.New("").ParseFS(files, "templates/parts.html")
	if err != nil {
		return nil, fmt.Errorf("kiosk: fragments: %w", err)
	}
	return &fragments{t: t}, nil
}

func (f *fragments) render(c *gin.Context, name string, data any) {
	var b bytes.Buffer
	if err := f.t.ExecuteTemplate(&b, name, data); err != nil {
		c.Status(http.StatusInternalServerError)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "text/html; charset=utf-8", b.Bytes())
}
