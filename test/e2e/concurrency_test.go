package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// step is one request of a scripted client and the status it must get.
type step struct {
	method, path string
	body         []byte
	want         int
}

// TestConcurrentClients runs many Java-shaped clients at once against one
// server while readers fetch the full registry and deltas. Every request
// must get its normal answer, payloads must stay valid, and a -race run
// also checks the server for data races (the harness fails the test on
// one).
func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const clients, renews = 16, 10

	var stop atomic.Bool
	var readers sync.WaitGroup
	readerErrs := make(chan error, 4)
	for _, path := range []string{"apps/", "apps/delta", "vips/concurrent", "apps/CONCURRENT"} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for !stop.Load() {
				r, err := tryDo(http.MethodGet, s.Base+path, nil, "Accept", "application/json")
				if err != nil {
					readerErrs <- err
					return
				}
				// apps/CONCURRENT is 404 while no instance is registered.
				if r.Status == http.StatusNotFound && path == "apps/CONCURRENT" {
					continue
				}
				if r.Status != http.StatusOK {
					readerErrs <- fmt.Errorf("GET %s: status %d", path, r.Status)
					return
				}
				var errs []error
				if path == "apps/CONCURRENT" {
					_, errs = parseApplicationDoc(r.Body)
				} else {
					_, errs = parseApps(r.Body)
				}
				if len(errs) > 0 {
					readerErrs <- fmt.Errorf("GET %s: %v", path, errs[0])
					return
				}
			}
		}()
	}

	var writers sync.WaitGroup
	writerErrs := make(chan error, clients)
	for i := range clients {
		writers.Add(1)
		go func() {
			defer writers.Done()
			j := newJavaInstance("CONCURRENT", fmt.Sprintf("10.1.0.%d", i+1))
			j.VIP = "concurrent"
			base := s.Base
			if i%2 == 1 {
				base = s.BaseV2
			}
			steps := []step{{http.MethodPost, "apps/CONCURRENT", j.scBody(), http.StatusNoContent}}
			for range renews {
				steps = append(steps, step{http.MethodPut, fmt.Sprintf("apps/CONCURRENT/%s?status=UP&lastDirtyTimestamp=%d", j.ID, j.LastDirty), nil, http.StatusOK})
			}
			steps = append(steps, []step{
				{http.MethodPut, "apps/CONCURRENT/" + j.ID + "/status?value=OUT_OF_SERVICE", nil, http.StatusOK},
				{http.MethodPut, "apps/CONCURRENT/" + j.ID + "/metadata?worker=" + fmt.Sprint(i), nil, http.StatusOK},
				{http.MethodDelete, "apps/CONCURRENT/" + j.ID + "/status?value=UP", nil, http.StatusOK},
				{http.MethodPut, "apps/CONCURRENT/" + j.ID, nil, http.StatusOK},
				{http.MethodDelete, "apps/CONCURRENT/" + j.ID, nil, http.StatusOK},
				{http.MethodDelete, "apps/CONCURRENT/" + j.ID, nil, http.StatusNotFound},
			}...)
			for _, st := range steps {
				r, err := tryDo(st.method, base+st.path, st.body, javaWriteHeaders(j.IP)...)
				if err != nil {
					writerErrs <- err
					return
				}
				if r.Status != st.want {
					writerErrs <- fmt.Errorf("client %d: %s %s: status %d %q, want %d", i, st.method, st.path, r.Status, r.Body, st.want)
					return
				}
			}
		}()
	}
	writers.Wait()
	stop.Store(true)
	readers.Wait()
	close(writerErrs)
	close(readerErrs)
	for err := range writerErrs {
		t.Error(err)
	}
	for err := range readerErrs {
		t.Error(err)
	}
	waitApps(t, "registry empty after every client cancelled", s.Base+"apps/", func(_ *response, p *appsPayload) error {
		if n := p.instanceCount(); n != 0 || p.Hashcode != "" {
			return fmt.Errorf("%d instances, hashcode %q", n, p.Hashcode)
		}
		return nil
	})
}
