package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// eurekad's propagation calls (docs/admin-api.md): which version each
// registry reader holds, and drains that answer once every active reader
// has fetched the change. Other Eureka servers answer them 404.

// Reader is one registry reader as eurekad tracks it.
type Reader struct {
	Name      string `json:"name"`
	Client    string `json:"client,omitempty"`
	Addr      string `json:"addr"`
	UserAgent string `json:"userAgent"`
	// App is set for a reader of one application.
	App             string    `json:"app,omitempty"`
	Version         uint64    `json:"version"`
	LastFetch       time.Time `json:"lastFetch"`
	IntervalSeconds float64   `json:"intervalSeconds"`
	Fetches         uint64    `json:"fetches"`
	Active          bool      `json:"active"`
	Behind          bool      `json:"behind"`
	LagSeconds      float64   `json:"lagSeconds"`
}

// Propagation is GET admin/api/propagation.
type Propagation struct {
	Version   uint64   `json:"version"`
	Readers   []Reader `json:"readers"`
	Behind    []string `json:"behind"`
	Tracked   int      `json:"tracked"`
	Dropped   uint64   `json:"dropped"`
	Forgotten uint64   `json:"forgotten"`
}

// DrainResult is eurekad's answer to a drain.
type DrainResult struct {
	App  string   `json:"app"`
	IDs  []string `json:"ids"`
	Mode string   `json:"mode"`
	// Version is the registry version each reader had to fetch.
	Version   uint64   `json:"version"`
	Confirmed []Reader `json:"confirmed"`
	// Pending are the readers that had not fetched the change at the
	// timeout (TimedOut).
	Pending        []Reader `json:"pending"`
	ElapsedSeconds float64  `json:"elapsedSeconds"`
	TimeoutSeconds float64  `json:"timeoutSeconds"`
	TimedOut       bool     `json:"timedOut"`
	Untracked      uint64   `json:"untracked"`
}

// ErrNotConfirmed is returned with a DrainResult whose timeout came before
// every reader fetched the change. The change itself is made.
var ErrNotConfirmed = errors.New("eureka client: drain not confirmed by every reader")

// DrainOptions configure Drain.
type DrainOptions struct {
	// Cancel deregisters the instance (or every instance of the
	// application) instead of taking it out of service.
	Cancel bool
	// Timeout is how long the server waits for readers; zero means the
	// server's default (30 s).
	Timeout time.Duration
	// AdminToken is sent as a bearer token, for a server that protects its
	// admin API with http.admin_token; empty sends the URL's credentials.
	AdminToken string
}

// Drain takes instance id of app out of service (or, with an empty id,
// every instance of app) through eurekad's admin API and returns once every
// reader active at the change has fetched it. At the timeout it returns the
// result, listing the readers still behind, with ErrNotConfirmed.
func (c *Client) Drain(ctx context.Context, app, id string, o DrainOptions) (*DrainResult, error) {
	path := "admin/api/apps/" + url.PathEscape(strings.ToUpper(app)) + "/drain"
	if id != "" {
		path = "admin/api/instances/" + url.PathEscape(strings.ToUpper(app)) + "/" + url.PathEscape(id) + "/drain"
	}
	q := url.Values{}
	if o.Cancel {
		q.Set("mode", "cancel")
	}
	if o.Timeout > 0 {
		q.Set("timeout", o.Timeout.String())
	}
	// The server holds the answer for up to the timeout.
	wait := o.Timeout
	if wait <= 0 {
		wait = 30 * time.Second
	}
	resp, err := c.do(ctx, &request{method: http.MethodPost, path: path, query: q, site: true, bearer: o.AdminToken, wait: wait})
	if err != nil {
		return nil, err
	}
	var res DrainResult
	if err := json.Unmarshal(resp.body, &res); err != nil {
		return nil, fmt.Errorf("eureka client: drain answer: %w", err)
	}
	if res.TimedOut || resp.status == http.StatusAccepted {
		return &res, ErrNotConfirmed
	}
	return &res, nil
}

// Propagation returns what eurekad knows of its readers.
func (c *Client) Propagation(ctx context.Context, adminToken string) (*Propagation, error) {
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: "admin/api/propagation", site: true, bearer: adminToken})
	if err != nil {
		return nil, err
	}
	var p Propagation
	if err := json.Unmarshal(resp.body, &p); err != nil {
		return nil, fmt.Errorf("eureka client: propagation answer: %w", err)
	}
	return &p, nil
}
