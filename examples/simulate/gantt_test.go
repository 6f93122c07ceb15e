package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
)

// node is an element of a drawn chart.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []node     `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n node) num(name string) float64 {
	v, _ := strconv.ParseFloat(n.attr(name), 64)
	return v
}

// title is the element's tooltip.
func (n node) title() string {
	for _, c := range n.Nodes {
		if c.XMLName.Local == "title" {
			return c.Text
		}
	}
	return ""
}

// all lists n and every element under it, in document order.
func (n node) all() []node {
	out := []node{n}
	for _, c := range n.Nodes {
		out = append(out, c.all()...)
	}
	return out
}

// drawChart runs the simulation with args and returns the SVG it drew,
// parsed, and its bytes.
func drawChart(t *testing.T, args ...string) (node, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.svg")
	simulate(t, append(args, "-svg", path)...)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var svg node
	require.NoError(t, xml.Unmarshal(b, &svg), "the chart is well-formed XML")
	return svg, string(b)
}

// memberRows are the chart's member rows by member name.
func memberRows(svg node) map[string]node {
	rows := map[string]node{}
	for _, n := range svg.all() {
		if n.XMLName.Local == "g" && strings.HasPrefix(n.attr("class"), "row") {
			name, _, _ := strings.Cut(n.title(), " ")
			rows[name] = n
		}
	}
	return rows
}

// bars are the rectangles drawn on a member's row (its bars and caps).
func bars(row node) []node {
	var out []node
	for _, n := range row.all() {
		if n.XMLName.Local == "rect" && n.attr("class") != "hit" {
			out = append(out, n)
		}
	}
	return out
}

func TestEveryMemberHasAVisibleBar(t *testing.T) {
	for _, args := range [][]string{nil, {"-members", "400"}, {"-sample", "gated", "-fail", "prod-us-03"}} {
		svg, _ := drawChart(t, args...)
		rows := memberRows(svg)
		want := 40
		if len(args) > 0 && args[0] == "-members" {
			want = 400
		}
		require.Len(t, rows, want, "%v: a row per member", args)
		for name, row := range rows {
			wide := 0.0
			for _, b := range bars(row) {
				wide = max(wide, b.num("width"))
			}
			assert.GreaterOrEqual(t, wide, 4.0, "%v: %s has a bar or cap at least 4 px wide", args, name)
		}
	}
}

func TestRunningBarsAreNotHiddenByTheirEnd(t *testing.T) {
	svg, _ := drawChart(t)
	row := memberRows(svg)["canary-01"]
	var running, done node
	for _, b := range bars(row) {
		switch b.attr("fill") {
		case colors[fleetupdate.Running]:
			running = b
		case colors[fleetupdate.Completed]:
			done = b
		}
	}
	require.NotEmpty(t, running.Attrs, "a Running bar")
	require.NotEmpty(t, done.Attrs, "a Completed cap")
	assert.GreaterOrEqual(t, running.num("width"), 3.0)
	assert.InDelta(t, running.num("x")+running.num("width"), done.num("x"), 0.11, "the cap follows the bar, not over it")
	assert.Contains(t, running.title(), "Running d0 00:00 → d0 00:40 (40m)")
}

func TestStageAndGroupBarsTakeTheirStateColour(t *testing.T) {
	check := func(svg node, scope string, state fleetupdate.State) {
		t.Helper()
		for _, n := range svg.all() {
			if n.XMLName.Local == "rect" && strings.HasPrefix(n.title(), scope+": ") {
				assert.True(t, strings.HasPrefix(n.title(), scope+": "+string(state)+","), n.title())
				assert.Equal(t, colors[state], n.attr("fill"), scope)
				return
			}
		}
		t.Errorf("no bar for %s", scope)
	}
	svg, page := drawChart(t)
	for _, s := range []string{"canary", "staging", "production"} {
		check(svg, "stage "+s, fleetupdate.Completed)
	}
	check(svg, "group prod-eu", fleetupdate.Completed)
	assert.Contains(t, page, ">Completed</text>", "the legend names the colour")

	svg, _ = drawChart(t, "-sample", "gated", "-fail", "prod-eu-03,prod-eu-04")
	check(svg, "stage canary", fleetupdate.Completed)
	check(svg, "stage production", fleetupdate.Failed)
	check(svg, "group prod-eu", fleetupdate.Failed)
	check(svg, "group prod-us", fleetupdate.Stopped)
}

// axisLabels are the texts of the time axis at the top and the bottom, by
// their y, in order.
func axisLabels(svg node) map[string][]node {
	out := map[string][]node{}
	for _, n := range svg.all() {
		if n.XMLName.Local == "text" && n.attr("class") == "ax" {
			out[n.attr("y")] = append(out[n.attr("y")], n)
		}
	}
	return out
}

func TestAxisRunsToTheEndAtTopAndBottom(t *testing.T) {
	for _, args := range [][]string{nil, {"-members", "400"}, {"-horizon", "1ns"}, {"-fail-rate", "1"}, {"-sample", "gated", "-approve", "after=30h"}} {
		svg, _ := drawChart(t, args...)
		out := simulate(t, args...)
		elapsed := regexp.MustCompile(`after (?:(\d+)d)?(\S+) of virtual time`).FindStringSubmatch(out)
		days, _ := strconv.Atoi(elapsed[1])
		d, err := time.ParseDuration(elapsed[2])
		require.NoError(t, err)
		d += time.Duration(days) * 24 * time.Hour
		start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		end := clock(start, start.Add(max(d, time.Minute)))

		labels := axisLabels(svg)
		require.Len(t, labels, 2, "%v: an axis at the top and one at the bottom", args)
		var right float64
		for _, n := range svg.all() {
			if n.XMLName.Local == "rect" {
				right = max(right, n.num("x")+n.num("width"))
			}
		}
		for y, ls := range labels {
			assert.GreaterOrEqual(t, len(ls), 2, "%v: axis at %s", args, y)
			last := rightmost(ls)
			assert.Equal(t, end, last.Text, "%v: the axis at %s ends at the run's end", args, y)
			assert.Contains(t, []string{"d0 00:00", "d0"}, ls[0].Text, "%v: and starts at its start", args)
			assert.GreaterOrEqual(t, last.num("x")+capWidth+0.1, maxBarEnd(svg), "%v: no bar runs past the axis", args)
		}
		assert.LessOrEqual(t, right, float64(svgWidth), "%v: nothing is drawn past the chart's width", args)
	}
}

// rightmost is the label furthest right.
func rightmost(ls []node) node {
	var last node
	for _, l := range ls {
		if l.num("x") > last.num("x") {
			last = l
		}
	}
	return last
}

// maxBarEnd is where the rightmost bar on a member row starts its end cap,
// or ends if it has none.
func maxBarEnd(svg node) float64 {
	end := 0.0
	for _, row := range memberRows(svg) {
		for _, b := range bars(row) {
			if b.attr("fill") == colors[fleetupdate.Running] || b.attr("fill") == colors[fleetupdate.Pending] {
				end = max(end, b.num("x")+b.num("width"))
			}
		}
	}
	return end
}

func TestIdleSpansAreCompressedAndLabelled(t *testing.T) {
	svg, page := drawChart(t)
	var idle []node
	for _, n := range svg.all() {
		if n.XMLName.Local == "rect" && n.attr("fill") == "url(#idle)" && n.attr("y") == strconv.Itoa(axisTop) {
			idle = append(idle, n)
		}
	}
	require.NotEmpty(t, idle)
	re := regexp.MustCompile(`^nothing runs for (\S+(?: \S+)?) \(`)
	longest := 0.0
	for _, n := range idle {
		m := re.FindStringSubmatch(n.title())
		require.NotNil(t, m, n.title())
		assert.Equal(t, 2, strings.Count(page, `text-anchor="middle">`+m[1]+`</text>`), "%s is written on both axes", m[1])
		assert.LessOrEqual(t, n.num("width"), gapWidthMax)
		longest = max(longest, n.num("width"))
	}
	assert.Contains(t, page, ">28d 7h</text>", "the four weeks prod-us-02 waits for its window")

	// The first stage's two upgrades (1h30m) take more room than the run's
	// longest idle span (28 days).
	rows := memberRows(svg)
	first, second := bars(rows["canary-01"])[0], bars(rows["canary-02"])[0]
	assert.Greater(t, second.num("x")+second.num("width")-first.num("x"), longest)
}

func TestChartIsDeterministic(t *testing.T) {
	for _, args := range [][]string{nil, {"-sample", "gated", "-approve", "within=6h", "-fail-rate", "0.2", "-seed", "9"}, {"-members", "120"}} {
		_, a := drawChart(t, args...)
		_, b := drawChart(t, args...)
		assert.Equal(t, a, b, "%v: same inputs, same bytes", args)
	}
}

func TestChartShowsGatesAndWaits(t *testing.T) {
	svg, page := drawChart(t, "-sample", "gated", "-approve", "after=2h")
	titles := map[string]bool{}
	for _, n := range svg.all() {
		titles[n.title()] = true
	}
	assert.True(t, titles[`Approval "canary looks healthy" after stage canary reached at d0 00:49`])
	assert.True(t, titles[`Approval "canary looks healthy" after stage canary passed at d0 02:49`])
	assert.True(t, titles[`ScheduledStart "EU business hours" before group prod-eu passed at d1 05:00`], "a group's gate")
	assert.True(t, titles["after-stage wait of 1h: Completed, d0 00:49 → d0 01:49 (1h)"])
	assert.True(t, titles["after-stage wait of 2h: Completed, d0 10:45 → d0 12:45 (2h)"])
	assert.Contains(t, page, "after-stage wait</text>", "in the legend")

	// A gate never approved runs to the end of the chart, and members that
	// never started say so.
	svg, page = drawChart(t, "-sample", "gated", "-approve", "never")
	assert.NotContains(t, page, "passed at")
	assert.Equal(t, 38, strings.Count(page, ">not started</text>"))
	var line node
	for _, n := range svg.all() {
		if n.XMLName.Local == "line" && n.attr("stroke") == gateColor {
			line = n
		}
	}
	labels := axisLabels(svg)
	for _, ls := range labels {
		assert.InDelta(t, rightmost(ls).num("x"), line.num("x2"), 0.11, "the pending gate's line reaches the end")
	}
}

func TestMemberTooltipsCarryStateTimesAndMessage(t *testing.T) {
	svg, _ := drawChart(t, "-fail", "prod-us-03")
	row := memberRows(svg)["prod-us-03"]
	assert.Contains(t, row.title(), "prod-us-03 (stage production, group prod-us): Failed, d0 ")
	assert.Contains(t, row.title(), "\nUpgradeFailed: injected failure")
	svg, _ = drawChart(t)
	tip := memberRows(svg)["prod-eu-01"].title()
	assert.Regexp(t, `^prod-eu-01 \(stage production, group prod-eu\): Completed, d34 01:00 → d34 01:49 \(49m\)$`, tip)
	for _, b := range bars(memberRows(svg)["prod-eu-01"]) {
		if b.attr("fill") == colors[fleetupdate.Pending] {
			assert.Regexp(t, `^Pending d0 \d\d:\d\d → d34 01:00 \(33d \d+h\)\n`, b.title())
		}
	}
}

func TestAxisMapsTimeMonotonicallyIntoItsWidth(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		end := start.Add(time.Duration(rapid.Int64Range(1, 90*24*60).Draw(t, "minutes")) * time.Minute)
		var busy []interval
		for range rapid.IntRange(0, 30).Draw(t, "busy") {
			from := start.Add(time.Duration(rapid.Int64Range(-600, 90*24*60).Draw(t, "from")) * time.Minute)
			busy = append(busy, interval{from, from.Add(time.Duration(rapid.Int64Range(0, 3*24*60).Draw(t, "len")) * time.Minute)})
		}
		width := rapid.Float64Range(200, 2000).Draw(t, "width")
		a := newAxis(start, end, busy, 100, width)
		require.NotEmpty(t, a.pieces)
		assert.InDelta(t, 100, a.x(start), 1e-9)
		assert.InDelta(t, 100+width, a.x(end), 0.5, "the axis fills its width")
		prev := a.x(start.Add(-time.Hour))
		for i := range 200 {
			x := a.x(start.Add(end.Sub(start) * time.Duration(i) / 199))
			assert.GreaterOrEqual(t, x, prev)
			prev = x
		}
		for i, p := range a.pieces {
			assert.False(t, p.to.Before(p.from))
			if i > 0 {
				assert.Equal(t, a.pieces[i-1].to, p.from, "pieces join up")
				assert.InDelta(t, a.pieces[i-1].x1, p.x0, 1e-9)
			}
			if p.compressed {
				assert.LessOrEqual(t, p.x1-p.x0, gapWidthMax+1e-9)
				assert.Greater(t, p.to.Sub(p.from).Seconds()*a.scale, p.x1-p.x0, "only spans wider than their room are compressed")
			} else {
				assert.InDelta(t, p.to.Sub(p.from).Seconds()*a.scale, p.x1-p.x0, 1e-6, "drawn to scale")
			}
		}
		ticks := a.ticks(a.step(80))
		for i := 1; i < len(ticks); i++ {
			assert.True(t, ticks[i].After(ticks[i-1]))
		}
	})
}

func TestAxisCompressesOnlyIdleSpans(t *testing.T) {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	h := func(n float64) time.Time { return start.Add(time.Duration(n * float64(time.Hour))) }
	a := newAxis(start, h(24*30+1), []interval{{h(0), h(10)}, {h(11), h(20)}, {h(24 * 30), h(24*30 + 1)}}, 0, 1000)
	require.Len(t, a.pieces, 5)
	assert.False(t, a.pieces[0].compressed)
	assert.False(t, a.pieces[1].compressed, "an hour's pause is drawn to scale")
	assert.True(t, a.pieces[3].compressed, "a month is not")
	assert.InDelta(t, a.pieces[1].x1-a.pieces[1].x0, a.pieces[4].x1-a.pieces[4].x0, 1e-6, "an hour is an hour")
	assert.InDelta(t, gapWidthMax, a.pieces[3].x1-a.pieces[3].x0, 1e-9)
	// Nothing busy: a linear axis.
	a = newAxis(start, h(10), nil, 0, 1000)
	assert.InDelta(t, 500, a.x(h(5)), 1e-9)
}

func TestResizeKeepsGroupsAndNamesEveryMemberOnce(t *testing.T) {
	var f fake.Fleet
	require.NoError(t, decodeStrict(sampleFleet, &f))
	share := map[string]int{}
	for _, m := range f.Members {
		share[m.Group]++
	}
	for _, n := range []int{1, 7, 40, 400, 1003} {
		g := *f.Clone()
		require.NoError(t, resize(&g, n))
		require.Len(t, g.Members, n)
		names := map[string]bool{}
		count := map[string]int{}
		for _, m := range g.Members {
			assert.False(t, names[m.Name], "%d: %s named once", n, m.Name)
			names[m.Name] = true
			count[m.Group]++
			assert.True(t, strings.HasPrefix(m.Name, m.Group+"-"), m.Name)
			assert.True(t, strings.HasSuffix(m.ClusterResourceID, "/"+m.Name), m.ClusterResourceID)
		}
		if n%len(f.Members) == 0 {
			for g, c := range share {
				assert.Equal(t, c*n/len(f.Members), count[g], "%d: group %s keeps its share", n, g)
			}
		}
	}
	g := *f.Clone()
	require.NoError(t, resize(&g, 400))
	g.Members[0].NodePools[0].NodeImageVersion = "changed"
	g.Members[0].Labels["env"] = "changed"
	assert.NotEqual(t, "changed", g.Members[1].NodePools[0].NodeImageVersion, "copies share no pools")
	assert.NotEqual(t, "changed", g.Members[1].Labels["env"], "nor labels")
	assert.NotEqual(t, "changed", f.Members[0].NodePools[0].NodeImageVersion)

	out := simulate(t, "-members", "400")
	assert.Contains(t, out, "= 400 in the run.")
	assert.Regexp(t, `canary\s+canary\s+canary-01\s+d0 00:00`, out)
	var b strings.Builder
	for _, bad := range []string{"0", "-3"} {
		assert.ErrorContains(t, run([]string{"-members", bad}, &b), "-members "+bad+": want at least 1")
	}
}

func TestAxisLabelsNeverOverlap(t *testing.T) {
	got := place([]label{
		{100, "d0 01:00", "middle", 0},
		{110, "d0 01:10", "middle", 0}, // overlaps the one before
		{300, "d3 00:00", "start", 1},
		{320, "d0 02:00", "middle", 0}, // overlaps a label of higher priority
		{600, "d0 05:00", "middle", 0}, // and so does this one, given first
		{640, "d9 00:00", "end", 2},
	}, 6)
	var texts []string
	for _, l := range got {
		texts = append(texts, l.text)
	}
	assert.Equal(t, []string{"d9 00:00", "d3 00:00", "d0 01:00"}, texts)

	for _, args := range [][]string{nil, {"-members", "400"}, {"-sample", "gated", "-approve", "within=30h"}} {
		for y, ls := range axisLabels(drawChartOnly(t, args...)) {
			for i, a := range ls {
				for _, b := range ls[i+1:] {
					assert.Greater(t, abs(a.num("x")-b.num("x")), 30.0, "%v: labels %q and %q of the axis at %s", args, a.Text, b.Text, y)
				}
			}
		}
	}
}

func drawChartOnly(t *testing.T, args ...string) node {
	svg, _ := drawChart(t, args...)
	return svg
}

func abs(v float64) float64 { return max(v, -v) }
