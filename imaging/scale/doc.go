// Package scale finds the ABFO No. 2 photographic scale in a 16-bit
// monochrome frame and measures, from its three printed circles, how many
// millimetres of skin a pixel covers and how far the camera is from square
// to the skin.
//
// # The scale
//
// The ABFO No. 2 is an L of two 105 mm arms with three circles: one at the
// corner and one near each arm's end, their centres 85 mm apart along each
// arm (Geometry, ABFO2). Laid in the plane of an injury, it tells the
// frame's scale; photographed obliquely, its circles become ellipses, which
// tells the camera's tilt.
//
// # How the circles are found
//
// The frame is area-averaged down to about 1000 pixels across (which also
// averages its noise away) and stretched to 8 bits between its 0.5th and
// 99.9th percentiles. An adaptive threshold marks what is darker than its
// surroundings, and the outlines (gocv FindContours) of marked regions that
// have a hole in the middle, are elliptical inside and out (area against
// the ellipse of the outline's own moments, every outline point's distance
// from that ellipse) and have a concentric hole, are candidate rings. It
// works the same under white light and behind barrier filters: the scale is
// printed on a fluorescent white base, so its black rings stay dark against
// a bright base in every band.
//
// Among the candidates, three are the scale's if one view explains them:
// taking circle i as the corner and j, k as the arms' ends, the linear map
// M = [cj − ci, ck − ci] / 85 mm from the scale's millimetres to pixels
// predicts the outline of every printed circle (a 10 mm disc through M);
// the triple and corner whose predicted outlines match the found ones best
// win, and a best mismatch over 30 % means no scale (ErrNoScale).
//
// # How they are measured
//
// Each circle is then measured at full resolution: the pixels of a band
// around the ring are weighed by how dark they are between the white base
// inside the ring and the ring's print (a linear ramp, so that a pixel the
// edge crosses counts in part), and the weighted centroid gives the centre
// to a small fraction of a pixel, the weighted second moment the ring's
// ellipse.
//
// The three centres fix M exactly. Under the weak-perspective view of a
// camera a third of a metre from the skin, M is a rotation, a uniform scale
// and a foreshortening by cos(tilt) across the tilt axis, so its singular
// values s1 ≥ s2 give the scale along the tilt axis (1/s1 mm per pixel),
// across it (1/s2) and the tilt (cos tilt = s2/s1); the first singular
// vector is the axis's direction in the image. This is the same
// ellipticity the rings show — M maps each printed circle to its ellipse —
// read from 85 mm baselines instead of 10 mm circles, and so about ten
// times more precise: near zero tilt, cos changes slowly (cos 2° =
// 0.9994), and only a precise ratio tells 0° from 2°. The rings' own axis
// ratios give EllipseTiltDeg as an independent check.
//
// Confidence is the product of two factors, each 0–1: how well every
// ring's own shape matches the shape M predicts (1 when they agree, 0 at a
// 10 % difference), and the ring's contrast against the noise of the white
// base around it (1 from ten noise deviations up).
//
// Find needs all three circles in the frame and clear of its edge. In the
// reduced copy a ring's outline must be at least 4 pixels across its minor
// semi-axis and at most a quarter of the frame; the tests cover the
// default rig's circles, 88 pixels in radius at 4000 pixels across and 44 at
// 2000. A print other than the ABFO No. 2's needs its own Geometry.
package scale
