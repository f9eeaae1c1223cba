package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// cmdScaleSummary prints the Markdown table of `scale --json` lines read
// from the named files (standard input when none), one row per line.
func cmdScaleSummary(args []string) error {
	fs := flag.NewFlagSet("scale-summary", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var rs []*ScaleResult
	read := func(r io.Reader, name string) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if !strings.HasPrefix(line, "{") {
				continue
			}
			var res ScaleResult
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			rs = append(rs, &res)
		}
		return sc.Err()
	}
	if fs.NArg() == 0 {
		if err := read(os.Stdin, "stdin"); err != nil {
			return err
		}
	}
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		err = read(f, name)
		f.Close()
		if err != nil {
			return err
		}
	}
	writeScaleTable(os.Stdout, rs)
	return nil
}

// writeScaleTable writes one row per result; "unserved" marks a
// percentile that fell among requests the server never answered.
func writeScaleTable(w io.Writer, rs []*ScaleResult) {
	fmt.Fprintln(w, "| instances | store | changes/s | hb+delta offered/s | delta served/scheduled | delta p50 / p99 | full p50 / p99 | heartbeat p99 | fresh /apps p50 / p99 | fresh delta p50 / p99 | server CPU user+sys (build) | RSS (B/inst) | restart ready / all | peer sync ready / all | others' CPU |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		cells := []string{strconv.Itoa(r.Instances), r.Store, fmt.Sprintf("%.0f", r.Churn)}
		offered := 0.0
		if r.Heartbeat != nil {
			offered += r.Heartbeat.OfferedPerSec
		}
		if r.Delta != nil {
			offered += r.Delta.OfferedPerSec
		}
		o := fmt.Sprintf("%.0f", offered)
		if r.RateScale < 1 {
			o += fmt.Sprintf(" (×%.2f)", r.RateScale)
		}
		cells = append(cells, o)
		if d := r.Delta; d != nil {
			cells = append(cells, fmt.Sprintf("%d / %d", d.OK, d.Scheduled), pair(d.P50Ms, d.P99Ms))
		} else {
			cells = append(cells, "–", "–")
		}
		if f := r.Full; f != nil {
			cells = append(cells, pair(f.P50Ms, f.P99Ms))
		} else {
			cells = append(cells, "–")
		}
		if h := r.Heartbeat; h != nil {
			cells = append(cells, cell(h.P99Ms))
		} else {
			cells = append(cells, "–")
		}
		for _, ep := range []string{"/apps", "/apps/delta"} {
			if v := r.Fresh[ep]; v != nil && v.Samples > 0 {
				s := pair(v.P50Ms, v.P99Ms)
				if v.Timeouts > 0 {
					s += fmt.Sprintf(" (%d/%d timed out)", v.Timeouts, v.Samples)
				}
				cells = append(cells, s)
			} else {
				cells = append(cells, "–")
			}
		}
		other := "–"
		if u := r.CPU; u != nil {
			cells = append(cells, fmt.Sprintf("%.0f+%.0f %% (%.0f %%)", u.UserPct, u.SysPct, u.BuildPct))
			other = fmt.Sprintf("%.0f %%", u.OtherPct)
		} else {
			cells = append(cells, "–")
		}
		if m := r.Memory; m != nil {
			cells = append(cells, fmt.Sprintf("%.0f MB (%.0f)", mb(m.RSSKB), float64(m.RSSKB)*1024/float64(r.Instances)))
		} else {
			cells = append(cells, "–")
		}
		st := r.Setup
		if st != nil && st.RestartServingMs > 0 {
			cells = append(cells, fmt.Sprintf("%.0f / %.0f ms", st.RestartReadyMs, st.RestartServingMs))
		} else {
			cells = append(cells, "–")
		}
		if st != nil && st.PeerServingMs > 0 {
			cells = append(cells, fmt.Sprintf("%.0f / %.0f ms", st.PeerReadyMs, st.PeerServingMs))
		} else {
			cells = append(cells, "–")
		}
		cells = append(cells, other)
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}
}

// cell prints a latency in ms, or "unserved" for -1.
func cell(v float64) string {
	if v < 0 {
		return "unserved"
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func pair(a, b float64) string { return cell(a) + " / " + cell(b) + " ms" }
