package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/eurekad/eurekad/sdk/hook"
)

// bodyLimit is how much of an answer's body is read (and thrown away) so
// that the connection ends cleanly.
const bodyLimit = 4 << 10

// httpProber sends the GETs. It keeps no idle connections: at 10,000
// instances a pool would hold a socket per instance between probes.
type httpProber struct {
	client *http.Client
}

func newHTTPProber() httpProber {
	return httpProber{client: &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil, // never through a proxy: the target is the instance
			DialContext:            dialer.DialContext,
			DisableKeepAlives:      true,
			TLSHandshakeTimeout:    5 * time.Second,
			ResponseHeaderTimeout:  0, // the request's context bounds it
			MaxResponseHeaderBytes: 16 << 10,
		},
		// A redirect could point anywhere: its status is the verdict.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (p httpProber) probe(ctx context.Context, r *hook.CheckRequest) (hook.CheckResult, error) {
	u, err := url.Parse(r.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return hook.CheckResult{}, fmt.Errorf("check: target %q is not an http(s) URL", r.Target)
	}
	client := p.client
	if client == nil {
		client = newHTTPProber().client
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.Target, nil)
	if err != nil {
		return hook.CheckResult{}, fmt.Errorf("check: %w", err)
	}
	req.Header.Set("User-Agent", "eurekad-health-check")
	resp, err := client.Do(req)
	if errors.Is(err, errNotInstance) {
		return hook.CheckResult{}, err // undecided: the instance was not probed
	}
	if err != nil {
		return failing("%s", describe(err)), nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, bodyLimit))
	resp.Body.Close()
	lo, hi := r.ExpectMin, r.ExpectMax
	if lo == 0 && hi == 0 {
		lo, hi = 200, 399
	}
	if resp.StatusCode < lo || resp.StatusCode > hi {
		return failing("HTTP %d", resp.StatusCode), nil
	}
	return hook.CheckResult{Passing: true, Detail: fmt.Sprintf("HTTP %d", resp.StatusCode)}, nil
}

// describe names a transport failure without the URL, which the event
// already identifies.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Op + ": " + oe.Err.Error()
	}
	return err.Error()
}
