package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Throughput targets: eurekad's req/s over the baseline's. Scenarios without
// an entry are reported without a target.
var ratioTargets = map[string]float64{
	"renew":      0.8,
	"fetch-full": 0.8,
	"register":   0.7,
}

// busyWarnPct is the share of the machine other processes may take during a
// run before the summary warns that its figures are unreliable.
const busyWarnPct = 10

// visibilityTargetMs is the p99 change-to-visible delay eurekad must meet on
// /apps and /apps/delta.
const visibilityTargetMs = 50

var scenarioOrder = []string{"renew", "register", "fetch-full", "delta"}

// readResultFiles reads `run --json` lines from the named files, or from
// standard input when there are none.
func readResultFiles(names []string) ([]*Result, error) {
	if len(names) == 0 {
		return readResults(os.Stdin)
	}
	var results []*Result
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		rs, err := readResults(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		results = append(results, rs...)
	}
	return results, nil
}

func cmdSummary(args []string) error {
	fs := flag.NewFlagSet("summary", flag.ContinueOnError)
	base := fs.String("baseline", "baseline", "label of the baseline runs")
	subject := fs.String("subject", "eurekad", "label of the runs compared with it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	results, err := readResultFiles(fs.Args())
	if err != nil {
		return err
	}
	writeSummary(os.Stdout, results, *base, *subject)
	return nil
}

func readResults(r io.Reader) ([]*Result, error) {
	var out []*Result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] != '{' {
			continue
		}
		var res Result
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			return nil, err
		}
		out = append(out, &res)
	}
	return out, sc.Err()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// group is the runs of one scenario against one server.
type group struct {
	rps, p50, p99, bps []float64
	cpuUs              []float64 // server CPU µs per request, runs that know it
	otherMax           float64   // highest share of the machine other processes used
	errors             int64
	requests           int64
	payload            int64
	payloadInst        int
	vis                map[string][]float64 // endpoint -> p99 per run
	visP50             map[string][]float64
	visMax             map[string][]float64 // the worst delay of each run
	visTimeouts        map[string]int
}

func collect(results []*Result) map[string]map[string]*group {
	gs := map[string]map[string]*group{}
	for _, r := range results {
		if gs[r.Scenario] == nil {
			gs[r.Scenario] = map[string]*group{}
		}
		g := gs[r.Scenario][r.Label]
		if g == nil {
			g = &group{vis: map[string][]float64{}, visP50: map[string][]float64{}, visMax: map[string][]float64{}, visTimeouts: map[string]int{}}
			gs[r.Scenario][r.Label] = g
		}
		g.rps = append(g.rps, r.RPS)
		g.p50 = append(g.p50, r.P50Ms)
		g.p99 = append(g.p99, r.P99Ms)
		g.bps = append(g.bps, r.BytesPerSec)
		if u := r.CPU; u != nil {
			if u.ServerSec > 0 && r.Requests > 0 {
				g.cpuUs = append(g.cpuUs, 1e6*u.ServerSec/float64(r.Requests))
			}
			g.otherMax = max(g.otherMax, u.OtherPct)
		}
		g.errors += r.Errors
		g.requests += r.Requests
		g.payload = r.PayloadBytes
		g.payloadInst = r.PayloadInstances
		for ep, v := range r.Visibility {
			g.vis[ep] = append(g.vis[ep], v.P99Ms)
			g.visP50[ep] = append(g.visP50[ep], v.P50Ms)
			g.visMax[ep] = append(g.visMax[ep], v.MaxMs)
			g.visTimeouts[ep] += v.Timeouts
		}
	}
	return gs
}

func fmtRate(v float64) string {
	if v == 0 {
		return "—"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func errNote(g *group) string {
	if g == nil || g.errors == 0 {
		return ""
	}
	return fmt.Sprintf(" ⚠ %d errors", g.errors)
}

// writeSummary prints the headline table (medians, ratio, target) and a
// detail table with latencies, bytes and per-run figures.
func writeSummary(w io.Writer, results []*Result, baseLabel, subjLabel string) {
	gs := collect(results)
	fmt.Fprintf(w, "| scenario | %s req/s | %s req/s | ratio | target | result | server CPU µs/req (%s / %s) |\n",
		baseLabel, subjLabel, baseLabel, subjLabel)
	fmt.Fprintln(w, "|---|---:|---:|---:|---|---|---|")
	busiest := 0.0
	for _, sc := range scenarioOrder {
		b, s := gs[sc][baseLabel], gs[sc][subjLabel]
		if b == nil && s == nil {
			continue
		}
		var br, sr float64
		if b != nil {
			br = median(b.rps)
		}
		if s != nil {
			sr = median(s.rps)
		}
		ratio, target, verdict := "—", "—", "—"
		if br > 0 && sr > 0 {
			ratio = fmt.Sprintf("%.2f×", sr/br)
		}
		if t, ok := ratioTargets[sc]; ok {
			target = fmt.Sprintf("≥ %.1f×", t)
			if br > 0 && sr > 0 {
				verdict = "met"
				if sr/br < t {
					verdict = "**MISSED**"
				}
			}
		}
		if (b != nil && b.errors > 0) || (s != nil && s.errors > 0) {
			verdict += " (runs had errors)"
		}
		label := sc
		if sc == "fetch-full" || sc == "delta" {
			label += " (gzip)"
		}
		cpu := "—"
		if b != nil && s != nil && len(b.cpuUs) > 0 && len(s.cpuUs) > 0 {
			cpu = fmt.Sprintf("%.1f / %.1f", median(b.cpuUs), median(s.cpuUs))
		}
		for _, g := range []*group{b, s} {
			if g != nil {
				busiest = max(busiest, g.otherMax)
			}
		}
		fmt.Fprintf(w, "| %s | %s%s | %s%s | %s | %s | %s | %s |\n",
			label, fmtRate(br), errNote(b), fmtRate(sr), errNote(s), ratio, target, verdict, cpu)
	}
	if s := gs["visibility"][subjLabel]; s != nil {
		for _, ep := range []string{"/apps", "/apps/delta"} {
			p99 := median(s.vis[ep])
			verdict := "met"
			if len(s.vis[ep]) == 0 || p99 > visibilityTargetMs || s.visTimeouts[ep] > 0 {
				verdict = "**MISSED**"
			}
			if s.errors > 0 {
				verdict += " (runs had errors)"
			}
			fmt.Fprintf(w, "| visibility %s p99 | n/a | %.1f ms%s | — | ≤ %d ms | %s | — |\n",
				ep, p99, errNote(s), visibilityTargetMs, verdict)
		}
	}
	if busiest > busyWarnPct {
		fmt.Fprintf(w, "\n**Warning:** other processes used up to %.0f%% of the machine during some runs; "+
			"req/s figures from those runs are unreliable (server CPU per request is less affected).\n", busiest)
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | server | runs | req/s per run | p50 ms | p99 ms | MB/s | payload (bytes, instances) | server CPU µs/req | others' CPU (max) | errors |")
	fmt.Fprintln(w, "|---|---|---:|---|---:|---:|---:|---|---:|---:|---:|")
	for _, sc := range append(scenarioOrder, "visibility") {
		for _, label := range []string{baseLabel, subjLabel} {
			g := gs[sc][label]
			if g == nil {
				continue
			}
			errs := strconv.FormatInt(g.errors, 10)
			if g.errors > 0 {
				errs = fmt.Sprintf("**%d (%.2f%%)**", g.errors, 100*float64(g.errors)/float64(max(g.requests, 1)))
			}
			if sc == "visibility" {
				for _, ep := range []string{"/apps", "/apps/delta"} {
					fmt.Fprintf(w, "| visibility %s | %s | %d | — | %.2f | %.2f (max %.2f) | — | — | — | — | %s |\n",
						ep, label, len(g.vis[ep]), median(g.visP50[ep]), median(g.vis[ep]), slices.Max(append([]float64{0}, g.visMax[ep]...)), errs)
				}
				continue
			}
			runs := make([]string, len(g.rps))
			for i, v := range g.rps {
				runs[i] = fmtRate(v)
			}
			mbs, payload := "—", "—"
			if bps := median(g.bps); bps > 0 {
				mbs = fmt.Sprintf("%.1f", bps/1e6)
				payload = fmt.Sprintf("%d, %d", g.payload, g.payloadInst)
			}
			cpu := "—"
			if len(g.cpuUs) > 0 {
				cpu = fmt.Sprintf("%.1f", median(g.cpuUs))
			}
			fmt.Fprintf(w, "| %s | %s | %d | %s | %.3f | %.3f | %s | %s | %s | %.0f%% | %s |\n",
				sc, label, len(g.rps), strings.Join(runs, ", "), median(g.p50), median(g.p99), mbs, payload, cpu, g.otherMax, errs)
		}
	}
}
