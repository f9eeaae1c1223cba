package client

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// Sentinel errors. Every non-success HTTP answer is returned as an *Error,
// which matches the sentinel for its status code with errors.Is.
var (
	// ErrNotFound is matched by a 404: the application or instance is not
	// registered (for Renew: re-register).
	ErrNotFound = errors.New("eureka client: not found")
	// ErrConflict is matched by a 409: the server holds a newer instance
	// than the one a renewal named; Error.Instance holds it when the server
	// sent it.
	ErrConflict = errors.New("eureka client: conflict")
	// ErrBadRequest is matched by a 400 (validation or parse error) and by
	// other 4xx codes without a sentinel of their own (405, 406, 415...).
	ErrBadRequest = errors.New("eureka client: bad request")
	// ErrUnauthorized is matched by a 401: missing or wrong credentials.
	ErrUnauthorized = errors.New("eureka client: unauthorized")
	// ErrForbidden is matched by a 403: the credentials are not allowed
	// this call, or the server's start-up read gate is still closed, or
	// deltas are disabled on the server.
	ErrForbidden = errors.New("eureka client: forbidden")
	// ErrUnavailable is returned when every server failed with a
	// transport error, a timeout or a 5xx answer. The last failure is
	// wrapped too, so errors.As still finds its *Error or net.Error.
	ErrUnavailable = errors.New("eureka client: no server available")
)

// Error is a non-success HTTP answer from a Eureka server. It matches one
// of the sentinels above with errors.Is (see Is).
type Error struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Method and URL name the request (the URL never carries credentials).
	Method, URL string
	// Body is the (decompressed) response body, possibly empty.
	Body []byte
	// Instance is the server's copy of the instance sent with a 409, if
	// the body held one.
	Instance *eureka.InstanceInfo
}

// Error describes the answer, with the start of the body if there is one.
func (e *Error) Error() string {
	s := fmt.Sprintf("eureka client: %s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if len(e.Body) > 0 {
		b := e.Body
		if len(b) > 200 {
			b = b[:200]
		}
		s += ": " + string(b)
	}
	return s
}

// Is reports whether target is the sentinel for e's status code: 404
// ErrNotFound, 409 ErrConflict, 401 ErrUnauthorized, 403 ErrForbidden,
// other 4xx ErrBadRequest, 5xx ErrUnavailable.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrBadRequest:
		switch e.StatusCode {
		case http.StatusNotFound, http.StatusConflict, http.StatusUnauthorized, http.StatusForbidden:
			return false
		}
		return e.StatusCode >= 400 && e.StatusCode < 500
	case ErrUnavailable:
		return e.StatusCode >= 500
	}
	return false
}
