package cluster

import (
	"fmt"
	"slices"
	"testing"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// A Java peer's heartbeat repairs an override the eurekad process lacks,
// as Java's InstanceResource.renewLease does: the heartbeat (in Jackson's
// layout, members in Java's order) carries a newer lastDirtyTimestamp and
// the override, the process stores the override and answers 404, and the
// Register the Java peer then sends leaves the instance OUT_OF_SERVICE. A
// heartbeat of the same copy repairs nothing (Java cannot tell a missed
// override from a removed one either).
func TestJavaHeartbeatRepairsTheOverride(t *testing.T) {
	n := newNode(t, eurekadtest.Start(t))
	in := instance("PAYMENTS", "i-0abc123")
	in.LastDirtyTimestamp = 1718000000000
	if err := n.c.Register(bg, in); err != nil {
		t.Fatal(err)
	}
	heartbeat := func(dirty int64) []int {
		t.Helper()
		batch := fmt.Sprintf(`{
  "replicationList" : [ {
    "appName" : "PAYMENTS",
    "id" : "i-0abc123",
    "lastDirtyTimestamp" : %d,
    "overriddenStatus" : "OUT_OF_SERVICE",
    "status" : "OUT_OF_SERVICE",
    "action" : "Heartbeat"
  } ]
}`, dirty)
		return batchCodes(t, n.Base, []byte(batch))
	}
	override := func() eureka.Status {
		t.Helper()
		got, err := n.c.Instance(bg, "PAYMENTS", "i-0abc123")
		if err != nil {
			t.Fatal(err)
		}
		return got.OverriddenStatus
	}

	if codes := heartbeat(1718000000000); !slices.Equal(codes, []int{200}) || override() != eureka.StatusUnknown {
		t.Fatalf("same copy: codes %v, override %s; want 200 and no override", codes, override())
	}
	if codes := heartbeat(1718000019000); !slices.Equal(codes, []int{404}) {
		t.Fatalf("newer copy: codes %v, want 404 (register again)", codes)
	}
	if got := override(); got != eureka.StatusOutOfService {
		t.Fatalf("override after the newer heartbeat: %s, want OUT_OF_SERVICE", got)
	}

	// The Java peer's Register: its copy, which it holds OUT_OF_SERVICE.
	newer := instance("PAYMENTS", "i-0abc123")
	newer.LastDirtyTimestamp = 1718000019000
	newer.Status, newer.OverriddenStatus = eureka.StatusOutOfService, eureka.StatusOutOfService
	body := `{"replicationList":[{"appName":"PAYMENTS","id":"i-0abc123","lastDirtyTimestamp":1718000019000,` +
		`"status":"OUT_OF_SERVICE","instanceInfo":` + string(eureka.AppendInstanceJSON(nil, newer)) + `,"action":"Register"}]}`
	if codes := batchCodes(t, n.Base, []byte(body)); !slices.Equal(codes, []int{200}) {
		t.Fatalf("register: codes %v", codes)
	}
	got, err := n.fromApps("PAYMENTS", "i-0abc123")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != eureka.StatusOutOfService || got.OverriddenStatus != eureka.StatusOutOfService || got.LastDirtyTimestamp != 1718000019000 {
		t.Errorf("served %s/%s dirty %d, want OUT_OF_SERVICE/OUT_OF_SERVICE dirty 1718000019000", got.Status, got.OverriddenStatus, got.LastDirtyTimestamp)
	}
}

// batchCodes posts a replication batch to the server at base as a peer
// and returns the status code of each item.
func batchCodes(t *testing.T, base string, batch []byte) []int {
	t.Helper()
	resp, body := peerRequest(t, "POST", base+"peerreplication/batch/", batch)
	if resp.StatusCode != 200 {
		t.Fatalf("batch: %d %s", resp.StatusCode, body)
	}
	res, err := eureka.DecodeReplicationResponseJSON(body)
	if err != nil {
		t.Fatal(err)
	}
	codes := make([]int, len(res))
	for i, r := range res {
		codes[i] = r.StatusCode
	}
	return codes
}
