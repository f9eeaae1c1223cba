package regions

import (
	"strconv"
	"testing"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// BenchmarkGet measures a payload with regions over 1,000 local and 1,000
// remote instances: served from the cache, and rebuilt after a change.
func BenchmarkGet(b *testing.B) {
	var local, remote []*eureka.InstanceInfo
	for i := range 1000 {
		local = append(local, inst("APP"+strconv.Itoa(i%50), "l"+strconv.Itoa(i), eureka.StatusUp, ""))
		remote = append(remote, inst("APP"+strconv.Itoa(i%50), "r"+strconv.Itoa(i), eureka.StatusUp, ""))
	}
	src := &fakeSource{apps: apps(local...), delta: apps()}
	s := newSet(b, src, "west")
	setCopy(s, "west", apps(remote...))
	names := []string{"west"}
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Get(Apps, cache.JSON, names)
		}
	})
	b.Run("rebuilt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			src.version.Add(1)
			s.Get(Apps, cache.JSON, names)
		}
	})
}
