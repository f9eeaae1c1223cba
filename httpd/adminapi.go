package httpd

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/eurekad/eurekad/core/regions"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// The admin JSON API (docs/admin-api.md) is what the dashboard reads. Its
// routes are in the route table (routes.go): under an authenticator its
// reads need the read permission, as GET /eureka/apps does, and its actions
// the admin permission; without one, reads are open and actions need the
// admin token or a loopback client.

// sameOrigin refuses actions a browser sends on behalf of another site: a
// page elsewhere could otherwise post to a loopback-only eurekad from the
// operator's own browser, which passes the loopback rule.
func sameOrigin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			textError(w, http.StatusForbidden, "cross-site admin request refused")
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			if u, err := url.Parse(o); err != nil || u.Host != r.Host {
				textError(w, http.StatusForbidden, "cross-origin admin request refused")
				return
			}
		}
		h(w, r)
	}
}

// summaryView is GET admin/api/summary: the dashboard's front page.
type summaryView struct {
	Server           serverView           `json:"server"`
	Registry         registryView         `json:"registry"`
	SelfPreservation selfPreservationView `json:"selfPreservation"`
	Applications     []appView            `json:"applications"`
	Storage          storageView          `json:"storage"`
	Peers            peersView            `json:"peers"`
	Regions          regionsView          `json:"regions"`
	Plugins          pluginsView          `json:"plugins"`
	General          map[string]string    `json:"generalStats"`
	ApplicationStats map[string]string    `json:"applicationStats"`
	Listeners        []ListenerStatus     `json:"listeners,omitempty"`
	Auth             []AuthDecisions      `json:"auth,omitempty"`
	Instance         map[string]string    `json:"instanceInfo"`
	Runtime          runtimeView          `json:"runtime"`
}

type serverView struct {
	Environment string    `json:"environment"`
	DataCenter  string    `json:"dataCenter"`
	CurrentTime time.Time `json:"currentTime"`
	StartedAt   time.Time `json:"startedAt"`
	Uptime      string    `json:"uptime"`
	BasePaths   []string  `json:"basePaths"`
}

type registryView struct {
	Applications int            `json:"applications"`
	Instances    int            `json:"instances"`
	ByStatus     map[string]int `json:"byStatus"`
	Expired      int            `json:"expiredLeases"`
	Version      uint64         `json:"version"`
}

// appView is one row of the "instances currently registered" table.
type appView struct {
	Name string `json:"name"`
	// Instances is the number of instances; StatusCounts counts them by
	// status and ByStatus lists the ids (at most maxIDsShown per status;
	// the instances endpoint lists them all); Zones and AMIs count them by
	// availability zone and AMI.
	Instances    int                 `json:"instances"`
	StatusCounts map[string]int      `json:"statusCounts"`
	ByStatus     map[string][]idLink `json:"byStatus"`
	Zones        map[string]int      `json:"zones"`
	AMIs         map[string]int      `json:"amis"`
}

// maxIDsShown bounds the ids the summary lists per application and
// status, so the page stays small for applications with thousands of
// instances.
const maxIDsShown = 50

type idLink struct {
	ID string `json:"id"`
	// URL is the instance's statusPageUrl when it is an http(s) URL.
	URL string `json:"url,omitempty"`
	// Expired marks a lease that ran out and was not evicted yet.
	Expired bool `json:"expired,omitempty"`
}

type storageView struct {
	Kind       string `json:"kind"`
	Persistent bool   `json:"persistent"`
	Status     any    `json:"status,omitempty"`
	// Reachable is the last store probe's outcome (nil without a probe).
	Reachable *bool  `json:"reachable,omitempty"`
	Error     string `json:"error,omitempty"`
}

type peersView struct {
	Configured bool         `json:"configured"`
	Peers      []PeerStatus `json:"peers"`
}

// regionsView is the local region's name and the remote regions' state.
type regionsView struct {
	Local  string           `json:"local,omitempty"`
	Remote []regions.Status `json:"remote"`
}

func (s *Server) regionsView() regionsView {
	v := regionsView{Remote: []regions.Status{}}
	if rs := s.opts.Regions; rs != nil {
		v.Local = rs.Local()
		v.Remote = append(v.Remote, rs.Status()...)
		for i := range v.Remote {
			for j, u := range v.Remote[i].URLs {
				v.Remote[i].URLs[j] = withoutUserinfo(u)
			}
		}
	}
	return v
}

func (s *Server) apiRegions(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.regionsView())
}

type pluginsView struct {
	Configured bool           `json:"configured"`
	Plugins    []PluginStatus `json:"plugins"`
}

func (s *Server) apiSummary(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	leases := s.reg.Leases()
	sp := s.selfPreservation(leases)
	info := s.statusInfo()
	v := summaryView{
		Server: serverView{
			Environment: s.opts.Environment,
			DataCenter:  s.opts.DataCenter,
			CurrentTime: now,
			StartedAt:   s.started,
			Uptime:      uptime(now.Sub(s.started)),
			BasePaths:   s.opts.BasePaths,
		},
		Registry:         registryView{ByStatus: map[string]int{}, Version: s.reg.Version(), Instances: len(leases)},
		SelfPreservation: sp,
		Applications:     []appView{},
		Storage:          s.storageView(r.Context()),
		Runtime:          goRuntime(),
		Peers:            s.peersView(),
		Regions:          s.regionsView(),
		Plugins:          s.pluginsView(),
		General:          info.General,
		ApplicationStats: info.Application,
		Instance: map[string]string{
			"ipAddr":   s.self.IPAddr,
			"hostName": s.self.HostName,
			"status":   string(s.self.Status),
		},
	}
	v.General["datacenter"] = s.opts.DataCenter
	if s.opts.Ops.Listeners != nil {
		v.Listeners = s.opts.Ops.Listeners()
	}
	if s.opts.Ops.Auth != nil {
		v.Auth = s.opts.Ops.Auth()
	}
	// ?applications=false leaves the rows out (the dashboard pages them
	// from admin/api/apps); the counts stay.
	rows := r.URL.Query().Get("applications") != "false"
	var app *appView
	lastApp := ""
	for _, l := range leases {
		in := l.Instance
		v.Registry.ByStatus[string(in.Status)]++
		if l.Expired {
			v.Registry.Expired++
		}
		if in.App != lastApp {
			v.Registry.Applications++
			lastApp = in.App
		}
		if !rows {
			continue
		}
		if app == nil || app.Name != in.App {
			v.Applications = append(v.Applications, appView{Name: in.App, StatusCounts: map[string]int{}, ByStatus: map[string][]idLink{}, Zones: map[string]int{}, AMIs: map[string]int{}})
			app = &v.Applications[len(v.Applications)-1]
		}
		app.Instances++
		st := string(in.Status)
		app.StatusCounts[st]++
		if len(app.ByStatus[st]) < maxIDsShown {
			link := idLink{ID: in.ID(), Expired: l.Expired}
			if strings.HasPrefix(in.StatusPageURL, "http") {
				link.URL = in.StatusPageURL
			}
			app.ByStatus[st] = append(app.ByStatus[st], link)
		}
		zone, ami := placement(in)
		app.Zones[zone]++
		app.AMIs[ami]++
	}
	writeJSON(w, http.StatusOK, v)
}

// placement returns the instance's availability zone ("" off AWS) and AMI
// ("n/a" off AWS), as Spring's dashboard shows them.
func placement(in *eureka.InstanceInfo) (zone, ami string) {
	ami = "n/a"
	if d := in.DataCenterInfo; d != nil && d.Name == eureka.DataCenterAmazon {
		zone = d.Metadata["availability-zone"]
		if a := d.Metadata["ami-id"]; a != "" {
			ami = a
		}
	}
	if zone == "" {
		zone = in.Metadata["zone"]
	}
	return zone, ami
}

// instanceView is one instance with its lease, as the admin API shows it.
type instanceView struct {
	App              string            `json:"app"`
	ID               string            `json:"instanceId"`
	HostName         string            `json:"hostName"`
	IPAddr           string            `json:"ipAddr"`
	Port             int               `json:"port,omitempty"`
	SecurePort       int               `json:"securePort,omitempty"`
	Status           string            `json:"status"`
	OverriddenStatus string            `json:"overriddenStatus"`
	Override         string            `json:"override,omitempty"`
	VIPAddress       string            `json:"vipAddress,omitempty"`
	SecureVIPAddress string            `json:"secureVipAddress,omitempty"`
	HomePageURL      string            `json:"homePageUrl,omitempty"`
	StatusPageURL    string            `json:"statusPageUrl,omitempty"`
	HealthCheckURL   string            `json:"healthCheckUrl,omitempty"`
	DataCenter       string            `json:"dataCenter,omitempty"`
	Zone             string            `json:"zone,omitempty"`
	AMI              string            `json:"ami,omitempty"`
	Metadata         map[string]string `json:"metadata"`
	ActionType       string            `json:"actionType"`
	LastUpdated      time.Time         `json:"lastUpdated"`
	LastDirty        time.Time         `json:"lastDirty"`
	Lease            leaseView         `json:"lease"`
}

type leaseView struct {
	RenewalIntervalSecs int32     `json:"renewalIntervalSecs"`
	DurationSecs        int32     `json:"durationSecs"`
	RegisteredAt        time.Time `json:"registeredAt"`
	LastRenewal         time.Time `json:"lastRenewal"`
	ServiceUpAt         time.Time `json:"serviceUpAt,omitzero"`
	ExpiresAt           time.Time `json:"expiresAt"`
	Expired             bool      `json:"expired"`
	// Eviction is "" for a live lease; for an expired one "shielded" while
	// self-preservation keeps it, otherwise "pending" (the next eviction run
	// removes it).
	Eviction string `json:"eviction,omitempty"`
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func viewInstance(l registry.LeaseState, expirationOn bool) instanceView {
	in := l.Instance
	v := instanceView{
		App: in.App, ID: in.ID(), HostName: in.HostName, IPAddr: in.IPAddr,
		Status: string(in.Status), OverriddenStatus: string(in.OverriddenStatus), Override: string(l.Override),
		VIPAddress: in.VIPAddress, SecureVIPAddress: in.SecureVIPAddress,
		HomePageURL: in.HomePageURL, StatusPageURL: in.StatusPageURL, HealthCheckURL: in.HealthCheckURL,
		Metadata: in.Metadata, ActionType: string(in.ActionType),
		LastUpdated: msTime(in.LastUpdatedTimestamp), LastDirty: msTime(in.LastDirtyTimestamp),
	}
	if v.Metadata == nil {
		v.Metadata = map[string]string{}
	}
	if in.Port.Enabled {
		v.Port = in.Port.Number
	}
	if in.SecurePort.Enabled {
		v.SecurePort = in.SecurePort.Number
	}
	if in.DataCenterInfo != nil {
		v.DataCenter = in.DataCenterInfo.Name
	}
	v.Zone, v.AMI = placement(in)
	v.Lease = leaseView{
		RenewalIntervalSecs: eureka.DefaultRenewalIntervalInSecs,
		DurationSecs:        int32(l.Duration / time.Second),
		RegisteredAt:        l.RegisteredAt,
		LastRenewal:         l.LastRenewal,
		ServiceUpAt:         l.ServiceUpAt,
		ExpiresAt:           l.ExpiresAt,
		Expired:             l.Expired,
	}
	if li := in.LeaseInfo; li != nil && li.RenewalIntervalInSecs > 0 {
		v.Lease.RenewalIntervalSecs = li.RenewalIntervalInSecs
	}
	if l.Expired {
		v.Lease.Eviction = "pending"
		if !expirationOn {
			v.Lease.Eviction = "shielded"
		}
	}
	return v
}

// maxListed caps GET admin/api/instances unless ?limit= asks for more.
const maxListed = 2000

func matches(in *eureka.InstanceInfo, text string) bool {
	if text == "" {
		return true
	}
	has := func(s string) bool { return strings.Contains(strings.ToLower(s), text) }
	if has(in.App) || has(in.ID()) || has(in.HostName) || has(in.IPAddr) || has(in.VIPAddress) || has(string(in.Status)) {
		return true
	}
	for k, v := range in.Metadata {
		if has(k) || has(v) {
			return true
		}
	}
	return false
}

// apiInstance is GET admin/api/instances/{app}/{id}.
func (s *Server) apiInstance(w http.ResponseWriter, r *http.Request) {
	l, ok := s.reg.Lease(strings.ToUpper(pathVar(r, "app")), pathVar(r, "id"))
	if !ok {
		textError(w, http.StatusNotFound, "no such instance")
		return
	}
	writeJSON(w, http.StatusOK, viewInstance(l, s.reg.LeaseExpirationEnabled()))
}

// apiStatusAction takes an instance out of service (the operator's
// OUT_OF_SERVICE override) or puts it back (the override removed, status
// UP), through the same write path as the Eureka calls, so the change is
// checked, stored, replicated and answered as they would be.
func (s *Server) apiStatusAction(out bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		app, id := strings.ToUpper(pathVar(r, "app")), pathVar(r, "id")
		c := caller(r)
		var err error
		value := eureka.StatusUp
		if out {
			value = eureka.StatusOutOfService
			err = s.node.SetStatus(r.Context(), c, app, id, string(value), 0)
		} else {
			err = s.node.DeleteStatus(r.Context(), c, app, id, string(value), 0)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.log.Info("operator status change", "app", app, "id", id, "status", value, "remote", r.RemoteAddr, principalAttr(r))
		w.WriteHeader(http.StatusOK)
	}
}

// selfPreservationView explains why expired leases are or are not evicted.
type selfPreservationView struct {
	Enabled                 bool    `json:"enabled"`
	ExpectedClients         int     `json:"expectedClients"`
	RenewalIntervalSecs     float64 `json:"expectedRenewalIntervalSecs"`
	ExpectedRenewsPerMinute float64 `json:"expectedRenewsPerMinute"`
	RenewalPercentThreshold float64 `json:"renewalPercentThreshold"`
	Threshold               int64   `json:"renewsThreshold"`
	RenewsLastMinute        int64   `json:"renewsLastMinute"`
	LeaseExpirationEnabled  bool    `json:"leaseExpirationEnabled"`
	BelowThreshold          bool    `json:"belowThreshold"`
	// Active is true while self-preservation holds back evictions.
	Active bool `json:"active"`
	// WarmingUp is true in the first WaitTimeWhenSyncEmpty after start,
	// while Eureka holds its warning back.
	WarmingUp bool `json:"warmingUp"`
	// Banner is the warning Spring Cloud's dashboard shows, "" for none.
	Banner string `json:"banner"`
	// Explanation says in plain words what is going on.
	Explanation      string         `json:"explanation"`
	EvictionInterval string         `json:"evictionInterval"`
	LastEviction     time.Time      `json:"lastEviction,omitzero"`
	ExpiredLeases    int            `json:"expiredLeases"`
	Shielded         []instanceView `json:"shielded"`
	PendingEviction  []instanceView `json:"pendingEviction"`
}

// Spring Cloud's dashboard banners (docs/protocol.md §10.1).
const (
	bannerEmergency = "EMERGENCY! EUREKA MAY BE INCORRECTLY CLAIMING INSTANCES ARE UP WHEN THEY'RE NOT. RENEWALS ARE LESSER THAN THRESHOLD AND HENCE THE INSTANCES ARE NOT BEING EXPIRED JUST TO BE SAFE."
	bannerOffBelow  = "RENEWALS ARE LESSER THAN THE THRESHOLD. THE SELF PRESERVATION MODE IS TURNED OFF. THIS MAY NOT PROTECT INSTANCE EXPIRY IN CASE OF NETWORK/OTHER PROBLEMS."
	bannerOff       = "THE SELF PRESERVATION MODE IS TURNED OFF. THIS MAY NOT PROTECT INSTANCE EXPIRY IN CASE OF NETWORK/OTHER PROBLEMS."
)

func (s *Server) selfPreservation(leases []registry.LeaseState) selfPreservationView {
	st := s.reg.SelfPreservationState()
	o := s.reg.Settings()
	interval := o.ExpectedClientRenewalInterval.Seconds()
	v := selfPreservationView{
		Enabled:                 st.Enabled,
		ExpectedClients:         st.ExpectedClients,
		RenewalIntervalSecs:     interval,
		RenewalPercentThreshold: o.RenewalPercentThreshold,
		Threshold:               st.Threshold,
		RenewsLastMinute:        st.RenewsLastMinute,
		LeaseExpirationEnabled:  st.LeaseExpirationEnabled,
		BelowThreshold:          st.BelowThreshold,
		Active:                  st.Enabled && !st.LeaseExpirationEnabled,
		EvictionInterval:        o.EvictionInterval.String(),
		LastEviction:            s.reg.LastEviction(),
		Shielded:                []instanceView{},
		PendingEviction:         []instanceView{},
	}
	if at := s.reg.OpenedAt(); !at.IsZero() && s.reg.Now().Before(at.Add(o.WaitTimeWhenSyncEmpty)) {
		v.WarmingUp = true
	}
	if interval > 0 {
		v.ExpectedRenewsPerMinute = float64(st.ExpectedClients) * 60 / interval
	}
	switch {
	case st.BelowThreshold && st.Enabled:
		v.Banner = bannerEmergency
	case st.BelowThreshold:
		v.Banner = bannerOffBelow
	case !st.Enabled:
		v.Banner = bannerOff
	}
	for _, l := range leases {
		if !l.Expired {
			continue
		}
		v.ExpiredLeases++
		iv := viewInstance(l, st.LeaseExpirationEnabled)
		if st.LeaseExpirationEnabled {
			v.PendingEviction = append(v.PendingEviction, iv)
		} else {
			v.Shielded = append(v.Shielded, iv)
		}
	}
	v.Explanation = explain(v)
	return v
}

// explain puts the self-preservation figures into words.
func explain(v selfPreservationView) string {
	expected := fmt.Sprintf("%d clients are expected to renew every %gs, %g renewals a minute; the threshold is %g%% of that, %d a minute",
		v.ExpectedClients, v.RenewalIntervalSecs, v.ExpectedRenewsPerMinute, v.RenewalPercentThreshold*100, v.Threshold)
	shielded := ""
	if n := len(v.Shielded); n > 0 {
		shielded = fmt.Sprintf(" %d expired %s kept (listed below): clients may still be sent to %s.", n, plural(n, "lease is", "leases are"), plural(n, "it", "them"))
	}
	switch {
	case !v.Enabled:
		return fmt.Sprintf("Self-preservation is turned off: every lease that expires is evicted by the next eviction run (every %s), even if many expire at once because of a network problem. %d renewals arrived in the last minute.", v.EvictionInterval, v.RenewsLastMinute)
	case v.Threshold <= 0:
		return "Evictions are paused: no client is expected to renew yet, so the renewal threshold is 0 and eurekad cannot tell a network problem from instances going away. The expected count follows registrations." + shielded
	case v.Active && v.WarmingUp:
		return fmt.Sprintf("Evictions are paused while the server starts: %d renewals arrived in the last full minute, not more than the threshold. %s. The renewal meter counts whole minutes, so right after a start it reads low; Eureka's warning is held back during the start-up wait, and evictions begin once renewals exceed the threshold.%s",
			v.RenewsLastMinute, capitalize(expected), shielded)
	case v.Active:
		return fmt.Sprintf("Self-preservation is active: %d renewals arrived in the last full minute, not more than the threshold. %s. When that many clients stop renewing at once, the cause is more likely a network problem than instances dying, so eurekad keeps every lease, expired or not, until renewals recover.%s",
			v.RenewsLastMinute, capitalize(expected), shielded)
	default:
		pending := ""
		if n := len(v.PendingEviction); n > 0 {
			pending = fmt.Sprintf(" %d expired %s evicted by the next run.", n, plural(n, "lease is", "leases are"))
		}
		return fmt.Sprintf("Leases expire normally: %d renewals arrived in the last full minute, above the threshold. %s. Expired leases are evicted every %s.%s",
			v.RenewsLastMinute, capitalize(expected), v.EvictionInterval, pending)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (s *Server) apiSelfPreservation(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.selfPreservation(s.reg.Leases()))
}

type eventView struct {
	Time time.Time `json:"time"`
	App  string    `json:"app"`
	ID   string    `json:"instanceId"`
}

func eventViews(in []registry.RecentEntry) []eventView {
	out := make([]eventView, len(in))
	for i, e := range in {
		out[i] = eventView{e.Time, e.App, e.ID}
	}
	return out
}

// apiEvents is GET admin/api/events: the last 1000 registrations and
// cancellations (evictions included), newest first.
func (s *Server) apiEvents(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"registered": eventViews(s.reg.RecentlyRegistered()),
		"canceled":   eventViews(s.reg.RecentlyCanceled()),
	})
}

func (s *Server) storageView(ctx context.Context) storageView {
	if s.store == nil {
		return storageView{Kind: "memory"}
	}
	v := storageView{Kind: s.opts.StoreKind, Persistent: true, Status: s.store.Status()}
	if s.opts.StoreProbe != nil {
		err := s.probeStore(ctx)
		ok := err == nil
		v.Reachable = &ok
		if err != nil {
			v.Error = err.Error()
		}
	}
	return v
}

func (s *Server) peersView() peersView {
	v := peersView{Peers: []PeerStatus{}}
	if s.opts.Ops.Peers != nil {
		v.Peers = append(v.Peers, s.opts.Ops.Peers()...)
		// A cluster with no peers (yet: a reload may add some) is a
		// standalone server.
		v.Configured = len(v.Peers) > 0
		for i := range v.Peers {
			v.Peers[i].URL = withoutUserinfo(v.Peers[i].URL)
		}
		slices.SortFunc(v.Peers, func(a, b PeerStatus) int { return cmp.Compare(a.Name, b.Name) })
	}
	return v
}

// withoutUserinfo drops credentials from a peer URL, as Spring's dashboard
// does for its replica links.
func withoutUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User = nil
	return u.String()
}

func (s *Server) pluginsView() pluginsView {
	v := pluginsView{Plugins: []PluginStatus{}}
	if s.opts.Ops.Plugins != nil {
		v.Plugins = append(v.Plugins, s.opts.Ops.Plugins()...)
		v.Configured = len(v.Plugins) > 0
	}
	return v
}

func (s *Server) apiStorage(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.storageView(r.Context()))
}

func (s *Server) apiPeers(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.peersView())
}

func (s *Server) apiPlugins(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.pluginsView())
}

// streamTick is how often the event stream sends a tick, so the dashboard
// refreshes figures that move without a registry change (renewals, lease
// expiry); streamMax bounds one stream, after which the browser reconnects.
const (
	streamTick   = 5 * time.Second
	streamMax    = 10 * time.Minute
	streamMinGap = time.Second
)

// apiStream is GET admin/api/stream, Server-Sent Events: "change" with the
// registry version after visible changes, "tick" every streamTick. Changes
// are coalesced, at most one event per streamMinGap, so a write storm
// costs a dashboard one refresh a second.
func (s *Server) apiStream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, version uint64) bool {
		// The server's write timeout would cut the stream; each event
		// gets its own.
		_ = rc.SetWriteDeadline(time.Now().Add(streamTick * 2))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: {\"version\":%d}\n\n", event, version); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// Take the change channel before reading the version the client
	// starts from, so no change falls between the two.
	changes := s.reg.Changes()
	if _, err := fmt.Fprint(w, "retry: 1000\n"); err != nil {
		return
	}
	if !send("hello", s.reg.Version()) {
		return
	}
	tick := time.NewTicker(streamTick)
	defer tick.Stop()
	end := time.NewTimer(streamMax)
	defer end.Stop()
	var lastChange time.Time
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		case <-end.C:
			return
		case <-tick.C:
			if !send("tick", s.reg.Version()) {
				return
			}
		case <-changes:
			// Coalesce a burst of changes into one event.
			wait := max(100*time.Millisecond, streamMinGap-time.Since(lastChange))
			select {
			case <-time.After(wait):
			case <-r.Context().Done():
				return
			case <-s.closing:
				return
			}
			changes = s.reg.Changes()
			lastChange = time.Now()
			if !send("change", s.reg.Version()) {
				return
			}
		}
	}
}
