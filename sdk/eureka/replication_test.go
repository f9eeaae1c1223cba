package eureka

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"
)

// javaBatchItems is what testdata/replication/java-batch.json (the §8.4
// example as the Java server writes it, pretty-printed by Jackson) holds.
func javaBatchItems() []ReplicationItem {
	reg := &InstanceInfo{
		InstanceID: "10.0.0.6:orders:8080", HostName: "10.0.0.6", App: "ORDERS", IPAddr: "10.0.0.6",
		Status: StatusUp, OverriddenStatus: StatusUnknown,
		Port: Port{Number: 8080, Enabled: true}, SecurePort: Port{Number: 443},
		CountryID: 1, DataCenterInfo: &DataCenterInfo{Name: DataCenterMyOwn},
		LeaseInfo: &LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90,
			RegistrationTimestamp: 1718000009000, LastRenewalTimestamp: 1718000009000, ServiceUpTimestamp: 1718000009000},
		Metadata:    map[string]string{"zone": "zone-a", "management.port": "8081"},
		HomePageURL: "http://10.0.0.6:8080/", StatusPageURL: "http://10.0.0.6:8080/actuator/info",
		HealthCheckURL: "http://10.0.0.6:8080/actuator/health", VIPAddress: "orders", SecureVIPAddress: "orders",
		LastUpdatedTimestamp: 1718000009700, LastDirtyTimestamp: 1718000009700, ActionType: ActionAdded,
	}
	return []ReplicationItem{
		{AppName: "ORDERS", ID: "10.0.0.5:orders:8080", LastDirtyTimestamp: 1717999999500, Status: StatusUp, Action: ReplicateHeartbeat},
		{AppName: "PAYMENTS", ID: "i-0abc123", LastDirtyTimestamp: 1718000019000, OverriddenStatus: StatusOutOfService, Status: StatusOutOfService, Action: ReplicateHeartbeat},
		{AppName: "ORDERS", ID: "10.0.0.6:orders:8080", LastDirtyTimestamp: 1718000009700, Status: StatusUp, Instance: reg, Action: ReplicateRegister},
		{AppName: "PAYMENTS", ID: "i-0abc123", LastDirtyTimestamp: 1718000019000, Status: StatusOutOfService, Action: ReplicateStatusUpdate},
		{AppName: "PAYMENTS", ID: "i-0abc123", LastDirtyTimestamp: 1718000019000, Status: StatusUp, Action: ReplicateDeleteStatusOverride},
		{AppName: "ORDERS", ID: "10.0.0.7:orders:8080", Action: ReplicateCancel},
	}
}

func readReplicationFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "replication", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A batch as the Java server sends it decodes to every action with its
// fields, and eurekad's encoding of the same items is the compact form of
// the same document in Eureka's member order.
func TestReplicationListGolden(t *testing.T) {
	got, err := DecodeReplicationListJSON(readReplicationFile(t, "java-batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := javaBatchItems()
	if !reflect.DeepEqual(got, want) {
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("item %d:\n got %+v\nwant %+v", i, got[i], want[i])
				if got[i].Instance != nil && want[i].Instance != nil {
					t.Errorf("instance:\n got %+v\nwant %+v", *got[i].Instance, *want[i].Instance)
				}
			}
		}
	}
	checkGolden(t, filepath.Join("testdata", "replication", "eurekad-batch.json"), AppendReplicationListJSON(nil, want), true)
	for i := range want {
		if !want[i].Action.Known() {
			t.Errorf("item %d: action %q not known", i, want[i].Action)
		}
	}
	if ReplicationAction("heartbeat").Known() {
		t.Error("actions are case-sensitive")
	}
}

func TestReplicationResponseGolden(t *testing.T) {
	got, err := DecodeReplicationResponseJSON(readReplicationFile(t, "java-response.json"))
	if err != nil {
		t.Fatal(err)
	}
	codes := []int{200, 409, 200, 200, 200, 404}
	if len(got) != len(codes) {
		t.Fatalf("%d results, want %d", len(got), len(codes))
	}
	for i, c := range codes {
		if got[i].StatusCode != c || (got[i].Entity != nil) != (c == 409) {
			t.Errorf("result %d = %d entity %v, want %d", i, got[i].StatusCode, got[i].Entity != nil, c)
		}
	}
	e := got[1].Entity
	if e.ID() != "i-0abc123" || e.OverriddenStatus != StatusOutOfService || e.LastDirtyTimestamp != 1718000021000 ||
		e.DataCenterInfo.Metadata["availability-zone"] != "us-east-1a" {
		t.Errorf("409 entity decoded as %+v", *e)
	}
	checkGolden(t, filepath.Join("testdata", "replication", "eurekad-response.json"), AppendReplicationResponseJSON(nil, got), true)
}

func TestReplicationDecodeLenientAndErrors(t *testing.T) {
	items, err := DecodeReplicationListJSON([]byte(`{"replicationList":[{"appName":"a","id":"x","lastDirtyTimestamp":"17","status":"up","overriddenStatus":null,"instanceInfo":null,"action":"Cancel","extra":[1]}],"other":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if it := items[0]; it.LastDirtyTimestamp != 17 || it.Status != StatusUp || it.OverriddenStatus != "" || it.Instance != nil {
		t.Errorf("lenient item = %+v", it)
	}
	if items, err := DecodeReplicationListJSON([]byte(`{"replicationList":null}`)); err != nil || len(items) != 0 {
		t.Errorf("null list: %v %v", items, err)
	}
	for _, bad := range []string{
		``, `null`, `[]`, `{"replicationList":{}}`, `{"replicationList":[1]}`,
		`{"replicationList":[{"lastDirtyTimestamp":true}]}`, `{"replicationList":[{"lastDirtyTimestamp":"x"}]}`,
		`{"replicationList":[{"appName":1}]}`, `{"replicationList":[{"instanceInfo":{"port":"x"}}]}`,
		`{"replicationList":[]} x`,
	} {
		if _, err := DecodeReplicationListJSON([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeReplicationListJSON(%q) = %v, want ErrMalformed", bad, err)
		}
	}
	for _, bad := range []string{`{}x`, `{"responseList":[{"statusCode":"abc"}]}`, `{"responseList":[{"statusCode":7}]}`, `{"responseList":[{}]}`} {
		if _, err := DecodeReplicationResponseJSON([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeReplicationResponseJSON(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

// FuzzDecodeReplicationListJSON: decoding never panics, failures match
// ErrMalformed, and what decodes survives encode → decode unchanged.
func FuzzDecodeReplicationListJSON(f *testing.F) {
	for _, name := range []string{"java-batch.json", "eurekad-batch.json"} {
		f.Add(readReplicationFile(f, name))
	}
	f.Add([]byte(`{"replicationList":[{"appName":"a","id":"x","lastDirtyTimestamp":"1.5e3","action":"Heartbeat"}]}`))
	for _, bad := range badTexts {
		f.Add([]byte(`{"replicationList":[{"appName":"` + bad + `","id":"` + bad + `","action":"Register","instanceInfo":{"instanceId":"` + bad + `"}}]}`))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := DecodeReplicationListJSON(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		for _, it := range items {
			if !utf8.ValidString(it.AppName) || !utf8.ValidString(it.ID) {
				t.Fatalf("%q: kept %q/%q, which is not UTF-8", data, it.AppName, it.ID)
			}
			if it.Instance != nil {
				checkKeptText(t, data, it.Instance)
			}
		}
		enc := AppendReplicationListJSON(nil, items)
		again, err := DecodeReplicationListJSON(enc)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		enc2 := AppendReplicationListJSON(nil, again)
		if string(enc) != string(enc2) {
			t.Fatalf("not stable:\n%s\n%s", enc, enc2)
		}
	})
}

// FuzzDecodeReplicationResponseJSON: never panics; failures match
// ErrMalformed.
func FuzzDecodeReplicationResponseJSON(f *testing.F) {
	f.Add(readReplicationFile(f, "java-response.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := DecodeReplicationResponseJSON(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		if _, err := DecodeReplicationResponseJSON(AppendReplicationResponseJSON(nil, res)); err != nil {
			t.Fatal(err)
		}
	})
}

// The all-200 fast path gives what the full decoder gives, and anything
// else goes to the full decoder.
func TestReplicationResponseFastPath(t *testing.T) {
	for _, n := range []int{0, 1, 3} {
		res := make([]ReplicationResult, n)
		for i := range res {
			res[i].StatusCode = 200
		}
		doc := AppendReplicationResponseJSON(nil, res)
		fast, ok := allOK(doc)
		if !ok || len(fast) != n {
			t.Fatalf("%s: fast path %v %v", doc, fast, ok)
		}
		var full jsonResponseList
		if err := json.Unmarshal(doc, &full); err != nil || len(full.ResponseList) != n {
			t.Fatalf("%s: %v", doc, err)
		}
	}
	for _, doc := range []string{`{"responseList":[{"statusCode":200},{"statusCode":404}]}`, `{"responseList":[{"statusCode":200}{"statusCode":200}]}`, `{"responseList":[{"statusCode":200},]}`} {
		if _, ok := allOK([]byte(doc)); ok {
			t.Errorf("fast path took %s", doc)
		}
	}
	if _, err := DecodeReplicationResponseJSON([]byte(`{"responseList":[{"statusCode":200},]}`)); err == nil {
		t.Error("a trailing comma was accepted")
	}
}
