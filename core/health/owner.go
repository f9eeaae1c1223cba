package health

import (
	"hash/fnv"
)

// Membership is the cluster as the scheduler sees it: this node's name and
// the peers it reaches now, named as every node names them (their service
// URLs). core/replication's cluster provides it.
type Membership interface {
	// Members returns this node's name ("" when it does not know it: it
	// then probes every instance) and the names of the peers it reaches.
	Members() (self string, reachable []string)
}

// score ranks node for (app, id): the highest score probes the instance
// (rendezvous hashing, so a node's departure moves only its own share).
func score(node, app, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(node))
	h.Write([]byte{0})
	h.Write([]byte(app))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return mix(h.Sum64())
}

// mix is splitmix64's finaliser: FNV alone spreads similar keys poorly.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Owner reports whether self probes (app, id) among self and reachable.
func Owner(self string, reachable []string, app, id string) bool {
	if self == "" || len(reachable) == 0 {
		return true
	}
	mine := score(self, app, id)
	for _, n := range reachable {
		if n == self {
			continue
		}
		if s := score(n, app, id); s > mine || (s == mine && n > self) {
			return false
		}
	}
	return true
}
