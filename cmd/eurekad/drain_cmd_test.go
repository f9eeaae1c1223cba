package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/httpd"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// TestDrainCommand drains an instance with no reader (confirmed at once),
// then with a reader that never fetches again (exit 1, the reader named).
func TestDrainCommand(t *testing.T) {
	reg := registry.New(nil)
	reg.OpenForTraffic(0)
	c, err := cache.New(reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(httpd.New(node.New(reg, node.Options{}), c, nil).Handler())
	defer ts.Close()
	cl, err := client.New(client.Options{ServiceURLs: []string{ts.URL + "/eureka"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"o-1", "o-2"} {
		in := &eureka.InstanceInfo{InstanceID: id, HostName: id, App: "ORDERS", IPAddr: "10.0.0.1", Status: eureka.StatusUp,
			DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn}}
		if err := cl.Register(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := execute(t, noServe(t), nil, "drain", "--server", ts.URL, "ORDERS", "o-1")
	if code != exitOK || !strings.Contains(out, "out-of-service ORDERS o-1:") || !strings.Contains(out, "0 pending") {
		t.Fatalf("drain without readers: exit %d\n%s%s", code, out, errOut)
	}

	req, _ := http.NewRequest("GET", ts.URL+"/eureka/apps/", nil)
	req.Header.Set("User-Agent", "stuck-client")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code, out, errOut = execute(t, noServe(t), nil, "drain", "--server", ts.URL, "--cancel", "--timeout", "300ms", "ORDERS")
	if code != exitError || !strings.Contains(out, "127.0.0.1 stuck-client  pending") || !strings.Contains(errOut, "1 reader(s) had not fetched") {
		t.Fatalf("drain with a stuck reader: exit %d\n%s%s", code, out, errOut)
	}
	if reg.Instance("ORDERS", "o-2") != nil {
		t.Fatal("cancel drain left o-2 registered")
	}
	if code, _, errOut := execute(t, noServe(t), nil, "drain", "--server", ts.URL); code != exitUsage {
		t.Fatalf("drain without APP: exit %d %s", code, errOut)
	}
}
