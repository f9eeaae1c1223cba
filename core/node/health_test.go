package node

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/rules"
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

// The verdict's keys obey the metadata limits: the detail goes first, then
// the verdict is refused rather than stored past them.
func TestSetHealthWithinMetadataLimits(t *testing.T) {
	lim := rules.DefaultLimits()
	lim.MaxMetadataKeys = 3
	lim.MaxMetadataBytes = 60
	n, _, _ := newNode(t, Options{Limits: lim})
	ctx := context.Background()
	in := instance("ORDERS", "o-1")
	in.Metadata = map[string]string{"a": "1"}
	n.Register(ctx, client, "ORDERS", in)
	long := strings.Repeat("x", 40)
	if _, err := n.SetHealth(ctx, "ORDERS", "o-1", true, long); err != nil {
		t.Fatal(err)
	}
	if got := n.Registry().Instance("ORDERS", "o-1"); got.Status != eureka.StatusDown || got.Metadata[registry.HealthDetailKey] == long {
		t.Errorf("%s %v: want DOWN without the long detail", got.Status, got.Metadata)
	}
	full := instance("ORDERS", "o-2")
	full.Metadata = map[string]string{"a": "1", "b": "2", "c": "3"}
	n.Register(ctx, client, "ORDERS", full)
	var inv *InvalidError
	if _, err := n.SetHealth(ctx, "ORDERS", "o-2", true, "HTTP 500"); !errors.As(err, &inv) {
		t.Errorf("a verdict past the key limit: %v, want an InvalidError", err)
	}
	if got := n.Registry().Instance("ORDERS", "o-2"); got.Status != eureka.StatusUp {
		t.Errorf("o-2 %s", got.Status)
	}
}
