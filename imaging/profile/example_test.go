package profile_test

import (
	"fmt"

	"github.com/exhibit-forensics/exhibit/imaging/profile"
)

// A capture session walks a profile's shots in order: the band and filter
// to set on the light engine, and the settings to give the camera.
func ExampleLookup() {
	p, err := profile.Lookup("injury-standard@1")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range p.Shots {
		fmt.Printf("%-10s %-4s %-4s %3d%%  %-6v gain %-2v optional=%-5v interlock=%-5v reference=%v\n", s.ID,
			s.Band.Token(), s.Filter.Token(), s.Level, s.Camera.Exposure, s.Camera.Gain, s.Optional, s.Interlock, s.Reference)
	}
	// Output:
	// locator    WL   NONE  80%  10.6ms gain 1  optional=false interlock=false reference=false
	// white-xpol XPW  NONE  80%  44ms   gain 1  optional=false interlock=false reference=true
	// 415-yellow 415  YEL   80%  64ms   gain 4  optional=false interlock=true  reference=false
	// 450-orange 450  ORG   80%  153ms  gain 8  optional=false interlock=false reference=false
	// 850-irpass 850  IRP   80%  17ms   gain 1  optional=false interlock=false reference=false
	// 365-yellow 365  YEL   80%  138ms  gain 4  optional=true  interlock=true  reference=false
}
