package httpd

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// readUntilOut fetches GET apps as one reader until the answer shows the
// instance out of service.
func (s *testServer) readUntilOut(client string) {
	s.t.Helper()
	eurekadtest.Until(s.t, 5*time.Second, client+" sees OUT_OF_SERVICE", func() bool {
		w := s.do("GET", "/eureka/apps/", "", "Accept", jsonCT, clientHeader, client)
		return strings.Contains(w.Body.String(), `"status":"OUT_OF_SERVICE"`)
	})
}

func decodeDrain(t *testing.T, body string) drainView {
	t.Helper()
	var v drainView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("drain answer %q: %v", body, err)
	}
	return v
}

// A drain answers 200 once every reader that was active has fetched the
// change, and 202 at its timeout naming the readers that have not; a
// reader of another application is not waited for.
func TestDrainConfirmation(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.AdminToken = "tok" })
	s.expect("POST", "/eureka/apps/ORDERS", springBody, 204, "Content-Type", jsonCT)
	s.expect("POST", "/eureka/apps/PAYMENTS", strings.ReplaceAll(springBody, "ORDERS", "PAYMENTS"), 204, "Content-Type", jsonCT)
	for _, c := range []string{"a", "b"} {
		s.expect("GET", "/eureka/apps/", "", 200, "Accept", jsonCT, clientHeader, c)
	}
	s.expect("GET", "/eureka/apps/PAYMENTS", "", 200, "Accept", jsonCT, clientHeader, "payments-only")

	answer := make(chan *http.Response, 1)
	go func() {
		w := s.do("POST", "/admin/api/instances/ORDERS/10.0.0.5:orders:8080/drain?timeout=20s", "", "Authorization", "Bearer tok")
		answer <- w.Result()
	}()
	s.readUntilOut("a")
	select {
	case <-answer:
		t.Fatal("drain answered before reader b fetched the change")
	default:
	}
	s.readUntilOut("b")
	resp := <-answer
	var v drainView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || v.TimedOut || len(v.Pending) != 0 || len(v.Confirmed) != 2 ||
		v.Confirmed[0].Name != "a" || v.Confirmed[1].Name != "b" || v.Mode != drainOutOfService {
		t.Fatalf("drain: %d %+v", resp.StatusCode, v)
	}

	// Reader a stops; a cancel drain of the application waits for it
	// until its timeout and names it.
	w := s.expect("POST", "/admin/api/apps/ORDERS/drain?mode=cancel&timeout=300ms", "", 202, "Authorization", "Bearer tok")
	v = decodeDrain(t, w.Body.String())
	if !v.TimedOut || len(v.Pending) != 2 || v.Pending[0].Name != "a" || v.Pending[1].Name != "b" || v.IDs[0] != "10.0.0.5:orders:8080" {
		t.Fatalf("cancel drain with silent readers: %+v", v)
	}
	s.expect("GET", "/eureka/apps/ORDERS", "", 404, "Accept", jsonCT)

	// The propagation view lists all three, a and b behind.
	w = s.expect("GET", "/admin/api/propagation", "", 200)
	var p propagationView
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Readers) != 4 || strings.Join(p.Behind, ",") != "a,b" {
		t.Fatalf("propagation: %s", w.Body.String())
	}
}

func TestDrainParameters(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.AdminToken = "tok" })
	s.expect("POST", "/admin/api/instances/ORDERS/x/drain?timeout=soon", "", 400, "Authorization", "Bearer tok")
	s.expect("POST", "/admin/api/instances/ORDERS/x/drain?mode=delete", "", 400, "Authorization", "Bearer tok")
	s.expect("POST", "/admin/api/instances/ORDERS/x/drain", "", 404, "Authorization", "Bearer tok")
	s.expect("POST", "/admin/api/apps/ORDERS/drain", "", 404, "Authorization", "Bearer tok")
	s.expect("POST", "/admin/api/apps/ORDERS/drain", "", 401)
}
