// Command provider is a tiny HTTP service that registers itself with a
// Eureka server (eurekad) through sdk/agent, heartbeats, and deregisters
// when stopped with Ctrl-C.
//
//	go run ./examples/client/provider -eureka http://127.0.0.1:8761/eureka/
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/eurekad/eurekad/sdk/agent"
	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

func main() {
	eurekaURL := flag.String("eureka", "http://127.0.0.1:8761/eureka/", "Eureka base URL (comma-separated for several servers)")
	app := flag.String("app", "HELLO", "application name to register under")
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on (port 0: any free port)")
	renew := flag.Duration("renew", 30*time.Second, "heartbeat interval")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*eurekaURL, *app, *listen, *renew, log); err != nil {
		log.Error("provider failed", "err", err)
		os.Exit(1)
	}
}

func run(eurekaURL, app, listen string, renew time.Duration, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	addr := ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	id := net.JoinHostPort(host, strconv.Itoa(addr.Port))

	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "hello from %s\n", id)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("serving", "err", err)
			stop()
		}
	}()
	log.Info("serving", "url", "http://"+id+"/", "id", id)

	c, err := client.New(client.Options{ServiceURLs: strings.Split(eurekaURL, ","), Logger: log})
	if err != nil {
		return err
	}
	secs := int32(max(1, renew/time.Second))
	in := &eureka.InstanceInfo{
		InstanceID: id,
		App:        app,
		HostName:   host,
		IPAddr:     host,
		Status:     eureka.StatusUp,
		Port:       eureka.Port{Number: addr.Port, Enabled: true},
		VIPAddress: app,
		// Three missed heartbeats and the server drops the instance.
		LeaseInfo:      &eureka.LeaseInfo{RenewalIntervalInSecs: secs, DurationInSecs: 3 * secs},
		DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
		HomePageURL:    "http://" + id + "/",
	}
	a := agent.New(c, in, &agent.Options{Logger: log})

	// Run registers, heartbeats, and deregisters once ctx ends (Ctrl-C).
	runErr := a.Run(ctx)

	// Stop taking requests only after consumers were told we are gone.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	log.Info("stopped")
	return runErr
}
