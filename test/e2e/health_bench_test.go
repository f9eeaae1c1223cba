package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/proctest"
)

// BenchmarkHealthChecks10k is the cost of server-side health checks: the
// real eurekad (memory store) with 10,000 instances that opt in to an HTTP
// check every 10 s against a test server answering 200, against the same
// 10,000 instances unchecked. It reports eurekad's CPU (percent of one
// core) and resident memory over a 30 s window once every instance has been
// probed, and the probes per second. One iteration is one whole run; use
// -benchtime=1x.
func BenchmarkHealthChecks10k(b *testing.B) {
	const n = 10000
	const window = 30 * time.Second
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"unchecked", []string{"EUREKAD_HEALTH_METADATA=false"}},
		{"checked-10s", nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				var probes atomic.Int64
				hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { probes.Add(1) }))
				hs.Config.SetKeepAlivesEnabled(false)
				hs.Start()
				_, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
				s := eurekadtest.Start(b, append(tc.env, "EUREKAD_LOG_LEVEL=warn", "EUREKAD_HEALTH_INTERVAL=10s")...)
				client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
				var wg sync.WaitGroup
				var failed atomic.Int64
				for w := range 16 {
					wg.Go(func() {
						for i := w; i < n; i += 16 {
							body := fmt.Sprintf(`{"instance":{"instanceId":"i%d","hostName":"127.0.0.1","app":"APP%d","ipAddr":"127.0.0.1",
								"status":"UP","port":{"$":%s,"@enabled":"true"},"leaseInfo":{"durationInSecs":600},
								"metadata":{"eurekad.check":"http","eurekad.check.path":"/h"},
								"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}`, i, i%100, port)
							resp, err := client.Post(s.Base+"apps/APP"+strconv.Itoa(i%100), "application/json", strings.NewReader(body))
							if err != nil || resp.StatusCode != http.StatusNoContent {
								failed.Add(1)
							}
							if err == nil {
								resp.Body.Close()
							}
						}
					})
				}
				wg.Wait()
				if failed.Load() > 0 {
					b.Fatalf("%d registrations failed", failed.Load())
				}
				if tc.env == nil {
					// Every instance probed once: the schedule is in its steady state.
					eurekadtest.Until(b, 60*time.Second, "a first probe of every instance", func() bool { return probes.Load() >= n })
				} else {
					time.Sleep(10 * time.Second) // the same settling time as the checked run: a measurement, not a wait
				}
				pid := s.PID()
				cpu0, p0, t0 := proctest.CPU(b, pid), probes.Load(), time.Now()
				time.Sleep(window) // the measurement window
				cpu1, p1, elapsed := proctest.CPU(b, pid), probes.Load(), time.Since(t0)
				b.ReportMetric(100*float64(cpu1-cpu0)/float64(elapsed), "cpu-%")
				b.ReportMetric(float64(proctest.RSS(b, pid))/(1<<20), "rss-MiB")
				r, err := tryDo(http.MethodGet, strings.TrimSuffix(s.Base, "eureka/")+"metrics", nil)
				if err != nil {
					b.Fatal(err)
				}
				if m := regexp.MustCompile(`(?m)^go_memstats_heap_inuse_bytes ([0-9.e+]+)$`).FindSubmatch(r.Body); m != nil {
					v, _ := strconv.ParseFloat(string(m[1]), 64)
					b.ReportMetric(v/(1<<20), "heap-inuse-MiB")
				}
				b.ReportMetric(float64(p1-p0)/elapsed.Seconds(), "probes/s")
				s.Stop()
				hs.Close()
			}
		})
	}
}
