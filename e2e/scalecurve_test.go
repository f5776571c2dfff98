package e2e

import (
	"fmt"
	"image/color"
	"os"
	"runtime"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// printScaleCurve prints make scalebench's figures at every size, lbdns
// beside external-dns: what the cost curve draws.
func printScaleCurve(points []scalePoint) {
	fmt.Printf("\nmake scalebench, every size, %s, %s\n\n", time.Now().UTC().Format("2006-01-02"), machine())
	fmt.Println("| Services | lbdns CPU per change | external-dns CPU per pass (a change) | lbdns RSS ready (peak) | external-dns peak RSS | RSS ratio | lbdns start -> ready | external-dns --once wall | change -> answer p50 / p99 |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, p := range points {
		fmt.Printf("| %d | %.2f ms | %.0f ms | %.0f MB (%.0f MB) | %.0f MB | %.2fx | %.2f s | %.2f s | %.1f ms / %.1f ms |\n",
			p.services, p.cpuPerChange*1000, p.extCPU*1000, p.rss, p.peak, p.extPeak, p.rss/p.extPeak,
			p.ready.Seconds(), p.extWall.Seconds(), ms(percentile(p.answered, 50)), ms(percentile(p.answered, 99)))
	}
}

// plotScaleCurve draws the cost curve: CPU per change, memory and time to
// ready (or one full pass, for external-dns) against the number of
// Services, lbdns beside external-dns, log-log, into a PNG at path.
func plotScaleCurve(path string, points []scalePoint) error {
	panels := []struct {
		title, unit string
		lbdns, ext  func(scalePoint) float64
		lbdnsName   string
		extName     string
	}{
		{"CPU per change", "ms", func(p scalePoint) float64 { return p.cpuPerChange * 1000 },
			func(p scalePoint) float64 { return p.extCPU * 1000 }, "lbdns", "external-dns (one full pass)"},
		{"Resident memory", "MB", func(p scalePoint) float64 { return p.rss },
			func(p scalePoint) float64 { return p.extPeak }, "lbdns (10 s after ready)", "external-dns (peak)"},
		{"Start -> ready", "s", func(p scalePoint) float64 { return p.ready.Seconds() },
			func(p scalePoint) float64 { return p.extWall.Seconds() }, "lbdns", "external-dns --once (wall)"},
	}
	plots := make([][]*plot.Plot, 1)
	for i, panel := range panels {
		p := plot.New()
		p.Title.Text = panel.title
		if i == 1 { // the middle panel carries the caption, centred over all three
			p.Title.Text = fmt.Sprintf("make scalebench, %s, %s\n\n%s", time.Now().UTC().Format("2006-01-02"), machine(), panel.title)
		}
		p.X.Label.Text = "LoadBalancer Services"
		p.Y.Label.Text = panel.unit
		p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
		p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
		p.Legend.Top, p.Legend.Left = true, true
		for k, series := range []struct {
			name  string
			value func(scalePoint) float64
			color color.Color
		}{{panel.lbdnsName, panel.lbdns, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}},
			{panel.extName, panel.ext, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}}} {
			xys := make(plotter.XYs, len(points))
			for j, pt := range points {
				xys[j].X, xys[j].Y = float64(pt.services), max(series.value(pt), 1e-3) // log scale: no zero
			}
			line, dots, err := plotter.NewLinePoints(xys)
			if err != nil {
				return err
			}
			line.Color, dots.Color = series.color, series.color
			dots.Shape = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}}[k]
			p.Add(line, dots)
			p.Legend.Add(series.name, line, dots)
		}
		plots[0] = append(plots[0], p)
	}
	img := vgimg.New(15*vg.Inch, 5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align(plots, tiles, dc)
	for i, p := range plots[0] {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// machine names the CPU, its cores and the memory, for the figures' captions.
func machine() string {
	model := "unknown CPU"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	mem := ""
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(raw), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%d cores %s%s", runtime.NumCPU(), model, mem)
}
