package httpd

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/replication"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// replicationRecorder is a Replicator that remembers what it was handed.
type replicationRecorder struct{ got []string }

func (r *replicationRecorder) Replicate(a eureka.ReplicationAction, app, id string) {
	r.got = append(r.got, string(a)+"#"+app+"/"+id)
}

// Successful local writes reach the replicator with Eureka's actions;
// replicated requests and failed writes do not.
func TestWritesAreReplicated(t *testing.T) {
	rec := &replicationRecorder{}
	s := newNodeServer(t, node.Options{Replicator: rec}, nil)
	const inst = "/eureka/apps/ORDERS/10.0.0.5:orders:8080"
	s.expect("POST", "/eureka/apps/ORDERS", springBody, 204, "Content-Type", jsonCT)
	s.expect("PUT", inst, "", 200)
	s.expect("PUT", inst+"/status?value=OUT_OF_SERVICE", "", 200)
	s.expect("DELETE", inst+"/status?value=UP", "", 200)
	s.expect("PUT", inst+"/metadata?k=v", "", 200)
	s.expect("PUT", inst, "", 200, replicationHeader, "true")
	s.expect("PUT", "/eureka/apps/ORDERS/nope", "", 404)
	s.expect("DELETE", inst, "", 200)
	want := []string{"Register", "Heartbeat", "StatusUpdate", "DeleteStatusOverride", "Register", "Cancel"}
	if len(rec.got) != len(want) {
		t.Fatalf("replicated %q, want actions %q", rec.got, want)
	}
	for i, a := range want {
		if rec.got[i] != a+"#ORDERS/10.0.0.5:orders:8080" {
			t.Errorf("replication %d = %q, want %s", i, rec.got[i], a)
		}
	}
	// The task names the application as the registry keys it, upper-case,
	// whatever case the body used.
	rec.got = nil
	s.expect("POST", "/eureka/apps/payments", fargoXML, 204, "Content-Type", "application/xml")
	if len(rec.got) != 1 || rec.got[0] != "Register#PAYMENTS/host1" {
		t.Errorf("lower-case registration replicated as %q", rec.got)
	}
}

// GET status lists the peers of Ops.Peers in Eureka's replica formats,
// in the source's order and without credentials.
func TestStatusReplicas(t *testing.T) {
	s := newTestServer(t, func(o *Options) {
		o.Ops.Peers = func() []PeerStatus {
			return []PeerStatus{{Name: "b", URL: "http://u:p@b/eureka/"}, {Name: "a", URL: "http://a/eureka/", Up: true}}
		}
	})
	w := s.expect("GET", "/eureka/status", "", 200, "Accept", jsonCT)
	for _, part := range []string{`"registered-replicas":"http://b/eureka/, http://a/eureka/"`, `"available-replicas":"http://a/eureka/,"`, `"unavailable-replicas":"http://b/eureka/,"`} {
		if !strings.Contains(w.Body.String(), part) {
			t.Errorf("status lacks %s: %s", part, w.Body)
		}
	}
	if strings.Contains(w.Body.String(), "u:p@") {
		t.Errorf("status shows credentials: %s", w.Body)
	}
}

// A batch in the Java server's shape is applied item by item, with and
// without the trailing slash, and answered in order.
func TestReplicationBatchEndpoint(t *testing.T) {
	rec := &replicationRecorder{}
	s := newNodeServer(t, node.Options{Replicator: rec}, nil)
	s.expect("POST", "/eureka/apps/ORDERS", springBody, 204, "Content-Type", jsonCT)
	batch, err := os.ReadFile(filepath.Join("..", "sdk", "eureka", "testdata", "replication", "java-batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	rec.got = nil
	w := s.expect("POST", "/eureka/v2/peerreplication/batch/", string(batch), 200, "Content-Type", jsonCT, replicationHeader, "true")
	res, err := eureka.DecodeReplicationResponseJSON(w.Body.Bytes())
	if err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	// Heartbeat ORDERS .5 (known, older dirty → 200? the stored one is
	// 1717999999500, the same → 200), Heartbeat PAYMENTS (unknown → 404),
	// Register .6 → 200, StatusUpdate/DeleteStatusOverride of unknown
	// PAYMENTS → 404, Cancel of unknown .7 → 404.
	codes := []int{200, 404, 200, 404, 404, 404}
	for i, c := range codes {
		if res[i].StatusCode != c {
			t.Errorf("item %d: %d, want %d", i, res[i].StatusCode, c)
		}
	}
	if len(rec.got) != 0 {
		t.Errorf("applied replications were replicated again: %q", rec.got)
	}
	in := s.reg.Instance("ORDERS", "10.0.0.6:orders:8080")
	if in == nil || in.Metadata["zone"] != "zone-a" || in.LastDirtyTimestamp != 1718000009700 {
		t.Fatalf("registered copy = %+v", in)
	}

	// A heartbeat carrying an older dirty timestamp than ours gets 409 and
	// our copy; then status update and override removal apply.
	items := []eureka.ReplicationItem{
		{AppName: "ORDERS", ID: "10.0.0.6:orders:8080", LastDirtyTimestamp: 5, Status: eureka.StatusUp, Action: eureka.ReplicateHeartbeat},
		{AppName: "orders", ID: "10.0.0.6:orders:8080", LastDirtyTimestamp: 1718000009800, Status: eureka.StatusOutOfService, Action: eureka.ReplicateStatusUpdate},
		{AppName: "ORDERS", ID: "10.0.0.5:orders:8080", Action: eureka.ReplicateCancel},
		{AppName: "ORDERS", ID: "x", Action: "Bogus"},
		{AppName: "ORDERS", ID: "x", Action: eureka.ReplicateRegister},
	}
	w = s.expect("POST", "/eureka/peerreplication/batch", string(eureka.AppendReplicationListJSON(nil, items)), 200, "Content-Type", jsonCT, replicationHeader, "true")
	if res, err = eureka.DecodeReplicationResponseJSON(w.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	codes = []int{409, 200, 200, 400, 400}
	for i, c := range codes {
		if res[i].StatusCode != c {
			t.Errorf("item %d: %d, want %d", i, res[i].StatusCode, c)
		}
	}
	if e := res[0].Entity; e == nil || e.LastDirtyTimestamp != 1718000009700 {
		t.Errorf("409 entity = %+v", e)
	}
	if in := s.reg.Instance("ORDERS", "10.0.0.6:orders:8080"); in.Status != eureka.StatusOutOfService || s.reg.Overrides()["10.0.0.6:orders:8080"] != eureka.StatusOutOfService {
		t.Errorf("status update not applied: %s %v", in.Status, s.reg.Overrides())
	}
	if s.reg.Instance("ORDERS", "10.0.0.5:orders:8080") != nil {
		t.Error("replicated cancel not applied")
	}

	// Garbage is refused as a whole and changes nothing.
	before := s.reg.Version()
	s.expect("POST", "/eureka/peerreplication/batch", `{"replicationList":[{"action":"Cancel","appName":"ORDERS","id":"10.0.0.6:orders:8080"},7]}`, 400, "Content-Type", jsonCT)
	if s.reg.Version() != before {
		t.Error("a malformed batch changed the registry")
	}
}

// Queuing a heartbeat for the peers adds no allocation to the renew path
// once the instance's task is known.
func TestRenewWithReplicationDoesNotAllocate(t *testing.T) {
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	c, _ := cache.New(reg, nil)
	ro := replication.DefaultOptions()
	ro.Peers = []string{"http://127.0.0.1:1/eureka/", "http://127.0.0.1:2/eureka/"}
	cl, err := replication.New(reg, &ro)
	if err != nil {
		t.Fatal(err)
	}
	h := New(node.New(reg, node.Options{Replicator: cl}), c, nil).Handler()
	req := newRequest("POST", "/eureka/apps/ORDERS", springBody)
	h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
	renew := newRequest("PUT", "/eureka/apps/ORDERS/10.0.0.5:orders:8080?status=UP&lastDirtyTimestamp=1717999999500", "")
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, renew)
	allocs := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, renew) })
	if w.code != http.StatusOK {
		t.Fatalf("renew answered %d", w.code)
	}
	if allocs != 0 {
		t.Errorf("renew with two peers allocates %.1f times per request", allocs)
	}
	if st := cl.Peers(); st[0].QueueLength != 2 || st[1].QueueLength != 2 {
		t.Errorf("queues = %+v, want the register and one deduplicated heartbeat each", st)
	}
}

func newRequest(method, path, body string) *http.Request {
	var req *http.Request
	if body == "" {
		req, _ = http.NewRequest(method, path, nil)
	} else {
		req, _ = http.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", jsonCT)
	}
	return req
}
