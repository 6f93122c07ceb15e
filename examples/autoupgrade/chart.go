package main

import (
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/internal/kversion"
	"github.com/fleetkit/fleetkit/nodeimage"
)

func (s *simulation) writeChart(path string, asHTML bool) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	if asHTML {
		return s.writeHTML(f)
	}
	return s.writeSVG(f)
}

const (
	labelWidth = 190
	chartWidth = 1100
	rowHeight  = 24
	laneHeight = 9
	topMargin  = 70
)

// minorColors gives each Kubernetes minor a colour; patches alternate shades.
var minorColors = []string{"#64748b", "#f59e0b", "#3b82f6", "#10b981", "#8b5cf6", "#ec4899", "#14b8a6"}

func minorColor(v string) (string, float64) {
	k, err := kversion.Parse(v)
	if err != nil {
		return "#000000", 1
	}
	opacity := 1.0
	if k.Patch%2 == 1 {
		opacity = 0.7
	}
	return minorColors[k.Minor%len(minorColors)], opacity
}

// monthColors gives node images a colour by the month they were published.
var monthColors = []string{"#fde68a", "#fdba74", "#fca5a5", "#f9a8d4", "#d8b4fe", "#a5b4fc", "#93c5fd", "#67e8f9", "#6ee7b7", "#bef264", "#fcd34d", "#e5e7eb"}

// imageLabel returns a node image's colour and short label (its build date).
func imageLabel(s string) (string, string) {
	img, err := nodeimage.Parse(s)
	if err != nil {
		return "#000000", "?"
	}
	v := img.Version.String() // YYYYMM.DD.N
	if len(v) < 9 {
		return "#e5e7eb", v
	}
	month := int(v[4]-'0')*10 + int(v[5]-'0')
	return monthColors[(month-1+12)%12], v[4:6] + "-" + v[7:9]
}

// writeSVG draws two lanes per member, Kubernetes version above node image
// (its system pool's), with time left to right; a red strip under a lane
// marks the time the member spent behind that channel's target. Dashed lines
// mark each new minor's GA.
func (s *simulation) writeSVG(w io.Writer) error {
	tr := s.trace
	span := tr.End.Sub(tr.Start)
	x := func(t time.Time) float64 { return labelWidth + float64(t.Sub(tr.Start))/float64(span)*chartWidth }
	height := topMargin + len(tr.Members)*rowHeight + 72
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", labelWidth+chartWidth+30, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="8" y="18" font-size="14" font-weight="bold">%s</text>`+"\n", html.EscapeString("Auto-upgrade "+s.modeShort()+": Kubernetes (upper lane) and node image (lower lane) of every member"))

	// Months along the top and the bottom.
	for t := time.Date(tr.Start.Year(), tr.Start.Month(), 1, 0, 0, 0, 0, time.UTC); !t.After(tr.End); t = t.AddDate(0, 1, 0) {
		if t.Before(tr.Start) {
			continue
		}
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e7eb"/>`+"\n", x(t), topMargin-14, x(t), height-60)
		for _, ty := range []int{topMargin - 18, height - 48} {
			p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#374151">%s</text>`+"\n", x(t), ty, t.Format("Jan 2006"))
		}
	}
	// New minors' GA (first region) and every GA patch, as ticks.
	for _, r := range s.train.Kubernetes {
		if r.GA.IsZero() || r.GA.Before(tr.Start) || !r.GA.Before(tr.End) {
			continue
		}
		if strings.HasSuffix(r.Version, ".1") {
			minor := strings.TrimSuffix(r.Version, ".1")
			p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#111827" stroke-dasharray="4 3"/>`+"\n", x(r.GA), topMargin-10, x(r.GA), height-60)
			p(`<text x="%.1f" y="%d" fill="#111827" font-weight="bold">%s GA</text>`+"\n", x(r.GA)+3, topMargin-34, minor)
		} else {
			col, _ := minorColor(r.Version)
			p(`<path d="M %.1f %d l -4 -7 h 8 z" fill="%s"><title>%s GA %s</title></path>`+"\n", x(r.GA), topMargin-6, col, r.Version, r.GA.Format(time.DateOnly))
		}
	}

	y := topMargin
	group := ""
	for _, m := range s.ordered() {
		if m.Group != group {
			group = m.Group
			p(`<line x1="4" y1="%d" x2="%d" y2="%d" stroke="#9ca3af"/>`+"\n", y, labelWidth+chartWidth, y)
		}
		p(`<text x="8" y="%d" fill="#111827">%s <tspan fill="#6b7280">%s</tspan></text>`+"\n", y+15, html.EscapeString(m.Name), html.EscapeString(m.Region))
		for _, sg := range lane(m, tr.End, func(v fake.VersionSample) string { return v.KubernetesVersion }) {
			x0, x1 := x(sg.from), x(sg.to)
			col, op := minorColor(sg.value)
			p(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" fill-opacity="%.1f"><title>%s: Kubernetes %s from %s</title></rect>`+"\n",
				x0, y+3, max(0.5, x1-x0), laneHeight, col, op, html.EscapeString(m.Name), sg.value, sg.from.Format(time.DateOnly))
			if x1-x0 > 36 {
				p(`<text x="%.1f" y="%d" font-size="8" fill="white">%s</text>`+"\n", x0+2, y+10, sg.value)
			}
		}
		for _, sg := range lane(m, tr.End, func(v fake.VersionSample) string { return v.NodeImages[0] }) {
			x0, x1 := x(sg.from), x(sg.to)
			col, label := imageLabel(sg.value)
			p(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" stroke="white" stroke-width="0.5"><title>%s: %s from %s</title></rect>`+"\n",
				x0, y+4+laneHeight, max(0.5, x1-x0), laneHeight, col, html.EscapeString(m.Name), html.EscapeString(sg.value), sg.from.Format(time.DateOnly))
			if x1-x0 > 28 {
				p(`<text x="%.1f" y="%d" font-size="8" fill="#111827">%s</text>`+"\n", x0+2, y+4+laneHeight+7, label)
			}
		}
		for lane, profile := range []string{"stable", "node-image"} {
			for _, b := range s.behind[profile][m.Name] {
				p(`<rect x="%.1f" y="%d" width="%.1f" height="3" fill="#dc2626"><title>behind %s's target from %s</title></rect>`+"\n",
					x(b.from), y+1+(lane+1)*laneHeight+lane, max(1, x(b.to)-x(b.from)), profile, b.from.Format(time.DateOnly))
			}
		}
		y += rowHeight
	}

	// Legend.
	ly := height - 36
	p(`<text x="8" y="%d" font-weight="bold">Kubernetes minor</text>`+"\n", ly+9)
	lx := labelWidth
	for minor := 28; minor <= 34; minor++ {
		col, _ := minorColor(fmt.Sprintf("1.%d.0", minor))
		p(`<rect x="%d" y="%d" width="12" height="10" fill="%s"/><text x="%d" y="%d">1.%d</text>`+"\n", lx, ly, col, lx+16, ly+9, minor)
		lx += 60
	}
	p(`<rect x="%d" y="%d" width="24" height="3" fill="#dc2626"/><text x="%d" y="%d">behind the channel's target</text>`+"\n", lx+20, ly+4, lx+50, ly+9)
	ly += 18
	p(`<text x="8" y="%d" font-weight="bold">node image built in</text>`+"\n", ly+9)
	lx = labelWidth
	for mo := 1; mo <= 12; mo++ {
		p(`<rect x="%d" y="%d" width="12" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", lx, ly, monthColors[mo-1], lx+16, ly+9, time.Month(mo).String()[:3])
		lx += 52
	}
	p("</svg>\n")
	return nil
}

// segment is a stretch of time one lane shows one value.
type segment struct {
	from, to time.Time
	value    string
}

// lane cuts a member's timeline into the stretches over which value stays the same.
func lane(m fake.MemberTimeline, end time.Time, value func(fake.VersionSample) string) []segment {
	var out []segment
	for _, s := range m.Samples {
		v := value(s)
		if n := len(out); n > 0 && out[n-1].value == v {
			continue
		} else if n > 0 {
			out[n-1].to = s.At
		}
		out = append(out, segment{from: s.At, to: end, value: v})
	}
	return out
}

// ordered returns the members in strategy order: by group, then name.
func (s *simulation) ordered() []fake.MemberTimeline {
	var out []fake.MemberTimeline
	for _, g := range groups {
		for _, m := range s.trace.Members {
			if m.Group == g.name {
				out = append(out, m)
			}
		}
	}
	return out
}

func (s *simulation) modeShort() string {
	if s.cfg.noCatchUp {
		return "without catch-up"
	}
	return "with catch-up"
}

// writeHTML wraps the chart in a self-contained page with the summary.
func (s *simulation) writeHTML(w io.Writer) error {
	var sum strings.Builder
	s.print(&sum)
	lines := strings.Split(strings.TrimSpace(sum.String()), "\n")
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>fleetkit auto-upgrade %s</title>\n"+
		"<style>body{font-family:sans-serif;margin:24px;color:#111827}h1{font-size:20px}p{max-width:1200px}</style></head><body>\n"+
		"<h1>Auto-upgrade of %d clusters over %d days, %s</h1>\n<p>%s</p>\n<p>%s<br>%s</p>\n",
		html.EscapeString(s.modeShort()), len(s.trace.Members), s.cfg.days, html.EscapeString(s.modeShort()),
		html.EscapeString(s.mode()), html.EscapeString(lines[len(lines)-2]), html.EscapeString(lines[len(lines)-1]))
	if err := s.writeSVG(w); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "<p>Hover a bar for its version and date. Each row: Kubernetes version above, the system pool's node image below; red strips: time behind the profile's target.</p></body></html>")
	return err
}
