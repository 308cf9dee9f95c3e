package bench

import (
	"encoding/json"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart file names (each written as .svg and .png) and the JSON result's,
// as WriteCharts writes them into its directory.
const (
	// ChartLatencyVsRTT is the chart of the median time to reply against
	// the RTT.
	ChartLatencyVsRTT = "latency-vs-rtt"
	// ChartLatencyVsSize is the chart of the median time to reply against
	// the request size.
	ChartLatencyVsSize = "latency-vs-size"
	// ResultFile is the Result as JSON (SCHEMA.md).
	ResultFile = "bench.json"
)

// WriteCharts writes into dir (created if needed) the result as JSON and,
// as SVG and PNG, the median time to reply against the RTT (at the first
// size and loss; when more than one RTT was swept) and against the
// request size (at the largest RTT and the first loss; when more than one
// size was swept), one line per client with and without TFO, the 1-RTT
// and 2-RTT lines drawn and the MSS marked. It returns the files written.
func WriteCharts(dir string, res *Result) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("charts: %w", err)
	}
	var files []string
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	jf := filepath.Join(dir, ResultFile)
	if err := os.WriteFile(jf, append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("charts: %w", err)
	}
	files = append(files, jf)
	if len(res.Points) == 0 {
		return files, nil
	}
	first := res.Points[0]
	var rtts, sizes []float64
	for _, p := range res.Points {
		if p.RTTMS > 0 && !slices.Contains(rtts, p.RTTMS) {
			rtts = append(rtts, p.RTTMS)
		}
		if !slices.Contains(sizes, float64(p.Size)) {
			sizes = append(sizes, float64(p.Size))
		}
	}
	save := func(p *plot.Plot, name string) error {
		for _, ext := range []string{".svg", ".png"} {
			f := filepath.Join(dir, name+ext)
			if err := p.Save(16*vg.Centimeter, 10*vg.Centimeter, f); err != nil {
				return fmt.Errorf("charts: %w", err)
			}
			files = append(files, f)
		}
		return nil
	}
	if len(rtts) > 1 {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("Time to reply vs RTT (%s request, %g%% loss, %s server)", sizeString(first.Size), first.Loss*100, res.Server)
		p.X.Label.Text = "RTT (ms)"
		p.Y.Label.Text = "median time to reply (ms)"
		addRefLine(p, "1 RTT", func(x float64) float64 { return x }, 1)
		addRefLine(p, "2 RTT", func(x float64) float64 { return 2 * x }, 2)
		if res.Server == ServerHTTPS { // TLS adds a round trip
			addRefLine(p, "3 RTT", func(x float64) float64 { return 3 * x }, 3)
		}
		err := addSeries(p, res.Points, func(q Point) (float64, bool) {
			return q.RTTMS, q.Size == first.Size && q.Loss == first.Loss
		})
		if err != nil {
			return files, err
		}
		p.Legend.Top, p.Legend.Left = true, true
		p.X.Min, p.Y.Min = 0, 0
		if err := save(p, ChartLatencyVsRTT); err != nil {
			return files, err
		}
	}
	if len(sizes) > 1 {
		rtt := slices.Max(append([]float64{0}, rtts...))
		p := plot.New()
		p.Title.Text = fmt.Sprintf("Time to reply vs request size (RTT %g ms, %g%% loss, %s server)", rtt, first.Loss*100, res.Server)
		p.X.Label.Text = "request size (bytes, log scale)"
		p.Y.Label.Text = "median time to reply (ms)"
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		if rtt > 0 {
			addRefLine(p, "1 RTT", func(float64) float64 { return rtt }, 1)
			addRefLine(p, "2 RTT", func(float64) float64 { return 2 * rtt }, 2)
			if res.Server == ServerHTTPS {
				addRefLine(p, "3 RTT", func(float64) float64 { return 3 * rtt }, 3)
			}
		}
		err := addSeries(p, res.Points, func(q Point) (float64, bool) {
			return float64(q.Size), q.RTTMS == rtt && q.Loss == first.Loss
		})
		if err != nil {
			return files, err
		}
		if res.MSS > 0 {
			ymax := 0.0
			for _, q := range res.Points {
				ymax = max(ymax, q.MedianMS)
			}
			mss, err := plotter.NewLine(plotter.XYs{{X: float64(res.MSS), Y: 0}, {X: float64(res.MSS), Y: ymax}})
			if err != nil {
				return files, err
			}
			mss.Color = color.Gray{Y: 120}
			mss.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			p.Add(mss)
			p.Legend.Add(fmt.Sprintf("MSS %d B", res.MSS), mss)
			if res.SYNPayloadMax > 0 {
				lim, err := plotter.NewLine(plotter.XYs{{X: float64(res.SYNPayloadMax), Y: 0}, {X: float64(res.SYNPayloadMax), Y: ymax}})
				if err != nil {
					return files, err
				}
				lim.Color = color.RGBA{R: 200, G: 120, A: 255}
				lim.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
				p.Add(lim)
				p.Legend.Add(fmt.Sprintf("largest SYN payload %d B", res.SYNPayloadMax), lim)
			}
		}
		// The curves run along the top (1 and 2 RTT); the bottom left,
		// small requests below 1 RTT, is empty.
		p.Legend.Top, p.Legend.Left = false, true
		p.Y.Min = 0
		if err := save(p, ChartLatencyVsSize); err != nil {
			return files, err
		}
	}
	return files, nil
}

// addRefLine draws a dashed reference line.
func addRefLine(p *plot.Plot, name string, f func(float64) float64, n int) {
	fn := plotter.NewFunction(f)
	fn.Color = color.Gray{Y: uint8(160 - 40*n)}
	fn.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	fn.Width = vg.Points(1)
	p.Add(fn)
	p.Legend.Add(name, fn)
}

// addSeries adds one line per client variant through the points that sel
// keeps, at the x it returns.
func addSeries(p *plot.Plot, pts []Point, sel func(Point) (float64, bool)) error {
	var order []variant
	series := map[variant]plotter.XYs{}
	for _, q := range pts {
		x, ok := sel(q)
		if !ok || q.Runs == 0 {
			continue
		}
		v := variant{q.Client, q.TFO}
		if _, seen := series[v]; !seen {
			order = append(order, v)
		}
		series[v] = append(series[v], plotter.XY{X: x, Y: q.MedianMS})
	}
	for i, v := range order {
		xys := series[v]
		slices.SortFunc(xys, func(a, b plotter.XY) int {
			switch {
			case a.X < b.X:
				return -1
			case a.X > b.X:
				return 1
			}
			return 0
		})
		l, s, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("charts: %w", err)
		}
		c := plotutil.Color(i)
		l.Color, s.Color = c, c
		s.Shape = draw.CircleGlyph{}
		if !v.tfo {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		name := variantName(v)
		if v.tfo && v.client != ClientCurl {
			name += " (TFO)"
		}
		p.Add(l, s)
		p.Legend.Add(name, l, s)
	}
	return nil
}
