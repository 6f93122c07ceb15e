package main

import (
	"fmt"
	"html"
	"io"
	"time"

	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
)

// segment is a stretch of time a member spent in one state.
type segment struct {
	from, to time.Time
	state    fleetupdate.State
}

// mark is a point event on a member's row (it failed, was skipped, completed).
type mark struct {
	at    time.Time
	state fleetupdate.State
}

// history rebuilds each member's Pending and Running stretches from the
// trace's status changes.
func history(tr fake.Trace) (map[string][]segment, map[string][]mark) {
	segs := map[string][]segment{}
	marks := map[string][]mark{}
	type open struct {
		state fleetupdate.State
		since time.Time
	}
	cur := map[string]open{}
	for _, e := range tr.Entries {
		for _, c := range e.Changes {
			if c.Member == "" {
				continue
			}
			if o, ok := cur[c.Member]; ok && o.state != c.To && shown(o.state) {
				segs[c.Member] = append(segs[c.Member], segment{o.since, e.At, o.state})
			}
			if o, ok := cur[c.Member]; !ok || o.state != c.To {
				cur[c.Member] = open{c.To, e.At}
			}
			switch c.To {
			case fleetupdate.Failed, fleetupdate.Skipped, fleetupdate.Completed:
				marks[c.Member] = append(marks[c.Member], mark{e.At, c.To})
			}
		}
	}
	for m, o := range cur {
		if shown(o.state) {
			segs[m] = append(segs[m], segment{o.since, tr.End, o.state})
		}
	}
	return segs, marks
}

func shown(s fleetupdate.State) bool {
	return s == fleetupdate.Running || s == fleetupdate.Pending || s == fleetupdate.Stopping
}

var colors = map[fleetupdate.State]string{
	fleetupdate.Running:   "#3b82f6",
	fleetupdate.Stopping:  "#6366f1",
	fleetupdate.Pending:   "#fbbf24",
	fleetupdate.Completed: "#16a34a",
	fleetupdate.Failed:    "#dc2626",
	fleetupdate.Skipped:   "#9ca3af",
}

const (
	labelWidth = 300
	chartWidth = 1000
	rowHeight  = 18
	topMargin  = 40
)

// writeSVG draws one row per member, grouped under a header row per stage,
// with time running left to right from the run's start to its last event.
func writeSVG(w io.Writer, tr fake.Trace) error {
	st := tr.Run.Status()
	span := tr.End.Sub(tr.Start)
	if span < time.Hour {
		span = time.Hour
	}
	x := func(t time.Time) float64 {
		return labelWidth + float64(t.Sub(tr.Start))/float64(span)*chartWidth
	}
	rows := 0
	for _, s := range st.Stages {
		rows++
		for _, g := range s.Groups {
			rows += len(g.Members)
		}
	}
	height := topMargin + rows*rowHeight + 30
	segs, marks := history(tr)
	gatesOf := map[string][]gateRow{}
	for _, g := range gates(tr) {
		gatesOf[g.stage] = append(gatesOf[g.stage], g)
	}

	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", labelWidth+chartWidth+20, height)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	// Time axis: a tick every 1h, 6h, 12h, 1d, 2d or 7d, whichever gives at most 12.
	step := 7 * 24 * time.Hour
	for _, s := range []time.Duration{time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour} {
		if span/s <= 12 {
			step = s
			break
		}
	}
	for t := tr.Start; !t.After(tr.Start.Add(span)); t = t.Add(step) {
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e7eb"/>`+"\n", x(t), topMargin-6, x(t), height-30)
		p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#374151">%s</text>`+"\n", x(t), topMargin-12, html.EscapeString(clock(tr.Start, t)))
	}
	y := topMargin
	for _, s := range st.Stages {
		p(`<text x="4" y="%d" font-weight="bold">stage %s — %s</text>`+"\n", y+13, html.EscapeString(s.Name), s.Status.State)
		if !s.Status.StartTime.IsZero() {
			end := s.Status.CompletedTime
			if end.IsZero() {
				end = tr.End
			}
			p(`<rect x="%.1f" y="%d" width="%.1f" height="4" fill="#9ca3af"/>`+"\n", x(s.Status.StartTime), y+7, max(1, x(end)-x(s.Status.StartTime)))
		}
		for _, g := range gatesOf[s.Name] {
			drawGate(p, x, y, tr, g)
		}
		y += rowHeight
		for _, g := range s.Groups {
			for _, m := range g.Members {
				p(`<text x="14" y="%d" fill="#111827">%s / %s</text>`+"\n", y+13, html.EscapeString(g.Name), html.EscapeString(m.Name))
				for _, sg := range segs[m.Name] {
					p(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" rx="2"><title>%s %s → %s</title></rect>`+"\n",
						x(sg.from), y+3, max(1.5, x(sg.to)-x(sg.from)), rowHeight-6, colors[sg.state], sg.state, html.EscapeString(clock(tr.Start, sg.from)), html.EscapeString(clock(tr.Start, sg.to)))
				}
				for _, mk := range marks[m.Name] {
					p(`<circle cx="%.1f" cy="%d" r="3.5" fill="%s"><title>%s at %s</title></circle>`+"\n", x(mk.at), y+rowHeight/2, colors[mk.state], mk.state, html.EscapeString(clock(tr.Start, mk.at)))
				}
				y += rowHeight
			}
		}
	}
	lx := labelWidth
	for _, s := range []fleetupdate.State{fleetupdate.Running, fleetupdate.Pending, fleetupdate.Stopping, fleetupdate.Completed, fleetupdate.Failed, fleetupdate.Skipped} {
		p(`<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", lx, height-20, colors[s], lx+16, height-10, s)
		lx += 110
	}
	p(`<path d="%s" fill="white" stroke="%s" stroke-width="1.5"/><text x="%d" y="%d">gate reached</text>`+"\n", diamond(float64(lx+6), float64(height-14)), gateColor, lx+16, height-10)
	lx += 110
	p(`<path d="%s" fill="%s"/><text x="%d" y="%d">gate passed</text>`+"\n", diamond(float64(lx+6), float64(height-14)), gateColor, lx+16, height-10)
	p("</svg>\n")
	return nil
}

// writeHTML wraps the chart in a self-contained page with the run's summary.
func writeHTML(w io.Writer, tr fake.Trace) error {
	st := tr.Run.Status()
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>fleetkit simulation</title>\n"+
		"<style>body{font-family:sans-serif;margin:24px;color:#111827}h1{font-size:20px}</style></head><body>\n"+
		"<h1>Update run simulation: %s</h1>\n<p>Started %s; last event after %s of virtual time. Hover a bar for its times.</p>\n",
		st.Status.State, html.EscapeString(tr.Start.Format(time.RFC3339)), html.EscapeString(formatDuration(tr.End.Sub(tr.Start))))
	if e := st.Status.Error; e != nil {
		fmt.Fprintf(w, "<p><b>%s</b>: %s</p>\n", html.EscapeString(e.Code), html.EscapeString(e.Message))
	}
	if err := writeSVG(w, tr); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "</body></html>")
	return err
}

const gateColor = "#7c3aed"

// diamond is the path of a gate marker centred on (cx, cy).
func diamond(cx, cy float64) string {
	return fmt.Sprintf("M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ", cx, cy-5, cx+5, cy, cx, cy+5, cx-5, cy)
}

// drawGate marks on a stage's row where one of its gates (or one of its
// groups') was reached, a hollow diamond, and where it was passed, a
// filled one, joined by a dashed line; a gate still Pending has its line
// run to the end of the chart.
func drawGate(p func(string, ...any), x func(time.Time) float64, y int, tr fake.Trace, g gateRow) {
	st := g.g.Status
	if st.StartTime.IsZero() {
		return
	}
	cy := float64(y + rowHeight/2)
	name := html.EscapeString(g.name())
	end, done := st.CompletedTime, !st.CompletedTime.IsZero()
	if !done {
		end = tr.End
	}
	p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="3 2"/>`+"\n", x(st.StartTime), cy, x(end), cy, gateColor)
	p(`<path d="%s" fill="white" stroke="%s" stroke-width="1.5"><title>%s reached at %s</title></path>`+"\n",
		diamond(x(st.StartTime), cy), gateColor, name, html.EscapeString(clock(tr.Start, st.StartTime)))
	if done {
		p(`<path d="%s" fill="%s"><title>%s passed at %s</title></path>`+"\n", diamond(x(end), cy), gateColor, name, html.EscapeString(clock(tr.Start, end)))
	}
}
