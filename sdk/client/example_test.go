package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// miniEureka is a tiny stand-in for a Eureka server, so the examples run
// without one: it stores registrations and serves apps/ with an ETag.
// Real programs point the client at eurekad or any Eureka server.
func miniEureka() *httptest.Server {
	var mu sync.Mutex
	apps := map[string]*eureka.InstanceInfo{}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodPost:
			b, _ := io.ReadAll(r.Body)
			in, err := eureka.DecodeInstanceJSON(b)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			apps[in.ID()] = in
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodPut:
			id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
			if apps[id] == nil {
				w.WriteHeader(http.StatusNotFound)
			}
		case r.Method == http.MethodGet:
			all := &eureka.Applications{VersionsDelta: 1}
			for _, in := range apps {
				all.Applications = append(all.Applications, &eureka.Application{Name: in.App, Instances: []*eureka.InstanceInfo{in}})
			}
			etag := `"` + strconv.Itoa(len(apps)) + `"`
			w.Header().Set("ETag", etag)
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(eureka.AppendApplicationsJSON(nil, all))
		}
	}))
}

// Register an instance, heartbeat it, and register again when the server
// has forgotten it.
func ExampleClient_Register() {
	srv := miniEureka()
	defer srv.Close()
	ctx := context.Background()

	c, err := client.New(client.Options{
		// Several servers may be listed; credentials go in the userinfo.
		ServiceURLs: []string{srv.URL + "/eureka/"},
	})
	if err != nil {
		panic(err)
	}
	in := &eureka.InstanceInfo{
		InstanceID:     "10.0.0.5:orders:8080",
		App:            "ORDERS",
		HostName:       "10.0.0.5",
		IPAddr:         "10.0.0.5",
		Status:         eureka.StatusUp,
		Port:           eureka.Port{Number: 8080, Enabled: true},
		VIPAddress:     "orders",
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		LeaseInfo:      &eureka.LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90},
	}
	err = c.Renew(ctx, in.App, in.InstanceID, 0)
	fmt.Println("renew before registering:", errors.Is(err, client.ErrNotFound))
	if errors.Is(err, client.ErrNotFound) {
		err = c.Register(ctx, in)
	}
	fmt.Println("registered:", err == nil)
	fmt.Println("renew:", c.Renew(ctx, in.App, in.InstanceID, 0))
	// Output:
	// renew before registering: true
	// registered: true
	// renew: <nil>
}

// Keep a local copy of the registry fresh with conditional, long-polling
// fetches. Against eurekad each Poll returns as soon as something changed
// (or after Wait, not modified); against a server without ETags (Java
// Eureka) PollResult.ETag is empty and the loop must sleep between polls.
func ExampleClient_Poll() {
	srv := miniEureka()
	defer srv.Close()
	ctx := context.Background()
	c, err := client.New(client.Options{ServiceURLs: []string{srv.URL + "/eureka/"}})
	if err != nil {
		panic(err)
	}

	var etag string
	for i := range 3 {
		if i == 1 {
			_ = c.Register(ctx, &eureka.InstanceInfo{InstanceID: "i-1", App: "ORDERS", HostName: "h", IPAddr: "10.0.0.1",
				DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn}})
		}
		res, err := c.Poll(ctx, client.PollRequest{ETag: etag, Wait: 10 * time.Millisecond})
		if err != nil {
			fmt.Println("poll:", err)
			continue
		}
		etag = res.ETag
		if res.NotModified {
			fmt.Println("not modified")
			continue
		}
		fmt.Println("applications:", len(res.Apps.Applications))
	}
	// Output:
	// applications: 0
	// applications: 1
	// not modified
}

// Servers are tried own zone first; the client sticks to the last server
// that answered until it fails.
func ExampleNew() {
	c, err := client.New(client.Options{
		Zone: "us-east-1b",
		ZoneURLs: map[string][]string{
			"us-east-1a": {"http://eureka-a:8761/eureka/"},
			"us-east-1b": {"http://eureka-b:8761/eureka/"},
		},
		ServiceURLs: []string{"http://user:secret@eureka-default:8761/eureka"},
		Timeout:     5 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	for _, u := range c.Servers() {
		fmt.Println(u)
	}
	// Output:
	// http://eureka-b:8761/eureka/
	// http://eureka-a:8761/eureka/
	// http://eureka-default:8761/eureka/
}
