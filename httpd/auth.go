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

	"github.com/eurekad/eurekad/sdk/hook"
)

// Authentication (Options.Auth): every Eureka API request is classified
// into an operation, an app and an instance, and decided by the
// authenticator before its handler runs. Stock Eureka clients send the
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

// classify maps an API request (path below the base, escaped, without
// trailing slash) to what it does. Unknown writes count as admin, so they
// need the strongest permission rather than none.
func classify(method, path string, replicated bool) (op hook.Operation, app, id string) {
	var segs [5]string
	n := 0
	for rest := strings.TrimPrefix(path, "/"); n < len(segs); n++ {
		var seg string
		var more bool
		seg, rest, more = strings.Cut(rest, "/")
		segs[n] = seg
		if !more {
			n++
			break
		}
		if n == len(segs)-1 {
			n = len(segs) + 1 // too long: no known route
			break
		}
	}
	read := method == http.MethodGet || method == http.MethodHead
	op = hook.OpAdmin
	if read {
		op = hook.OpRead
	}
	switch segs[0] {
	case "apps":
		switch {
		case n == 2 && segs[1] != "delta":
			app = segs[1]
			if method == http.MethodPost {
				op = hook.OpRegister
			}
		case n == 3:
			app, id = segs[1], segs[2]
			switch method {
			case http.MethodPut:
				op = hook.OpRenew
			case http.MethodDelete:
				op = hook.OpCancel
			}
		case n == 4:
			app, id = segs[1], segs[2]
			switch {
			case segs[3] == "status" && (method == http.MethodPut || method == http.MethodDelete):
				op = hook.OpStatus
			case segs[3] == "metadata" && method == http.MethodPut:
				op = hook.OpMetadata
			}
		}
	case "peerreplication":
		if method == http.MethodPost {
			op = hook.OpReplicate
		}
	case "instances":
		if n == 2 {
			id = segs[1]
		}
	case "asg":
		if method == http.MethodPut {
			op = hook.OpStatus
		}
	}
	if replicated {
		op = hook.OpReplicate
	}
	return op, unescapeUpper(app), unescape(id)
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

func unescapeUpper(s string) string { return strings.ToUpper(unescape(s)) }

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
	ar := authRequests.Get().(*authRequest)
	ar.Operation, ar.App, ar.Instance = op, app, id
	ar.Method, ar.Path, ar.RemoteAddr = r.Method, r.URL.Path, r.RemoteAddr
	ar.readCredentials(r)
	p, err := s.opts.Auth.Authenticate(r.Context(), &ar.AuthRequest)
	if aliases(ar.scratch, p.Name) {
		// An authenticator that names the caller after req.Username
		// without copying it would otherwise see the name change.
		p.Name = strings.Clone(p.Name)
	}
	ar.AuthRequest = hook.AuthRequest{}
	authRequests.Put(ar)
	if err != nil {
		s.authError(w, r, op, app, err)
		return hook.Principal{}, false
	}
	return p, true
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
	// Only a certificate the TLS layer verified names the client; one that
	// was merely presented (tls.RequestClientCert) proves nothing.
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
		c := r.TLS.PeerCertificates[0]
		sum := sha256.Sum256(c.Raw)
		uris := make([]string, len(c.URIs))
		for i, u := range c.URIs {
			uris[i] = u.String()
		}
		ar.TLS = &hook.TLSIdentity{
			Subject:    c.Subject.String(),
			CommonName: c.Subject.CommonName,
			DNSNames:   c.DNSNames,
			URIs:       uris,
			SHA256:     hex.EncodeToString(sum[:]),
		}
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
		textError(w, http.StatusForbidden, "forbidden: "+string(op)+" "+app)
	case errors.Is(err, hook.ErrThrottled):
		w.Header().Set("Retry-After", "1")
		textError(w, http.StatusTooManyRequests, "too many failed authentications")
	default:
		s.log.Warn("authentication unavailable", "op", op, "app", app, "path", r.URL.Path, "err", err)
		textError(w, http.StatusServiceUnavailable, "authentication unavailable")
	}
	s.log.Debug("request refused", "op", op, "app", app, "remote", r.RemoteAddr, "err", err)
}

// withPrincipal returns r carrying p for PrincipalFrom.
func withPrincipal(r *http.Request, p hook.Principal) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
}
