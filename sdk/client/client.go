package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/eurekad/eurekad/sdk/hook"
)

// Defaults used for the zero values of Options.
const (
	// DefaultTimeout bounds one attempt against one server.
	DefaultTimeout = 10 * time.Second
	// DefaultUserAgent is sent when Options.UserAgent is empty.
	DefaultUserAgent = "eurekad-go-client/1"
	// DefaultMaxResponseBytes bounds a response body after decompression.
	DefaultMaxResponseBytes = 256 << 20
)

// waitHeader asks a eurekad server to hold a conditional GET until the
// payload's ETag differs from If-None-Match (a long-poll). Other Eureka
// servers ignore it.
const waitHeader = "X-Eurekad-Wait"

// clientHeader names this client to a eurekad server's reader tracking.
const clientHeader = "X-Eurekad-Client"

// defaultClientID is the host name with a random suffix.
func defaultClientID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "go-client"
	}
	return host + "-" + strconv.FormatUint(rand.Uint64()&0xffffffff, 36)
}

// ClientID returns the id sent as X-Eurekad-Client.
func (c *Client) ClientID() string { return c.id }

// Options configure a Client. The zero value of each field is documented;
// at least one server URL (ServiceURLs or ZoneURLs) is required.
type Options struct {
	// ServiceURLs are Eureka base URLs, such as
	// http://user:pass@host:8761/eureka/ (Spring Cloud) or
	// http://host:8080/eureka/v2/ (Netflix). Userinfo becomes HTTP basic
	// auth and is never sent in the request URL; the trailing slash is
	// optional. They are tried after the zone URLs.
	ServiceURLs []string
	// Zone is this client's zone. With ZoneURLs, the servers of this zone
	// are tried first (Eureka's preferSameZoneEureka).
	Zone string
	// ZoneURLs maps a zone to its servers' base URLs (Eureka's
	// serviceUrl.<zone>). Used in addition to ServiceURLs: own zone first,
	// then the other zones in name order, then ServiceURLs; duplicates are
	// dropped.
	ZoneURLs map[string][]string
	// XML makes the client send and ask for XML instead of JSON.
	XML bool
	// TLSConfig is the TLS configuration of the default HTTP client, for
	// https:// servers signed by a private CA or asking for a client
	// certificate; nil means Go's defaults. Ignored with HTTPClient.
	TLSConfig *tls.Config
	// HTTPClient sends the requests. Nil means a client with dial and TLS
	// handshake timeouts and compression left to this package. A supplied
	// client should not set http.Client.Timeout below the longest
	// long-poll wait; per-attempt deadlines come from Timeout.
	HTTPClient *http.Client
	// Timeout bounds one attempt against one server (a long-poll gets its
	// wait plus Timeout). Zero means DefaultTimeout.
	Timeout time.Duration
	// UserAgent is sent as User-Agent. Empty means DefaultUserAgent.
	UserAgent string
	// ClientID is sent as X-Eurekad-Client: eurekad tracks each reader
	// (which registry version it last fetched, and when) by this id, so
	// several clients behind one address and User-Agent are told apart.
	// Empty means the host name and a random suffix, new for each Client.
	// Other Eureka servers ignore the header.
	ClientID string
	// Logger receives debug records about fail-over. Nil discards.
	Logger *slog.Logger
	// MaxResponseBytes bounds a response body (after gzip decoding); a
	// larger answer counts as a failed attempt. Zero means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Namespace selects an eurekad namespace: each service URL's path is
	// put under /ns/{Namespace}/ (http://host:8761/eureka/ becomes
	// http://host:8761/ns/team-a/eureka/), and the admin API calls go to
	// that namespace too. Empty or "default" is the default namespace, at
	// the URLs as given. A service URL that already names its namespace
	// needs no Namespace. Other Eureka servers know no namespaces.
	Namespace string
}

// DefaultOptions returns Options with every default filled in and no
// servers.
func DefaultOptions() Options {
	return Options{
		Timeout:          DefaultTimeout,
		UserAgent:        DefaultUserAgent,
		MaxResponseBytes: DefaultMaxResponseBytes,
	}
}

// Client is a Eureka REST client. It is safe for concurrent use by many
// goroutines. It holds no background goroutines and needs no Close; idle
// connections belong to its http.Client.
type Client struct {
	servers []server
	hc      *http.Client
	timeout time.Duration
	xml     bool
	ua      string
	id      string
	maxBody int64
	log     *slog.Logger
	// sticky is the index of the last server that answered; it is tried
	// first until it fails.
	sticky atomic.Int64
}

// server is one base URL with its credentials split off.
type server struct {
	base       string // scheme://host[:port]/path/ without userinfo
	site       string // scheme://host[:port]/ or, in a namespace, …/ns/{namespace}/
	user, pass string
	auth       bool
}

// New returns a Client for the servers in opts. It fails when no URL is
// given, a URL is not an absolute http(s) URL, or Namespace is not a name
// eurekad serves (hook.ValidNamespace).
func New(opts Options) (*Client, error) {
	if opts.Namespace != "" && !hook.ValidNamespace(opts.Namespace) {
		// Every call would get 404, which a heartbeat takes for an
		// unknown instance and answers by registering again, forever.
		return nil, fmt.Errorf("eureka client: namespace %q is not a namespace name (lower-case letters, digits and inner hyphens, at most %d bytes)", opts.Namespace, hook.MaxNamespaceBytes)
	}
	var raw []string
	if opts.Zone != "" {
		raw = append(raw, opts.ZoneURLs[opts.Zone]...)
	}
	zones := make([]string, 0, len(opts.ZoneURLs))
	for z := range opts.ZoneURLs {
		if z != opts.Zone {
			zones = append(zones, z)
		}
	}
	slices.Sort(zones)
	for _, z := range zones {
		raw = append(raw, opts.ZoneURLs[z]...)
	}
	raw = append(raw, opts.ServiceURLs...)

	c := &Client{
		hc:      opts.HTTPClient,
		timeout: opts.Timeout,
		xml:     opts.XML,
		ua:      opts.UserAgent,
		id:      opts.ClientID,
		maxBody: opts.MaxResponseBytes,
		log:     opts.Logger,
	}
	seen := make(map[string]bool)
	for _, s := range raw {
		srv, err := parseServer(s, opts.Namespace)
		if err != nil {
			return nil, err
		}
		if seen[srv.base] {
			continue
		}
		seen[srv.base] = true
		c.servers = append(c.servers, srv)
	}
	if len(c.servers) == 0 {
		return nil, errors.New("eureka client: no server URL given")
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient(opts.TLSConfig)
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.ua == "" {
		c.ua = DefaultUserAgent
	}
	if c.id == "" {
		c.id = defaultClientID()
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxResponseBytes
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "eureka-client")
	return c, nil
}

// parseServer checks one base URL, splits its credentials off and puts
// it in namespace ns.
func parseServer(s, ns string) (server, error) {
	u, err := ParseServiceURL(strings.TrimSpace(s))
	if err != nil {
		return server{}, fmt.Errorf("eureka client: %w", err)
	}
	site := "/"
	if ns != "" && ns != hook.DefaultNamespace {
		// A valid name (New) is one path segment needing no escaping.
		site = "/ns/" + ns + "/"
		u.Path = site + strings.TrimPrefix(u.Path, "/")
		if u.RawPath != "" {
			u.RawPath = site + strings.TrimPrefix(u.RawPath, "/")
		}
	}
	var srv server
	if u.User != nil {
		srv.auth = true
		srv.user = u.User.Username()
		srv.pass, _ = u.User.Password()
		u.User = nil
	}
	srv.base = u.String()
	srv.site = u.Scheme + "://" + u.Host + site
	return srv, nil
}

// ParseServiceURL checks a Eureka base URL as New does: absolute http or
// https, no query or fragment. The result's path ends in "/" and keeps
// the escaping of the original (/eu%2Freka stays /eu%2Freka/); its User
// holds the URL's credentials, if any. raw is not trimmed.
func ParseServiceURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("service URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("service URL %q: want an absolute http or https URL", u.Redacted())
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("service URL %q: no query or fragment allowed", u.Redacted())
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		// Dropping RawPath would unescape the path (%2F becoming /).
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u, nil
}

// defaultHTTPClient is the client used when Options.HTTPClient is nil.
// Compression is off in the transport because this package asks for gzip
// and decodes it itself; deadlines come from per-attempt contexts.
func defaultHTTPClient(tlsConfig *tls.Config) *http.Client {
	// A copy: the transport adds "h2" to the config's NextProtos, which
	// races when several clients (a node's peers) share one config.
	tlsConfig = tlsConfig.Clone()
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		TLSClientConfig:       tlsConfig,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}}
}

// Servers returns the base URLs in the order they are tried when none
// has answered yet (credentials removed).
func (c *Client) Servers() []string {
	out := make([]string, len(c.servers))
	for i, s := range c.servers {
		out[i] = s.base
	}
	return out
}

// request is one logical call, replayed against each server in turn.
type request struct {
	method string
	path   string // relative to the base URL, already escaped
	query  url.Values
	body   []byte
	// etag and wait make a conditional (long-polling) GET.
	etag string
	wait time.Duration
	// site marks a path relative to the server's root rather than its
	// Eureka base (eurekad's admin API); bearer, when set, is sent instead
	// of the URL's basic credentials.
	site   bool
	bearer string
	// peer marks a server-to-server call: JSON whatever Options.XML says,
	// and the replication header (see ReplicateBatch).
	peer bool
}

// response is a fully read answer.
type response struct {
	status int
	header http.Header
	body   []byte
	url    string
}

// do sends r to the sticky server first, then to the others in order. A
// transport error, a timeout or a 5xx moves on to the next server; a 2xx
// or 304 is returned; any other answer is returned at once as an *Error.
func (c *Client) do(ctx context.Context, r *request) (*response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	first := int(c.sticky.Load())
	var last error
	for n := range len(c.servers) {
		// The sticky server first, then the others in priority order.
		i := first
		switch {
		case n == 0:
		case n <= first:
			i = n - 1
		default:
			i = n
		}
		resp, err := c.attempt(ctx, c.servers[i], r)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				if errors.Is(err, cerr) {
					return nil, err
				}
				return nil, fmt.Errorf("%w: %w", cerr, err)
			}
			c.log.Debug("eureka server failed", "method", r.method, "server", c.servers[i].base, "err", err)
			last = err
			continue
		}
		if resp.status >= 500 {
			last = c.errorFor(r, resp)
			c.log.Debug("eureka server failed", "method", r.method, "server", c.servers[i].base, "status", resp.status)
			continue
		}
		if i != first {
			c.sticky.Store(int64(i))
		}
		if (resp.status >= 200 && resp.status < 300) || resp.status == http.StatusNotModified {
			return resp, nil
		}
		return nil, c.errorFor(r, resp)
	}
	return nil, fmt.Errorf("%w (%d tried): %w", ErrUnavailable, len(c.servers), last)
}

// attempt sends r to one server and reads the whole answer.
func (c *Client) attempt(ctx context.Context, s server, r *request) (*response, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout+r.wait)
	defer cancel()
	u := s.base + r.path
	if r.site {
		u = s.site + r.path
	}
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(actx, r.method, u, body)
	if err != nil {
		return nil, err
	}
	h := req.Header
	xml := c.xml && !r.peer
	if xml {
		h.Set("Accept", "application/xml")
	} else {
		h.Set("Accept", "application/json")
	}
	if r.peer {
		h[ReplicationHeader] = replicationTrue
	}
	if r.body != nil {
		if xml {
			h.Set("Content-Type", "application/xml")
		} else {
			h.Set("Content-Type", "application/json")
		}
	}
	h.Set("Accept-Encoding", "gzip")
	h.Set("User-Agent", c.ua)
	h.Set(clientHeader, c.id)
	if r.etag != "" {
		h.Set("If-None-Match", r.etag)
		if r.wait > 0 {
			h.Set(waitHeader, r.wait.String())
		}
	}
	if r.bearer != "" {
		h.Set("Authorization", "Bearer "+r.bearer)
	} else if s.auth {
		req.SetBasicAuth(s.user, s.pass)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	b, err := c.readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("eureka client: %s %s: reading body: %w", r.method, u, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b, url: u}, nil
}

// readBody reads the body, gunzipping it when the server says so, and
// enforces the size bound.
func (c *Client) readBody(resp *http.Response) ([]byte, error) {
	b, err := readLimited(resp.Body, c.maxBody)
	if err != nil || len(b) == 0 {
		return b, err
	}
	if !strings.EqualFold(strings.TrimSpace(resp.Header.Get("Content-Encoding")), "gzip") {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	// The trailer's ISIZE is the plain size (mod 4 GiB): reading into a
	// buffer of that size spares a registry of a million instances the
	// gigabytes of copies a doubling buffer makes. Deflate expands at
	// most 1,032 times, which bounds what a lying trailer can reserve.
	hint := min(int64(binary.LittleEndian.Uint32(b[len(b)-4:])), 1032*int64(len(b)), c.maxBody)
	buf := bytes.NewBuffer(make([]byte, 0, hint+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(zr, c.maxBody+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > c.maxBody {
		return nil, fmt.Errorf("body larger than %d bytes", c.maxBody)
	}
	return buf.Bytes(), nil
}

// readLimited reads r to the end, failing once it passes limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("body larger than %d bytes", limit)
	}
	return b, nil
}
