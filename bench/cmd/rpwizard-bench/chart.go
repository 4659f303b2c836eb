package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
)

// A small hand-rolled bar chart (no chart library is available offline):
// horizontal bars with labels in a 5×7 pixel font, scaled ×2.

var glyphs = map[rune][7]string{
	'0': {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1': {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2': {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3': {"####.", "....#", "....#", ".###.", "....#", "....#", "####."},
	'4': {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5': {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6': {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7': {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8': {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9': {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B': {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D': {"###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."},
	'E': {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G': {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H': {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I': {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J': {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K': {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L': {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O': {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q': {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S': {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T': {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U': {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V': {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X': {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y': {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z': {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	' ': {".....", ".....", ".....", ".....", ".....", ".....", "....."},
	'.': {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	',': {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."},
	'-': {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	':': {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."},
	'/': {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."},
	'(': {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."},
	')': {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."},
	'%': {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"},
	'+': {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."},
	'=': {".....", ".....", "#####", ".....", "#####", ".....", "....."},
	'<': {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."},
	'>': {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."},
	'_': {".....", ".....", ".....", ".....", ".....", ".....", "#####"},
}

const scale = 2

type canvas struct{ img *image.RGBA }

func (c canvas) rect(x0, y0, x1, y1 int, col color.Color) {
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			c.img.Set(x, y, col)
		}
	}
}

// text draws s at (x, y) (top left) and returns its width in pixels.
func (c canvas) text(x, y int, s string, col color.Color) int {
	start := x
	for _, r := range strings.ToUpper(s) {
		g, ok := glyphs[r]
		if !ok {
			g = glyphs[' ']
		}
		for row, line := range g {
			for colIdx, ch := range line {
				if ch == '#' {
					c.rect(x+colIdx*scale, y+row*scale, x+(colIdx+1)*scale, y+(row+1)*scale, col)
				}
			}
		}
		x += 6 * scale
	}
	return x - start
}

func textWidth(s string) int { return len([]rune(s)) * 6 * scale }

// bar is one bar of a panel.
type bar struct {
	Label   string
	Value   float64
	Lo, Hi  float64 // range whisker (NaN: none)
	Caption string  // printed after the bar
	Color   color.RGBA
}

type panel struct {
	Title string
	Bars  []bar
}

var (
	colRpwizard = color.RGBA{0x2b, 0x7a, 0x3d, 0xff}
	colOther    = color.RGBA{0x8a, 0x8f, 0x98, 0xff}
	colBackend  = color.RGBA{0x4a, 0x6f, 0xa5, 0xff}
)

// drawChart renders panels one below the other.
func drawChart(panels []panel) []byte {
	const width, labelW, margin, barH, gap = 1400, 560, 20, 22, 8
	height := margin
	for _, p := range panels {
		height += 30 + len(p.Bars)*(barH+gap) + 24
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	c := canvas{img}
	c.rect(0, 0, width, height, color.White)
	black := color.RGBA{0x20, 0x20, 0x20, 0xff}
	y := margin
	for _, p := range panels {
		c.text(margin, y, p.Title, black)
		y += 30
		maxV := 0.0
		for _, b := range p.Bars {
			maxV = math.Max(maxV, b.Value)
			if !math.IsNaN(b.Hi) {
				maxV = math.Max(maxV, b.Hi)
			}
		}
		plotW := width - labelW - margin - 260
		for _, b := range p.Bars {
			c.text(margin, y+4, b.Label, black)
			x0 := labelW
			w := 0
			if maxV > 0 && !math.IsNaN(b.Value) {
				w = int(b.Value / maxV * float64(plotW))
			}
			c.rect(x0, y, x0+w, y+barH, b.Color)
			if !math.IsNaN(b.Lo) && !math.IsNaN(b.Hi) && maxV > 0 {
				lo, hi := x0+int(b.Lo/maxV*float64(plotW)), x0+int(b.Hi/maxV*float64(plotW))
				c.rect(lo, y+barH/2-1, hi+1, y+barH/2+1, black)
				c.rect(lo, y+4, lo+2, y+barH-4, black)
				c.rect(hi-1, y+4, hi+1, y+barH-4, black)
			}
			end := x0 + max(w, 0)
			if !math.IsNaN(b.Hi) && maxV > 0 {
				end = max(end, x0+int(b.Hi/maxV*float64(plotW)))
			}
			c.text(end+10, y+4, b.Caption, black)
			y += barH + gap
		}
		y += 24
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

// chart draws the headline figures: time to HTTPS and keep-alive req/s.
func (r *results) chart() []byte {
	var panels []panel
	for _, ca := range uniqueCAs(r.HTTPS) {
		p := panel{Title: "Time to verified HTTPS, seconds (median, min-max) - " + ca}
		for _, h := range r.HTTPS {
			if h.CA != ca || h.S.N == 0 {
				continue
			}
			col := colOther
			name := "certbot"
			if strings.HasPrefix(h.Contestant, "rpwizard") {
				col, name = colRpwizard, "rpwizard"
			}
			p.Bars = append(p.Bars, bar{Label: name + " " + h.Server, Value: h.S.Median, Lo: h.S.Min, Hi: h.S.Max,
				Caption: fmt.Sprintf("%.2f s", h.S.Median), Color: col})
		}
		if len(p.Bars) > 0 {
			panels = append(panels, p)
		}
	}
	for _, mode := range []string{"keep-alive", "Connection: close"} {
		p := panel{Title: "Proxy throughput, requests/s, wrk 64 connections, " + mode}
		for _, t := range r.Tput {
			s := t.KARPS
			if mode != "keep-alive" {
				s = t.CloseRPS
			}
			if s.N == 0 {
				continue
			}
			col := colOther
			switch {
			case strings.HasPrefix(t.Config, "rpwizard"):
				col = colRpwizard
			case strings.HasPrefix(t.Config, "backend"):
				col = colBackend
			}
			p.Bars = append(p.Bars, bar{Label: shortConfig(t.Config), Value: s.Median, Lo: s.Min, Hi: s.Max,
				Caption: fmt.Sprintf("%.0f", s.Median), Color: col})
		}
		if len(p.Bars) > 0 {
			panels = append(panels, p)
		}
	}
	if len(panels) == 0 {
		panels = []panel{{Title: "no results"}}
	}
	return drawChart(panels)
}

func shortConfig(s string) string {
	return strings.NewReplacer("(JATOS doc)", "", " + upstream keepalive by hand", " + keepalive", "(no proxy, no TLS)", "(no TLS)").Replace(s)
}

func uniqueCAs(hs []httpsResult) []string {
	var out []string
	seen := map[string]bool{}
	for _, h := range hs {
		if !seen[h.CA] {
			seen[h.CA] = true
			out = append(out, h.CA)
		}
	}
	return out
}
