package simulations

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// The file names of the plots WritePlots draws.
const (
	PlotHops        = "hops.png"
	PlotFailures    = "failures.png"
	PlotMaintenance = "maintenance.png"
)

var (
	colorBlue   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colorOrange = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	colorRed    = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
)

// WritePlots draws the run's plots as PNG files in dir: the hop histogram,
// failed and wrong lookups over time, and maintenance traffic over time.
func WritePlots(dir string, res *Result) error {
	title := fmt.Sprintf("%s, N=%d, R=%d, seed %d", res.Summary.Scenario, res.Summary.Nodes, res.Summary.Succ, res.Summary.Seed)
	if err := plotHops(filepath.Join(dir, PlotHops), title, res); err != nil {
		return err
	}
	if err := plotFailures(filepath.Join(dir, PlotFailures), title, res); err != nil {
		return err
	}
	return plotMaintenance(filepath.Join(dir, PlotMaintenance), title, res)
}

func plotHops(path, title string, res *Result) error {
	p := plot.New()
	p.Title.Text = "Lookup path length: " + title
	p.X.Label.Text = "hops"
	p.Y.Label.Text = "fraction of answered lookups"
	var total int64
	for _, c := range res.HopHist {
		total += c
	}
	vals := make(plotter.Values, max(len(res.HopHist), 1))
	top := 0.0
	for h, c := range res.HopHist {
		vals[h] = ratio(float64(c), float64(total))
		top = max(top, vals[h])
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(12))
	if err != nil {
		return fmt.Errorf("hop histogram: %w", err)
	}
	bars.Color = colorBlue
	bars.LineStyle.Width = 0
	p.Add(bars, plotter.NewGrid())
	p.X.Min = -0.5
	p.Y.Min = 0
	p.Y.Max = max(top*1.1, 0.01)
	return save(p, path)
}

func plotFailures(path, title string, res *Result) error {
	p := plot.New()
	p.Title.Text = "Failed and wrong lookups: " + title
	p.X.Label.Text = "virtual time (s)"
	p.Y.Label.Text = fmt.Sprintf("lookups per %gs bucket", float64(res.Bucket)/1000)
	failed := make(plotter.XYs, len(res.Series))
	wrong := make(plotter.XYs, len(res.Series))
	for k, b := range res.Series {
		t := float64(b.Start) / 1000
		failed[k] = plotter.XY{X: t, Y: float64(b.Failed)}
		wrong[k] = plotter.XY{X: t, Y: float64(b.Wrong)}
	}
	if err := addLine(p, "failed", failed, colorRed); err != nil {
		return err
	}
	if err := addLine(p, "wrong", wrong, colorOrange); err != nil {
		return err
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	p.Y.Min = 0
	p.Y.Max = max(p.Y.Max, 1)
	return save(p, path)
}

func plotMaintenance(path, title string, res *Result) error {
	p := plot.New()
	p.Title.Text = "Maintenance traffic: " + title
	p.X.Label.Text = "virtual time (s)"
	p.Y.Label.Text = "bytes per live node per second"
	pts := make(plotter.XYs, 0, len(res.Series))
	for _, b := range res.Series {
		if b.NodeMS <= 0 {
			continue
		}
		pts = append(pts, plotter.XY{X: float64(b.Start) / 1000, Y: float64(b.MaintBytes) / (b.NodeMS / 1000)})
	}
	if err := addLine(p, "maintenance bytes/node/s", pts, colorBlue); err != nil {
		return err
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Y.Min = 0
	return save(p, path)
}

func addLine(p *plot.Plot, name string, xys plotter.XYs, c color.Color) error {
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("plot line %s: %w", name, err)
	}
	l.Color = c
	l.Width = vg.Points(1.5)
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

func save(p *plot.Plot, path string) error {
	if err := p.Save(8*vg.Inch, 4.5*vg.Inch, path); err != nil {
		return fmt.Errorf("saving plot %s: %w", path, err)
	}
	return nil
}
