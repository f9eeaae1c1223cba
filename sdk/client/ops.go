package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// appPath is "apps/{APP}": application names are upper-case in Eureka.
func appPath(app string) string {
	return "apps/" + url.PathEscape(strings.ToUpper(app))
}

// instancePath is "apps/{APP}/{id}"; the id is escaped as one segment, so
// an id containing "/" stays one segment.
func instancePath(app, id string) string {
	return appPath(app) + "/" + url.PathEscape(id)
}

// isJSON tells the codec of a response body: by Content-Type, else by its
// first non-blank byte.
func isJSON(resp *response) bool {
	ct := strings.ToLower(resp.header.Get("Content-Type"))
	switch {
	case strings.Contains(ct, "json"):
		return true
	case strings.Contains(ct, "xml"):
		return false
	}
	for _, b := range resp.body {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b == '{' || b == '['
	}
	return false
}

// errorFor turns a non-success answer into an *Error, decoding the
// instance a 409 carries.
func (c *Client) errorFor(r *request, resp *response) *Error {
	e := &Error{StatusCode: resp.status, Method: r.method, URL: resp.url, Body: resp.body}
	if resp.status == http.StatusConflict && len(resp.body) > 0 {
		if isJSON(resp) {
			e.Instance, _ = eureka.DecodeInstanceJSON(resp.body)
		} else {
			e.Instance, _ = eureka.DecodeInstanceXML(resp.body)
		}
	}
	return e
}

// exec runs a call whose answer has no body worth reading.
func (c *Client) exec(ctx context.Context, r *request) error {
	_, err := c.do(ctx, r)
	return err
}

// Register registers (or re-registers) in with POST apps/{APP}. The body
// is the instance wrapped as {"instance":{…}} (or <instance> in XML mode).
// Eureka answers 204; any 2xx counts as success. A validation failure is
// an *Error matching ErrBadRequest, with the server's message in Body.
func (c *Client) Register(ctx context.Context, in *eureka.InstanceInfo) error {
	if in == nil {
		return errors.New("eureka client: Register: nil instance")
	}
	var body []byte
	if c.xml {
		body = eureka.AppendInstanceXML(nil, in)
	} else {
		body = eureka.AppendInstanceJSONWrapped(nil, in)
	}
	return c.exec(ctx, &request{method: http.MethodPost, path: appPath(in.App), body: body})
}

// Renew sends a heartbeat, PUT apps/{APP}/{id}. A non-zero
// lastDirtyTimestamp is sent as ?lastDirtyTimestamp= (the server answers
// 404 when the client's copy is newer). A 404 (ErrNotFound) means the
// server does not know the instance: register again.
func (c *Client) Renew(ctx context.Context, app, id string, lastDirtyTimestamp int64) error {
	return c.exec(ctx, &request{method: http.MethodPut, path: instancePath(app, id), query: dirty(nil, lastDirtyTimestamp)})
}

// Cancel deregisters an instance, DELETE apps/{APP}/{id}. An unknown
// instance gives ErrNotFound.
func (c *Client) Cancel(ctx context.Context, app, id string) error {
	return c.exec(ctx, &request{method: http.MethodDelete, path: instancePath(app, id)})
}

// SetStatus sets a status override, PUT
// apps/{APP}/{id}/status?value=ST[&lastDirtyTimestamp=T] (0 omits the
// timestamp). An unknown instance gives ErrNotFound.
func (c *Client) SetStatus(ctx context.Context, app, id string, st eureka.Status, lastDirtyTimestamp int64) error {
	q := url.Values{"value": {string(st)}}
	return c.exec(ctx, &request{method: http.MethodPut, path: instancePath(app, id) + "/status", query: dirty(q, lastDirtyTimestamp)})
}

// DeleteStatusOverride removes a status override, DELETE
// apps/{APP}/{id}/status[?value=ST][&lastDirtyTimestamp=T]. st is the
// status the instance takes (empty omits it: the server then uses
// UNKNOWN); 0 omits the timestamp. An unknown instance gives ErrNotFound.
func (c *Client) DeleteStatusOverride(ctx context.Context, app, id string, st eureka.Status, lastDirtyTimestamp int64) error {
	var q url.Values
	if st != "" {
		q = url.Values{"value": {string(st)}}
	}
	return c.exec(ctx, &request{method: http.MethodDelete, path: instancePath(app, id) + "/status", query: dirty(q, lastDirtyTimestamp)})
}

// UpdateMetadata merges kv into the instance's metadata, PUT
// apps/{APP}/{id}/metadata?k=v…. An unknown instance gives ErrNotFound.
func (c *Client) UpdateMetadata(ctx context.Context, app, id string, kv map[string]string) error {
	q := make(url.Values, len(kv))
	for k, v := range kv {
		q.Set(k, v)
	}
	return c.exec(ctx, &request{method: http.MethodPut, path: instancePath(app, id) + "/metadata", query: q})
}

// dirty adds lastDirtyTimestamp to q when ts is not 0.
func dirty(q url.Values, ts int64) url.Values {
	if ts == 0 {
		return q
	}
	if q == nil {
		q = url.Values{}
	}
	q.Set("lastDirtyTimestamp", strconv.FormatInt(ts, 10))
	return q
}

// getApps fetches an Applications payload.
func (c *Client) getApps(ctx context.Context, path string) (*eureka.Applications, error) {
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: path})
	if err != nil {
		return nil, err
	}
	return decodeApps(resp)
}

// decodeApps decodes an Applications answer in its format.
func decodeApps(resp *response) (*eureka.Applications, error) {
	if isJSON(resp) {
		return wrapDecode[*eureka.Applications](resp)(eureka.DecodeApplicationsJSON(resp.body))
	}
	return wrapDecode[*eureka.Applications](resp)(eureka.DecodeApplicationsXML(resp.body))
}

// wrapDecode names the response in a decode error (which still matches
// eureka.ErrMalformed).
func wrapDecode[T any](resp *response) func(T, error) (T, error) {
	return func(v T, err error) (T, error) {
		if err != nil {
			var zero T
			return zero, fmt.Errorf("eureka client: decoding %s: %w", resp.url, err)
		}
		return v, nil
	}
}

// Applications fetches the full registry, GET apps/. While a server's
// start-up gate is closed it answers ErrForbidden.
func (c *Client) Applications(ctx context.Context) (*eureka.Applications, error) {
	return c.getApps(ctx, "apps/")
}

// ApplicationsFunc fetches the full registry, GET apps/, as Applications
// does, but hands the applications to fn one at a time, in order, from
// the calling goroutine, and returns the rest of the answer (versions
// delta and hashcode) with an empty list. A JSON answer is decoded in
// parallel while fn runs (eureka.DecodeApplicationsJSONFunc), an XML one
// whole first. A malformed answer may fail after fn has received some
// applications; an error from fn stops the call and is returned.
func (c *Client) ApplicationsFunc(ctx context.Context, fn func(*eureka.Application) error) (*eureka.Applications, error) {
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: "apps/"})
	if err != nil {
		return nil, err
	}
	decode := eureka.DecodeApplicationsXMLFunc
	if isJSON(resp) {
		decode = eureka.DecodeApplicationsJSONFunc
	}
	// fn's own error is returned as it is; a decoding error names the URL.
	var fnErr error
	apps, err := decode(resp.body, func(app *eureka.Application) error {
		fnErr = fn(app)
		return fnErr
	})
	if err != nil && fnErr == nil {
		return nil, fmt.Errorf("eureka client: decoding %s: %w", resp.url, err)
	}
	return apps, err
}

// Delta fetches the recently changed instances, GET apps/delta. Servers
// with deltas disabled answer ErrForbidden.
func (c *Client) Delta(ctx context.Context) (*eureka.Applications, error) {
	return c.getApps(ctx, "apps/delta")
}

// Application fetches one application, GET apps/{APP}; ErrNotFound when it
// has no instances.
func (c *Client) Application(ctx context.Context, app string) (*eureka.Application, error) {
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: appPath(app)})
	if err != nil {
		return nil, err
	}
	if isJSON(resp) {
		return wrapDecode[*eureka.Application](resp)(eureka.DecodeApplicationJSON(resp.body))
	}
	return wrapDecode[*eureka.Application](resp)(eureka.DecodeApplicationXML(resp.body))
}

// getInstance fetches one instance.
func (c *Client) getInstance(ctx context.Context, path string) (*eureka.InstanceInfo, error) {
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: path})
	if err != nil {
		return nil, err
	}
	if isJSON(resp) {
		return wrapDecode[*eureka.InstanceInfo](resp)(eureka.DecodeInstanceJSON(resp.body))
	}
	return wrapDecode[*eureka.InstanceInfo](resp)(eureka.DecodeInstanceXML(resp.body))
}

// Instance fetches one instance, GET apps/{APP}/{id}; ErrNotFound when it
// is not registered (or its lease expired).
func (c *Client) Instance(ctx context.Context, app, id string) (*eureka.InstanceInfo, error) {
	return c.getInstance(ctx, instancePath(app, id))
}

// InstanceByID fetches an instance by id across applications, GET
// instances/{id}; ErrNotFound when no application has it.
func (c *Client) InstanceByID(ctx context.Context, id string) (*eureka.InstanceInfo, error) {
	return c.getInstance(ctx, "instances/"+url.PathEscape(id))
}

// VIP fetches the instances whose VIP address list holds vip, GET
// vips/{vip}. An unknown VIP gives an empty Applications, not an error.
func (c *Client) VIP(ctx context.Context, vip string) (*eureka.Applications, error) {
	return c.getApps(ctx, "vips/"+url.PathEscape(vip))
}

// SVIP is VIP for secure VIP addresses, GET svips/{svip}.
func (c *Client) SVIP(ctx context.Context, vip string) (*eureka.Applications, error) {
	return c.getApps(ctx, "svips/"+url.PathEscape(vip))
}

// PollRequest is a conditional fetch of the full registry or the delta.
type PollRequest struct {
	// Delta fetches apps/delta instead of apps/.
	Delta bool
	// ETag is the entity tag of the payload the caller holds ("" for none).
	// With an ETag the server answers 304 when nothing changed.
	ETag string
	// Wait asks a eurekad server to hold the request (long-poll) until the
	// payload differs from ETag or Wait has passed; 0 answers at once. It
	// is sent only with an ETag; the attempt's deadline grows by Wait.
	Wait time.Duration
	// Regions asks for these remote regions' instances as well, merged
	// into the answer (Eureka's regions parameter, sent by Java clients
	// with fetchRemoteRegionsRegistry). Empty means local instances only.
	Regions []string
}

// PollResult is the answer to a Poll.
type PollResult struct {
	// Apps is the new payload; nil when NotModified.
	Apps *eureka.Applications
	// ETag tags Apps (or the unchanged payload). It is "" when the server
	// sends none, as a Java Eureka server does: long-polling is then not
	// supported and the caller should poll on a timer.
	ETag string
	// NotModified is true when the payload still matches the request's
	// ETag (HTTP 304, also after a long-poll's wait ended).
	NotModified bool
}

// Poll is a conditional, optionally long-polling, fetch of apps/ or
// apps/delta. With req.ETag it sends If-None-Match; with req.Wait as well
// it sends X-Eurekad-Wait, which a eurekad server honours by holding the
// request until the payload changes (200) or the wait ends (304). Servers
// that ignore both simply answer 200 at once, so a loop of Poll calls
// works against any Eureka server; an empty PollResult.ETag tells the
// caller to pace the loop itself.
func (c *Client) Poll(ctx context.Context, req PollRequest) (PollResult, error) {
	r := &request{method: http.MethodGet, path: "apps/", etag: req.ETag}
	if req.Delta {
		r.path = "apps/delta"
	}
	if req.ETag != "" && req.Wait > 0 {
		r.wait = req.Wait
	}
	if len(req.Regions) > 0 {
		r.query = url.Values{"regions": {strings.Join(req.Regions, ",")}}
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return PollResult{}, err
	}
	etag := resp.header.Get("ETag")
	if resp.status == http.StatusNotModified {
		if etag == "" {
			etag = req.ETag
		}
		return PollResult{ETag: etag, NotModified: true}, nil
	}
	apps, err := decodeApps(resp)
	if err != nil {
		return PollResult{}, err
	}
	return PollResult{Apps: apps, ETag: etag}, nil
}
