package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// TestInstanceLimitHoldsUnderConcurrentRegistrations races many new
// instances at a limit: exactly the limit is registered, the rest get a
// *LimitError, and instances already registered may still register again
// (a heartbeat's re-registration after a 404 must not be refused).
func TestInstanceLimitHoldsUnderConcurrentRegistrations(t *testing.T) {
	const limit, tries = 10, 200
	n, _, _ := newNode(t, Options{MaxInstances: limit})
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for i := range tries {
		wg.Go(func() {
			err := n.Register(ctx, client, "ORDERS", instance("ORDERS", fmt.Sprintf("o-%d", i)))
			var le *LimitError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.As(err, &le) && le.Limit == limit:
				refused++
			default:
				t.Errorf("Register: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != limit || refused != tries-limit || n.Registry().Size() != limit {
		t.Fatalf("registered %d, refused %d, registry holds %d; want %d, %d, %d", ok, refused, n.Registry().Size(), limit, tries-limit, limit)
	}
	id := n.Registry().Application("ORDERS").Instances[0].ID()
	if err := n.Register(ctx, client, "ORDERS", instance("ORDERS", id)); err != nil {
		t.Fatalf("re-registration of %s at the limit: %v", id, err)
	}
	if err := n.Cancel(ctx, client, "ORDERS", id); err != nil {
		t.Fatal(err)
	}
	if err := n.Register(ctx, client, "ORDERS", instance("ORDERS", "new-after-cancel")); err != nil {
		t.Fatalf("registration after a cancel freed a place: %v", err)
	}
}

func TestNoLimitByDefault(t *testing.T) {
	n, _, _ := newNode(t, Options{})
	for i := range 50 {
		if err := n.Register(context.Background(), client, "ORDERS", instance("ORDERS", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
}

// TestInstanceLimitHoldsForPeers: a peer's batch and an anti-entropy merge
// add instances like a registration does, so the limit holds on them too:
// a new instance beyond it is refused (403 in the batch, left out of the
// merge), one already registered is still updated.
func TestInstanceLimitHoldsForPeers(t *testing.T) {
	const limit = 3
	n, _, _ := newNode(t, Options{MaxInstances: limit})
	ctx := context.Background()
	var items []eureka.ReplicationItem
	for i := range limit + 2 {
		items = append(items, eureka.ReplicationItem{Action: eureka.ReplicateRegister, AppName: "ORDERS", ID: fmt.Sprint("b-", i), Instance: instance("ORDERS", fmt.Sprint("b-", i))})
	}
	res, err := n.ApplyBatch(ctx, Caller{}, items)
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	for _, r := range res {
		codes = append(codes, r.StatusCode)
	}
	if want := []int{200, 200, 200, 403, 403}; !slices.Equal(codes, want) || n.Registry().Size() != limit {
		t.Fatalf("batch over the limit answered %v, registry holds %d; want %v and %d", codes, n.Registry().Size(), want, limit)
	}

	// A merge offering a newer copy of a registered instance and new ones.
	newer := instance("ORDERS", "b-0")
	newer.Metadata = map[string]string{"v": "2"}
	stamp := time.Now().Add(time.Hour).UnixMilli()
	states := []registry.AppState{{Name: "ORDERS", Instances: []registry.InstanceState{
		{Instance: instance("ORDERS", "m-1"), Stamp: stamp},
		{Instance: newer, Stamp: stamp},
		{Instance: instance("ORDERS", "m-2"), Stamp: stamp},
	}}}
	if _, err := n.Merge(ctx, states); err != nil {
		t.Fatal(err)
	}
	if n.Registry().Size() != limit || n.Registry().Instance("ORDERS", "m-1") != nil || n.Registry().Instance("ORDERS", "m-2") != nil {
		t.Fatalf("merge over the limit: registry holds %d (m-1 %v, m-2 %v), want %d and neither", n.Registry().Size(),
			n.Registry().Instance("ORDERS", "m-1") != nil, n.Registry().Instance("ORDERS", "m-2") != nil, limit)
	}
	if got := n.Registry().Instance("ORDERS", "b-0").Metadata["v"]; got != "2" {
		t.Fatalf("merge at the limit did not update a registered instance: metadata v = %q", got)
	}

	// A place freed by a cancel is taken by the merge, one only.
	if err := n.Cancel(ctx, client, "ORDERS", "b-1"); err != nil {
		t.Fatal(err)
	}
	states = []registry.AppState{{Name: "ORDERS", Instances: []registry.InstanceState{
		{Instance: instance("ORDERS", "m-1"), Stamp: stamp},
		{Instance: instance("ORDERS", "m-2"), Stamp: stamp},
	}}}
	if m, err := n.Merge(ctx, states); err != nil || m.Adopted != 1 || n.Registry().Size() != limit {
		t.Fatalf("merge with one free place: %+v, %v, registry holds %d; want 1 adopted, %d", m, err, n.Registry().Size(), limit)
	}
}
