package httpd

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// replicationHeader is x-netflix-discovery-replication in canonical form, so
// the lookup on every request needs no canonicalisation.
const replicationHeader = "X-Netflix-Discovery-Replication"

// isReplication is Eureka's exact, case-sensitive check of the header value.
func isReplication(r *http.Request) bool {
	v := r.Header[replicationHeader]
	return len(v) > 0 && v[0] == "true"
}

// appVar is the {app} path segment, upper-cased as Eureka does.
func appVar(r *http.Request) string {
	return strings.ToUpper(pathVar(r, "app"))
}

func notFound(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }

func methodNotAllowed(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusMethodNotAllowed)
}

func textError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(msg))
}

// register is POST apps/{app} (§2.1).
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	body, release, err := readPooledBody(r, s.opts.MaxBodyBytes)
	defer release()
	// Under way from here: a group commit need not wait for a client
	// still sending its body.
	ws := s.beginWrite()
	defer ws.end()
	if errors.Is(err, errBodyTooLarge) {
		textError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	format := requestFormat(r.Header.Get("Content-Type"), body)
	if format == bodyUnsupported {
		textError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json or application/xml")
		return
	}
	var in *eureka.InstanceInfo
	if err == nil {
		if format == bodyXML {
			in, err = eureka.DecodeInstanceXML(body)
		} else {
			in, err = eureka.DecodeInstanceJSON(body)
		}
	}
	if err != nil {
		s.log.Debug("unparseable registration", "path", r.URL.Path, "err", err, principalAttr(r))
		parseError(w, format, err)
		return
	}
	if d := in.DataCenterInfo; d != nil && !knownDataCenter(d.Name) {
		// Java's reader fails on any other name, so Eureka answers this
		// as an unparseable body; clients would fail on it too.
		parseError(w, format, fmt.Errorf("dataCenterInfo name %q is not MyOwn, Amazon or Netflix", d.Name))
		return
	}
	if msg := validate(in, appVar(r)); msg != "" {
		textError(w, http.StatusBadRequest, msg)
		return
	}
	if d := in.DataCenterInfo; d.Name == eureka.DataCenterAmazon && d.Metadata["instance-id"] == "" {
		// Eureka copies the instance id into the EC2 metadata (§2.1 step 8).
		if d.Metadata == nil {
			d.Metadata = map[string]string{}
		}
		d.Metadata["instance-id"] = in.ID()
	}
	if !s.admit(w) {
		return
	}
	repl := isReplication(r)
	s.reg.Register(in, repl)
	if !repl {
		s.replicate(eureka.ReplicateRegister, appVar(r), in.ID())
	}
	if s.commit(w, r, &ws) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// parseError writes Eureka's body for an unparseable registration, in the
// request's format, with what was wrong as an extra detail.
func parseError(w http.ResponseWriter, f bodyFormat, err error) {
	if f == bodyXML {
		w.Header().Set("Content-Type", contentXML)
		w.WriteHeader(http.StatusBadRequest)
		b := []byte("<error><message>cannot parse request body</message><detail>")
		b = appendXMLText(b, err.Error())
		w.Write(append(b, "</detail></error>"...))
		return
	}
	w.Header().Set("Content-Type", contentJSON)
	w.WriteHeader(http.StatusBadRequest)
	// json.Marshal, not strconv.Quote: the detail can echo any byte, and
	// Go's escapes are not all valid JSON.
	detail, _ := json.Marshal(err.Error())
	b := []byte(`{"error":"cannot parse request body","detail":`)
	w.Write(append(append(b, detail...), '}'))
}

// appendXMLText appends s escaped as XML character data.
func appendXMLText(b []byte, s string) []byte {
	var w bytes.Buffer
	xml.EscapeText(&w, []byte(s))
	return append(b, w.Bytes()...)
}

// validate runs Eureka's registration checks in Eureka's order and returns
// its 400 message, or "" (§2.1).
func validate(in *eureka.InstanceInfo, pathApp string) string {
	switch {
	case isBlank(in.ID()):
		return "Missing instanceId"
	case isBlank(in.HostName):
		return "Missing hostname"
	case isBlank(in.IPAddr):
		return "Missing ip address"
	case isBlank(in.App):
		return "Missing appName"
	case strings.ToUpper(in.App) != pathApp:
		return "Mismatched appName, expecting " + pathApp + " but was " + strings.ToUpper(in.App)
	case in.DataCenterInfo == nil:
		return "Missing dataCenterInfo"
	case in.DataCenterInfo.Name == "":
		return "Missing dataCenterInfo Name"
	}
	return ""
}

func knownDataCenter(name string) bool {
	switch name {
	case "", eureka.DataCenterMyOwn, eureka.DataCenterAmazon, eureka.DataCenterNetflix:
		return true
	}
	return false
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// cancel is DELETE apps/{app}/{id} (§2.2).
func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	ws := s.beginWrite()
	defer ws.end()
	if !s.admit(w) {
		return
	}
	app, id, repl := appVar(r), pathVar(r, "id"), isReplication(r)
	if !s.reg.Cancel(app, id, repl) {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if !repl {
		s.replicate(eureka.ReplicateCancel, app, id)
	}
	if s.commit(w, r, &ws) {
		w.WriteHeader(http.StatusOK)
	}
}

// admit refuses a write with 503 while the store fails and the failure
// policy is to reject; nothing is changed then.
func (s *Server) admit(w http.ResponseWriter) bool {
	if s.opts.Store == nil {
		return true
	}
	if err := s.opts.Store.Admit(); err != nil {
		textError(w, http.StatusServiceUnavailable, err.Error())
		return false
	}
	return true
}

// commit waits until the request's change is stored as the durability
// setting asks. A 503 means the change was not acknowledged: it is kept in
// memory and may still be stored later, like any unacknowledged write.
func (s *Server) commit(w http.ResponseWriter, r *http.Request, ws *writeScope) bool {
	if s.opts.Store == nil {
		return true
	}
	ws.end()
	if err := s.opts.Store.Commit(r.Context()); err != nil {
		s.log.Warn("write not acknowledged", "path", r.URL.Path, "err", err, principalAttr(r))
		textError(w, http.StatusServiceUnavailable, err.Error())
		return false
	}
	return true
}

// writeScope brackets a write request for the store's group commit: from
// its start to its commit or, for a request that ends without one (not
// found, bad input), its end. A group commit waits for the requests in
// their scope.
type writeScope struct {
	p    Persister
	open bool
}

// beginWrite opens a write request's scope; defer its end.
func (s *Server) beginWrite() writeScope {
	if s.opts.Store == nil {
		return writeScope{}
	}
	s.opts.Store.Begin()
	return writeScope{p: s.opts.Store, open: true}
}

// end closes the scope: the request has made its changes, or ends
// without any.
func (ws *writeScope) end() {
	if ws.open {
		ws.open = false
		ws.p.End()
	}
}

// queryInt64 parses an optional numeric query parameter (0 when absent).
func queryInt64(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	v := queryParam(r.URL.RawQuery, name)
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		textError(w, http.StatusBadRequest, "invalid "+name+": "+strconv.Quote(v))
		return 0, false
	}
	return n, true
}

// renew is PUT apps/{app}/{id} (§2.3). The status parameter is ignored, as in
// Eureka.
func (s *Server) renew(w http.ResponseWriter, r *http.Request) {
	s.renewInstance(w, r, appVar(r), pathVar(r, "id"))
}

func (s *Server) renewInstance(w http.ResponseWriter, r *http.Request, app, id string) {
	args := registry.RenewArgs{Replication: isReplication(r)}
	if r.URL.RawQuery != "" {
		var ok bool
		if args.LastDirtyTimestamp, ok = queryInt64(w, r, "lastDirtyTimestamp"); !ok {
			return
		}
		if v := queryParam(r.URL.RawQuery, "overriddenstatus"); v != "" {
			st, ok := eureka.ParseStatus(v)
			if !ok {
				textError(w, http.StatusBadRequest, "invalid overriddenstatus: "+strconv.Quote(v))
				return
			}
			args.OverriddenStatus = st
		}
	}
	res, in := s.reg.Renew(app, id, args)
	// A renewal answered 404 because the client's copy is newer is not
	// replicated (Eureka does): the client's re-registration that follows
	// is.
	if !args.Replication && res == registry.RenewOK {
		s.replicate(eureka.ReplicateHeartbeat, app, id)
	}
	switch res {
	case registry.RenewOK:
		w.WriteHeader(http.StatusOK)
	case registry.RenewNotFound:
		w.WriteHeader(http.StatusNotFound)
	case registry.RenewConflict:
		writeInstance(w, r, http.StatusConflict, in)
	}
}

// statusValue parses the value parameter; Eureka answers 500 to a bad one.
func statusValue(w http.ResponseWriter, r *http.Request, required bool) (eureka.Status, bool) {
	v := queryParam(r.URL.RawQuery, "value")
	if v == "" && !required {
		return eureka.StatusUnknown, true
	}
	st, ok := eureka.ParseStatus(v)
	if !ok {
		w.WriteHeader(http.StatusInternalServerError)
	}
	return st, ok
}

// statusChange is the registry call behind PUT and DELETE …/status.
type statusChange func(app, id string, st eureka.Status, lastDirty int64, replication bool) bool

// setStatus is PUT apps/{app}/{id}/status (§2.4).
func (s *Server) setStatus(w http.ResponseWriter, r *http.Request) {
	s.changeStatus(w, r, true, s.reg.SetStatus, eureka.ReplicateStatusUpdate)
}

// deleteStatus is DELETE apps/{app}/{id}/status (§2.5); without a value the
// instance becomes UNKNOWN.
func (s *Server) deleteStatus(w http.ResponseWriter, r *http.Request) {
	s.changeStatus(w, r, false, s.reg.DeleteStatusOverride, eureka.ReplicateDeleteStatusOverride)
}

// changeStatus checks in Eureka's order (instance, then value) and applies
// change.
func (s *Server) changeStatus(w http.ResponseWriter, r *http.Request, valueRequired bool, change statusChange, action eureka.ReplicationAction) {
	ws := s.beginWrite()
	defer ws.end()
	app, id := appVar(r), pathVar(r, "id")
	if s.reg.Instance(app, id) == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	st, ok := statusValue(w, r, valueRequired)
	if !ok {
		return
	}
	dirty, ok := queryInt64(w, r, "lastDirtyTimestamp")
	if !ok || !s.admit(w) {
		return
	}
	repl := isReplication(r)
	if !change(app, id, st, dirty, repl) {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if !repl {
		s.replicate(action, app, id)
	}
	if s.commit(w, r, &ws) {
		w.WriteHeader(http.StatusOK)
	}
}

// updateMetadata is PUT apps/{app}/{id}/metadata (§2.6): every query
// parameter (its first value) is merged into the metadata.
func (s *Server) updateMetadata(w http.ResponseWriter, r *http.Request) {
	ws := s.beginWrite()
	defer ws.end()
	q := r.URL.Query()
	kv := make(map[string]string, len(q))
	for k, v := range q {
		kv[k] = v[0]
	}
	if !s.admit(w) {
		return
	}
	app, id := appVar(r), pathVar(r, "id")
	if !s.reg.UpdateMetadata(app, id, kv) {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	// Eureka re-registers the updated instance and replicates that as a
	// Register, the full instance, so peers get the new metadata. A
	// metadata update from a peer arrives that way, never as itself.
	if !isReplication(r) {
		s.replicate(eureka.ReplicateRegister, app, id)
	}
	if s.commit(w, r, &ws) {
		w.WriteHeader(http.StatusOK)
	}
}

// asgStatus is PUT asg/{asg}/status: ASGs exist only on AWS registries, so
// eurekad answers 400 as a non-AWS Eureka does (§2.14).
func (s *Server) asgStatus(w http.ResponseWriter, _ *http.Request) {
	textError(w, http.StatusBadRequest, "ASG status is only supported on AWS registries")
}

// serveCached writes a cached payload with its ETag; gzip only where Eureka
// offers it (full and delta fetches).
func (s *Server) serveCached(w http.ResponseWriter, r *http.Request, k cache.Key, gzipOK bool) {
	if wantsJSONCached(r) {
		k.Format = cache.JSON
	} else {
		k.Format = cache.XML
	}
	p := s.cache.Get(k)
	if inm := r.Header.Get("If-None-Match"); inm != "" && s.opts.MaxLongPoll > 0 {
		if wait := longPollWait(r); wait > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), min(wait, s.opts.MaxLongPoll))
			p, _ = s.cache.Wait(ctx, k, inm)
			cancel()
		}
	}
	if !p.Found() {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	h := w.Header()
	if k.Format == cache.JSON {
		h["Content-Type"] = jsonHeader
	} else {
		h["Content-Type"] = xmlHeader
	}
	h["Vary"] = varyHeader
	var rep *cache.Representation
	if gzipOK && acceptsGzip(r) {
		rep = p.Gzip()
		h["Content-Encoding"] = gzipHeader
	} else {
		rep = p.Plain()
	}
	h["Etag"] = rep.ETag
	if etagMatches(r.Header.Get("If-None-Match"), rep.ETag[0]) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Length"] = rep.Length
	w.WriteHeader(http.StatusOK)
	w.Write(rep.Body)
}

// Header values shared by every cached response; net/http only reads them.
// waitHeader asks for a long-poll: hold the read until the payload's
// entity tag differs from If-None-Match, for at most this long. Stock Eureka
// clients never send it.
const waitHeader = "X-Eurekad-Wait"

// longPollWait parses X-Eurekad-Wait: a Go duration ("30s") or seconds.
func longPollWait(r *http.Request) time.Duration {
	v := r.Header.Get(waitHeader)
	if v == "" {
		return 0
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	return 0
}

var (
	jsonHeader = []string{contentJSON}
	xmlHeader  = []string{contentXML}
	varyHeader = []string{"Accept, Accept-Encoding"}
	gzipHeader = []string{"gzip"}
)

// gate answers 403 while Eureka's start-up read gate is closed (§6.7).
func (s *Server) gate(w http.ResponseWriter) bool {
	if s.reg.ShouldAllowAccess() {
		return true
	}
	w.WriteHeader(http.StatusForbidden)
	return false
}

// getApps is GET apps (§2.7). The regions parameter is accepted and
// ignored: eurekad has no remote regions.
func (s *Server) getApps(w http.ResponseWriter, r *http.Request) {
	if s.gate(w) {
		s.serveCached(w, r, cache.Key{Entity: cache.EntityApps}, true)
	}
}

// getDelta is GET apps/delta (§2.8).
func (s *Server) getDelta(w http.ResponseWriter, r *http.Request) {
	if s.opts.DisableDelta {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	if s.gate(w) {
		s.serveCached(w, r, cache.Key{Entity: cache.EntityDelta}, true)
	}
}

// getApp is GET apps/{app} (§2.9).
func (s *Server) getApp(w http.ResponseWriter, r *http.Request) {
	if s.gate(w) {
		s.serveCached(w, r, cache.Key{Entity: cache.EntityApp, Name: appVar(r)}, false)
	}
}

// getVIP is GET vips/{vip} (§2.12).
func (s *Server) getVIP(w http.ResponseWriter, r *http.Request) {
	if s.gate(w) {
		s.serveCached(w, r, cache.Key{Entity: cache.EntityVIP, Name: pathVar(r, "vip")}, false)
	}
}

// getSVIP is GET svips/{vip} (§2.12).
func (s *Server) getSVIP(w http.ResponseWriter, r *http.Request) {
	if s.gate(w) {
		s.serveCached(w, r, cache.Key{Entity: cache.EntitySVIP, Name: pathVar(r, "vip")}, false)
	}
}

// getAppInstance is GET apps/{app}/{id} (§2.10); not gated, not cached.
func (s *Server) getAppInstance(w http.ResponseWriter, r *http.Request) {
	in := s.reg.Instance(appVar(r), pathVar(r, "id"))
	if in == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	writeInstance(w, r, http.StatusOK, in)
}

// getInstance is GET instances/{id} (§2.11).
func (s *Server) getInstance(w http.ResponseWriter, r *http.Request) {
	in := s.reg.InstanceByID(pathVar(r, "id"))
	if in == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	writeInstance(w, r, http.StatusOK, in)
}

// writeInstance writes a root-wrapped instance in the negotiated format.
func writeInstance(w http.ResponseWriter, r *http.Request, code int, in *eureka.InstanceInfo) {
	var b []byte
	if wantsJSONEntity(r) {
		w.Header().Set("Content-Type", contentJSON)
		b = eureka.AppendInstanceJSONWrapped(nil, in)
	} else {
		w.Header().Set("Content-Type", contentXML)
		b = eureka.AppendInstanceXML(nil, in)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}
