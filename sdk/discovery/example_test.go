package discovery_test

import (
	"context"
	"fmt"
	"log"

	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/discovery"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// exampleServer stands in for a running eurekad with three ORDERS
// instances: o1 (zone-a, UP), o2 (zone-b, UP) and o3 (zone-a, DOWN).
func exampleServer() (base string) {
	f := newFakeRegistry()
	f.put(inst("orders", "o1", eureka.StatusUp, "zone-a", "orders"))
	f.put(inst("orders", "o2", eureka.StatusUp, "zone-b", "orders"))
	f.put(inst("orders", "o3", eureka.StatusDown, "zone-a", "orders"))
	return f.start(nil)
}

// Keep a local copy of the registry and pick an instance to call.
func Example() {
	base := exampleServer() // e.g. "http://127.0.0.1:8761/eureka/"
	c, err := client.New(client.Options{ServiceURLs: []string{base}})
	if err != nil {
		log.Fatal(err)
	}
	cache := discovery.New(c, &discovery.Options{Zone: "zone-a"})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cache.Run(ctx) // full fetch, then long-polled deltas until ctx ends
	if err := cache.Ready(ctx); err != nil {
		log.Fatal(err)
	}

	// UP instances only, own zone first, round robin.
	in, err := cache.Pick("orders")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("call", in.InstanceID)
	fmt.Println("UP instances:", len(cache.Instances("orders")))
	fmt.Println("hash code:", cache.Applications().AppsHashcode)
	// Output:
	// call o1
	// UP instances: 2
	// hash code: DOWN_1_UP_2_
}

// React to registry changes.
func ExampleCache_Subscribe() {
	f := newFakeRegistry()
	base := f.start(nil)
	c, err := client.New(client.Options{ServiceURLs: []string{base}})
	if err != nil {
		log.Fatal(err)
	}
	cache := discovery.New(c, nil)
	changes, unsubscribe := cache.Subscribe()
	defer unsubscribe()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cache.Run(ctx)
	if err := cache.Ready(ctx); err != nil {
		log.Fatal(err)
	}

	f.put(inst("orders", "o1", eureka.StatusUp, "", "orders")) // registered elsewhere
	<-changes
	fmt.Println("ORDERS instances:", len(cache.Instances("orders")))
	// Output:
	// ORDERS instances: 1
}

// Pick by VIP address, as Ribbon-style clients do.
func ExampleCache_PickVIP() {
	cache := discovery.New(mustClient(exampleServer()), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cache.Run(ctx)
	if err := cache.Ready(ctx); err != nil {
		log.Fatal(err)
	}
	seen := map[string]bool{}
	for range 4 {
		in, err := cache.PickVIP("orders")
		if err != nil {
			log.Fatal(err)
		}
		seen[in.InstanceID] = true
	}
	fmt.Println(len(seen), "instances picked in turn; o3 is DOWN:", !seen["o3"])
	// Output:
	// 2 instances picked in turn; o3 is DOWN: true
}

func mustClient(base string) *client.Client {
	c, err := client.New(client.Options{ServiceURLs: []string{base}})
	if err != nil {
		log.Fatal(err)
	}
	return c
}
