// Package measure finds bruises in a registered band frame and measures
// them: area in mm², major and minor axes in mm, orientation, centroid, and
// an outline to draw over a preview.
//
// # Method
//
// A bruise is blood (and, after a few days, bilirubin) under the skin that
// absorbs light, so it shows as skin darker than it would be there. The
// measurement works on a contrast map
//
//	c = 1 − band / skin baseline
//
// 0 on skin, positive on a bruise (0.2: 20 % darker than the skin around).
// Step by step, on the frame block-averaged Params.Reduce × Reduce:
//
//  1. Reference. If a reference frame is given — 850 nm, which haemoglobin
//     and bilirubin hardly absorb, registered to the band — the band is
//     divided by it. The skin's texture and the light's fall-off are the
//     same in both and cancel; melanin largely too. What is left is the
//     bruise, and the skin's scatter drops about tenfold (the simulator:
//     σ 0.010 → 0.0007). The reference's specular hot spots, which would
//     show as dark spots in the ratio, are found against its own baseline
//     (brighter by Params.GlareSigmas σ, widened by Params.ExcludeMarginMM
//     to take in their tails). The band there is still good — behind a
//     barrier filter it carries no glare — so the reference is not left
//     out but estimated: its baseline times the skin's texture averaged
//     over the skin around the hot spot (Gaussian weights of
//     ExcludeMarginMM, a normalised convolution). The texture under the
//     spot is then not cancelled, so those pixels serve the outline
//     (step 5) but not the skin's statistics, the baseline or the
//     detection (steps 2–4), which use the trusted skin only.
//  2. Skin baseline: a polynomial of degree Params.BaselineDegree in x and
//     y, fitted by least squares to the logarithm of the band (or ratio),
//     three times, each time leaving out pixels far from the last fit
//     (robust σ from the median absolute deviation: darker than −2σ, a
//     bruise; brighter than +2.5σ, glare), so that neither bruises nor hot
//     spots pull the skin's level towards themselves.
//  3. Smoothing: a wide Gaussian (Params.DetectSmoothMM) for detection and a
//     narrow one (Params.SmoothMM) for the outline.
//  4. Detection, with a threshold from the skin's own statistics: median +
//     k·σ of the wide map (k = Params.DetectSigmas; bruises cover a minority
//     of the frame, so the median absolute deviation is the skin's), on
//     trusted skin (the wide map is 0 under the reference's hot spots). The
//     pixels above it are split into one basin per peak, highest first;
//     where two basins meet, the lower one stays a bruise of its own only if
//     its peak rises k·σ above the meeting point. Two bruises close together
//     are measured apart, and noise on one bruise's plateau does not split
//     it.
//  5. Outline. A bruise fades out at its edge, so "where it ends" needs a
//     definition: here, where its contrast has fallen to half
//     (Params.OutlineFraction) of what it is at the top of its outer edge —
//     the simulator's ground truth defines the outline the same way, where
//     the bruise's weight is half. The top of the edge is read as the
//     median of the narrow map on a ring inside the region that reaches
//     down to a tenth of the peak (Params.TailFraction), at
//     Params.EdgeDepth × its equivalent radius from its edge. The default,
//     0.15, was tuned on the simulator's bruises, whose soft edge spans
//     ±12 % of their radius (0.13 to 0.19 kept them within ±10 %; 0.15
//     centres the errors of young and old ones); real bruises may want
//     another. Reading the edge rather than the peak matters for an
//     older bruise, whose dark haemoglobin core is surrounded by a paler
//     bilirubin rim that is still bruise. The region grows over its basin
//     and the reference's hot spots down to that level, holes are filled,
//     and regions under Params.MinAreaMM2 are dropped. Regions whose
//     outlines touch along a millimetre or more are one bruise, outlined
//     again as one: between them the contrast never fell to the outline's
//     level, only the basins' dividing line ran there. An older bruise
//     whose core is paler than its rim has several peaks along the rim,
//     and its basins would otherwise cut it into pieces; two bruises apart
//     have skin below their outlines between them and stay two.
//  6. Measurement. Area is the pixel count × (mm per pixel)². The axes are
//     those of the ellipse with the region's second moments (for a filled
//     ellipse of semi-axes a and b the variances along its axes are a²/4
//     and b²/4): major = 4·√λ₁, minor = 4·√λ₂.
//
// Millimetres per pixel are an input (the scale package measures them from
// the ABFO No. 2 reference); the frame must be square to the skin (the
// quality gates refuse a tilted one), since one figure serves both axes.
// The scale itself is no skin: its outline goes in Params.Exclude, and the
// measurement leaves it out with a margin.
//
// Which band: 450 nm behind the orange filter, against 850 nm. Haemoglobin
// and bilirubin both absorb at 450 nm, so the whole bruise shows, the
// yellowing rim of an older one included; at 415 nm bilirubin absorbs
// about half as much and an older bruise's rim hardly shows, so 415 nm +
// yellow measures its haemoglobin core. docs/imaging-accuracy.md has the
// figures against the simulator's ground truth, per skin group and band.
//
// # Methods
//
// Params.Method names the method, so that a derivative's recipe can be
// run again by the method that made it. 1 (MethodGlareMasked) left the
// reference's hot spots out of the skin altogether, cutting them out of
// any bruise they fell on, and outlined every basin on its own; 2
// (MethodGlareFilled, the latest and the default) is the method above.
// Parameters decoded from JSON without a "method" member — recipes
// written before the field — are method 1's, and give its results to the
// bit (TestMethodGlareMaskedUnchanged). docs/imaging-accuracy.md has what
// the change did.
//
// Measure is a deterministic function of its frames and parameters: the
// arithmetic is Go's, summed in a fixed order, and OpenCV's Gaussian blur,
// morphology and polygon filling compute each pixel from a fixed
// neighbourhood, whichever of OpenCV's threads does it (TestDeterministic,
// and the golden files, which every run since they were written has
// matched). Not verified: the same bytes on a CPU where OpenCV picks other
// vector instructions for the float blur. The Result carries the Step that
// records the parameters, for the derivative's recipe; Overlay draws the
// outlines on an 8-bit preview and returns its own Step.
package measure
