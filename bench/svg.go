package bench

import (
	"bytes"
	"fmt"
	"math"
	"strings"
)

// barChart is a horizontal grouped bar chart: one group of bars per label
// (a mode), one bar per series, with optional min–max whiskers. A label
// whose values are nil is drawn with its Missing text instead of bars.
type barChart struct {
	Title, Subtitle, Unit string
	Series                []string
	Labels                []string
	Values                [][]float64 // [label][series]
	Lo, Hi                [][]float64 // whiskers, same shape as Values; nil for none
	Missing               []string    // per label, shown when Values[i] is nil
	Highlight             string      // label drawn bold, with a dashed line at its first value
}

var seriesColors = []string{"#4C78A8", "#F58518", "#54A24B", "#B279A2"}

const (
	chartWidth  = 820
	chartLeft   = 150 // label column
	chartRight  = 130 // room for the value and ratio printed after a bar
	chartTop    = 78
	barHeight   = 14
	barGap      = 2
	groupMargin = 10
)

// SVG renders the chart as a standalone SVG document.
func (c barChart) SVG() []byte {
	plotW := float64(chartWidth - chartLeft - chartRight)
	groupH := len(c.Series)*(barHeight+barGap) + groupMargin
	height := chartTop + len(c.Labels)*groupH + 40
	scale := niceMax(c.maxValue())
	x := func(v float64) float64 { return chartLeft + plotW*v/scale }

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica,Arial,sans-serif" font-size="12">`+"\n",
		chartWidth, height, chartWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="12" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", esc(c.Title))
	fmt.Fprintf(&b, `<text x="12" y="42" fill="#555">%s</text>`+"\n", esc(c.Subtitle))
	for i, s := range c.Series {
		lx := chartLeft + i*170
		fmt.Fprintf(&b, `<rect x="%d" y="52" width="12" height="12" fill="%s"/><text x="%d" y="62">%s</text>`+"\n",
			lx, seriesColors[i%len(seriesColors)], lx+16, esc(s))
	}
	plotBottom := chartTop + len(c.Labels)*groupH
	for k := 0; k <= 4; k++ { // grid with 5 ticks
		v := scale * float64(k) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x(v), chartTop-6, x(v), plotBottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x(v), plotBottom+16, esc(short(v)))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x(scale/2), plotBottom+32, esc(c.Unit))
	ref := c.reference()
	for i, label := range c.Labels {
		y0 := chartTop + i*groupH
		weight := "normal"
		if label == c.Highlight {
			weight = "bold"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-weight="%s">%s</text>`+"\n",
			chartLeft-8, y0+groupH/2, weight, esc(label))
		if c.Values[i] == nil {
			msg := ""
			if i < len(c.Missing) {
				msg = c.Missing[i]
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#999" font-style="italic">%s</text>`+"\n", chartLeft+6, y0+groupH/2, esc(msg))
			continue
		}
		for j, v := range c.Values[i] {
			y := y0 + j*(barHeight+barGap)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n",
				chartLeft, y, x(v)-chartLeft, barHeight, seriesColors[j%len(seriesColors)])
			end := x(v)
			if c.Lo != nil && c.Hi != nil && c.Hi[i] != nil && c.Hi[i][j] > c.Lo[i][j] {
				lo, hi := x(c.Lo[i][j]), x(c.Hi[i][j])
				mid := float64(y) + barHeight/2
				fmt.Fprintf(&b, `<path d="M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fV%.1f" stroke="#222" fill="none"/>`+"\n",
					lo, mid, hi, lo, mid-4, mid+4, hi, mid-4, mid+4)
				end = math.Max(end, hi)
			}
			text := short(v)
			if j == 0 && ref > 0 && label != c.Highlight {
				text += fmt.Sprintf("  (%.2f×)", v/ref)
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", end+4, y+barHeight-3, esc(text))
		}
		if label == c.Highlight && len(c.Values[i]) > 0 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#222" stroke-dasharray="4 3"/>`+"\n",
				x(c.Values[i][0]), chartTop-6, x(c.Values[i][0]), plotBottom)
		}
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// reference is the Highlight label's first value (0 if it has none): the
// first series' bars print their ratio to it.
func (c barChart) reference() float64 {
	for i, l := range c.Labels {
		if l == c.Highlight && len(c.Values[i]) > 0 {
			return c.Values[i][0]
		}
	}
	return 0
}

func (c barChart) maxValue() float64 {
	m := 0.0
	for i := range c.Values {
		for j, v := range c.Values[i] {
			m = math.Max(m, v)
			if c.Hi != nil && c.Hi[i] != nil {
				m = math.Max(m, c.Hi[i][j])
			}
		}
	}
	return m
}

// niceMax rounds v up to a multiple of a power of ten divisible by 4
// (1, 1.2, 1.6, 2, … 10), so the quarter grid lines
// fall on round numbers.
func niceMax(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	e := math.Floor(math.Log10(v))
	scale := func(f float64) float64 { // f × 10^e, exact for negative e too
		if e < 0 {
			return f / math.Pow(10, -e)
		}
		return f * math.Pow(10, e)
	}
	for _, f := range []float64{1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10} {
		if scale(f) >= v {
			return scale(f)
		}
	}
	return scale(10)
}

// short writes a number in 3-4 significant characters (1.2M, 850k, 3.45).
func short(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

func esc(s string) string { return xmlEscaper.Replace(s) }
