package health

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
)

// BenchmarkSync is the cost of one sync of the scheduler with 100,000
// checked instances in 50 applications registered, after changes=N
// changes (re-registrations with another interval) spread over the
// applications: 1, and 500 (1,000 changes/s at one sync every 500 ms).
// ns/change is the sync's time divided by the changes it took in; the
// changes themselves are not timed. It uses only what the scheduler had
// before issue 21, so the same file measures both.
func BenchmarkSync(b *testing.B) {
	const apps, perApp = 50, 2000
	for _, changes := range []int{1, 500} {
		b.Run("changes="+strconv.Itoa(changes), func(b *testing.B) {
			ctx := context.Background()
			reg := registry.New(nil)
			reg.OpenForTraffic(0)
			n := node.New(reg, node.Options{})
			s := New(reg, n, newFake(), nil, nil)
			register := func(a, i int, interval string) {
				in := checked("i"+strconv.Itoa(i), map[string]string{"eurekad.check.interval": interval})
				in.App = "APP" + strconv.Itoa(a)
				if err := n.Register(ctx, node.Caller{}, in.App, in); err != nil {
					b.Fatal(err)
				}
			}
			for a := range apps {
				for i := range perApp {
					register(a, i, "1s")
				}
			}
			now := time.Now()
			s.sync(now)
			b.ReportAllocs()
			k := 0
			for b.Loop() {
				b.StopTimer()
				for range changes {
					// A different application each time, and each
					// instance's interval turns between 2s and 3s.
					register(k%apps, (k/apps)%perApp, strconv.Itoa(2+k/(apps*perApp)%2)+"s")
					k++
				}
				now = now.Add(syncEvery)
				b.StartTimer()
				s.sync(now)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(k), "ns/change")
		})
	}
}
