package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// A batch in the Java server's shape (sdk/eureka/testdata, pretty-printed
// as Jackson writes it) is applied by a eurekad process item by item.
func TestJavaBatchAppliedByProcess(t *testing.T) {
	n := newNode(t, eurekadtest.Start(t))
	known := instance("ORDERS", "10.0.0.5:orders:8080")
	known.LastDirtyTimestamp = 1717999999500
	if err := n.c.Register(bg, known); err != nil {
		t.Fatal(err)
	}
	batch, err := os.ReadFile(filepath.Join("..", "..", "sdk", "eureka", "testdata", "replication", "java-batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	codes := batchCodes(t, n.BaseV2, batch)
	// Heartbeat of the known instance (same dirty time) 200; heartbeat,
	// status update, override removal of the unknown PAYMENTS 404;
	// register 200; cancel of the unknown .7 404.
	if want := []int{200, 404, 200, 404, 404, 404}; !slices.Equal(codes, want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
	got, err := n.fromApps("ORDERS", "10.0.0.6:orders:8080")
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata["zone"] != "zone-a" || got.LastDirtyTimestamp != 1718000009700 || got.HealthCheckURL != "http://10.0.0.6:8080/actuator/health" {
		t.Errorf("replicated registration stored as %+v", got)
	}
}

// capturePeer stands in for a Java peer on loopback: it records every
// batch eurekad posts and answers each item 200.
type capturePeer struct {
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	paths   []string
}

func (c *capturePeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	items, err := eureka.DecodeReplicationListJSON(b)
	if err != nil {
		w.WriteHeader(400)
		return
	}
	if len(items) > 0 {
		c.mu.Lock()
		c.bodies = append(c.bodies, b)
		c.headers = append(c.headers, r.Header.Clone())
		c.paths = append(c.paths, r.URL.Path)
		c.mu.Unlock()
	}
	res := make([]eureka.ReplicationResult, len(items))
	for i := range res {
		res[i].StatusCode = 200
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(eureka.AppendReplicationResponseJSON(nil, res))
}

// javaOrder is the member order of Java's ReplicationInstance.
var javaOrder = []string{"appName", "id", "lastDirtyTimestamp", "overriddenStatus", "status", "instanceInfo", "action"}

// The batches a eurekad process sends have the Java server's wire shape
// (§8.4): POST {peer}peerreplication/batch/ with the replication header
// and JSON; items with members in Java's creator order, lastDirtyTimestamp
// a number, instanceInfo only on Register, overriddenStatus only on
// Heartbeat, each action spelled as Java spells it.
func TestBatchesOnTheWireHaveJavaShape(t *testing.T) {
	cp := &capturePeer{}
	peer := httptest.NewServer(cp)
	defer peer.Close()
	n := newNode(t, eurekadtest.Start(t, "EUREKAD_CLUSTER_PEERS="+peer.URL+"/eureka/v2/", "EUREKAD_CLUSTER_MAX_BATCH_DELAY=50ms",
		"EUREKAD_CLUSTER_USERNAME=peer", "EUREKAD_CLUSTER_PASSWORD=s3cret"))
	if err := n.c.Register(bg, instance("ORDERS", "w-1")); err != nil {
		t.Fatal(err)
	}
	// Each action is captured before the next is made: one per batch, in
	// order.
	items := 0
	step := func() {
		t.Helper()
		items++
		eurekadtest.Eventually(t, 10*time.Second, fmt.Sprintf("replication item %d captured", items), func() error {
			cp.mu.Lock()
			defer cp.mu.Unlock()
			n := 0
			for _, b := range cp.bodies {
				var doc struct {
					ReplicationList []json.RawMessage `json:"replicationList"`
				}
				if err := json.Unmarshal(b, &doc); err != nil {
					return err
				}
				n += len(doc.ReplicationList)
			}
			if n < items {
				return fmt.Errorf("%d items", n)
			}
			return nil
		})
	}
	step()
	if err := n.c.SetStatus(bg, "ORDERS", "w-1", eureka.StatusOutOfService, 0); err != nil {
		t.Fatal(err)
	}
	step()
	if err := n.c.Renew(bg, "ORDERS", "w-1", 0); err != nil {
		t.Fatal(err)
	}
	step()
	if err := n.c.DeleteStatusOverride(bg, "ORDERS", "w-1", eureka.StatusUp, 0); err != nil {
		t.Fatal(err)
	}
	step()
	if err := n.c.Cancel(bg, "ORDERS", "w-1"); err != nil {
		t.Fatal(err)
	}
	step()
	var seen []string
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for i, b := range cp.bodies {
		if cp.paths[i] != "/eureka/v2/peerreplication/batch/" {
			t.Errorf("posted to %s", cp.paths[i])
		}
		if h := cp.headers[i]; h.Get("x-netflix-discovery-replication") != "true" || h.Get("Content-Type") != "application/json" || h.Get("Accept") != "application/json" {
			t.Errorf("headers %v", h)
		}
		if u, p, ok := (&http.Request{Header: cp.headers[i]}).BasicAuth(); !ok || u != "peer" || p != "s3cret" {
			t.Errorf("peer credentials not sent as basic auth: %q %q %v", u, p, ok)
		}
		var doc struct {
			ReplicationList []json.RawMessage `json:"replicationList"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		for _, raw := range doc.ReplicationList {
			keys, values := members(t, raw)
			pos := -1
			for _, k := range keys {
				p := slices.Index(javaOrder, k)
				if p <= pos {
					t.Errorf("member %q out of Java's order or unknown in %s", k, raw)
				}
				pos = p
			}
			var action string
			json.Unmarshal(values["action"], &action)
			seen = append(seen, action)
			if v, ok := values["lastDirtyTimestamp"]; ok && (len(v) == 0 || v[0] == '"') {
				t.Errorf("lastDirtyTimestamp is not a number: %s", v)
			}
			if _, ok := values["instanceInfo"]; ok != (action == "Register") {
				t.Errorf("%s item with instanceInfo=%v", action, ok)
			}
			if _, ok := values["overriddenStatus"]; ok && action != "Heartbeat" {
				t.Errorf("%s item with overriddenStatus", action)
			}
			if action == "Heartbeat" && string(values["overriddenStatus"]) != `"OUT_OF_SERVICE"` {
				t.Errorf("heartbeat under an override lacks it: %s", raw)
			}
			if action != "Cancel" {
				if _, ok := values["lastDirtyTimestamp"]; !ok {
					t.Errorf("%s item without lastDirtyTimestamp", action)
				}
			}
		}
	}
	if want := []string{"Register", "StatusUpdate", "Heartbeat", "DeleteStatusOverride", "Cancel"}; !slices.Equal(seen, want) {
		t.Errorf("actions %v, want %v", seen, want)
	}
}

// members returns an object's keys in document order and their values.
func members(t *testing.T, raw []byte) ([]string, map[string]json.RawMessage) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", raw)
	}
	var keys []string
	vals := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		k := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		vals[k] = v
	}
	return keys, vals
}
