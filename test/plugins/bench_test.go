package plugins

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// benchClient keeps a connection per worker, as Eureka clients do.
var benchClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

func send(b *testing.B, user, pass, method, url, body string, want int) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := benchClient.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Errorf("%s %s: %d, want %d", method, url, resp.StatusCode, want)
	}
}

// BenchmarkRenew is heartbeat throughput of the real eurekad without
// authentication and with the example auth plugin (an external process,
// behind eurekad's decision cache). 16 concurrent keep-alive clients renew
// 1000 instances.
func BenchmarkRenew(b *testing.B) {
	for _, tc := range []struct {
		name       string
		user, pass string
		env        func(b *testing.B) []string
	}{
		{"no-auth", "", "", func(*testing.B) []string { return nil }},
		{"external-auth-plugin", "orders", "o-secret", func(b *testing.B) []string {
			env, _ := exampleAuth(b)
			return []string{env}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := eurekadtest.Start(b, append(tc.env(b), "EUREKAD_LOG_LEVEL=warn")...)
			const n = 1000
			for i := range n {
				send(b, tc.user, tc.pass, "POST", s.Base+"apps/ORDERS-API", instanceJSON("ORDERS-API", fmt.Sprintf("i%d", i)), 204)
			}
			var next atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) % n
					send(b, tc.user, tc.pass, "PUT", fmt.Sprintf("%sapps/ORDERS-API/i%d", s.Base, i), "", 200)
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "renews/s")
		})
	}
}

// BenchmarkRegisterSync is registration throughput of the real eurekad
// with the bolt store and sync durability (each register answered after
// its group commit), with the store in eurekad and isolated in a plugin
// process. 16 concurrent clients register new instances.
func BenchmarkRegisterSync(b *testing.B) {
	for _, tc := range []struct {
		name    string
		isolate string
	}{
		{"bolt-in-process", "false"},
		{"bolt-isolated", "true"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := eurekadtest.Start(b, "EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR="+b.TempDir(),
				"EUREKAD_STORAGE_DURABILITY=sync", "EUREKAD_PLUGINS_ISOLATE_BUILTINS="+tc.isolate, "EUREKAD_LOG_LEVEL=warn")
			var next atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					send(b, "", "", "POST", s.Base+"apps/ORDERS", instanceJSON("ORDERS", fmt.Sprintf("%s-%d", tc.name, i)), 204)
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "registers/s")
		})
	}
}
