package node

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// A verdict that changes the instance is replicated as a Register (the
// full instance, which Java peers take as a status change); one that
// changes nothing is not.
func TestSetHealthReplicatesChanges(t *testing.T) {
	n, _, fr := newNode(t, Options{})
	ctx := context.Background()
	if err := n.Register(ctx, client, "ORDERS", instance("ORDERS", "o-1")); err != nil {
		t.Fatal(err)
	}
	fr.got = nil
	if changed, err := n.SetHealth(ctx, "ORDERS", "o-1", true, "HTTP 500"); !changed || err != nil {
		t.Fatalf("SetHealth = %v, %v", changed, err)
	}
	if changed, _ := n.SetHealth(ctx, "ORDERS", "o-1", true, "HTTP 500"); changed {
		t.Error("the same verdict changed the instance again")
	}
	if want := []string{"Register ORDERS/o-1"}; !slices.Equal(fr.got, want) {
		t.Errorf("replicated %v, want %v", fr.got, want)
	}
	if in := n.Registry().Instance("ORDERS", "o-1"); in.Status != eureka.StatusDown {
		t.Errorf("status %s", in.Status)
	}
	if _, err := n.SetHealth(ctx, "ORDERS", "nope", true, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown instance: %v", err)
	}
}
