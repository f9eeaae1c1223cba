package httpd

import (
	"net/http"
	"strings"
	"testing"
)

// rereadBody is a request body that can be read again, so one request can
// be served b.N times without building a new one.
type rereadBody struct{ strings.Reader }

func (*rereadBody) Close() error { return nil }

// BenchmarkRegisterHTTP measures the whole registration path below the
// network (routing, the auth decision, decoding, the checks and the
// registry), as the Spring client sends it, re-registering one instance.
func BenchmarkRegisterHTTP(b *testing.B) {
	for _, withAuth := range []bool{false, true} {
		name := "auth=off"
		if withAuth {
			name = "auth=cached"
		}
		b.Run(name, func(b *testing.B) {
			h, _ := renewRig(b, withAuth)
			body := &rereadBody{}
			req, _ := http.NewRequest("POST", "/eureka/apps/ORDERS", nil)
			req.Header.Set("Content-Type", jsonCT)
			req.SetBasicAuth("orders", "orders-secret")
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				body.Reset(springBody)
				req.Body, req.ContentLength = body, int64(len(springBody))
				h.ServeHTTP(w, req)
			}
			if w.code != http.StatusNoContent {
				b.Fatalf("register answered %d", w.code)
			}
		})
	}
}
