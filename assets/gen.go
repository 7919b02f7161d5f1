//go:build ignore

// gen draws VetBridge's icons. The icons are generated rather than drawn by hand
// so that the tray set stays consistent (same geometry, only the state colour
// changes) and can be regenerated when the palette changes:
//
//	go run gen.go
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

// Supersampling each pixel gives smooth edges without an external rasteriser.
const samples = 4

type shape func(x, y float64) bool

func roundedSquare(size, radius float64) shape {
	return func(x, y float64) bool {
		cx := math.Max(radius, math.Min(size-radius, x))
		cy := math.Max(radius, math.Min(size-radius, y))
		return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= radius*radius
	}
}

func circle(cx, cy, r float64) shape {
	return func(x, y float64) bool { return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r }
}

// plus is a medical cross centred at (cx, cy): arm is the half length, w the half width.
func plus(cx, cy, arm, w float64) shape {
	return func(x, y float64) bool {
		dx, dy := math.Abs(x-cx), math.Abs(y-cy)
		return (dx <= w && dy <= arm) || (dy <= w && dx <= arm)
	}
}

type layer struct {
	s shape
	c color.NRGBA
}

func render(size int, layers ...layer) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64
			for sy := 0; sy < samples; sy++ {
				for sx := 0; sx < samples; sx++ {
					x := float64(px) + (float64(sx)+0.5)/samples
					y := float64(py) + (float64(sy)+0.5)/samples
					// The topmost layer that covers the sample wins.
					for i := len(layers) - 1; i >= 0; i-- {
						if layers[i].s(x, y) {
							c := layers[i].c
							fa := float64(c.A) / 255
							r += float64(c.R) * fa
							g += float64(c.G) * fa
							b += float64(c.B) * fa
							a += fa
							break
						}
					}
				}
			}
			n := float64(samples * samples)
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(r / a), G: uint8(g / a), B: uint8(b / a), A: uint8(255 * a / n),
			})
		}
	}
	return img
}

func save(name string, img image.Image) {
	f, err := os.Create(name)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

var (
	teal  = color.NRGBA{0x0f, 0x76, 0x6e, 0xff}
	white = color.NRGBA{0xff, 0xff, 0xff, 0xff}
)

func main() {
	const app = 256
	save("icon.png", render(app,
		layer{roundedSquare(app, 56), teal},
		layer{plus(app/2, app/2, 78, 26), white},
	))

	// Tray icons: the cross on a disc whose colour is the state, plus a badge for
	// states that must be told apart without relying on colour alone.
	const tray = 64
	badge := circle(50, 50, 12)
	for _, t := range []struct {
		name  string
		disc  color.NRGBA
		badge *color.NRGBA
	}{
		{"tray-ok.png", color.NRGBA{0x16, 0xa3, 0x4a, 0xff}, nil},
		{"tray-syncing.png", color.NRGBA{0x25, 0x63, 0xeb, 0xff}, &color.NRGBA{0xff, 0xff, 0xff, 0xff}},
		{"tray-offline.png", color.NRGBA{0xd9, 0x77, 0x06, 0xff}, &color.NRGBA{0x44, 0x44, 0x44, 0xff}},
		{"tray-error.png", color.NRGBA{0xdc, 0x26, 0x26, 0xff}, &color.NRGBA{0xff, 0xd6, 0x00, 0xff}},
		{"tray-signedout.png", color.NRGBA{0x8a, 0x8f, 0x98, 0xff}, nil},
	} {
		layers := []layer{
			{circle(32, 32, 31), t.disc},
			{plus(32, 32, 19, 7), white},
		}
		if t.badge != nil {
			layers = append(layers, layer{circle(50, 50, 13), t.disc}, layer{badge, *t.badge})
		}
		save(t.name, render(tray, layers...))
	}
}
