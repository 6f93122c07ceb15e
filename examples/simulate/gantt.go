package main

import (
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
)

// segment is a stretch of time a member spent in one state, and the state
// it went to next (empty if it was still in it at the end).
type segment struct {
	from, to time.Time
	state    fleetupdate.State
	next     fleetupdate.State
}

// mark is a member reaching an end state (failed, was skipped, completed)
// straight from a state the chart draws no bar for, such as NotStarted.
type mark struct {
	at    time.Time
	state fleetupdate.State
}

// history rebuilds each member's Pending, Running and Stopping stretches
// from the trace's status changes, and the NotStarted ones after its first
// change (a member whose window opened waits for a free slot).
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
			o, ok := cur[c.Member]
			if ok && o.state == c.To {
				continue
			}
			if ok && shown(o.state) {
				segs[c.Member] = append(segs[c.Member], segment{o.since, e.At, o.state, c.To})
			} else if ended(c.To) {
				marks[c.Member] = append(marks[c.Member], mark{e.At, c.To})
			}
			cur[c.Member] = open{c.To, e.At}
		}
	}
	for m, o := range cur {
		if shown(o.state) {
			segs[m] = append(segs[m], segment{o.since, tr.End, o.state, ""})
		}
	}
	return segs, marks
}

// shown are the states a member's row draws as bars.
func shown(s fleetupdate.State) bool {
	return s == fleetupdate.Running || s == fleetupdate.Pending || s == fleetupdate.Stopping || s == fleetupdate.NotStarted
}

// ended are the states a member's row ends with a cap in the state's colour.
func ended(s fleetupdate.State) bool {
	return s == fleetupdate.Completed || s == fleetupdate.Failed || s == fleetupdate.Skipped || s == fleetupdate.Stopped
}

var colors = map[fleetupdate.State]string{
	fleetupdate.Running:   "#2563eb",
	fleetupdate.Stopping:  "#7c3aed",
	fleetupdate.Pending:   "#f59e0b",
	fleetupdate.Completed: "#16a34a",
	fleetupdate.Failed:    "#dc2626",
	fleetupdate.Skipped:   "#9ca3af",
	fleetupdate.Stopped:   "#57534e",
	// A member back in NotStarted, waiting for a free slot.
	fleetupdate.NotStarted: "#94a3b8",
}

// Layout, in px.
const (
	svgWidth   = 1540 // fits a 1,600 px wide window
	legendTop  = 8
	axisTop    = 80 // the top axis line
	minRunning = 3.0
	minPending = 2.0
	capWidth   = 4.0 // the end cap of a member's bar, in its end state's colour
	charWidth  = 6.2 // of the 11 px sans-serif font, roughly
)

// chart is a run laid out for drawing.
type chart struct {
	tr     fake.Trace
	st     fleetupdate.Status
	end    time.Time // the axis's end: the last event, at least a minute after the start
	ax     timeAxis
	segs   map[string][]segment
	marks  map[string][]mark
	gates  map[[2]string][]gateRow // by stage and group ("" for the stage's own)
	rowH   int
	labelW float64
	rows   int
	p      func(string, ...any)
}

func newChart(w io.Writer, tr fake.Trace) *chart {
	c := &chart{tr: tr, st: tr.Run.Status(), end: tr.End, gates: map[[2]string][]gateRow{}}
	c.p = func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	if c.end.Sub(tr.Start) < time.Minute { // a run stopped at its start
		c.end = tr.Start.Add(time.Minute)
	}
	c.segs, c.marks = history(tr)
	for _, g := range gates(tr) {
		k := [2]string{g.stage, g.group}
		c.gates[k] = append(c.gates[k], g)
	}
	members, longest := 0, 0
	for _, s := range c.st.Stages {
		c.rows++
		longest = max(longest, len(stageLabel(s)))
		for _, g := range s.Groups {
			if c.groupRow(s, g) {
				c.rows++
				longest = max(longest, len(groupLabel(g))+2)
			}
			for _, m := range g.Members {
				longest = max(longest, len(m.Name)+4)
			}
			members += len(g.Members)
		}
	}
	c.rows += members
	c.rowH = 18
	if members > 150 {
		c.rowH = 14
	}
	c.labelW = min(320, max(140, float64(longest)*charWidth+16))

	// Busy: some member upgrading (or stopping). What happens in an idle
	// span (a member turning Pending, a gate) is drawn in its band, in
	// proportion.
	var busy []interval
	for _, ss := range c.segs {
		for _, s := range ss {
			if s.state == fleetupdate.Running || s.state == fleetupdate.Stopping {
				busy = append(busy, interval{s.from, s.to})
			}
		}
	}
	x0 := c.labelW + 8
	c.ax = newAxis(tr.Start, c.end, busy, x0, svgWidth-x0-24)
	return c
}

// groupRow reports whether group g gets a row of its own: not when it is
// its stage's only group, named after it (a stage without groups), and
// has no gates.
func (c *chart) groupRow(s fleetupdate.StageStatus, g fleetupdate.GroupStatus) bool {
	return len(s.Groups) > 1 || g.Name != s.Name || len(c.gates[[2]string{s.Name, g.Name}]) > 0
}

func stageLabel(s fleetupdate.StageStatus) string {
	return fmt.Sprintf("stage %s · %s", s.Name, s.Status.State)
}

func groupLabel(g fleetupdate.GroupStatus) string {
	return fmt.Sprintf("group %s · %s", g.Name, g.Status.State)
}

// writeSVG draws the run: a legend; a time axis at the top and bottom; a
// row per stage and group with a bar in its state's colour, its gates and
// its after-stage wait; and a row per member with a bar for each stretch it
// was Pending, Running or Stopping (a line while it waited for a slot),
// ended by a cap in the colour of the state it ended in. Idle spans too long
// to draw to scale are compressed (hatched, their real length on the axes).
// Every bar and row has a tooltip (SVG title).
func writeSVG(w io.Writer, tr fake.Trace) error {
	c := newChart(w, tr)
	bottom := axisTop + 8 + c.rows*c.rowH
	height := bottom + 40
	c.p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", svgWidth, height, svgWidth, height)
	c.p(`<style>.row .hit{fill:#000;fill-opacity:0}.row.z .hit{fill-opacity:.025}.row:hover .hit{fill:#4f46e5;fill-opacity:.12}.ax{fill:#374151}.gap{fill:#6b7280;font-size:10px;font-style:italic}</style>` + "\n")
	c.p(`<defs><pattern id="idle" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f3f4f6"/><line x1="0" y1="0" x2="0" y2="6" stroke="#d1d5db" stroke-width="2"/></pattern></defs>` + "\n")
	c.p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	c.legend()
	for _, p := range c.ax.pieces {
		if p.compressed {
			c.p(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="url(#idle)"><title>%s</title></rect>`+"\n",
				p.x0, axisTop, p.x1-p.x0, bottom-axisTop, esc(fmt.Sprintf("nothing runs for %s (%s to %s): drawn narrow",
					formatSpan(p.to.Sub(p.from)), clock(tr.Start, p.from), clock(tr.Start, p.to))))
		}
	}
	c.axis(axisTop, false)
	y := axisTop + 8
	z := 0
	for _, s := range c.st.Stages {
		c.stageRow(y, s)
		y += c.rowH
		for _, g := range s.Groups {
			if c.groupRow(s, g) {
				c.groupRowDraw(y, s, g)
				y += c.rowH
			}
			for _, m := range g.Members {
				c.memberRow(y, s, g, m, z%2 == 1)
				y += c.rowH
				z++
			}
		}
	}
	c.axis(bottom, true)
	c.p("</svg>\n")
	return nil
}

// esc escapes text for SVG content and attributes.
func esc(s string) string { return html.EscapeString(s) }

// legend explains the colours and marks, on one line above the axis.
func (c *chart) legend() {
	x := 4.0
	item := func(shape, text string) {
		c.p(shape+"\n", x)
		c.p(`<text x="%.1f" y="%d">%s</text>`+"\n", x+16, legendTop+10, esc(text))
		x += 16 + float64(len(text))*charWidth + 18
	}
	box := func(color string) string {
		return fmt.Sprintf(`<rect x="%%.1f" y="%d" width="12" height="12" fill="%s"/>`, legendTop, color)
	}
	item(box(colors[fleetupdate.Running]), "Running")
	item(fmt.Sprintf(`<rect x="%%.1f" y="%d" width="12" height="4" fill="%s"/>`, legendTop+4, colors[fleetupdate.Pending]), "Pending (window closed, or version not offered yet)")
	item(fmt.Sprintf(`<rect x="%%.1f" y="%d" width="12" height="2" fill="%s"/>`, legendTop+5, colors[fleetupdate.NotStarted]), "waiting for a free slot")
	for _, s := range []fleetupdate.State{fleetupdate.Stopping, fleetupdate.Completed, fleetupdate.Failed, fleetupdate.Skipped, fleetupdate.Stopped} {
		item(box(colors[s]), string(s))
	}
	item(fmt.Sprintf(`<rect x="%%.1f" y="%d" width="12" height="8" fill="white" stroke="#6b7280" stroke-dasharray="2 1"/>`, legendTop+2), "after-stage wait")
	item(fmt.Sprintf(`<path transform="translate(%%.1f 0)" d="%s" fill="white" stroke="%s" stroke-width="1.5"/>`, diamond(6, legendTop+6), gateColor), "gate reached")
	item(fmt.Sprintf(`<path transform="translate(%%.1f 0)" d="%s" fill="%s"/>`, diamond(6, legendTop+6), gateColor), "gate passed")
	item(fmt.Sprintf(`<rect x="%%.1f" y="%d" width="12" height="12" fill="url(#idle)"/>`, legendTop), "idle, drawn narrow")
	c.p(`<text x="4" y="%d" fill="#4b5563">Stage and group bars take the colour of their state; a member's bar ends in a cap of the colour of its end state. Times are day and UTC clock since the start.</text>`+"\n", legendTop+28)
}

// axis draws a time axis along y, its labels above it (or below): the
// ticks, a break marker and the real length of each compressed span, and
// always the start, the end and wherever time resumes after a break.
func (c *chart) axis(y int, below bool) {
	labelY, gapY := y-20, y-7
	if below {
		labelY, gapY = y+30, y+16
	}
	a := c.ax
	first, last := a.pieces[0].x0, a.pieces[len(a.pieces)-1].x1
	c.p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#6b7280"/>`+"\n", first, y, last, y)
	var labels, gaps []label
	step := a.step(80)
	for _, t := range a.ticks(step) {
		x := a.x(t)
		c.p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#9ca3af"/>`+"\n", x, y-3, x, y+3)
		if !below { // grid lines once, from the top axis
			c.p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e7eb"/>`+"\n", x, y, x, axisTop+8+c.rows*c.rowH)
		}
		labels = append(labels, label{x, tickLabel(c.tr.Start, t, step), "middle", 0})
	}
	for i, p := range a.pieces {
		if !p.compressed {
			continue
		}
		mid := (p.x0 + p.x1) / 2
		c.p(`<path d="M%.1f %dl4 -6M%.1f %dl4 -6" stroke="#374151" fill="none"/>`+"\n", mid-5, y+3, mid+1, y+3)
		// The longer a span, the likelier its length is written.
		gaps = append(gaps, label{mid, formatSpan(p.to.Sub(p.from)), "middle", int(p.to.Sub(p.from) / time.Minute)})
		if i+1 < len(a.pieces) {
			labels = append(labels, label{p.x1, clock(c.tr.Start, p.to), "start", 1})
		}
	}
	labels = append(labels, label{first, clock(c.tr.Start, c.tr.Start), "start", 2}, label{last, clock(c.tr.Start, c.end), "end", 2})
	for _, l := range place(labels, charWidth) {
		c.p(`<text class="ax" x="%.1f" y="%d" text-anchor="%s">%s</text>`+"\n", l.x, labelY, l.anchor, esc(l.text))
	}
	for _, l := range place(gaps, charWidth*10/11) {
		c.p(`<text class="gap" x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", l.x, gapY, esc(l.text))
	}
}

// label is a text on an axis; where labels would overlap, the one of
// higher priority is written.
type label struct {
	x      float64
	text   string
	anchor string // text-anchor: start, middle or end
	prio   int
}

// place returns the labels that fit without overlapping, by priority, then
// in the order given; charW is the width of a character.
func place(labels []label, charW float64) []label {
	labels = slices.Clone(labels)
	slices.SortStableFunc(labels, func(a, b label) int { return b.prio - a.prio })
	var out []label
	var placed [][2]float64
next:
	for _, l := range labels {
		w := float64(len(l.text))*charW + 6
		lo := l.x - w/2
		switch l.anchor {
		case "start":
			lo = l.x
		case "end":
			lo = l.x - w
		}
		for _, p := range placed {
			if lo < p[1] && p[0] < lo+w {
				continue next
			}
		}
		placed = append(placed, [2]float64{lo, lo + w})
		out = append(out, l)
	}
	return out
}

// tickLabel is "d3" for a tick at midnight on a scale of days, else the clock.
func tickLabel(start, t time.Time, step time.Duration) string {
	if step >= 24*time.Hour && t.Sub(start)%(24*time.Hour) == 0 {
		return fmt.Sprintf("d%d", int(t.Sub(start).Hours())/24)
	}
	return clock(start, t)
}

// formatSpan writes a duration for people: "29d 20h", "5h 12m", "45m".
// Like clock, it drops the seconds.
func formatSpan(d time.Duration) string {
	d = d.Truncate(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0 && hours > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case days > 0:
		return fmt.Sprintf("%dd", days)
	case hours > 0 && mins > 0:
		return fmt.Sprintf("%dh %dm", hours, mins)
	case hours > 0:
		return fmt.Sprintf("%dh", hours)
	}
	return fmt.Sprintf("%dm", mins)
}

// between says when something started and ended: "d0 02:30 → d0 03:19 (49m)".
func (c *chart) between(from, to time.Time) string {
	if to.IsZero() {
		return clock(c.tr.Start, from) + " → (not over at the end)"
	}
	return fmt.Sprintf("%s → %s (%s)", clock(c.tr.Start, from), clock(c.tr.Start, to), formatSpan(to.Sub(from)))
}

// scopeBar draws a stage's or group's bar from its start to its end (or
// the chart's end) in its state's colour, h px high, centred on cy.
func (c *chart) scopeBar(cy, h float64, st fleetupdate.UpdateStatus, what string) {
	if st.StartTime.IsZero() {
		return
	}
	end := st.CompletedTime
	if end.IsZero() {
		end = c.end
	}
	x0 := c.ax.x(st.StartTime)
	tip := fmt.Sprintf("%s: %s, %s", what, st.State, c.between(st.StartTime, st.CompletedTime))
	if e := st.Error; e != nil {
		tip += "\n" + e.Code + ": " + strings.Join(wrap(e.Message, 100), "\n")
	}
	color := colors[st.State]
	if color == "" {
		color = "#6b7280"
	}
	c.p(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" rx="2"><title>%s</title></rect>`+"\n",
		x0, cy-h/2, max(minRunning, c.ax.x(end)-x0), h, color, esc(tip))
}

func (c *chart) stageRow(y int, s fleetupdate.StageStatus) {
	c.p(`<rect x="0" y="%d" width="%d" height="%d" fill="#f3f4f6" fill-opacity="0.6"/>`+"\n", y, svgWidth, c.rowH)
	c.p(`<line x1="0" y1="%d" x2="%d" y2="%d" stroke="#d1d5db"/>`+"\n", y, svgWidth, y)
	c.p(`<text x="4" y="%d" font-weight="bold">%s</text>`+"\n", y+c.rowH/2+4, esc(stageLabel(s)))
	cy := float64(y) + float64(c.rowH)/2
	c.scopeBar(cy, 8, s.Status, "stage "+s.Name)
	if ws := s.AfterStageWaitStatus; ws != nil && !ws.Status.StartTime.IsZero() {
		end := ws.Status.CompletedTime
		if end.IsZero() {
			end = c.end
		}
		x0 := c.ax.x(ws.Status.StartTime)
		tip := fmt.Sprintf("after-stage wait of %s: %s, %s", formatSpan(time.Duration(ws.WaitDurationInSeconds)*time.Second), ws.Status.State, c.between(ws.Status.StartTime, ws.Status.CompletedTime))
		c.p(`<rect x="%.1f" y="%.1f" width="%.1f" height="8" fill="white" stroke="#6b7280" stroke-dasharray="2 1"><title>%s</title></rect>`+"\n",
			x0, cy-4, max(minRunning, c.ax.x(end)-x0), esc(tip))
	}
	for _, g := range c.gates[[2]string{s.Name, ""}] {
		c.drawGate(cy, g)
	}
	for _, g := range s.Groups {
		if !c.groupRow(s, g) {
			for _, gr := range c.gates[[2]string{s.Name, g.Name}] {
				c.drawGate(cy, gr)
			}
		}
	}
}

func (c *chart) groupRowDraw(y int, s fleetupdate.StageStatus, g fleetupdate.GroupStatus) {
	c.p(`<text x="12" y="%d" font-weight="600" fill="#374151">%s</text>`+"\n", y+c.rowH/2+4, esc(groupLabel(g)))
	cy := float64(y) + float64(c.rowH)/2
	c.scopeBar(cy, 6, g.Status, "group "+g.Name)
	for _, gr := range c.gates[[2]string{s.Name, g.Name}] {
		c.drawGate(cy, gr)
	}
}

// memberRow draws one member: its name, its bars and caps, and a tooltip
// for the whole row with its state, times and message.
func (c *chart) memberRow(y int, s fleetupdate.StageStatus, g fleetupdate.GroupStatus, m fleetupdate.MemberStatus, zebra bool) {
	st := m.Status
	info := fmt.Sprintf("%s (stage %s, group %s): %s", m.Name, s.Name, g.Name, st.State)
	if !st.StartTime.IsZero() {
		info += ", " + c.between(st.StartTime, st.CompletedTime)
	}
	msg := m.Message
	if e := st.Error; e != nil {
		msg = e.Code + ": " + e.Message
	}
	if msg != "" {
		info += "\n" + strings.Join(wrap(msg, 100), "\n")
	}
	class := "row"
	if zebra {
		class += " z"
	}
	c.p(`<g class="%s"><title>%s</title><rect class="hit" x="0" y="%d" width="%d" height="%d"/>`+"\n", class, esc(info), y, svgWidth, c.rowH)
	c.p(`<text x="24" y="%d" fill="#111827">%s</text>`+"\n", y+c.rowH/2+4, esc(m.Name))
	full := float64(c.rowH - 4)
	top := float64(y) + 2
	capAt := func(x float64, state fleetupdate.State, at time.Time) {
		c.p(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`+"\n",
			x, top, capWidth, full, colors[state], esc(fmt.Sprintf("%s at %s\n%s", state, clock(c.tr.Start, at), info)))
	}
	for _, sg := range c.segs[m.Name] {
		x0, h, minW, dy := c.ax.x(sg.from), full, minRunning, 0.0
		switch sg.state {
		case fleetupdate.Pending:
			h, minW, dy = 4, minPending, (full-4)/2
		case fleetupdate.NotStarted:
			h, minW, dy = 2, 0, (full-2)/2
		}
		x1 := max(c.ax.x(sg.to), x0+minW)
		c.p(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`+"\n",
			x0, top+dy, x1-x0, h, colors[sg.state], esc(fmt.Sprintf("%s %s\n%s", sg.state, c.between(sg.from, sg.to), info)))
		if ended(sg.next) {
			capAt(x1, sg.next, sg.to)
		}
	}
	for _, mk := range c.marks[m.Name] {
		capAt(c.ax.x(mk.at), mk.state, mk.at)
	}
	if st.State == fleetupdate.NotStarted {
		c.p(`<text x="%.1f" y="%d" fill="#9ca3af" font-style="italic">not started</text>`+"\n", c.ax.pieces[0].x0+4, y+c.rowH/2+4)
	}
	c.p("</g>\n")
}

// writeHTML wraps the chart in a self-contained page with the run's summary.
func writeHTML(w io.Writer, tr fake.Trace) error {
	st := tr.Run.Status()
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>fleetkit simulation</title>\n"+
		"<style>body{font-family:sans-serif;margin:24px;color:#111827}h1{font-size:20px}p{max-width:1500px}</style></head><body>\n"+
		"<h1>Update run simulation: %s</h1>\n<p>Started %s; last event after %s of virtual time. "+
		"Spans when nothing runs are drawn narrow and hatched, their real length written on the axes. "+
		"Hover a bar or a row for its times and message.</p>\n",
		st.Status.State, esc(tr.Start.Format(time.RFC3339)), esc(formatDuration(tr.End.Sub(tr.Start))))
	if e := st.Status.Error; e != nil {
		fmt.Fprintf(w, "<p><b>%s</b>: %s</p>\n", esc(e.Code), esc(e.Message))
	}
	if err := writeSVG(w, tr); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "</body></html>")
	return err
}

const gateColor = "#9333ea"

// diamond is the path of a gate marker centred on (cx, cy).
func diamond(cx, cy float64) string {
	return fmt.Sprintf("M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ", cx, cy-5, cx+5, cy, cx, cy+5, cx-5, cy)
}

// drawGate marks on a row where a gate was reached, a hollow diamond, and
// where it was passed, a filled one, joined by a dashed line; a gate still
// Pending has its line run to the end of the chart.
func (c *chart) drawGate(cy float64, g gateRow) {
	st := g.g.Status
	if st.StartTime.IsZero() {
		return
	}
	name := esc(g.name())
	end, done := st.CompletedTime, !st.CompletedTime.IsZero()
	if !done {
		end = c.end
	}
	x := c.ax.x
	c.p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="3 2"/>`+"\n", x(st.StartTime), cy, x(end), cy, gateColor)
	c.p(`<path d="%s" fill="white" stroke="%s" stroke-width="1.5"><title>%s reached at %s</title></path>`+"\n",
		diamond(x(st.StartTime), cy), gateColor, name, esc(clock(c.tr.Start, st.StartTime)))
	if done {
		c.p(`<path d="%s" fill="%s"><title>%s passed at %s</title></path>`+"\n", diamond(x(end), cy), gateColor, name, esc(clock(c.tr.Start, end)))
	}
}
