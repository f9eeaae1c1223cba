package agent_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/eurekad/eurekad/sdk/agent"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Register an instance, keep it registered, mark it out of service, and
// deregister it at shutdown.
func Example() {
	// A stand-in for a running eurekad; use "http://127.0.0.1:8761/eureka/".
	fake := &fakeEureka{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	base := srv.URL + "/eureka/"

	c, err := client.New(client.Options{ServiceURLs: []string{base}})
	if err != nil {
		log.Fatal(err)
	}
	a := agent.New(c, &eureka.InstanceInfo{
		InstanceID: "10.0.0.7:8080",
		App:        "ORDERS",
		HostName:   "10.0.0.7",
		IPAddr:     "10.0.0.7",
		Port:       eureka.Port{Number: 8080, Enabled: true},
		VIPAddress: "orders",
	}, nil)

	// Run registers at once, renews every 30 s, and deregisters when ctx
	// ends. Usually: go a.Run(ctx) with a signal.NotifyContext.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	fake.wait(func() bool { return len(fake.registered) == 1 })
	fmt.Println("registered:", a.Instance().Status)

	// Take the instance out of rotation: pushed to the server at once.
	if err := a.SetStatus(eureka.StatusOutOfService); err != nil {
		log.Fatal(err)
	}
	fake.wait(func() bool { return len(fake.registered) == 2 })
	r, _, _ := fake.snapshot()
	fmt.Println("pushed:", r[1].Status)

	cancel() // shutdown: deregister
	fmt.Println("run:", <-done)
	_, _, cancels := fake.snapshot()
	fmt.Println("deregistered:", cancels == 1)
	// Output:
	// registered: UP
	// pushed: OUT_OF_SERVICE
	// run: <nil>
	// deregistered: true
}
