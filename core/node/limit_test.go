package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
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
