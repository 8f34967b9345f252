package kiosk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/disintegration/imaging"
	"github.com/gin-gonic/gin"

	"github.com/exhibit-forensics/exhibit/imaging/capture"
)

// enhancedWidth bounds an enhanced view's picture on the screen.
const enhancedWidth = 720

// enhView is one derivative in the enhanced view, before sealing.
type enhView struct {
	N       int // index, for the picture's URL
	Kind    string
	Label   string
	Explain string
	Bruises []bruiseView // for the outline
	Outline bool
}

// bruiseView is one bruise measured, in the photographer's units.
type bruiseView struct {
	N                  int
	Area, Major, Minor string
	AreaMM2, MajorMM   float64
	MinorMM            float64
}

// enhLabels name each kind of derivative for the photographer.
func enhLabel(m capture.Made) (label, explain string) {
	switch m.Kind {
	case "clahe":
		band := strings.TrimSuffix(strings.TrimPrefix(m.File, "clahe-"), ".png")
		return "Contrast enhanced, " + bandWords(band), "Local contrast raised (CLAHE) so that faint marks show."
	case "ratio":
		return "Blue against infrared (450 / 850 nm)", "Darker where blood and bilirubin absorb blue light; lighting differences cancel."
	case "composite":
		return "False-colour composite", "Violet, blue and the reference band in one picture."
	case "outline":
		return "Bruise outline", "Measured on the blue band with the scale on the reference picture."
	}
	return m.Kind, ""
}

func bandWords(shot string) string {
	switch {
	case strings.HasPrefix(shot, "415"):
		return "violet 415 nm"
	case strings.HasPrefix(shot, "450"):
		return "blue 450 nm"
	case strings.HasPrefix(shot, "850"):
		return "infrared 850 nm"
	}
	return shot
}

// develop makes the enhanced view of a capture whose shots are all taken,
// for the review: the derivatives made in memory (Capture.Develop, nothing
// recorded) and a screen-sized picture of each. A failure is not the
// capture's: the review says what happened, and sealing tries again.
func (k *Kiosk) develop(ctx context.Context, j *job, c *capture.Capture) {
	j.mu.Lock()
	j.state, j.enh, j.enhPics, j.enhAdvice = jobDeveloping, nil, nil, ""
	j.mu.Unlock()
	d, err := c.Develop(ctx)
	var (
		views []enhView
		pics  [][]byte
	)
	if err == nil {
		for _, m := range d.Derivatives {
			p, perr := screenPicture(m.Body)
			if perr != nil {
				err = fmt.Errorf("kiosk: showing %s: %w", m.File, perr)
				break
			}
			label, explain := enhLabel(m)
			v := enhView{N: len(pics), Kind: m.Kind, Label: label, Explain: explain, Outline: m.Kind == "outline"}
			if m.Measurement != nil {
				for i, b := range m.Measurement.Bruises {
					v.Bruises = append(v.Bruises, bruiseView{N: i + 1,
						Area:    strconv.FormatFloat(b.AreaMM2, 'f', 0, 64) + " mm²",
						Major:   strconv.FormatFloat(b.MajorMM, 'f', 1, 64) + " mm",
						Minor:   strconv.FormatFloat(b.MinorMM, 'f', 1, 64) + " mm",
						AreaMM2: b.AreaMM2, MajorMM: b.MajorMM, MinorMM: b.MinorMM})
				}
			}
			views = append(views, v)
			pics = append(pics, p)
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		views, pics = nil, nil
		j.enhAdvice = developAdvice(err)
		k.cfg.Logger.Warn("kiosk: enhanced view", "capture", j.id, "err", err)
	}
	// Outline first: it is what the photographer checks before sealing.
	sort.SliceStable(views, func(a, b int) bool { return views[a].Outline && !views[b].Outline })
	j.enh, j.enhPics = views, pics
}

// developAdvice is what the review says when the enhanced view could not
// be made.
func developAdvice(err error) string {
	if errors.Is(err, context.Canceled) {
		return "The enhanced view was not made: the kiosk was stopping. The pictures are safe."
	}
	if strings.Contains(err.Error(), "registering") {
		return "The bands could not be lined up with the reference picture: check that nothing moved, and retake the band that looks shifted."
	}
	return "The enhanced view could not be made. The pictures are safe; you can still seal them, or retake a picture."
}

// screenPicture decodes a derivative's PNG and shrinks it for the screen
// with disintegration/imaging, as an 8-bit PNG. It is never evidence: the
// derivative sealed is the PNG made by its recipe.
func screenPicture(body []byte) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	var small image.Image = img
	if b := img.Bounds(); b.Dx() > enhancedWidth || b.Dy() > enhancedWidth {
		small = imaging.Fit(img, enhancedWidth, enhancedWidth, imaging.Box)
	}
	var out bytes.Buffer
	if err := png.Encode(&out, small); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// enhancedPicture serves the n-th picture of the enhanced view.
func (k *Kiosk) enhancedPicture(c *gin.Context) {
	j, ok := k.jobOf(c)
	n, err := strconv.Atoi(strings.TrimSuffix(c.Param("n"), ".png"))
	if !ok || err != nil {
		c.Status(http.StatusNotFound)
		return
	}
	j.mu.Lock()
	var b []byte
	if n >= 0 && n < len(j.enhPics) {
		b = j.enhPics[n]
	}
	j.mu.Unlock()
	if b == nil {
		c.Status(http.StatusNotFound)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "image/png", b)
}
