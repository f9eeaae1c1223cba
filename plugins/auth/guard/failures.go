package guard

import (
	"net/netip"
	"sync"
)

// maxAddresses bounds the client addresses whose failures are tracked.
const maxAddresses = 65536

// failures is a token bucket of 401 decisions per client address (an IPv6
// client by its /64, which one host or site usually holds whole). A
// request takes a token before it reaches the authenticator and gives it
// back unless the answer is 401, so requests in flight count too: an
// address with no token left waits, however many connections it opens.
// Only cache misses come here, so a mutex is fine.
type failures struct {
	rate  float64 // tokens per second; 0: no limit (the guard skips it)
	burst float64
	max   int
	now   func() int64 // ns, monotonic

	mu    sync.Mutex
	by    map[netip.Prefix]*bucket
	swept int64 // ns; a full table is swept at most once a second
}

type bucket struct {
	tokens float64
	last   int64 // ns
}

// overflow is the bucket shared by every address once the table is full:
// an attacker cycling through addresses fills the table and then drains
// one bucket, while the addresses already tracked keep theirs.
var overflow = netip.Prefix{}

// client is the bucket key of a remote address ("ip:port").
func client(remoteAddr string) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Prefix{}, false
	}
	a := ap.Addr().Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}

// take spends one token of addr's bucket; false when there is none. The
// guard calls it (and refund) only with a rate.
func (f *failures) take(addr string) bool {
	k, ok := client(addr)
	if !ok {
		return true // not a network client (a test, a unix socket)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	b := f.bucket(k, now)
	b.tokens = min(f.burst, b.tokens+float64(now-b.last)/1e9*f.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// refund gives back the token of a request that did not end in 401.
func (f *failures) refund(addr string) {
	k, ok := client(addr)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if b := f.by[k]; b != nil {
		b.tokens = min(f.burst, b.tokens+1)
	} else if b := f.by[overflow]; b != nil {
		b.tokens = min(f.burst, b.tokens+1)
	}
}

// bucket returns k's bucket, making a full one; when the table is full it
// first forgets the buckets that have refilled (they are no different from
// new ones; at most once a second, so addresses cycling through a full
// table do not cost a sweep each), and then falls back to the shared
// overflow bucket.
func (f *failures) bucket(k netip.Prefix, now int64) *bucket {
	if b := f.by[k]; b != nil {
		return b
	}
	if f.by == nil {
		f.by = make(map[netip.Prefix]*bucket)
	}
	if len(f.by) >= f.max && now-f.swept >= 1e9 {
		f.swept = now
		for h, b := range f.by {
			if h != overflow && b.tokens+float64(now-b.last)/1e9*f.rate >= f.burst {
				delete(f.by, h)
			}
		}
	}
	if len(f.by) >= f.max {
		k = overflow
		if b := f.by[k]; b != nil {
			return b
		}
	}
	b := &bucket{tokens: f.burst, last: now}
	f.by[k] = b
	return b
}
