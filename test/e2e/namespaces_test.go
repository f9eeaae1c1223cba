package e2e

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hudl/fargo"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// Namespaces (issue 18): each namespace, at /ns/{namespace}/eureka/, is a
// registry of its own; the default one stays at /eureka/.

const nsDeclared = "EUREKAD_NAMESPACES_DECLARED=team-a,team-b"

// nsFargoInstance is an instance fargo registers in a namespace.
func nsFargoInstance(app, id string) *fargo.Instance {
	return &fargo.Instance{
		InstanceId: id, HostName: id + ".ns.local", App: app, IPAddr: "10.9.0.1",
		VipAddress: "ns-shared.vip", Status: fargo.UP, Port: 8080, PortEnabled: true,
		DataCenterInfo: fargo.DataCenterInfo{Name: fargo.MyOwn},
		LeaseInfo:      fargo.LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90},
	}
}

// TestNamespacesKeepClientsApart registers the same application with
// fargo in namespace team-a and with eureka-js-client (its whole
// lifecycle: full fetch, deltas, a second client's registration and
// cancellation) in team-b: each client sees only its own namespace's
// instances, and each namespace's full payload and delta carry only its
// own instances and its own hash code.
func TestNamespacesKeepClientsApart(t *testing.T) {
	t.Parallel()
	s := startServer(t, nsDeclared)
	root := "http://" + s.Addr
	const app = "NS-SHARED"

	connA := fargo.NewConn(root + "/ns/team-a/eureka")
	for _, id := range []string{"fargo-1", "fargo-2"} {
		if err := connA.RegisterInstance(nsFargoInstance(strings.ToLower(app), id)); err != nil {
			t.Fatalf("fargo RegisterInstance %s in team-a: %v", id, err)
		}
	}
	_, port, _ := strings.Cut(s.Addr, ":")
	js := startJSScenario(t, port, app, "ns-shared.vip", "EUREKA_SERVICE_PATH=/ns/team-b/eureka/apps/")
	sum := js.summary(t, "ready")

	// fargo, in each namespace, sees that namespace's instances only.
	ids := func(a *fargo.Application) []string {
		var out []string
		for _, in := range a.Instances {
			out = append(out, in.HostName)
		}
		slices.Sort(out)
		return out
	}
	eventually(t, "fargo sees team-a's instances only", func() error {
		a, err := connA.GetApp(app)
		if err != nil {
			return err
		}
		if got := ids(a); !slices.Equal(got, []string{"fargo-1.ns.local", "fargo-2.ns.local"}) {
			return fmt.Errorf("team-a's %s holds %v", app, got)
		}
		return nil
	})
	connB := fargo.NewConn(root + "/ns/team-b/eureka")
	eventually(t, "fargo sees team-b's instances only", func() error {
		a, err := connB.GetApp(app)
		if err != nil {
			return err
		}
		if got := ids(a); !slices.Equal(got, []string{sum.InstanceA}) {
			return fmt.Errorf("team-b's %s holds %v, want the js client's %s only", app, got, sum.InstanceA)
		}
		return nil
	})
	if r := do(t, http.MethodGet, root+"/eureka/apps/"+app, nil, jsonHeaders...); r.Status != http.StatusNotFound {
		t.Errorf("the default namespace's %s: %d, want 404", app, r.Status)
	}

	// Full payloads and deltas: only the namespace's instances, its own
	// hash code.
	only := func(ns, hash string, want, absent []string) func(*response, *appsPayload) error {
		return func(_ *response, p *appsPayload) error {
			if p.Hashcode != hash {
				return fmt.Errorf("%s: apps hash code %q, want %q", ns, p.Hashcode, hash)
			}
			for _, id := range want {
				if p.find(app, id) == nil {
					return fmt.Errorf("%s: %s/%s missing", ns, app, id)
				}
			}
			for _, id := range absent {
				if p.find(app, id) != nil {
					return fmt.Errorf("%s: another namespace's %s/%s is visible", ns, app, id)
				}
			}
			return nil
		}
	}
	fargoIDs := []string{"fargo-1", "fargo-2"}
	for _, path := range []string{"apps/", "apps/delta"} {
		waitApps(t, "team-a "+path, root+"/ns/team-a/eureka/"+path, only("team-a", "UP_2_", fargoIDs, []string{sum.InstanceA, sum.InstanceB}))
		waitApps(t, "team-b "+path, root+"/ns/team-b/eureka/"+path, only("team-b", "UP_1_", []string{sum.InstanceA}, fargoIDs))
	}
	waitApps(t, "default apps", root+"/eureka/apps/", only("default", "", nil, append(fargoIDs, sum.InstanceA)))

	// The js client's own view: its cancelled second client and its own
	// instance went through team-b's deltas only (its summary checked it);
	// after it stops, team-b is empty and team-a untouched.
	done := js.finish(t)
	if done.Events["A"]["deregistered"] != 1 {
		t.Errorf("js client A events %v: want deregistered 1", done.Events["A"])
	}
	waitApps(t, "team-b after the js client stopped", root+"/ns/team-b/eureka/apps/", only("team-b", "", nil, append(fargoIDs, sum.InstanceA)))
	waitApps(t, "team-a after the js client stopped", root+"/ns/team-a/eureka/apps/", only("team-a", "UP_2_", fargoIDs, nil))
}

// TestNamespacesConfineAUser: a user of the static authenticator confined
// to team-a is refused (403) in every other namespace on every path (the
// Eureka API, the admin API, the event stream, snapshots), and no answer
// it gets names another namespace's instances.
func TestNamespacesConfineAUser(t *testing.T) {
	t.Parallel()
	hash := func(pw string) string { return eurekadtest.PasswordHash(t, pw) }
	cfg := eurekadtest.WriteConfig(t, fmt.Sprintf(`plugins:
  auth:
    plugin: static
    config:
      users:
        - username: teama
          password_bcrypt: %q
          namespaces: [team-a]
          rules:
            - {operations: ["*"]}
        - username: ops
          password_bcrypt: %q
          rules:
            - {operations: ["*"]}
        - username: dflt
          password_bcrypt: %q
          namespaces: [default]
          rules:
            - {operations: [read]}
`, hash("teama-secret"), hash("ops-secret"), hash("dflt-secret")))
	s := startServer(t, cfg, nsDeclared)
	root := "http://" + s.Addr
	auth := func(user string) []string {
		return []string{"Authorization", basicAuth(user, user+"-secret"), "Content-Type", "application/json", "Accept", "application/json"}
	}
	ops, teama := auth("ops"), auth("teama")
	register := func(headers []string, prefix, id string) int {
		return do(t, http.MethodPost, root+prefix+"/eureka/apps/SHARED", []byte(nsInstanceJSON("SHARED", id)), headers...).Status
	}
	if st := register(ops, "/ns/team-b", "b-secret-1"); st != http.StatusNoContent {
		t.Fatalf("ops registers in team-b: %d", st)
	}
	if st := register(ops, "", "d-secret-1"); st != http.StatusNoContent {
		t.Fatalf("ops registers in default: %d", st)
	}
	if st := register(teama, "/ns/team-a", "a-own-1"); st != http.StatusNoContent {
		t.Fatalf("teama registers in team-a: %d", st)
	}
	leaks := []string{"b-secret-1", "d-secret-1"}

	// Its own namespace: allowed, and only its instances.
	for u, want := range map[string]string{"/ns/team-a/eureka/apps": "a-own-1", "/ns/team-a/eureka/apps/delta": "a-own-1",
		"/admin/api/instances?namespace=team-a": "a-own-1", "/ns/team-a/admin/api/instances": "a-own-1",
		"/admin/api/apps?namespace=team-a": `"instances":1,`, "/admin/api/events?namespace=team-a": "a-own-1",
		"/admin/api/instances/SHARED/a-own-1/history?namespace=team-a": "registered"} {
		r := do(t, http.MethodGet, root+u, nil, teama...)
		body := r.Text(t)
		if r.Status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("teama GET %s: %d, want 200 with %s: %.300s", u, r.Status, want, body)
		}
		for _, l := range leaks {
			if strings.Contains(body, l) {
				t.Errorf("teama GET %s leaks %s", u, l)
			}
		}
	}

	// Everywhere else: 403, and nothing of the other namespaces.
	refused := []struct{ method, path string }{
		{"GET", "/eureka/apps"}, {"GET", "/eureka/apps/delta"}, {"GET", "/eureka/apps/SHARED"},
		{"GET", "/eureka/apps/SHARED/d-secret-1"}, {"GET", "/eureka/instances/d-secret-1"}, {"GET", "/eureka/vips/shared"},
		{"PUT", "/eureka/apps/SHARED/d-secret-1"}, {"DELETE", "/eureka/apps/SHARED/d-secret-1"},
		{"PUT", "/eureka/apps/SHARED/d-secret-1/status?value=OUT_OF_SERVICE"},
		{"GET", "/ns/team-b/eureka/apps"}, {"GET", "/ns/team-b/eureka/apps/delta"}, {"GET", "/ns/team-b/eureka/apps/SHARED"},
		{"GET", "/ns/team-b/eureka/apps/SHARED/b-secret-1"}, {"GET", "/ns/team-b/eureka/instances/b-secret-1"},
		{"GET", "/ns/team-b/eureka/vips/shared"}, {"GET", "/ns/team-b/eureka/v2/apps"},
		{"PUT", "/ns/team-b/eureka/apps/SHARED/b-secret-1"}, {"DELETE", "/ns/team-b/eureka/apps/SHARED/b-secret-1"},
		{"POST", "/ns/team-b/eureka/apps/SHARED"},
		{"GET", "/admin/api/instances"}, {"GET", "/admin/api/instances?namespace=team-b"},
		{"GET", "/ns/team-b/admin/api/instances"}, {"GET", "/admin/api/instances/SHARED/b-secret-1?namespace=team-b"},
		{"GET", "/admin/api/apps?namespace=team-b"}, {"GET", "/admin/api/summary?namespace=team-b"},
		{"GET", "/admin/api/events?namespace=team-b"}, {"GET", "/admin/api/stream?namespace=team-b"},
		{"GET", "/admin/api/instances/SHARED/b-secret-1/history?namespace=team-b"},
		{"POST", "/admin/api/instances/SHARED/b-secret-1/deregister?namespace=team-b"},
		{"GET", "/admin/snapshot?namespace=team-b"}, {"GET", "/admin/snapshot"},
		{"GET", "/metrics"},
	}
	for _, c := range refused {
		var body []byte
		if c.method == "POST" && strings.Contains(c.path, "/eureka/") {
			body = []byte(nsInstanceJSON("SHARED", "intruder-1"))
		}
		r := do(t, c.method, root+c.path, body, teama...)
		text := r.Text(t)
		if r.Status != http.StatusForbidden {
			t.Errorf("teama %s %s: %d, want 403", c.method, c.path, r.Status)
		}
		for _, l := range leaks {
			if strings.Contains(text, l) {
				t.Errorf("teama %s %s leaks %s", c.method, c.path, l)
			}
		}
	}
	// Nothing it tried changed another namespace.
	for _, c := range []struct{ prefix, id string }{{"/ns/team-b", "b-secret-1"}, {"", "d-secret-1"}} {
		if r := do(t, http.MethodGet, root+c.prefix+"/eureka/apps/SHARED/"+c.id, nil, ops...); r.Status != http.StatusOK || strings.Contains(r.Text(t), "OUT_OF_SERVICE") {
			t.Errorf("%s after teama's attempts: %d %.200s", c.id, r.Status, r.Text(t))
		}
	}
	if r := do(t, http.MethodGet, root+"/ns/team-b/eureka/apps/SHARED/intruder-1", nil, ops...); r.Status != http.StatusNotFound {
		t.Errorf("teama's registration in team-b: %d, want 404 (never registered)", r.Status)
	}
	// The metrics count every namespace's instances: a user confined to
	// the default namespace may not read them, the operator sees each
	// namespace's series.
	if r := do(t, http.MethodGet, root+"/metrics", nil, auth("dflt")...); r.Status != http.StatusForbidden {
		t.Errorf("dflt GET /metrics: %d, want 403", r.Status)
	}
	if r := do(t, http.MethodGet, root+"/eureka/apps/SHARED/d-secret-1", nil, auth("dflt")...); r.Status != http.StatusOK {
		t.Errorf("dflt reads its namespace: %d", r.Status)
	}
	m := do(t, http.MethodGet, root+"/metrics", nil, ops...).Text(t)
	for _, want := range []string{`eurekad_registry_instances{namespace="team-b",status="UP"} 1`, `eurekad_registry_instances{namespace="default",status="UP"} 1`,
		`eurekad_registry_registrations_total{namespace="team-a"} 1`, `eurekad_health_checked_instances{namespace="team-b"} 0`,
		`eurekad_health_checks_total{namespace="default",result="passing"} 0`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Each caller's list names the namespaces it may read, and no other.
	for user, want := range map[string]string{
		"teama": `{"namespaces":[{"name":"team-a","instances":1,"limit":0}]}`,
		"dflt":  `{"namespaces":[{"name":"default","instances":1,"limit":0}]}`,
	} {
		if r := do(t, http.MethodGet, root+"/admin/api/namespaces", nil, auth(user)...); r.Status != http.StatusOK || strings.TrimSpace(r.Text(t)) != want {
			t.Errorf("%s GET /admin/api/namespaces: %d %s, want %s", user, r.Status, r.Text(t), want)
		}
	}
	if r := do(t, http.MethodGet, root+"/admin/api/namespaces", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("anonymous GET /admin/api/namespaces: %d, want 401", r.Status)
	}
	// The operator's list names every namespace with its size.
	r := do(t, http.MethodGet, root+"/admin/api/namespaces", nil, ops...)
	for _, want := range []string{`{"name":"default","instances":1,"limit":0}`, `{"name":"team-a","instances":1,"limit":0}`, `{"name":"team-b","instances":1,"limit":0}`} {
		if !strings.Contains(r.Text(t), want) {
			t.Errorf("GET /admin/api/namespaces as ops: %d %s, want %s", r.Status, r.Text(t), want)
		}
	}
}

// TestNamespacesHostileNames: names that are too long, dot segments,
// escaped slashes, unicode and upper case name no namespace (404), and
// never reach the default namespace or create one.
func TestNamespacesHostileNames(t *testing.T) {
	t.Parallel()
	s := startServer(t, nsDeclared, "EUREKAD_NAMESPACES_CREATE_ON_FIRST_USE=true", "EUREKAD_NAMESPACES_MAX=10")
	root := "http://" + s.Addr
	if st := do(t, http.MethodPost, root+"/eureka/apps/SHARED", []byte(nsInstanceJSON("SHARED", "d-1")), jsonHeaders...).Status; st != http.StatusNoContent {
		t.Fatalf("register in default: %d", st)
	}
	for _, name := range []string{strings.Repeat("a", 64), "..", ".", "%2E%2E", "team-a%2F..", "team%2Fa", "%C3%A9quipe", "équipe", "Team-A", "TEAM-A", "-a", "a_b", "%00", "team-a%00", "default%2F"} {
		for _, rest := range []string{"/eureka/apps", "/eureka/apps/SHARED/d-1", "/admin/api/instances"} {
			r := do(t, http.MethodGet, root+"/ns/"+name+rest, nil, jsonHeaders...)
			if r.Status != http.StatusNotFound && r.Status != http.StatusBadRequest {
				t.Errorf("GET /ns/%s%s: %d, want 404 (or 400 from net/http)", name, rest, r.Status)
			}
			if strings.Contains(r.Text(t), "d-1") {
				t.Errorf("GET /ns/%s%s reaches the default namespace", name, rest)
			}
		}
		if r := do(t, http.MethodGet, root+"/admin/api/instances?namespace="+name, nil); r.Status != http.StatusNotFound {
			t.Errorf("GET /admin/api/instances?namespace=%s: %d, want 404", name, r.Status)
		}
	}
	// "default" under /ns/ is the default namespace itself, not a copy.
	if r := do(t, http.MethodGet, root+"/ns/default/eureka/apps/SHARED/d-1", nil, jsonHeaders...); r.Status != http.StatusOK {
		t.Errorf("GET /ns/default/eureka/apps/SHARED/d-1: %d, want 200", r.Status)
	}
	// Only the declared namespaces and the default one exist.
	r := do(t, http.MethodGet, root+"/admin/api/namespaces", nil)
	if got := strings.Count(r.Text(t), `"name"`); got != 3 {
		t.Errorf("namespaces after hostile requests: %s, want default, team-a and team-b", r.Text(t))
	}
}

// TestNamespacesCreateOnFirstUseStopsAtMax: thousands of requests for new
// names, concurrently, create namespaces up to namespaces.max and no more.
func TestNamespacesCreateOnFirstUseStopsAtMax(t *testing.T) {
	t.Parallel()
	const max = 8
	s := startServer(t, "EUREKAD_NAMESPACES_CREATE_ON_FIRST_USE=true", fmt.Sprintf("EUREKAD_NAMESPACES_MAX=%d", max))
	root := "http://" + s.Addr
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				r, err := tryDo(http.MethodGet, fmt.Sprintf("%s/ns/n%d/eureka/apps", root, i), nil, jsonHeaders...)
				mu.Lock()
				if err != nil {
					codes[-1]++
				} else {
					codes[r.Status]++
				}
				mu.Unlock()
			}
		})
	}
	for i := range 3000 {
		work <- i
	}
	close(work)
	wg.Wait()
	if codes[http.StatusOK] != max-1 || codes[http.StatusNotFound] != 3000-(max-1) {
		t.Fatalf("answers %v: want %d namespaces created (200) and the rest 404", codes, max-1)
	}
	r := do(t, http.MethodGet, root+"/admin/api/namespaces", nil)
	if got := strings.Count(r.Text(t), `"name"`); got != max {
		t.Errorf("GET /admin/api/namespaces lists %d namespaces, want %d: %s", got, max, r.Text(t))
	}
}

// TestNamespacesInstanceLimit: namespaces.max_instances holds under
// concurrent registrations, per namespace, with 403 beyond the limit.
func TestNamespacesInstanceLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, nsDeclared, "EUREKAD_NAMESPACES_MAX_INSTANCES=team-a=5,*=0")
	root := "http://" + s.Addr
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			r, err := tryDo(http.MethodPost, root+"/ns/team-a/eureka/apps/LIMITED", []byte(nsInstanceJSON("LIMITED", fmt.Sprintf("l-%d", i))), jsonHeaders...)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes[-1]++
				return
			}
			codes[r.Status]++
			if r.Status == http.StatusForbidden && !strings.Contains(r.Text(t), "limit") {
				t.Errorf("refusal does not say why: %s", r.Text(t))
			}
		})
	}
	wg.Wait()
	if codes[http.StatusNoContent] != 5 || codes[http.StatusForbidden] != 55 {
		t.Fatalf("registrations in team-a: %v, want 5 × 204 and 55 × 403", codes)
	}
	// team-b has no limit (*=0).
	for i := range 10 {
		if st := do(t, http.MethodPost, root+"/ns/team-b/eureka/apps/LIMITED", []byte(nsInstanceJSON("LIMITED", fmt.Sprint(i))), jsonHeaders...).Status; st != http.StatusNoContent {
			t.Fatalf("team-b registration %d: %d", i, st)
		}
	}
	r := do(t, http.MethodGet, root+"/admin/api/namespaces", nil)
	if !strings.Contains(r.Text(t), `{"name":"team-a","instances":5,"limit":5}`) {
		t.Errorf("GET /admin/api/namespaces: %s", r.Text(t))
	}
}

// nsInstanceJSON is a registration body.
func nsInstanceJSON(app, id string) string {
	return fmt.Sprintf(`{"instance":{"instanceId":%q,"hostName":%q,"app":%q,"ipAddr":"10.9.0.2","status":"UP","vipAddress":"shared",`+
		`"port":{"$":8080,"@enabled":"true"},"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}`,
		id, id+".ns.local", app)
}

// basicAuth is an Authorization header value.
func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// nsPrefixes are the base paths of the default namespace and of team-a
// and team-b.
var nsPrefixes = map[string]string{"default": "/eureka", "team-a": "/ns/team-a/eureka", "team-b": "/ns/team-b/eureka"}

// registerInEachNamespace registers app/{ns}-{i} for i < n in every
// namespace, and an override in team-a.
func registerInEachNamespace(t *testing.T, root string, n int) {
	t.Helper()
	for ns, p := range nsPrefixes {
		for i := range n {
			id := fmt.Sprintf("%s-%d", ns, i)
			if r := do(t, http.MethodPost, root+p+"/apps/SHARED", crashBody("SHARED", id), "Content-Type", "application/json"); r.Status != http.StatusNoContent {
				t.Fatalf("register %s: %d", id, r.Status)
			}
		}
	}
	if r := do(t, http.MethodPut, root+"/ns/team-a/eureka/apps/SHARED/team-a-0/status?value=OUT_OF_SERVICE", nil); r.Status != http.StatusOK {
		t.Fatalf("override in team-a: %d", r.Status)
	}
}

// checkEachNamespace checks each namespace holds exactly its n instances
// (of want, when not nil), and team-a its override.
func checkEachNamespace(t *testing.T, root string, n int, want map[string]bool) {
	t.Helper()
	for ns, p := range nsPrefixes {
		if want != nil && !want[ns] {
			continue
		}
		got := fetchAll(t, root+p+"/")
		if len(got) != n {
			t.Errorf("%s holds %d instances, want %d", ns, len(got), n)
		}
		for id, in := range got {
			if !strings.HasPrefix(id, ns+"-") {
				t.Errorf("%s holds %s, another namespace's", ns, id)
			}
			if in.Metadata["owner"] != id {
				t.Errorf("%s/%s lost its metadata: %v", ns, id, in.Metadata)
			}
			if want := id == "team-a-0"; (in.OverriddenStatus == "OUT_OF_SERVICE") != want {
				t.Errorf("%s/%s: overridden status %s", ns, id, in.OverriddenStatus)
			}
		}
	}
}

// TestNamespacesSurviveACrash: kill -9 and a restart on bolt and on Redis
// keep every namespace's instances, each in its namespace.
func TestNamespacesSurviveACrash(t *testing.T) {
	for _, sc := range storeCases() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			env := append(sc.env(t), nsDeclared, "EUREKAD_STORAGE_DURABILITY=sync")
			s := startServer(t, env...)
			root := "http://" + s.Addr
			registerInEachNamespace(t, root, 5)
			s.kill()
			s = startServerAt(t, s.Addr, env...)
			checkEachNamespace(t, root, 5, nil)
		})
	}
}

// TestNamespacesCreatedOnFirstUseSurviveARestart: a namespace that exists
// only because it was used is found in the store at the next start.
func TestNamespacesCreatedOnFirstUseSurviveARestart(t *testing.T) {
	t.Parallel()
	env := []string{"EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR=" + t.TempDir(), "EUREKAD_STORAGE_DURABILITY=sync", "EUREKAD_NAMESPACES_CREATE_ON_FIRST_USE=true"}
	s := startServer(t, env...)
	root := "http://" + s.Addr
	if r := do(t, http.MethodPost, root+"/ns/adhoc/eureka/apps/SHARED", crashBody("SHARED", "adhoc-1"), "Content-Type", "application/json"); r.Status != http.StatusNoContent {
		t.Fatalf("register in a new namespace: %d", r.Status)
	}
	s.kill()
	s = startServerAt(t, s.Addr, env...)
	got := fetchAll(t, root+"/ns/adhoc/eureka/")
	if _, ok := got["adhoc-1"]; len(got) != 1 || !ok {
		t.Fatalf("namespace adhoc after a restart holds %v", got)
	}
	if got := fetchAll(t, s.Base); len(got) != 0 {
		t.Fatalf("the default namespace holds %d instances, want none", len(got))
	}
}

// TestNamespacesSnapshotRoundTrip: a whole snapshot holds every namespace
// and restores each into its own; a namespace's snapshot restores that
// namespace only, leaving the others as they are.
func TestNamespacesSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	envA := []string{"EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR=" + t.TempDir(), nsDeclared}
	s := startServer(t, envA...)
	root := "http://" + s.Addr
	registerInEachNamespace(t, root, 4)
	whole := filepath.Join(t.TempDir(), "whole.snapshot")
	if out, ok := eurekadCmd(t, nil, "snapshot", "save", "--server", root, whole); !ok || !strings.Contains(out, "saved 12 instances") {
		t.Fatalf("snapshot save: %s", out)
	}
	teamA := filepath.Join(t.TempDir(), "team-a.snapshot")
	if out, ok := eurekadCmd(t, nil, "snapshot", "save", "--server", root, "--namespace", "team-a", teamA); !ok || !strings.Contains(out, "saved 4 instances") {
		t.Fatalf("snapshot save --namespace team-a: %s", out)
	}
	if out, ok := eurekadCmd(t, nil, "snapshot", "inspect", whole); !ok || !strings.Contains(out, "team-a: SHARED") || !strings.Contains(out, "team-b: SHARED") {
		t.Fatalf("snapshot inspect: %s", out)
	}
	s.stop()

	// The whole snapshot into a fresh store: every namespace back.
	envB := []string{"EUREKAD_STORAGE_KIND=bolt", "EUREKAD_STORAGE_DATA_DIR=" + t.TempDir(), nsDeclared}
	if out, ok := eurekadCmd(t, envB, "snapshot", "restore", whole); !ok || !strings.Contains(out, "restored 12 instances") {
		t.Fatalf("snapshot restore: %s", out)
	}
	b := startServer(t, envB...)
	checkEachNamespace(t, "http://"+b.Addr, 4, nil)
	// A change in team-a and default, then team-a's snapshot restored:
	// team-a is as saved, default keeps its change.
	if r := do(t, http.MethodDelete, "http://"+b.Addr+"/ns/team-a/eureka/apps/SHARED/team-a-1", nil); r.Status != http.StatusOK {
		t.Fatalf("cancel in team-a: %d", r.Status)
	}
	if r := do(t, http.MethodPost, b.Base+"apps/SHARED", crashBody("SHARED", "default-9"), "Content-Type", "application/json"); r.Status != http.StatusNoContent {
		t.Fatalf("register in default: %d", r.Status)
	}
	b.stop()
	if out, ok := eurekadCmd(t, envB, "snapshot", "restore", teamA); !ok || !strings.Contains(out, "restored 4 instances") {
		t.Fatalf("snapshot restore of team-a: %s", out)
	}
	b = startServer(t, envB...)
	checkEachNamespace(t, "http://"+b.Addr, 4, map[string]bool{"team-a": true, "team-b": true})
	if got := fetchAll(t, b.Base); len(got) != 5 || got["default-9"].InstanceID == "" {
		t.Errorf("default after team-a's restore holds %d instances, want its 5 (default-9 kept)", len(got))
	}
}
