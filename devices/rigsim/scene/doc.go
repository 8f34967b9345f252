// Package scene is the simulated rig's subject: a patch of skin with
// bruises and an ABFO No. 2 scale, seen by the kiosk camera at a known
// geometry. It computes, for each light-engine band and barrier filter,
// how much light every pixel sends to the sensor (a Layer), and the ground
// truth (Truth) that imaging code is scored against. The camera simulator
// (devices/camera/camsim) turns layers into frames: exposure, gain, noise,
// motion, timing.
//
// Everything is deterministic from Config: the same seed gives the same
// bruises, scale pose and skin texture, to the bit.
//
// # Geometry
//
// The camera looks at a flat skin plane from DistanceMM through a lens of
// FocalMM onto a sensor SensorWidthMM wide, so one pixel covers
// SensorWidthMM/Width × (DistanceMM − FocalMM)/FocalMM millimetres at the
// plane (thin lens; 0.0566 mm at the defaults, 4000 × 3000 pixels covering
// 226 × 170 mm). The plane may be tilted by TiltDeg degrees about an axis
// at TiltAxisDeg degrees in the image; the projection is weak-perspective
// (affine): a tilted plane is foreshortened by cos(TiltDeg) across the
// axis, uniformly — no perspective gradient. Bruise outlines, areas and the scale are defined in plane
// millimetres and rendered through that mapping, so circles on the scale
// become ellipses with axis ratio cos(TiltDeg), as they do in an oblique shot.
//
// # Reflectance model
//
// Light is followed at six wavelengths, the rows of the physics table in
// /work/shared/domain/imaging.md: 365, 415, 450, 540, 600 and 850 nm. The
// 535 nm LED uses the 540 nm row; white light is 25 % 450 nm (the LED's
// blue pump), 40 % 540 nm and 35 % 600 nm (its phosphor).
//
// Skin returns specular glare plus diffuse light that crossed the
// epidermis twice:
//
//	R = G + Rd(λ) · exp(−2 · μmel(λ, group) · d)
//
// where
//
//   - G, glare: 4 % of the incident light, times the ring light's fall-off,
//     plus a few specular hot spots where the skin faces the light (up to
//     +25 %). Spectrally flat. Cross-polarised white keeps 3 % of it.
//   - μmel: the table's melanin absorption, "light" for skin group 2 and
//     "dark" for group 5 (matched to the ColorChecker "light skin" and
//     "dark skin" patches); groups 1, 3, 4, 6 are geometric interpolation
//     and extrapolation (× 0.54, 1.84, 3.39, 11.5 of "light").
//   - d = 44 µm, the effective melanin path, chosen so that the two
//     ColorChecker anchors at 415 nm (0.19 and 0.062) come out of one
//     dermal reflectance. Rd(415) = 0.235 and Rd(450) = 0.246 follow from
//     the anchors; Rd at 365, 540, 600 and 850 nm (0.17, 0.32, 0.52, 0.60)
//     are assumed typical values, not from the domain table. With them
//     "dark skin" at 450 nm is 0.091 (anchor ≈ 0.062), and at 600 nm 0.36
//     (the anchor's 0.19 at 700 nm is not reproduced: the table's λ^-3.48
//     melanin scaling leaves too little melanin absorption in the red).
//
// A bruise is extra, deoxygenated blood at depth z under the skin, and
// later bilirubin. It removes a fraction A of the diffuse light:
//
//	A(λ) = k · [ hb(age)·w_hb(x)·Chb(λ) + bil(age)·w_bil(x)·Cbil(λ) ] · exp(−2z / reach(λ))
//	Chb(λ) = min(1, 1 − exp(−L·μa_deoxy(λ)) + c0)
//
// with the table's deoxy-blood μa and reach. L = 21 µm and c0 = 0.085
// (a wavelength-independent loss: oedema, scattering change) are fitted,
// with a "superficial" depth of 58 µm, to the model's diffuse-only
// contrasts for a superficial fresh bruise (dark skin, cross-polarised:
// 38 % at 415 nm, 54 % at 450 nm, 9 % at 850 nm — glare removed, so
// melanin cancels). k = 0.6 scales these optimistic anchors down so that
// white light shows the faint visibility seen in practice. Bilirubin
// absorbs with a relative spectrum peaking at 450–460 nm (1.0 at 450,
// 0.55 at 415, 0.3 at 365, ~0 from 540 nm); Cbil(450) = 0.4 for a mature
// superficial rim (an assumption). Depth enters only through
// exp(−2z/reach): deep bruises fade first at short wavelengths, as the
// table's reach column says.
//
// Age (simplified; colour-based bruise ageing is unreliable and this does
// not claim otherwise): haemoglobin hb = exp(−age/6 d), filling the whole
// bruise while fresh and shrinking to a core of 55 % of the radius by day
// 8; bilirubin appears from day 2 as a rim between core and edge, peaking
// around day 6–8.
//
// # Barrier filters and fluorescence
//
// The filters are long-pass: yellow from 500 nm, orange 550 nm, red 600 nm,
// IR-pass 720 nm (passing 90 %, blocking to 0.1 %). Behind a filter that
// blocks the band, the camera sees no reflected light and no glare — only
// the skin's autofluorescence excited by the band, emitted at 540 nm (70 %)
// and 600 nm (30 %) — and a bruise darkens it twice, absorbing the
// excitation on the way in and the emission on the way out:
//
//	F = η(λex) · Tepi(λex) · Tepi(λem) · (1 − A(λex)) · (1 − A(λem))
//
// for the share (1 − s) of the fluorescence that arises in the dermis; the
// share s that arises in the top of the epidermis, above melanin and
// bruise, is seen unattenuated. Relative yields η: 0.030 (365 nm), 0.025
// (415), 0.015 (450), 0.003 (535); epidermal shares s: 0.70 (365: UV is
// absorbed before it reaches the dermis, which is why UV is poor for
// bruises), 0.05 (415), 0.03 (450), 0.60 (535: the red fluorescence under
// green light comes mostly from porphyrins at the surface — the model's
// reading of the finding that 515/535 nm with a red filter made bruises
// less visible).
//
// This is why 415/450 nm with a yellow filter give the highest contrast,
// on dark skin too: glare, which dilutes the contrast of the dim diffuse
// light of dark skin, is gone, and melanin cancels out of the dermal
// part. It is also why those frames are dim: η is a few percent, so
// exposures are long or gain high, and camsim's noise grows accordingly.
// For a fresh bruise 0.1 mm deep the model gives, light skin (group 2) /
// darkest (group 6): white 0.13 / 0.10, cross-polarised white 0.14 / 0.13,
// 415 nm unfiltered 0.09 / 0.05, 415 nm + yellow 0.21 / 0.17, 450 nm +
// yellow 0.31 / 0.29, 535 nm + red 0.12 / 0.08, 850 nm 0.04 / 0.04, 365 nm
// + yellow 0.08 / 0.01 (TestModelOrdering checks the ordering). The model
// puts 450 nm above 415 nm in contrast; 415 nm's advantage in the trials
// is partly brightness (η), which shows here as less noise.
//
// The simulated ABFO scale is printed on a fluorescent white base (as
// scales made for alternate-light photography are), so it stays visible
// behind the filters; its black print and 18 % grey areas do not
// fluoresce.
//
// # Simplifications
//
// One flat plane, weak perspective, no shadows, no colour (the sensor is
// monochrome), no sub-surface blur of the bruise edge beyond its soft
// profile, no hair or pores beyond a 2-octave value-noise texture (±4 %
// at 5 mm, ±2 % at 1 mm), bruises never overlap each other or the scale.
package scene
