// Package quality judges each captured frame before the photographer moves
// on: is it sharp, is it exposed without losing detail to white or to
// black, has the skin or the camera moved since the reference band, and is
// the ABFO No. 2 scale in view and square to the camera. Each gate returns
// a Finding — gate, level (ok, warn, fail), the value measured, the limit
// it was judged against, and a message in plain words that says what to do
// ("The scale is tilted 14° — hold the camera square to the skin, then take
// this band again.").
//
// Frames are 16-bit monochrome *camera.Frame, as the drivers return them;
// the gates only read them. Limits are in Thresholds; Defaults documents
// each default and a zero field takes it. Thresholds.Frame runs every gate.
//
// # Focus
//
// The focus score is the variance of the Laplacian (3 × 3, gocv Laplacian
// at full resolution), made comparable across bands in two steps:
//
//   - Noise removed. Sensor noise has a Laplacian too, and dim
//     barrier-filtered bands, exposed long or at high gain, are noisy: left
//     in, the noise of a blurred 535 nm frame scores higher than a sharp
//     white-light one. Most of a frame is smooth skin, where the Laplacian
//     is noise, so the median absolute Laplacian × 1.4826 estimates the
//     noise's standard deviation σ, and σ² is taken off the variance.
//   - Brightness removed. What is left is edge energy, which grows with the
//     square of the frame's contrast. It is divided by the square of the
//     frame's span, its 99.9th minus its 0.1st percentile, so that a frame
//     twice as bright (longer exposure, more gain, a brighter band) scores
//     the same. The span is used rather than the mean, because the mean
//     depends on how much dark skin the frame shows while the span is set by
//     the scale's white base and black print, present in every frame.
//
// The score is 10⁴ × (variance − σ²) / span². On the simulated rig, sharp
// 12 MP frames score 19–24 in every band on every skin group; a Gaussian
// blur of σ = 1.5 pixels brings them to about 1 and σ = 2 to 0.3. Defaults:
// warn below 10, fail below 5, set for the kiosk's 12 MP camera: the score
// depends on how many pixels an edge spans, and sharp frames of the same
// scene at 2000 × 1500 score about 50. The score needs sharp detail in the frame —
// which the scale, required in every frame, provides; a frame of bare skin
// scores low however well it is focused.
//
// # Exposure
//
// Two shares of the frame's pixels: at or above 98 % of full scale (detail
// lost to white; warn above 0.1 %, fail above 1 %), and at or below 0.2 %
// of full scale, the noise floor (detail lost to black; warn above 10 %,
// fail above 30 %). Behind a barrier filter the scale's black print does not
// fluoresce and sits at the floor: about 1 % of a frame of the simulated
// rig.
//
// # Motion
//
// EstimateShift measures the translation between the reference band's
// frame and this one by phase correlation (gocv PhaseCorrelate) on copies
// reduced to about 2000 pixels across and high-passed, so that what the
// bands share (the scale's print, skin texture, edges) counts and what they
// do not (overall brightness, which differs by orders of magnitude between
// bands) does not. On the simulated rig it finds the hand motion within
// 0.15 pixel in every band. With a scale, the message gives the distance
// on the skin in millimetres too. Defaults: warn above 20 pixels, fail
// above 100: registration takes out small shifts, large ones mean the
// person or the camera moved.
//
// # Scale
//
// imaging/scale finds the scale's three circles. No scale fails (the frame
// cannot be measured); a tilt above 10° warns with the tilt in the message
// (lengths across the tilt axis are foreshortened by cos tilt, and the
// bruise outline with them); a scale found with low confidence warns.
package quality
