package httpd

import (
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestLongPoll(t *testing.T) {
	s := newTestServer(t, nil)
	s.expect("POST", "/eureka/apps/orders", springBody, 204, "Content-Type", jsonCT)
	first := s.expect("GET", "/eureka/apps", "", 200, "Accept", jsonCT, "Accept-Encoding", "gzip")
	etag := first.Header().Get("ETag")

	// Held until a change, then answered with the new payload.
	type result struct {
		w       *httptest.ResponseRecorder
		elapsed time.Duration
	}
	done := make(chan result)
	go func() {
		start := time.Now()
		w := s.do("GET", "/eureka/apps", "", "Accept", jsonCT, "Accept-Encoding", "gzip", "If-None-Match", etag, waitHeader, "10s")
		done <- result{w, time.Since(start)}
	}()
	select {
	case r := <-done:
		t.Fatalf("long-poll answered %d before any change", r.w.Code)
	case <-time.After(100 * time.Millisecond):
	}
	body := strings.Replace(springBody, `"instanceId":"10.0.0.5:orders:8080"`, `"instanceId":"second"`, 1)
	changed := time.Now()
	s.expect("POST", "/eureka/apps/orders", body, 204, "Content-Type", jsonCT)
	r := <-done
	if r.w.Code != 200 || r.w.Header().Get("ETag") == etag || r.w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("long-poll after a change: %d %v", r.w.Code, r.w.Header())
	}
	if lag := time.Since(changed); lag > 2*time.Second {
		t.Fatalf("long-poll took %v after the change", lag)
	}

	// No change within the wait: 304 once the wait is over.
	etag = r.w.Header().Get("ETag")
	start := time.Now()
	s.expect("GET", "/eureka/apps", "", 304, "Accept", jsonCT, "Accept-Encoding", "gzip", "If-None-Match", etag, waitHeader, "150ms")
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("304 after %v, before the wait ended", el)
	}
	// Without the wait header a matching tag is answered at once.
	start = time.Now()
	s.expect("GET", "/eureka/apps", "", 304, "Accept", jsonCT, "Accept-Encoding", "gzip", "If-None-Match", etag)
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Fatalf("plain conditional GET held for %v", el)
	}
}

func TestLongPollDisabled(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.MaxLongPoll = 0 })
	s.expect("POST", "/eureka/apps/orders", springBody, 204, "Content-Type", jsonCT)
	etag := s.expect("GET", "/eureka/apps/ORDERS", "", 200).Header().Get("ETag")
	start := time.Now()
	s.expect("GET", "/eureka/apps/ORDERS", "", 304, "If-None-Match", etag, waitHeader, "5s")
	if el := time.Since(start); el > time.Second {
		t.Fatalf("long-poll off, yet the read was held %v", el)
	}
}

func TestLongPollAppIgnoresOtherApps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTestServer(t, nil)
		s.expect("POST", "/eureka/apps/orders", springBody, 204, "Content-Type", jsonCT)
		etag := s.expect("GET", "/eureka/apps/ORDERS", "", 200).Header().Get("ETag")
		done := make(chan int)
		start := time.Now()
		go func() {
			done <- s.do("GET", "/eureka/apps/ORDERS", "", "If-None-Match", etag, waitHeader, "300ms").Code
		}()
		synctest.Wait() // the long-poll is held
		s.expect("POST", "/eureka/apps/payments", fargoXML, 204, "Content-Type", "application/xml")
		if code := <-done; code != 304 {
			t.Fatalf("a change to another app answered the ORDERS long-poll with %d", code)
		}
		if held := time.Since(start); held != 300*time.Millisecond {
			t.Fatalf("the ORDERS long-poll was held %v, want its whole 300ms", held)
		}
	})
}
