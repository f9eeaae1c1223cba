package httpd

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unsafe"

	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/rules"
	"github.com/eurekad/eurekad/sdk/hook"
)

// Authentication (Options.Auth): every request that matches a route of the
// table (routes.go) is decided by the authenticator, for the route's
// operation, app and instance, before its handler runs. Stock Eureka clients send the
// credentials of their service URL (http://user:pass@host:8761/eureka/) as
// HTTP basic auth; bearer tokens and TLS client certificates are passed on
// too. The replication header only turns an operation into
// hook.OpReplicate, so a peer needs the replicate permission: it never
// bypasses authentication.

type principalKey struct{}

// PrincipalFrom returns the caller the authenticator decided the request
// comes from; ok is false when authentication is off. Renewals, served on
// an allocation-free path, do not carry it.
func PrincipalFrom(ctx context.Context) (p hook.Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(hook.Principal)
	return p, ok
}

// principalAttr is the request's principal as a log attribute; empty (and
// so left out by slog) without authentication.
func principalAttr(r *http.Request) slog.Attr {
	if p, ok := PrincipalFrom(r.Context()); ok {
		return slog.String("principal", p.Name)
	}
	return slog.Attr{}
}

func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}

// authRequest is a pooled hook.AuthRequest with room for decoded basic
// credentials, so a renewal decided from the cache allocates nothing.
type authRequest struct {
	hook.AuthRequest
	scratch []byte
}

var authRequests = sync.Pool{New: func() any { return &authRequest{scratch: make([]byte, 0, 128)} }}

// authorize decides r. On refusal it writes the answer and reports false.
// The request's strings given to the authenticator are valid only during
// the call (hook.AuthRequest's contract).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, op hook.Operation, app, id string) (hook.Principal, bool) {
	p, err := s.authenticate(r, op, app, id)
	if err != nil {
		s.authError(w, r, op, app, err)
		return hook.Principal{}, false
	}
	return p, true
}

// authenticate asks the authenticator about r for op on app and id in
// this server's namespace: the one place a request's AuthRequest is built,
// for a route's decision and for the namespace checks (namespaces.go).
func (s *Server) authenticate(r *http.Request, op hook.Operation, app, id string) (hook.Principal, error) {
	ar := authRequests.Get().(*authRequest)
	ar.Operation, ar.App, ar.Instance, ar.Namespace = op, app, id, s.namespace
	ar.Method, ar.Path, ar.RemoteAddr = r.Method, s.receivedPath(r), r.RemoteAddr
	ar.readCredentials(r)
	p, err := s.opts.Auth.Authenticate(r.Context(), &ar.AuthRequest)
	if aliases(ar.scratch, p.Name) {
		// An authenticator that names the caller after req.Username
		// without copying it would otherwise see the name change.
		p.Name = strings.Clone(p.Name)
	}
	ar.AuthRequest = hook.AuthRequest{}
	authRequests.Put(ar)
	return p, err
}

// readCredentials fills the credential fields from the Authorization header
// and the TLS connection.
func (ar *authRequest) readCredentials(r *http.Request) {
	if h := r.Header["Authorization"]; len(h) > 0 {
		v := h[0]
		switch {
		case hasPrefixFold(v, "Basic "):
			ar.decodeBasic(strings.TrimSpace(v[len("Basic "):]))
		case hasPrefixFold(v, "Bearer "):
			ar.BearerToken = strings.TrimSpace(v[len("Bearer "):])
		}
	}
	ar.TLS = tlsIdentity(r)
}

// tlsIdentity names the client by its verified certificate, nil without
// one. Only a certificate the TLS layer verified names the client; one
// that was merely presented (tls.RequestClientCert) proves nothing.
func tlsIdentity(r *http.Request) *hook.TLSIdentity {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	c := r.TLS.PeerCertificates[0]
	sum := sha256.Sum256(c.Raw)
	uris := make([]string, len(c.URIs))
	for i, u := range c.URIs {
		uris[i] = u.String()
	}
	return &hook.TLSIdentity{
		Subject:    c.Subject.String(),
		CommonName: c.Subject.CommonName,
		DNSNames:   c.DNSNames,
		URIs:       uris,
		SHA256:     hex.EncodeToString(sum[:]),
	}
}

// decodeBasic decodes "user:password" into the scratch buffer and points
// Username and Password into it. Malformed credentials are left empty, so
// the request is decided as one without credentials.
func (ar *authRequest) decodeBasic(enc string) {
	n := base64.StdEncoding.DecodedLen(len(enc))
	if cap(ar.scratch) < n {
		ar.scratch = make([]byte, 0, n)
	}
	b := ar.scratch[:n]
	// Decode only reads its source; viewing the string as bytes avoids a
	// copy.
	m, err := base64.StdEncoding.Decode(b, unsafe.Slice(unsafe.StringData(enc), len(enc)))
	if err != nil {
		return
	}
	b = b[:m]
	i := strings.IndexByte(unsafe.String(unsafe.SliceData(b), len(b)), ':')
	if i < 0 {
		return
	}
	// The strings alias the scratch buffer, which is not written again
	// until the request is back from the pool and reused.
	ar.Username = unsafe.String(unsafe.SliceData(b), i)
	if rest := b[i+1:]; len(rest) > 0 {
		ar.Password = unsafe.String(unsafe.SliceData(rest), len(rest))
	}
}

// aliases reports whether s points into buf's backing array.
func aliases(buf []byte, s string) bool {
	if len(s) == 0 || cap(buf) == 0 {
		return false
	}
	b := uintptr(unsafe.Pointer(unsafe.SliceData(buf[:1])))
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return p >= b && p < b+uintptr(cap(buf))
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// authError is the one place that turns an authentication outcome into an
// HTTP status: 401 with a Basic challenge (which Eureka clients answer with
// the credentials of their service URL), 403, 429 for a client that failed
// too often (Retry-After: 1), or 503 when the authenticator
// could not decide and the request fails closed.
func (s *Server) authError(w http.ResponseWriter, r *http.Request, op hook.Operation, app string, err error) {
	switch {
	case errors.Is(err, hook.ErrUnauthenticated):
		w.Header().Set("WWW-Authenticate", `Basic realm="eurekad"`)
		textError(w, http.StatusUnauthorized, "authentication required")
	case errors.Is(err, hook.ErrForbidden):
		textError(w, http.StatusForbidden, "forbidden: "+string(op)+" "+rules.Cut(app, 128))
	case errors.Is(err, hook.ErrThrottled):
		w.Header().Set("Retry-After", "1")
		textError(w, http.StatusTooManyRequests, "too many failed authentications")
	default:
		s.log.Warn("authentication unavailable", "op", op, "app", rules.Cut(app, 128), pathAttr(r), "err", err)
		textError(w, http.StatusServiceUnavailable, "authentication unavailable")
	}
	s.log.Debug("request refused", "op", op, "app", rules.Cut(app, 128), "remote", r.RemoteAddr, "err", err)
}

// withPrincipal returns r carrying p for PrincipalFrom.
func withPrincipal(r *http.Request, p hook.Principal) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
}

// caller is who asks for a write, as core/node sees it.
func caller(r *http.Request) node.Caller {
	c := node.Caller{RemoteAddr: r.RemoteAddr, Replication: isReplication(r), TLS: tlsIdentity(r)}
	if p, ok := PrincipalFrom(r.Context()); ok {
		// A copy made here, not &p: p would be moved to the heap on
		// every call, with or without an authenticator.
		c.Principal = new(hook.Principal)
		*c.Principal = p
	}
	return c
}
