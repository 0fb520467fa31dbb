package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
)

// The heat map's geometry, in SVG user units (pixels).
const (
	hmCell     = 26  // side of one cell
	hmFont     = 11  // label and number font size
	hmCharW    = 7   // width of one label character, generously
	hmPad      = 8   // between labels and the grid
	hmGap      = 40  // between two kernels' panels
	hmCaption  = 34  // caption band under a panel's grid
	hmLegend   = 52  // legend band under the panels
	hmLegendW  = 220 // width of the legend's colour bar
	hmMinWidth = 300 // narrowest image, so that the legend fits
)

// hmStops is the colour scale: red at 0% conflict-free, yellow at 50%,
// green at 100%.
func hmStops() [3][3]float64 {
	return [3][3]float64{{215, 48, 39}, {254, 224, 139}, {26, 152, 80}}
}

// hmNoData is the fill of a pair with no tests.
const hmNoData = "#e6e6e6"

// hmColour is the fill of a cell whose tests are frac conflict-free.
func hmColour(frac float64) (fill string, dark bool) {
	frac = min(max(frac, 0), 1)
	stops := hmStops()
	lo, hi, t := stops[0], stops[1], frac*2
	if frac > 0.5 {
		lo, hi, t = stops[1], stops[2], frac*2-1
	}
	var c [3]int
	for i := range c {
		c[i] = int(lo[i] + (hi[i]-lo[i])*t + 0.5)
	}
	// Relative luminance, roughly: white numbers on dark cells.
	lum := 0.2126*float64(c[0]) + 0.7152*float64(c[1]) + 0.0722*float64(c[2])
	return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]), lum < 110
}

// esc is s escaped for XML text and attribute values.
func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s)) // a bytes.Buffer does not fail
	return b.String()
}

// Caption is the heat map's caption for k: "KERNEL (N of M cases scale)",
// N its conflict-free tests and M all its tests.
func (k *Kernel) Caption() string {
	tests, free := k.Totals()
	return fmt.Sprintf("%s (%d of %d cases scale)", k.Name, free, tests)
}

// pairTitle is a cell's tooltip.
func pairTitle(kernel string, s PairStats) string {
	return fmt.Sprintf("%s: %s × %s: %d tests, %d conflict-free (%.1f%%), %d conflicted",
		kernel, s.Pair.A, s.Pair.B, s.Tests, s.ConflictFree,
		100*float64(s.ConflictFree)/float64(s.Tests), s.Conflicted())
}

// WriteHeatmap writes heatmap.svg: for each kernel, side by side, the
// upper triangle of the call pairs (row call A, column call B, in the
// order of r.Calls), each cell coloured from red (no test of the pair
// conflict-free) through yellow to green (all of them), with the number
// of conflicted tests in it (none written when there are none), and
// grey where the pair has no tests. Each panel's caption says how many
// of the kernel's tests are conflict-free. The output is a standalone
// SVG 1.1 document and the same for the same report.
func (r *Report) WriteHeatmap(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="no"?>` + "\n")
	r.heatmapSVG(&b, false)
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("report: writing heatmap: %w", err)
	}
	return nil
}

// heatmapSVG writes the heat map's <svg> element to b. With data set,
// for the HTML viewer, each cell carries data-kernel, data-a and data-b
// attributes (HTML's, not SVG 1.1's: the standalone file has none).
func (r *Report) heatmapSVG(b *bytes.Buffer, data bool) {
	n := len(r.Calls)
	maxLen := 0
	for _, c := range r.Calls {
		maxLen = max(maxLen, len([]rune(c)))
	}
	labelW := maxLen*hmCharW + hmPad
	// Column labels are rotated 45°: they rise by ~0.71 of their length
	// and lean right by as much past the last column.
	labelH := maxLen*hmCharW*71/100 + hmPad + hmFont
	gridW := n * hmCell
	panelW := labelW + gridW + labelH
	for _, k := range r.Kernels {
		panelW = max(panelW, len([]rune(k.Caption()))*hmCharW+hmPad)
	}
	panels := max(len(r.Kernels), 1)
	width := max(panels*panelW+(panels-1)*hmGap+2*hmPad, hmMinWidth)
	height := hmPad + labelH + n*hmCell + hmCaption + hmLegend

	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="%d" class="heatmap">`+"\n",
		width, height, width, height, hmFont)
	fmt.Fprintf(b, "<title>%s</title>\n", esc("conflict-free call pairs: "+r.Model))
	b.WriteString(`<defs><linearGradient id="heatmap-scale" x1="0" y1="0" x2="1" y2="0">`)
	for i, s := range hmStops() {
		fmt.Fprintf(b, `<stop offset="%d%%" stop-color="#%02x%02x%02x"/>`, i*50, int(s[0]), int(s[1]), int(s[2]))
	}
	b.WriteString("</linearGradient></defs>\n")
	fmt.Fprintf(b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)

	for p, k := range r.Kernels {
		x0, y0 := hmPad+p*(panelW+hmGap)+labelW, hmPad+labelH
		fmt.Fprintf(b, `<g class="panel" transform="translate(%d,%d)">`+"\n", x0, y0)
		fmt.Fprintf(b, `<title>%s</title>`+"\n", esc(k.Caption()))
		// Labels: row A to the left of its row, column B above its column.
		for i, c := range r.Calls {
			fmt.Fprintf(b, `<text class="row-label" x="%d" y="%d" text-anchor="end" dominant-baseline="central">%s</text>`+"\n",
				-hmPad/2, i*hmCell+hmCell/2, esc(c))
			cx, cy := i*hmCell+hmCell/2, -hmPad/2
			fmt.Fprintf(b, `<text class="col-label" x="%d" y="%d" transform="rotate(-45 %d %d)">%s</text>`+"\n",
				cx, cy, cx, cy, esc(c))
		}
		stats := map[Pair]PairStats{}
		for _, s := range k.Pairs(r.Calls) {
			stats[s.Pair] = s
		}
		for i, a := range r.Calls {
			for j := i; j < n; j++ {
				bc := r.Calls[j]
				x, y := j*hmCell, i*hmCell
				s, ok := stats[Pair{a, bc}]
				if !ok {
					fmt.Fprintf(b, `<rect class="nodata" x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="#ffffff"><title>%s</title></rect>`+"\n",
						x, y, hmCell, hmCell, hmNoData, esc(fmt.Sprintf("%s: %s × %s: no tests", k.Name, a, bc)))
					continue
				}
				fill, dark := hmColour(float64(s.ConflictFree) / float64(s.Tests))
				b.WriteString(`<g class="cell"`)
				if data {
					fmt.Fprintf(b, ` data-kernel="%s" data-a="%s" data-b="%s"`, esc(k.Name), esc(a), esc(bc))
				}
				fmt.Fprintf(b, `><title>%s</title>`, esc(pairTitle(k.Name, s)))
				fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="#ffffff"/>`, x, y, hmCell, hmCell, fill)
				if c := s.Conflicted(); c > 0 {
					ink := "#1a1a1a"
					if dark {
						ink = "#ffffff"
					}
					fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" dominant-baseline="central" fill="%s">%d</text>`,
						x+hmCell/2, y+hmCell/2, ink, c)
				}
				b.WriteString("</g>\n")
			}
		}
		fmt.Fprintf(b, `<text class="caption" x="%d" y="%d" text-anchor="middle" font-size="%d" font-weight="bold">%s</text>`+"\n",
			gridW/2, n*hmCell+hmCaption/2+hmFont/2, hmFont+2, esc(k.Caption()))
		b.WriteString("</g>\n")
	}

	// Legend: the colour scale, and what grey and the numbers mean.
	lx, ly := hmPad, height-hmLegend+hmPad
	fmt.Fprintf(b, `<g class="legend" transform="translate(%d,%d)">`+"\n", lx, ly)
	fmt.Fprintf(b, `<rect x="0" y="0" width="%d" height="10" fill="url(#heatmap-scale)" stroke="#999999"/>`+"\n", hmLegendW)
	fmt.Fprintf(b, `<text x="0" y="24">0%%</text><text x="%d" y="24" text-anchor="middle">50%%</text><text x="%d" y="24" text-anchor="end">100%% conflict-free</text>`+"\n",
		hmLegendW/2, hmLegendW)
	fmt.Fprintf(b, `<text x="0" y="38" fill="#555555">numbers: conflicted tests; grey: no tests</text>`+"\n")
	b.WriteString("</g>\n</svg>\n")
}
