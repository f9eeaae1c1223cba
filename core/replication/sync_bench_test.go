package replication_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/replication"
	"github.com/eurekad/eurekad/httpd"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// BenchmarkSync100k is a new node's start-up sync of 100,000 instances in
// 1,000 applications from a real eurekad peer on loopback: fetch, decode
// and adopt. The peer's payload is built before the timer starts.
func BenchmarkSync100k(b *testing.B) {
	const n, apps = 100000, 1000
	peer := registry.New(nil)
	peer.OpenForTraffic(0)
	for i := range n {
		app := fmt.Sprintf("SERVICE-%04d", i%apps)
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		peer.Register(&eureka.InstanceInfo{
			InstanceID: fmt.Sprintf("%s:%s:8080", ip, app), App: app, HostName: ip, IPAddr: ip,
			VIPAddress: app, SecureVIPAddress: app, Status: eureka.StatusUp,
			Port:        eureka.Port{Number: 8080, Enabled: true},
			HomePageURL: "http://" + ip + ":8080/", StatusPageURL: "http://" + ip + ":8080/actuator/info",
			HealthCheckURL: "http://" + ip + ":8080/actuator/health",
			DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
			Metadata:       map[string]string{"zone": "zone-a", "version": "1.4.2"},
		}, false)
	}
	c, err := cache.New(peer, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(httpd.New(node.New(peer, node.Options{}), c, nil).Handler())
	defer srv.Close()
	c.Get(cache.Key{Entity: cache.EntityApps, Format: cache.JSON}).Gzip()
	o := replication.DefaultOptions()
	o.Peers = []string{srv.URL + "/eureka/"}
	b.ReportAllocs()
	for b.Loop() {
		cl, err := replication.New(registry.New(nil), &o)
		if err != nil {
			b.Fatal(err)
		}
		if got, err := cl.Sync(context.Background()); err != nil || got != n {
			b.Fatalf("Sync = %d, %v; want %d", got, err, n)
		}
	}
}
