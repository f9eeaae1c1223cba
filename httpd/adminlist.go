package httpd

import (
	"cmp"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/httpd/history"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// The admin API's listings page, sort and filter on the server, so a
// dashboard of a registry of 10,000 instances moves one page at a time.

// page is a listing's ?offset= and ?limit=.
type page struct{ offset, limit int }

// parsePage reads ?offset= (default 0) and ?limit= (default def); it
// writes a 400 and reports false for a value that is not a number in
// range.
func parsePage(w http.ResponseWriter, r *http.Request, def int) (page, bool) {
	p := page{limit: def}
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			textError(w, http.StatusBadRequest, "limit must be a positive integer")
			return p, false
		}
		p.limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			textError(w, http.StatusBadRequest, "offset must be a non-negative integer")
			return p, false
		}
		p.offset = n
	}
	return p, true
}

// window returns the page's bounds within n items.
func (p page) window(n int) (from, to int) {
	from = min(p.offset, n)
	return from, from + min(p.limit, n-from)
}

// listQuery reads a listing's page and sort key (parsePage, sortKey).
func listQuery[T any](w http.ResponseWriter, r *http.Request, def int, keys map[string]func(a, b *T) int) (page, func(a, b *T) int, bool) {
	pg, ok := parsePage(w, r, def)
	if !ok {
		return pg, nil, false
	}
	by, ok := sortKey(w, r, keys)
	return pg, by, ok
}

// instanceSorts are the keys of GET admin/api/instances?sort=; a leading
// "-" reverses the order. Ties keep the registry's order (application,
// then id).
var instanceSorts = map[string]func(a, b *registry.LeaseState) int{
	"app":    func(a, b *registry.LeaseState) int { return cmp.Compare(a.Instance.App, b.Instance.App) },
	"id":     func(a, b *registry.LeaseState) int { return cmp.Compare(a.Instance.ID(), b.Instance.ID()) },
	"status": func(a, b *registry.LeaseState) int { return cmp.Compare(a.Instance.Status, b.Instance.Status) },
	"host":   func(a, b *registry.LeaseState) int { return cmp.Compare(a.Instance.HostName, b.Instance.HostName) },
	"ip":     func(a, b *registry.LeaseState) int { return cmp.Compare(a.Instance.IPAddr, b.Instance.IPAddr) },
	"zone": func(a, b *registry.LeaseState) int {
		za, _ := placement(a.Instance)
		zb, _ := placement(b.Instance)
		return cmp.Compare(za, zb)
	},
	"registered":  func(a, b *registry.LeaseState) int { return a.RegisteredAt.Compare(b.RegisteredAt) },
	"lastRenewal": func(a, b *registry.LeaseState) int { return a.LastRenewal.Compare(b.LastRenewal) },
	"lastUpdated": func(a, b *registry.LeaseState) int {
		return cmp.Compare(a.Instance.LastUpdatedTimestamp, b.Instance.LastUpdatedTimestamp)
	},
}

// sortKey parses ?sort=: the key's comparison and whether it is reversed;
// nil for "" (the registry's order).
func sortKey[T any](w http.ResponseWriter, r *http.Request, keys map[string]func(a, b *T) int) (func(a, b *T) int, bool) {
	v := r.URL.Query().Get("sort")
	if v == "" {
		return nil, true
	}
	name, desc := strings.CutPrefix(v, "-")
	f, ok := keys[name]
	if !ok {
		known := make([]string, 0, len(keys))
		for k := range keys {
			known = append(known, k)
		}
		slices.Sort(known)
		textError(w, http.StatusBadRequest, "sort must be one of "+strings.Join(known, ", ")+" (a leading - reverses)")
		return nil, false
	}
	if desc {
		return func(a, b *T) int { return f(b, a) }, true
	}
	return f, true
}

// instancesView is GET admin/api/instances.
type instancesView struct {
	// Total counts the instances that match; Instances is the page of
	// them from Offset, at most Limit.
	Total     int            `json:"total"`
	Offset    int            `json:"offset"`
	Limit     int            `json:"limit"`
	Truncated bool           `json:"truncated"`
	Instances []instanceView `json:"instances"`
}

// apiInstances is GET admin/api/instances: instances filtered by ?app=
// (exact, any case), ?status= and ?q= (a case-insensitive substring of the
// app, id, host, IP, VIP, status or any metadata key or value), sorted by
// ?sort=, the page at ?offset= of at most ?limit=.
func (s *Server) apiInstances(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	app := strings.ToUpper(q.Get("app"))
	status := strings.ToUpper(q.Get("status"))
	text := strings.ToLower(q.Get("q"))
	pg, by, ok := listQuery(w, r, maxListed, instanceSorts)
	if !ok {
		return
	}
	leases := s.reg.Leases()
	// Pointers, so that sorting moves words rather than lease states.
	match := make([]*registry.LeaseState, 0, len(leases))
	for i := range leases {
		in := leases[i].Instance
		if (app != "" && in.App != app) || (status != "" && string(in.Status) != status) || !matches(in, text) {
			continue
		}
		match = append(match, &leases[i])
	}
	if by != nil {
		// Ties keep the registry's order, application then id; an
		// unstable sort with that tie-break costs less than a stable one.
		slices.SortFunc(match, func(a, b *registry.LeaseState) int {
			if c := by(a, b); c != 0 {
				return c
			}
			if c := cmp.Compare(a.Instance.App, b.Instance.App); c != 0 {
				return c
			}
			return cmp.Compare(a.Instance.ID(), b.Instance.ID())
		})
	}
	from, to := pg.window(len(match))
	on := s.reg.LeaseExpirationEnabled()
	v := instancesView{Total: len(match), Offset: pg.offset, Limit: pg.limit, Instances: make([]instanceView, 0, to-from)}
	for _, l := range match[from:to] {
		v.Instances = append(v.Instances, viewInstance(*l, on))
	}
	v.Truncated = v.Total > to-from
	writeJSON(w, http.StatusOK, v)
}

// maxApps is the default page of GET admin/api/apps.
const maxApps = 500

// appRow is one application of GET admin/api/apps: appView without the
// instance ids.
type appRow struct {
	Name         string         `json:"name"`
	Instances    int            `json:"instances"`
	StatusCounts map[string]int `json:"statusCounts"`
	Zones        map[string]int `json:"zones"`
	AMIs         map[string]int `json:"amis"`
	// Expired counts leases that ran out and were not evicted yet.
	Expired int `json:"expired"`
}

var appSorts = map[string]func(a, b *appRow) int{
	"name":      func(a, b *appRow) int { return cmp.Compare(a.Name, b.Name) },
	"instances": func(a, b *appRow) int { return cmp.Compare(a.Instances, b.Instances) },
	// down sorts by the instances that are not UP.
	"down": func(a, b *appRow) int {
		return cmp.Compare(a.Instances-a.StatusCounts[string(eureka.StatusUp)], b.Instances-b.StatusCounts[string(eureka.StatusUp)])
	},
}

// apiApps is GET admin/api/apps: one row per application, filtered by
// ?app= (its name, any case), ?q= (a case-insensitive substring of its
// name) and ?status= (those with
// an instance in that status), sorted by ?sort= (name, instances, down),
// the page at ?offset= of at most ?limit=.
func (s *Server) apiApps(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	text := strings.ToUpper(q.Get("q"))
	app := strings.ToUpper(q.Get("app"))
	status := strings.ToUpper(q.Get("status"))
	pg, by, ok := listQuery(w, r, maxApps, appSorts)
	if !ok {
		return
	}
	rows := []appRow{}
	var row *appRow
	for _, l := range s.reg.Leases() {
		in := l.Instance
		if !strings.Contains(in.App, text) || (app != "" && in.App != app) {
			continue
		}
		if row == nil || row.Name != in.App {
			rows = append(rows, appRow{Name: in.App, StatusCounts: map[string]int{}, Zones: map[string]int{}, AMIs: map[string]int{}})
			row = &rows[len(rows)-1]
		}
		row.Instances++
		row.StatusCounts[string(in.Status)]++
		zone, ami := placement(in)
		row.Zones[zone]++
		row.AMIs[ami]++
		if l.Expired {
			row.Expired++
		}
	}
	if status != "" {
		rows = slices.DeleteFunc(rows, func(a appRow) bool { return a.StatusCounts[status] == 0 })
	}
	if by != nil {
		slices.SortStableFunc(rows, func(a, b appRow) int { return by(&a, &b) })
	}
	from, to := pg.window(len(rows))
	writeJSON(w, http.StatusOK, map[string]any{
		"total": len(rows), "offset": pg.offset, "limit": pg.limit, "truncated": len(rows) > to-from,
		"applications": rows[from:to],
	})
}

// historyView is GET admin/api/instances/{app}/{id}/history.
type historyView struct {
	App string `json:"app"`
	ID  string `json:"instanceId"`
	// Recorded is false when this server keeps no history.
	Recorded bool `json:"recorded"`
	// Changes are the instance's recent changes, newest first.
	Changes []history.Entry `json:"changes"`
}

// apiHistory is GET admin/api/instances/{app}/{id}/history: the
// instance's recent changes, kept after it is cancelled or evicted.
func (s *Server) apiHistory(w http.ResponseWriter, r *http.Request) {
	app, id := strings.ToUpper(pathVar(r, "app")), pathVar(r, "id")
	v := historyView{App: app, ID: id, Changes: []history.Entry{}}
	if f := s.opts.Ops.History; f != nil {
		v.Recorded = true
		if c := f(app, id); c != nil {
			v.Changes = c
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// apiDeregister is POST admin/api/instances/{app}/{id}/deregister: the
// operator cancels the instance's lease, through the write path a client's
// cancel takes (stored, replicated). A client that is still running
// registers again with its next heartbeat.
func (s *Server) apiDeregister(w http.ResponseWriter, r *http.Request) {
	app, id := strings.ToUpper(pathVar(r, "app")), pathVar(r, "id")
	if err := s.node.Cancel(r.Context(), caller(r), app, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("operator deregistration", "app", app, "id", id, "remote", r.RemoteAddr, principalAttr(r))
	w.WriteHeader(http.StatusOK)
}

// runtimeView is the Go runtime's figures, named as Go names them (the
// generalStats keys keep Spring's names for GET status compatibility).
type runtimeView struct {
	GoVersion  string `json:"goVersion"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Goroutines int    `json:"goroutines"`
	// HeapAlloc is the bytes of live and not yet collected heap objects;
	// Sys is what the runtime obtained from the OS (heap, stacks and its
	// own structures).
	HeapAlloc uint64 `json:"heapAllocBytes"`
	HeapInuse uint64 `json:"heapInuseBytes"`
	Sys       uint64 `json:"sysBytes"`
	NumGC     uint32 `json:"numGC"`
}

func goRuntime() runtimeView {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtimeView{
		GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Goroutines: runtime.NumGoroutine(), HeapAlloc: m.HeapAlloc, HeapInuse: m.HeapInuse, Sys: m.Sys, NumGC: m.NumGC,
	}
}
