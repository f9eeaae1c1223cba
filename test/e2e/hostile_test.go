package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// The tests of this file send what an attacker or a careless client would
// (issue 13): oversized and invalid names, bogus peer batches, and reads
// without the right credentials, to a real eurekad on bolt and on Redis.
// Each refusal must name the field without echoing the value, leave the
// store healthy, and leave every other acknowledged write durable through
// kill -9.

// Sizes of the hostile names: far above the rules' limits, and above what
// bbolt accepts as a key (32 KiB).
const (
	hugeIDBytes  = 40000
	hugeAppBytes = 33000
)

var (
	hugeID  = "big-" + strings.Repeat("z", hugeIDBytes-4)
	hugeApp = strings.Repeat("Q", hugeAppBytes)
)

// echoes reports whether s carries a piece of a hostile value long enough
// to count as echoing it.
func echoes(s string) bool {
	return strings.Contains(s, strings.Repeat("z", 256)) || strings.Contains(s, strings.Repeat("Q", 256))
}

// The secret a registrant puts in its metadata, which no caller without
// read access may see.
const managementPassword = "s3cret-mgmt-pw"

// teamAuth is the static authenticator's setup: ops may do anything,
// orders only on ORDERS-* applications, peer replicates, and anonymous
// callers may do nothing.
type teamAuth struct {
	env []string
}

// Users and passwords of teamAuth.
const (
	opsUser, opsPass       = "ops", "ops-pw"
	ordersUser, ordersPass = "orders", "orders-pw"
	peerUser, peerPass     = "peer", "peer-pw"
)

func newTeamAuth(t *testing.T) teamAuth {
	t.Helper()
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	cfg := map[string]any{
		"users": []map[string]any{
			{"username": opsUser, "password_bcrypt": hash(opsPass), "rules": []map[string]any{{"operations": []string{"*"}}}},
			{"username": ordersUser, "password_bcrypt": hash(ordersPass), "rules": []map[string]any{{"operations": []string{"*"}, "apps": []string{"ORDERS-*"}}}},
		},
		"peers":     []map[string]any{{"username": peerUser, "password_bcrypt": hash(peerPass)}},
		"anonymous": []string{},
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return teamAuth{env: []string{"EUREKAD_PLUGINS_AUTH_PLUGIN=static", "EUREKAD_PLUGINS_AUTH_CONFIG_JSON=" + string(b)}}
}

// basic returns the header pair of HTTP basic credentials.
func basic(user, pass string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
}

var (
	asOps    = basic(opsUser, opsPass)
	asOrders = basic(ordersUser, ordersPass)
	asPeer   = basic(peerUser, peerPass)
)

// headers joins header pairs.
func headers(pairs ...[]string) []string { return slices.Concat(pairs...) }

// registration is a JSON registration body; id is the JSON string's
// content as sent (escapes and raw bytes included), host the host name.
func registration(app, id, host string, meta map[string]string) []byte {
	m, _ := json.Marshal(meta)
	return []byte(fmt.Sprintf(`{"instance":{"instanceId":"%s","hostName":%q,"app":%q,"ipAddr":"10.7.0.1",
"status":"UP","port":{"$":8080,"@enabled":"true"},"vipAddress":"hostile",
"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
"metadata":%s}}`, id, host, app, m))
}

// registrationXML is registration in XML; id is the element's content as
// sent.
func registrationXML(app, id, host string) []byte {
	return []byte(fmt.Sprintf(`<instance><instanceId>%s</instanceId><hostName>%s</hostName><app>%s</app>`+
		`<ipAddr>10.7.0.1</ipAddr><status>UP</status><port enabled="true">8080</port><vipAddress>hostile</vipAddress>`+
		`<dataCenterInfo class="com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"><name>MyOwn</name></dataCenterInfo>`+
		`</instance>`, id, host, app))
}

// kept is an acknowledged write the store must keep: an instance, its
// override ("" for none) and metadata entries it must carry.
type kept struct {
	app, override string
	meta          map[string]string
}

// hostileRun is one store's run: its eurekad, the writes it acknowledged,
// and the instances that must not exist.
type hostileRun struct {
	s    *server
	kept map[string]kept // by instance id
	gone []string        // ids cancelled or refused
}

// TestHostileInput runs, per store, eurekad under on_failure=serve and
// then reject on the same store: each phase sends the hostile requests,
// then ordinary writes, then kills eurekad with SIGKILL; the next start
// must hold every acknowledged write and nothing refused.
func TestHostileInput(t *testing.T) {
	auth := newTeamAuth(t)
	for _, sc := range storeCases() {
		t.Run(sc.name, func(t *testing.T) {
			env := slices.Concat(sc.env(t), auth.env, []string{"EUREKAD_STORAGE_DURABILITY=sync", "EUREKAD_HTTP_METRICS=true"})
			run := &hostileRun{kept: map[string]kept{}}
			addr := ""
			for _, policy := range []string{"serve", "reject"} {
				penv := append(slices.Clone(env), "EUREKAD_STORAGE_ON_FAILURE="+policy)
				if addr == "" {
					run.s = startServer(t, penv...)
					addr = run.s.Addr
				} else {
					run.s = startServerAt(t, addr, penv...)
					run.checkSurvivors(t)
				}
				t.Run(policy, func(t *testing.T) {
					t.Run("oversized", run.oversized)
					t.Run("invalidText", run.invalidText)
					t.Run("peerBatch", func(t *testing.T) { run.peerBatch(t, policy) })
					if policy == "serve" {
						t.Run("auth", run.auth)
					}
					run.ordinaryWrites(t, policy)
					run.checkHealthy(t)
				})
				run.s.kill()
			}
			run.s = startServerAt(t, addr, env...)
			run.checkSurvivors(t)
			run.checkHealthy(t)
		})
	}
}

// post registers body at apps/app as ops and returns the answer.
func (h *hostileRun) post(t *testing.T, app string, body []byte, contentType string) *response {
	t.Helper()
	return do(t, http.MethodPost, h.s.Base+"apps/"+url.PathEscape(app), body, headers(asOps, []string{"Content-Type", contentType})...)
}

// refused checks a 400 that names field and echoes nothing hostile.
func refused(t *testing.T, what string, r *response, field string) {
	t.Helper()
	body := string(r.Body)
	if r.Status != http.StatusBadRequest {
		t.Errorf("%s = %d %.200q, want 400", what, r.Status, body)
		return
	}
	if !strings.Contains(body, field) {
		t.Errorf("%s: answer %.200q does not name %s", what, body, field)
	}
	if len(body) > 1024 || echoes(body) {
		t.Errorf("%s: answer of %d bytes echoes the value: %.200q", what, len(body), body)
	}
}

// oversized is measurement 1: names too long for any rule and any store.
func (h *hostileRun) oversized(t *testing.T) {
	refused(t, "POST apps/A with a 40,000-byte instanceId",
		h.post(t, "A", registration("A", hugeID, "big.local", nil), "application/json"), "instanceId")
	refused(t, "POST apps/<33,000 bytes> naming the same app",
		h.post(t, hugeApp, registration(hugeApp, "big-app-1", "big.local", nil), "application/json"), "app")
	refused(t, "POST apps/<33,000 bytes> naming app A in the body",
		h.post(t, hugeApp, registration("A", "big-app-2", "big.local", nil), "application/json"), "app")
	// Nothing was stored, so there is nothing to cancel; what matters is
	// that the store still takes the answer (the issue saw 503 here).
	if r := do(t, http.MethodDelete, h.s.Base+"apps/A/"+hugeID, nil, asOps...); r.Status != http.StatusBadRequest && r.Status != http.StatusNotFound {
		t.Errorf("DELETE apps/A/<40,000-byte id> = %d %.200q, want 400 or 404", r.Status, r.Body)
	}
	h.gone = append(h.gone, hugeID, "big-app-1", "big-app-2")
	for _, line := range strings.Split(h.s.Output(), "\n") {
		if echoes(line) {
			t.Errorf("the log echoes a hostile value (%d bytes): %.160s", len(line), line)
			break
		}
	}
}

// invalidText is measurement 5: ids that are not text, in JSON and XML.
func (h *hostileRun) invalidText(t *testing.T) {
	cases := []struct {
		name      string
		json, xml string // the id as written in each format
		stored    string // the id it would be stored under if let through
	}{
		{"invalid UTF-8", "bad-\xff\xfe", "bad-\xff\xfe", "bad-\uFFFD\uFFFD"},
		{"NUL", `nul-\u0000`, "nul-&#0;", "nul-\x00"},
		{"lone surrogate", `sur-\ud800`, "sur-&#xD800;", "sur-\uFFFD"},
	}
	for _, c := range cases {
		refused(t, "JSON instanceId with "+c.name,
			h.post(t, "TEXT", registration("TEXT", c.json, "text.local", nil), "application/json"), "instanceId")
		// Such a document is not well-formed XML (XML 1.0 forbids these
		// characters however written), so it is refused as unparseable:
		// Go's XML reader stops before it reaches a field.
		refused(t, "XML instanceId with "+c.name,
			h.post(t, "TEXT", registrationXML("TEXT", c.xml, "text.local"), "application/xml"), "cannot parse request body")
		if r := do(t, http.MethodGet, h.s.Base+"apps/TEXT/"+url.PathEscape(c.stored), nil, headers(asOps, []string{"Accept", "application/json"})...); r.Status != http.StatusNotFound {
			t.Errorf("%s: GET apps/TEXT/%q = %d, want 404: stored under another name", c.name, c.stored, r.Status)
		}
		h.gone = append(h.gone, c.stored)
	}
}

// peerResults posts a replication batch as the peer and returns the
// status code of each item.
func (h *hostileRun) peerResults(t *testing.T, items ...string) []int {
	t.Helper()
	body := `{"replicationList":[` + strings.Join(items, ",") + `]}`
	r := do(t, http.MethodPost, h.s.Base+"peerreplication/batch", []byte(body),
		headers(asPeer, []string{"Content-Type", "application/json", "Accept", "application/json", "x-netflix-discovery-replication", "true"})...)
	if r.Status != http.StatusOK {
		t.Fatalf("peerreplication/batch = %d %.300s", r.Status, r.Body)
	}
	var resp struct {
		ResponseList []struct {
			StatusCode int `json:"statusCode"`
		} `json:"responseList"`
	}
	if err := json.Unmarshal(r.Body, &resp); err != nil {
		t.Fatalf("batch answer %.300s: %v", r.Body, err)
	}
	codes := make([]int, len(resp.ResponseList))
	for i, it := range resp.ResponseList {
		codes[i] = it.StatusCode
	}
	return codes
}

// peerInstance is a replicated instance (unwrapped); fields are JSON
// members as written, so one can be left out or blanked.
func peerInstance(app, id, host, ip string) string {
	s := fmt.Sprintf(`{"instanceId":%q,"hostName":%q,"app":%q,`, id, host, app)
	if ip != "" {
		s += fmt.Sprintf(`"ipAddr":%q,`, ip)
	}
	return s + `"status":"UP","port":{"$":8080,"@enabled":"true"},"vipAddress":"peer",` +
		`"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}`
}

// peerBatch is measurement 4: the peer path refuses what the client path
// refuses.
func (h *hostileRun) peerBatch(t *testing.T, phase string) {
	target := phase + "-peer-target"
	if r := h.post(t, "PEER", registration("PEER", target, target+".local", nil), "application/json"); r.Status != http.StatusNoContent {
		t.Fatalf("register PEER/%s = %d %s", target, r.Status, r.Body)
	}
	h.kept[target] = kept{app: "PEER"}
	status := func(st string) string {
		return fmt.Sprintf(`{"appName":"PEER","id":%q,"lastDirtyTimestamp":%d,"status":%q,"action":"StatusUpdate"}`, target, nowMillis(), st)
	}
	codes := h.peerResults(t, status("BOGUS"), status(""), status("UNKNOWN"))
	if !slices.Equal(codes, []int{400, 400, 400}) {
		t.Errorf("StatusUpdate BOGUS, \"\", UNKNOWN: item codes %v, want 400 each", codes)
	}
	if r := do(t, http.MethodGet, h.s.Base+"serverinfo/statusoverrides", nil, asOps...); r.Status != http.StatusOK || strings.Contains(string(r.Body), target) {
		t.Errorf("status overrides after refused StatusUpdates: %d %s", r.Status, r.Body)
	}
	if r := do(t, http.MethodPut, h.s.Base+"apps/PEER/"+target, nil, asOps...); r.Status != http.StatusOK {
		t.Errorf("renew of PEER/%s after refused StatusUpdates = %d, want 200", target, r.Status)
	}

	register := func(appName, in string) string {
		return fmt.Sprintf(`{"appName":%q,"id":"x","lastDirtyTimestamp":%d,"instanceInfo":%s,"action":"Register"}`, appName, nowMillis(), in)
	}
	ok := phase + "-peer-ok"
	codes = h.peerResults(t,
		register("", peerInstance("", phase+"-peer-noapp", "noapp.local", "10.7.0.2")),
		register("PEER", peerInstance("PEER", " ", "blankid.local", "10.7.0.2")),
		register("PEER", peerInstance("PEER", phase+"-peer-nohost", " ", "10.7.0.2")),
		register("PEER", peerInstance("PEER", phase+"-peer-noip", "noip.local", "")),
		register("PEER", peerInstance("PEER", ok, "ok.local", "10.7.0.2")),
	)
	if !slices.Equal(codes, []int{400, 400, 400, 400, 200}) {
		t.Errorf("Register with empty app, blank id, blank host, no ipAddr, and a valid one: item codes %v, want 400 400 400 400 200", codes)
	}
	h.kept[ok] = kept{app: "PEER"}
	h.gone = append(h.gone, phase+"-peer-noapp", "blankid.local", phase+"-peer-nohost", phase+"-peer-noip")
}

// auth is measurement 2: every route that shows registry data answers
// only the callers the authenticator allows.
func (h *hostileRun) auth(t *testing.T) {
	const app, id = "ORDERS-X", "orders-x-1"
	meta := map[string]string{"management.password": managementPassword, "owner": "orders"}
	if r := h.post(t, app, registration(app, id, "orders-x.local", meta), "application/json"); r.Status != http.StatusNoContent {
		t.Fatalf("register %s/%s = %d %s", app, id, r.Status, r.Body)
	}
	h.kept[id] = kept{app: app, meta: meta}
	root := "http://" + h.s.Addr
	one := root + "/admin/api/instances/" + app + "/" + id
	whole := []string{
		root + "/admin/api/instances",
		root + "/admin/api/summary",
		root + "/admin/api/events",
		root + "/admin/api/stream",
		root + "/admin/snapshot",
		root + "/metrics",
	}
	// The routes exist and serve ops (the stream never ends: not read).
	for _, u := range []string{one, whole[0], whole[1], whole[2], whole[4], whole[5]} {
		if r := do(t, http.MethodGet, u, nil, asOps...); r.Status != http.StatusOK {
			t.Errorf("GET %s as ops = %d, want 200", u, r.Status)
		}
	}
	for _, u := range append([]string{h.s.Base + "apps", one}, whole...) {
		r := do(t, http.MethodGet, u, nil)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials = %d, want 401", u, r.Status)
		}
		if strings.Contains(string(r.Body), managementPassword) {
			t.Errorf("GET %s without credentials returned the management password", u)
		}
	}
	for _, u := range whole {
		if r := do(t, http.MethodGet, u, nil, asOrders...); r.Status != http.StatusForbidden {
			t.Errorf("GET %s as a team restricted to ORDERS-* = %d, want 403", u, r.Status)
		}
	}
	if r := do(t, http.MethodGet, one, nil, asOrders...); r.Status != http.StatusOK || !strings.Contains(string(r.Body), id) {
		t.Errorf("GET %s as its team = %d %.300s, want 200 with the instance", one, r.Status, r.Body)
	}
}

// ordinaryWrites registers three instances, overrides one's status, edits
// another's metadata, and registers and cancels a fourth: all must be
// acknowledged.
func (h *hostileRun) ordinaryWrites(t *testing.T, phase string) {
	for i := 1; i <= 4; i++ {
		id := fmt.Sprintf("%s-%d", phase, i)
		meta := map[string]string{"owner": id}
		if r := h.post(t, "HOSTILE", registration("HOSTILE", id, id+".local", meta), "application/json"); r.Status != http.StatusNoContent {
			t.Fatalf("register HOSTILE/%s = %d %s", id, r.Status, r.Body)
		}
		h.kept[id] = kept{app: "HOSTILE", meta: meta}
	}
	base := h.s.Base + "apps/HOSTILE/" + phase
	if r := do(t, http.MethodPut, base+"-1/status?value=OUT_OF_SERVICE", nil, asOps...); r.Status != http.StatusOK {
		t.Fatalf("override %s-1 = %d %s", phase, r.Status, r.Body)
	}
	h.kept[phase+"-1"] = kept{app: "HOSTILE", override: "OUT_OF_SERVICE", meta: h.kept[phase+"-1"].meta}
	if r := do(t, http.MethodPut, base+"-2/metadata?tagged=yes", nil, asOps...); r.Status != http.StatusOK {
		t.Fatalf("metadata of %s-2 = %d %s", phase, r.Status, r.Body)
	}
	h.kept[phase+"-2"] = kept{app: "HOSTILE", meta: map[string]string{"owner": phase + "-2", "tagged": "yes"}}
	if r := do(t, http.MethodDelete, base+"-4", nil, asOps...); r.Status != http.StatusOK {
		t.Fatalf("cancel %s-4 = %d %s", phase, r.Status, r.Body)
	}
	delete(h.kept, phase+"-4")
	h.gone = append(h.gone, phase+"-4")
}

// checkHealthy checks readiness, the store's status, and that the registry
// holds exactly the kept instances.
func (h *hostileRun) checkHealthy(t *testing.T) {
	t.Helper()
	r := do(t, http.MethodGet, "http://"+h.s.Addr+"/readyz", nil)
	var ready struct {
		Status   string `json:"status"`
		Registry struct {
			Instances int `json:"instances"`
		} `json:"registry"`
	}
	if err := json.Unmarshal(r.Body, &ready); err != nil || r.Status != http.StatusOK || ready.Status != "ready" || echoes(string(r.Body)) {
		t.Errorf("readyz = %d %.500s (%v), want 200 ready", r.Status, r.Body, err)
	}
	if ready.Registry.Instances != len(h.kept) {
		t.Errorf("registry holds %d instances, want the %d acknowledged", ready.Registry.Instances, len(h.kept))
	}
	r = do(t, http.MethodGet, "http://"+h.s.Addr+"/admin/storage", nil, asOps...)
	var st struct {
		Status struct {
			Degraded  bool   `json:"degraded"`
			LastError string `json:"lastError"`
			Pending   int    `json:"pending"`
			Failures  int    `json:"failures"`
		} `json:"status"`
	}
	if err := json.Unmarshal(r.Body, &st); err != nil || r.Status != http.StatusOK {
		t.Fatalf("admin/storage = %d %.500s (%v)", r.Status, r.Body, err)
	}
	if st.Status.Degraded || st.Status.Failures != 0 || st.Status.Pending != 0 {
		t.Errorf("store not healthy: %.500s", r.Body)
	}
	if len(st.Status.LastError) > 1024 || echoes(st.Status.LastError) {
		t.Errorf("lastError of %d bytes echoes a hostile value: %.300q", len(st.Status.LastError), st.Status.LastError)
	}
}

// checkSurvivors reads the whole registry after a restart: every kept
// write is there, nothing cancelled or refused is.
func (h *hostileRun) checkSurvivors(t *testing.T) {
	t.Helper()
	got := fetchAll(t, h.s.Base, asOps...)
	for id, in := range got {
		if in.App == "" || echoes(in.App) {
			t.Errorf("%.40q was restored in an application named %.40q", id, in.App)
		}
	}
	for id, k := range h.kept {
		in, ok := got[id]
		switch {
		case !ok:
			t.Errorf("%s/%s: acknowledged registration lost", k.app, id)
			continue
		case in.App != k.app:
			t.Errorf("%s: restored under %q, want %q", id, in.App, k.app)
		case k.override != "" && (in.Status != k.override || in.OverriddenStatus != k.override):
			t.Errorf("%s: acknowledged override lost: status %s, override %s", id, in.Status, in.OverriddenStatus)
		case k.override == "" && (in.Status != "UP" || (in.OverriddenStatus != "" && in.OverriddenStatus != "UNKNOWN")):
			t.Errorf("%s: status %s, override %s; want UP without override", id, in.Status, in.OverriddenStatus)
		}
		for mk, mv := range k.meta {
			if in.Metadata[mk] != mv {
				t.Errorf("%s: acknowledged metadata %s=%s lost: %v", id, mk, mv, in.Metadata)
			}
		}
	}
	for _, id := range h.gone {
		if _, ok := got[id]; ok {
			t.Errorf("%.40q: cancelled or refused, yet restored", id)
		}
	}
	for id := range got {
		if _, ok := h.kept[id]; !ok && !slices.Contains(h.gone, id) {
			t.Errorf("%.40q: restored but never acknowledged", id)
		}
	}
}
