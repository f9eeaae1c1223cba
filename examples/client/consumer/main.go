// Command consumer finds the provider example through a sdk/discovery
// cache (long-polling eurekad, so new instances show up at once) and calls
// it every second, printing the answers.
//
//	go run ./examples/client/consumer -eureka http://127.0.0.1:8761/eureka/
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/discovery"
	"github.com/eurekad/eurekad/sdk/eureka"
)

func main() {
	eurekaURL := flag.String("eureka", "http://127.0.0.1:8761/eureka/", "Eureka base URL (comma-separated for several servers)")
	app := flag.String("app", "HELLO", "application to call")
	every := flag.Duration("every", time.Second, "time between calls")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*eurekaURL, *app, *every, log); err != nil {
		log.Error("consumer failed", "err", err)
		os.Exit(1)
	}
}

func run(eurekaURL, app string, every time.Duration, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	c, err := client.New(client.Options{ServiceURLs: strings.Split(eurekaURL, ","), Logger: log})
	if err != nil {
		return err
	}
	cache := discovery.New(c, &discovery.Options{Logger: log})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cache.Run(ctx)
	}()
	defer func() { stop(); <-done }()

	// Report changes of the provider's instance list as they happen.
	changes, unsubscribe := cache.Subscribe()
	defer unsubscribe()
	go func() {
		for range changes {
			log.Info("registry changed", "app", app, "up", len(cache.Instances(app)))
		}
	}()

	if err := cache.Ready(ctx); err != nil {
		return nil // interrupted before the first fetch
	}
	log.Info("registry fetched", "apps", len(cache.Applications().Applications))

	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		call(ctx, hc, cache, app)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// call picks an instance (UP, round robin) and prints its answer.
func call(ctx context.Context, hc *http.Client, cache *discovery.Cache, app string) {
	in, err := cache.Pick(app)
	if err != nil {
		fmt.Printf("%s  no %s instance yet (%v)\n", time.Now().Format(time.TimeOnly), app, err)
		return
	}
	url := instanceURL(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := hc.Do(req)
	if err != nil {
		fmt.Printf("%s  %s: %v\n", time.Now().Format(time.TimeOnly), url, err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Printf("%s  %s -> %s", time.Now().Format(time.TimeOnly), url, b)
}

func instanceURL(in *eureka.InstanceInfo) string {
	host := in.IPAddr
	if host == "" {
		host = in.HostName
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + strconv.Itoa(in.Port.Number) + "/"
}
