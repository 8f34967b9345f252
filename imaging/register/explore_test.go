package register

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/exhibit-forensics/exhibit/devices/camera"
)

func TestExplore(t *testing.T) {
	if os.Getenv("EXPLORE") == "" {
		t.Skip()
	}
	w, h := 4000, 3000
	if os.Getenv("SMALL") != "" {
		w, h = 2000, 1500
	}
	cfgs := map[string]Config{
		"grad84": {},
		"int84":  {Normalise: Intensity},
		"grad42": {Levels: []int{4, 2}},

		"grad4":   {Levels: []int{4}},
		"grad842": {Levels: []int{8, 4, 2}},

		"aff84": {Motion: Affine},
	}
	for skin := 1; skin <= 6; skin++ {
		r := newRig(t, 7, skin, w, h)
		ref, ro := r.shoot(t, shotWhite)
		var frames []bandFrame
		for _, s := range testShots[1:] {
			f, o := r.shoot(t, s)
			mean := 0.0
			for _, v := range f.Pix {
				mean += float64(v)
			}
			frames = append(frames, bandFrame{s.name, f, o, mean / float64(len(f.Pix))})
		}
		for name, cfg := range cfgs {
			reg, err := New(ref, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, bf := range frames {
				t0 := time.Now()
				est, err := reg.Estimate(context.Background(), bf.f)
				el := time.Since(t0)
				wx, wy := float64(ro[0]-bf.off[0]), float64(ro[1]-bf.off[1])
				tx, ty := est.Warp.Translation()
				fmt.Printf("skin %d %-8s %-12s mean %6.0f want (%+.0f,%+.0f) got (%+.3f,%+.3f) err (%+.3f,%+.3f) rot %+.4f rho %.3f res %.3f %v %v\n",
					skin, name, bf.name, bf.mean, wx, wy, tx, ty, tx-wx, ty-wy, est.Warp.RotationDeg(), est.Correlation, est.Residual, el.Round(time.Millisecond), err)
			}
			reg.Close()
		}
	}
}

type bandFrame struct {
	name string
	f    *camera.Frame
	off  [2]int
	mean float64
}
