package registry

import (
	"context"
	"maps"
	"reflect"
	"strconv"
	"testing"
	"unsafe"

	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/storage"
	"github.com/eurekad/eurekad/storage/memory"
)

// sameBytes reports whether x and y are stored at the same address.
func sameBytes(x, y string) bool {
	return unsafe.StringData(x) == unsafe.StringData(y)
}

func decodedSpring(t *testing.T, i, apps int) *eureka.InstanceInfo {
	t.Helper()
	in, err := eureka.DecodeInstanceJSON(springBody(i, apps))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestCompactKeepsEveryValue(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	for i := range 40 {
		want := decodedSpring(t, i, 3)
		r.Register(decodedSpring(t, i, 3), false)
		got := r.Instance(want.App, want.ID())
		if got == nil {
			t.Fatalf("instance %d not registered", i)
		}
		for _, f := range append(sharedFields[:], ownFields[:]...) {
			if *f(got) != *f(want) {
				t.Errorf("instance %d: field holds %q, want %q", i, *f(got), *f(want))
			}
		}
		if !maps.Equal(got.Metadata, want.Metadata) {
			t.Errorf("instance %d: metadata %v, want %v", i, got.Metadata, want.Metadata)
		}
		if !reflect.DeepEqual(got.DataCenterInfo, want.DataCenterInfo) {
			t.Errorf("instance %d: data centre %+v, want %+v", i, got.DataCenterInfo, want.DataCenterInfo)
		}
		if got.LeaseInfo.DurationInSecs != 90 || got.LeaseInfo.RenewalIntervalInSecs != 30 {
			t.Errorf("instance %d: lease block %+v", i, got.LeaseInfo)
		}
	}
}

func TestCompactSharesRepeatedText(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	// Instances 1, 7 and 10 are of one application (of 3), MyOwn, in zone
	// b; 2 is of another one.
	for _, i := range []int{1, 7, 10, 2} {
		r.Register(decodedSpring(t, i, 3), false)
	}
	get := func(i int) *eureka.InstanceInfo {
		in := decodedSpring(t, i, 3)
		return r.lookup(in.App, in.ID()).instance.Load() // as stored
	}
	a, b, c, other := get(1), get(7), get(10), get(2)
	if !sameBytes(a.VIPAddress, b.VIPAddress) || !sameBytes(a.SecureVIPAddress, b.SecureVIPAddress) {
		t.Error("the VIPs of one application are stored twice")
	}
	if !sameBytes(a.Metadata["version"], b.Metadata["version"]) || !sameBytes(a.Metadata["profile"], c.Metadata["profile"]) {
		t.Error("a metadata value the instances share is stored twice")
	}
	if !sameBytes(a.Metadata["zone"], c.Metadata["zone"]) {
		t.Error("the zone the instances share is stored twice")
	}
	for k := range a.Metadata {
		for k2 := range other.Metadata {
			if k == k2 && !sameBytes(k, k2) {
				t.Errorf("metadata key %q is stored twice across applications", k)
			}
		}
	}
	if a.DataCenterInfo != b.DataCenterInfo {
		t.Error("equal data-centre blocks are not shared")
	}
	if a.LeaseInfo != b.LeaseInfo {
		t.Errorf("equal lease blocks are not shared: %+v %+v", a.LeaseInfo, b.LeaseInfo)
	}
	if !sameBytes(a.App, b.App) {
		t.Error("the application name is stored twice")
	}
	// The address is the host name and occurs in the id and the URLs:
	// stored once, inside one of them.
	if !sameBytes(a.IPAddr, a.HostName) {
		t.Error("the address is stored more than once")
	}
	if !sameBytes(a.HomePageURL, a.StatusPageURL) && !sameBytes(a.HomePageURL, a.HealthCheckURL) {
		t.Error("the home page URL, a prefix of the status URL, is stored apart")
	}
}

// TestCompactReregistrationKeepsItsText: an instance registering again
// with the same text keeps the text and blocks of the copy it replaces, so
// a re-registration stores nothing new; one whose own text changed gets
// all of it anew, so the copy it replaces is let go whole.
func TestCompactReregistrationKeepsItsText(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	// Alone in its application, so nothing is shared but with itself.
	r.Register(decodedSpring(t, 4, 1), false)
	in := decodedSpring(t, 4, 1)
	stored := func() *eureka.InstanceInfo { return r.lookup(in.App, in.ID()).instance.Load() }
	first := stored()
	r.Register(decodedSpring(t, 4, 1), false)
	again := stored()
	if again == first {
		t.Fatal("the re-registration was not stored")
	}
	for _, f := range append(sharedFields[:], ownFields[:]...) {
		if *f(first) != "" && !sameBytes(*f(again), *f(first)) {
			t.Errorf("%q is stored again", *f(again))
		}
	}
	if !sameBytes(again.Metadata["pod"], first.Metadata["pod"]) || again.DataCenterInfo != first.DataCenterInfo {
		t.Error("the metadata or data-centre block is stored again")
	}

	moved := decodedSpring(t, 4, 1)
	moved.HostName = "host-4.example.com"
	r.Register(moved, false)
	now := stored()
	if now.HostName != "host-4.example.com" || now.InstanceID != first.InstanceID {
		t.Fatalf("after the move: host %q id %q", now.HostName, now.InstanceID)
	}
	for _, f := range ownFields {
		if *f(first) != "" && sameBytes(*f(now), *f(first)) {
			t.Errorf("%q still lies in the text of the copy replaced", *f(now))
		}
	}
}

func TestCompactSharedMapIsNotChangedByAnUpdate(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	mk := func(id string) *eureka.InstanceInfo {
		in := inst("SHOP", id, eureka.StatusUp)
		in.Metadata = map[string]string{"zone": "a", "version": "1"}
		return in
	}
	r.Register(mk("one"), false)
	r.Register(mk("two"), false)
	one, two := r.Instance("SHOP", "one"), r.Instance("SHOP", "two")
	if reflect.ValueOf(one.Metadata).UnsafePointer() != reflect.ValueOf(two.Metadata).UnsafePointer() {
		t.Fatal("equal metadata maps of one application are not shared")
	}
	if !r.UpdateMetadata("SHOP", "one", map[string]string{"version": "2"}) {
		t.Fatal("update refused")
	}
	if v := r.Instance("SHOP", "one").Metadata["version"]; v != "2" {
		t.Errorf("updated instance has version %q, want 2", v)
	}
	if v := r.Instance("SHOP", "two").Metadata["version"]; v != "1" {
		t.Errorf("the other instance's version became %q: a shared map was written", v)
	}
}

func TestCompactKeyTableIsBounded(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	n := maxInternedKeys + 100
	for i := range n {
		in := inst("APP"+strconv.Itoa(i%7), "id-"+strconv.Itoa(i), eureka.StatusUp)
		in.Metadata = map[string]string{"key-" + strconv.Itoa(i): "v"}
		r.Register(in, false)
	}
	if len(r.keys.m) > maxInternedKeys {
		t.Errorf("key table holds %d keys, bound is %d", len(r.keys.m), maxInternedKeys)
	}
	last := r.Instance("APP"+strconv.Itoa((n-1)%7), "id-"+strconv.Itoa(n-1))
	if want := "key-" + strconv.Itoa(n-1); last.Metadata[want] != "v" {
		t.Errorf("an instance registered past the bound lost its metadata: %v", last.Metadata)
	}
}

func TestCompactKeepsAlternatingVariants(t *testing.T) {
	r, _ := newTestRegistry(t, nil)
	reg := func(id, zone string) map[string]string {
		in := inst("SHOP", id, eureka.StatusUp)
		in.Metadata = map[string]string{"zone": zone}
		r.Register(in, false)
		return r.lookup("SHOP", id).instance.Load().Metadata
	}
	first := reg("c0", "c")
	// Many instances in two other zones: the rare third variant stays
	// among the recent ones, since only a new variant displaces one.
	for i := range 6 {
		reg("ab"+strconv.Itoa(i), string(rune('a'+i%2)))
	}
	again := reg("c1", "c")
	if reflect.ValueOf(first).UnsafePointer() != reflect.ValueOf(again).UnsafePointer() {
		t.Error("a variant seen before the last few registrations is stored again")
	}
}

func TestRestoreCompacts(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	var ops []storage.Op
	want := map[string]*eureka.InstanceInfo{}
	for i := 1; i < 200; i += 3 { // one application of three, MyOwn and AWS
		in := decodedSpring(t, i, 3)
		want[in.ID()] = in
		ops = append(ops, storage.Op{Record: storedRecord(in, "")})
	}
	if err := storage.ApplyBatch(ctx, store, ops); err != nil {
		t.Fatal(err)
	}
	r := New(&Options{Clock: SystemClock})
	if restored, skipped, err := r.Restore(ctx, store); restored != len(want) || skipped != 0 || err != nil {
		t.Fatalf("Restore = %d, %d, %v; want %d, 0, nil", restored, skipped, err, len(want))
	}
	var first *eureka.InstanceInfo
	for id, w := range want {
		l := r.lookup(w.App, id)
		if l == nil {
			t.Fatalf("%s not restored", id)
		}
		got := l.instance.Load()
		if got.HealthCheckURL != w.HealthCheckURL || !maps.Equal(got.Metadata, w.Metadata) ||
			!maps.Equal(got.DataCenterInfo.Metadata, w.DataCenterInfo.Metadata) {
			t.Errorf("%s restored as %+v, want %+v", id, got, w)
		}
		if !sameBytes(l.app, r.apps[w.App].name) {
			t.Errorf("%s: the lease keeps its own copy of the application name", id)
		}
		if first == nil {
			first = got
		} else if !sameBytes(first.Metadata["profile"], got.Metadata["profile"]) {
			t.Errorf("%s: a metadata value all instances share is stored again", id)
		}
	}
}
