package guard

import (
	"net"
	"sync"

	"golang.org/x/time/rate"
)

// maxAddresses bounds the client addresses whose failures are tracked; a
// full table first forgets the addresses whose bucket has refilled.
const maxAddresses = 65536

// failures is a token bucket of 401 decisions per client address. Only
// cache misses consult it, so a mutex is fine.
type failures struct {
	rate  rate.Limit // 0: no limit
	burst int
	max   int

	mu sync.Mutex
	by map[string]*rate.Limiter
}

// host is the address without its port: a client's connections share it.
func host(remoteAddr string) string {
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return h
	}
	return remoteAddr
}

// exhausted reports whether addr has no failure left to spend.
func (f *failures) exhausted(addr string) bool {
	if f.rate == 0 || addr == "" {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.by[host(addr)]
	return l != nil && l.Tokens() < 1
}

// failed spends one of addr's failures.
func (f *failures) failed(addr string) {
	if f.rate == 0 || addr == "" {
		return
	}
	h := host(addr)
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.by[h]
	if l == nil {
		if f.by == nil {
			f.by = make(map[string]*rate.Limiter)
		}
		if len(f.by) >= f.max {
			f.forgetRefilled()
		}
		l = rate.NewLimiter(f.rate, f.burst)
		f.by[h] = l
	}
	l.Allow()
}

// forgetRefilled drops the addresses whose bucket is full again (they are
// no different from new ones) and, if none is, all of them.
func (f *failures) forgetRefilled() {
	for h, l := range f.by {
		if l.Tokens() >= float64(f.burst) {
			delete(f.by, h)
		}
	}
	if len(f.by) >= f.max {
		clear(f.by)
	}
}
