package main

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"
)

func TestOpenLoopKeepsScheduleAndSkipsWarmup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var seen []int64
		o := &openLoop{gap: 10 * time.Millisecond, workers: 2, queue: 2, do: func(_ int, i int64) (int64, string) {
			mu.Lock()
			seen = append(seen, i)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			return 10, ""
		}}
		start := time.Now()
		st, next := o.run(start, start.Add(100*time.Millisecond), start.Add(time.Second), 7)
		// 100 due in [0, 1s), from index 7 on; the first 10 warm up.
		if next != 107 {
			t.Errorf("next = %d, want 107", next)
		}
		if len(seen) != 100 || seen[0] != 7 {
			t.Errorf("sent %d requests starting at %v, want 100 from 7", len(seen), seen[:1])
		}
		if st.Scheduled != 90 || st.Sent != 90 || st.OK != 90 || st.Missed != 0 || st.Bytes != 900 {
			t.Errorf("stats = %+v, want 90 scheduled, sent and ok, 900 bytes", st)
		}
		// With fake time every answer comes exactly 1 ms after its due time.
		if p99, ok := st.quantileOpen(0.99); !ok || p99 < 980*time.Microsecond || p99 > 1020*time.Microsecond {
			t.Errorf("p99 = %v (served %v), want 1ms", p99, ok)
		}
	})
}

func TestOpenLoopChargesQueueingAndCountsMissed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// One connection taking 35 ms per request at one request per 10 ms:
		// the client saturates, so most due requests cannot be sent.
		o := &openLoop{gap: 10 * time.Millisecond, workers: 1, queue: 1, do: func(int, int64) (int64, string) {
			time.Sleep(35 * time.Millisecond)
			return 0, ""
		}}
		start := time.Now()
		st, _ := o.run(start, start, start.Add(time.Second), 0)
		if st.Scheduled != 100 || st.Sent+st.Missed != 100 {
			t.Fatalf("scheduled %d, sent %d, missed %d: want 100 = sent + missed", st.Scheduled, st.Sent, st.Missed)
		}
		if st.Missed < 60 {
			t.Errorf("missed %d, want most of the 100", st.Missed)
		}
		// A request that waited in the queue is charged from its due time.
		if max := time.Duration(st.lat.max); max <= 35*time.Millisecond {
			t.Errorf("max latency %v, want the queueing counted (> 35ms)", max)
		}
		if svc := st.svc.quantile(0.5); svc < 34*time.Millisecond || svc > 36*time.Millisecond {
			t.Errorf("service p50 %v, want 35ms", svc)
		}
		if _, ok := st.quantileOpen(0.5); ok {
			t.Error("p50 reported as served although most requests were missed")
		}
	})
}

func TestOpenLoopCountsErrorsAsUnserved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &openLoop{gap: time.Millisecond, workers: 4, queue: 4, do: func(_ int, i int64) (int64, string) {
			if i%10 == 0 {
				return 0, "status 500"
			}
			return 0, ""
		}}
		start := time.Now()
		st, _ := o.run(start, start, start.Add(100*time.Millisecond), 0)
		if st.Errors["status 500"] != 10 || st.OK != 90 {
			t.Fatalf("errors %v, ok %d: want 10 and 90", st.Errors, st.OK)
		}
		if _, ok := st.quantileOpen(0.5); !ok {
			t.Error("p50 unserved with 90% served")
		}
		if _, ok := st.quantileOpen(0.95); ok {
			t.Error("p95 served with 10% failed")
		}
	})
}

func TestQuantileOpen(t *testing.T) {
	var st openStats
	for i := 1; i <= 98; i++ {
		st.lat.record(time.Duration(i) * time.Millisecond)
	}
	st.Scheduled = 100
	if d, ok := st.quantileOpen(0.5); !ok || d < 49*time.Millisecond || d > 51*time.Millisecond {
		t.Errorf("p50 = %v, %v; want 50ms", d, ok)
	}
	if _, ok := st.quantileOpen(0.99); ok {
		t.Error("p99 served with 2 of 100 unanswered")
	}
	st.Scheduled = 98
	if d, ok := st.quantileOpen(0.99); !ok || d < 96*time.Millisecond || d > 98*time.Millisecond {
		t.Errorf("p99 = %v, %v; want 97ms", d, ok)
	}
	empty := openStats{}
	if _, ok := empty.quantileOpen(0.99); !ok {
		t.Error("nothing scheduled reported as unserved")
	}
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestContainsStream(t *testing.T) {
	body := strings.Repeat("x", 100_000) + `"probe":"v7"` + strings.Repeat("y", 300_000)
	for name, mk := range map[string]func() io.Reader{
		"one byte a read": func() io.Reader { return iotest.OneByteReader(strings.NewReader(body)) },
		"half reads":      func() io.Reader { return iotest.HalfReader(strings.NewReader(body)) },
		"whole":           func() io.Reader { return strings.NewReader(body) },
	} {
		cr := &countReader{r: mk()}
		ok, err := containsStream(cr, []byte(`"probe":"v7"`))
		if err != nil || !ok {
			t.Errorf("%s: found %v, %v", name, ok, err)
		}
		if cr.n >= len(body) {
			t.Errorf("%s: read all %d bytes, want it to stop at the match", name, cr.n)
		}
		ok, err = containsStream(mk(), []byte(`"probe":"v8"`))
		if err != nil || ok {
			t.Errorf("%s: absent needle found %v, %v", name, ok, err)
		}
	}
	if _, err := containsStream(iotest.ErrReader(io.ErrClosedPipe), []byte("a")); err != io.ErrClosedPipe {
		t.Errorf("read error = %v, want it returned", err)
	}
}

// containsBefore stops at the marker: a needle after it is not found and
// the rest of the body is not read, and one across two reads is found.
func TestContainsBefore(t *testing.T) {
	stop := []byte(`,{"name":`)
	first := `{"name":"AAA-SCALE-PROBE","instance":[{"instanceId":"p1","metadata":{"probe":"v1"}}]}`
	rest := `,{"name":"ORDERS","instance":[` + strings.Repeat(`{"instanceId":"x","metadata":{"probe":"v2"}},`, 5000) + `]}`
	body := `{"applications":{"application":[` + first + rest + `]}}`
	for name, mk := range map[string]func() io.Reader{
		"one byte a read": func() io.Reader { return iotest.OneByteReader(strings.NewReader(body)) },
		"whole":           func() io.Reader { return strings.NewReader(body) },
	} {
		if ok, err := containsBefore(mk(), []byte(`"probe":"v1"`), stop); err != nil || !ok {
			t.Errorf("%s: needle before the marker: found %v, %v", name, ok, err)
		}
		cr := &countReader{r: mk()}
		if ok, err := containsBefore(cr, []byte(`"probe":"v2"`), stop); err != nil || ok {
			t.Errorf("%s: needle after the marker: found %v, %v", name, ok, err)
		}
		if cr.n > 2*len(first)+(64<<10) {
			t.Errorf("%s: read %d of %d bytes, want it to stop at the marker", name, cr.n, len(body))
		}
		if ok, err := containsBefore(mk(), []byte(`"probe":"v2"`), nil); err != nil || !ok {
			t.Errorf("%s: no marker: found %v, %v", name, ok, err)
		}
	}
}

func TestFleetRates(t *testing.T) {
	for _, tc := range []struct {
		n         int
		max       float64
		rate, sca float64
	}{
		{10_000, 0, 10_000.0 / 30, 1},
		{10_000, 1000, 10_000.0 / 30, 1},
		{1_000_000, 10_000, 5000, 0.15},
	} {
		rate, scale := fleetRates(tc.n, 30*time.Second, tc.max)
		if d := rate - tc.rate; d > 0.01 || d < -0.01 || scale-tc.sca > 1e-9 || tc.sca-scale > 1e-9 {
			t.Errorf("fleetRates(%d, max %v) = %v, %v; want %v, %v", tc.n, tc.max, rate, scale, tc.rate, tc.sca)
		}
	}
}

func TestChurnRequestMix(t *testing.T) {
	s := &scaler{cfg: scaleConfig{instances: 1000, apps: 50}, addr: "127.0.0.1:1", nonce: "n", dirty: 1}
	line := func(i int64) string {
		req := s.churnRequest(nil, i)
		first, _, _ := bytes.Cut(req, []byte("\r\n"))
		return string(first)
	}
	for i, want := range []string{"PUT ", "DELETE ", "PUT ", "POST /eureka/apps/", "PUT ", "DELETE ", "PUT ", "PUT "} {
		if got := line(int64(i)); !strings.HasPrefix(got, want) {
			t.Errorf("change %d: %q, want %s…", i, got, want)
		}
	}
	// An override and its removal name the same instance.
	set, unset := line(0), line(1)
	if !strings.Contains(set, "/status?value=OUT_OF_SERVICE") || !strings.Contains(unset, "/status?value=UP") ||
		strings.Fields(set)[1][:strings.Index(strings.Fields(set)[1], "?")] != strings.Fields(unset)[1][:strings.Index(strings.Fields(unset)[1], "?")] {
		t.Errorf("override %q and removal %q differ", set, unset)
	}
	if !strings.Contains(line(2), "/metadata?scale-edit=0") {
		t.Errorf("change 2 = %q, want a metadata edit", line(2))
	}
	// Change 7 is a metadata edit until churnLag extras are registered;
	// then each cancel removes the extra registered churnLag earlier.
	reg := string(s.churnRequest(nil, 3))
	extra := specFor("churn-n-", 0, 50)
	if !strings.Contains(reg, `"instanceId":"`+extra.id+`"`) || !strings.Contains(line(7), "/metadata?") {
		t.Errorf("register %q / change 7 %q", reg[:80], line(7))
	}
	cancel := line(int64(4*(2*churnLag+1) + 3))
	if !strings.HasPrefix(cancel, "DELETE ") || !strings.Contains(cancel, extra.id) {
		t.Errorf("cancel %q does not name %s", cancel, extra.id)
	}
}

func TestParseMetrics(t *testing.T) {
	m := parseMetrics(strings.NewReader(`# HELP eurekad_cache_builds_total x
# TYPE eurekad_cache_builds_total counter
eurekad_cache_builds_total 42
eurekad_cache_build_seconds_total 1.5e-01
eurekad_registry_instances{status="UP"} 7
`))
	if m["eurekad_cache_builds_total"] != 42 || m["eurekad_cache_build_seconds_total"] != 0.15 || len(m) != 2 {
		t.Errorf("parsed %v", m)
	}
}

func TestScaleCPUSplit(t *testing.T) {
	a := serverSample{ok: true, user: 100, sys: 50, self: 10, busy: 1000, total: 4000, now: 0}
	b := serverSample{ok: true, user: 200, sys: 70, self: 30, busy: 1400, total: 4400, now: int64(2 * time.Second)}
	u := scaleCPU(a, b, map[string]float64{"eurekad_cache_build_seconds_total": 1}, map[string]float64{"eurekad_cache_build_seconds_total": 1.5, "eurekad_cache_builds_total": 9})
	// 100 ticks of user in 2 s = 50% of a core; 20 sys = 10%; builds 0.5 s = 25%.
	if u.UserPct != 50 || u.SysPct != 10 || u.GeneratorPct != 10 || u.BuildPct != 25 || u.Builds != 9 {
		t.Errorf("cpu = %+v", u)
	}
	// The machine was busy 400 ticks, 140 of them ours: 260 of 400 = 65%.
	if u.OtherPct != 65 {
		t.Errorf("others = %v, want 65", u.OtherPct)
	}
}

func TestScaleTableMarksUnserved(t *testing.T) {
	var b bytes.Buffer
	writeScaleTable(&b, []*ScaleResult{{Instances: 10_000, Store: "memory", Churn: 100, RateScale: 1,
		Heartbeat: &KindResult{OfferedPerSec: 333, P99Ms: 2},
		Delta:     &KindResult{OfferedPerSec: 333, OK: 10, Scheduled: 20, P50Ms: 3, P99Ms: -1},
		Fresh:     map[string]*VisResult{"/apps": {Samples: 4, Timeouts: 1, P50Ms: 5, P99Ms: 5000}}}})
	out := b.String()
	for _, want := range []string{"| 10000 | memory | 100 | 666 |", "10 / 20", "3.0 / unserved ms", "(1/4 timed out)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
