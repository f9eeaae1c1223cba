package httpd

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
)

// benchServer1000 is a server with the default options over a registry of
// 1,000 instances of one application.
func benchServer1000() http.Handler {
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	c, _ := cache.New(reg, nil)
	h := New(node.New(reg, node.Options{}), c, nil).Handler()
	for i := 0; i < 1000; i++ {
		body := strings.Replace(springBody, `"instanceId":"10.0.0.5:orders:8080"`, `"instanceId":"i`+strconv.Itoa(i)+`"`, 1)
		req := httptest.NewRequest("POST", "/eureka/apps/ORDERS", strings.NewReader(body))
		req.Header.Set("Content-Type", jsonCT)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	return h
}

// BenchmarkCachedReadsParallel serves cached full and delta fetches (gzip,
// JSON) from parallel goroutines, each a reader of its own (an address and
// a User-Agent), over a registry of 1,000 instances: the read path's cost
// with every reader recorded, and its contention.
func BenchmarkCachedReadsParallel(b *testing.B) {
	h := benchServer1000()
	for _, path := range []string{"/eureka/apps/", "/eureka/apps/delta"} {
		b.Run(strings.Trim(strings.TrimPrefix(path, "/eureka/apps"), "/")+"fetch", func(b *testing.B) {
			var next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				n := next.Add(1)
				get := httptest.NewRequest("GET", path, nil)
				get.RemoteAddr = "10.1." + strconv.Itoa(int(n/250)) + "." + strconv.Itoa(int(n%250)) + ":40000"
				get.Header.Set("Accept", jsonCT)
				get.Header.Set("Accept-Encoding", "gzip")
				get.Header.Set("User-Agent", "Java-EurekaClient/v1.10.17")
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					h.ServeHTTP(w, get)
					if w.code != http.StatusOK {
						b.Errorf("GET %s answered %d", path, w.code)
						return
					}
				}
			})
		})
	}
}
