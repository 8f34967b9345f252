// Package register aligns the bands of a capture to a reference band.
package register
