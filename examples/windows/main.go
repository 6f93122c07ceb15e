// Command windows prints, for a few sample AKS maintenance windows, whether
// each is open and when it next opens, then the order in which Azure Fleet
// Manager would pick members that have them.
//
//	go run ./examples/windows               # at the current time
//	go run ./examples/windows -at 2026-03-07T03:00:00Z
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/fleetkit/fleetkit/planner"
	"github.com/fleetkit/fleetkit/window"
)

// samples are maintenanceWindow objects as the AKS API returns them.
var samples = []struct{ member, json string }{
	{"dev-eastus", ``},
	{"test-westeurope", `{"schedule":{"daily":{"intervalDays":1}},"durationHours":6,"utcOffset":"+01:00","startTime":"22:00"}`},
	{"prod-eastus", `{"schedule":{"weekly":{"intervalWeeks":1,"dayOfWeek":"Saturday"}},"durationHours":8,"utcOffset":"-05:00","startTime":"01:00"}`},
	{"prod-japaneast", `{"schedule":{"relativeMonthly":{"intervalMonths":1,"weekIndex":"First","dayOfWeek":"Sunday"}},"durationHours":4,"utcOffset":"+09:00","startTime":"02:00"}`},
	{"prod-uksouth", `{"schedule":{"absoluteMonthly":{"intervalMonths":1,"dayOfMonth":31}},"durationHours":24,"startTime":"00:00","notAllowedDates":[{"start":"2026-12-20","end":"2027-01-05"}]}`},
}

func main() {
	atFlag := flag.String("at", "", "evaluate at this RFC 3339 time instead of now")
	flag.Parse()
	at := time.Now().UTC()
	if *atFlag != "" {
		t, err := time.Parse(time.RFC3339, *atFlag)
		if err != nil {
			fmt.Fprintln(os.Stderr, "windows: -at:", err)
			os.Exit(2)
		}
		at = t.UTC()
	}
	if err := run(os.Stdout, at); err != nil {
		fmt.Fprintln(os.Stderr, "windows:", err)
		os.Exit(1)
	}
}

func run(out io.Writer, at time.Time) error {
	fmt.Fprintf(out, "At %s:\n\n", at.Format(time.RFC3339))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tWINDOW\tOPEN\tCURRENT OR NEXT WINDOW (UTC)")
	var cands []planner.Candidate
	for _, s := range samples {
		c := planner.Candidate{Name: s.member}
		if s.json == "" {
			fmt.Fprintf(tw, "%s\tnone\t-\t-\n", s.member)
			cands = append(cands, c)
			continue
		}
		var w window.Schedule
		if err := json.Unmarshal([]byte(s.json), &w); err != nil {
			return fmt.Errorf("%s: %w", s.member, err)
		}
		if err := w.Validate(); err != nil {
			return fmt.Errorf("%s: %w", s.member, err)
		}
		next := "never"
		if iv, ok := w.Next(at); ok {
			end := "open-ended"
			if !iv.Unbounded() {
				end = iv.End.Format("Mon 2006-01-02 15:04")
			}
			next = iv.Start.Format("Mon 2006-01-02 15:04") + " → " + end
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", s.member, w.Summary(), w.IsOpen(at), next)
		c.Window = &w
		cands = append(cands, c)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nFleet pick order (open now, opens within 4h, no window, closed):")
	for i, c := range planner.Order(cands, at) {
		p, opens := planner.Classify(c.Window, at)
		when := ""
		if !opens.IsZero() {
			when = " (" + opens.Format(time.RFC3339) + ")"
		}
		fmt.Fprintf(out, "  %d. %-16s %s%s\n", i+1, c.Name, p, when)
	}
	return nil
}
