package httpd

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/regions"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/rules"
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
		s.log.Debug("unparseable registration", pathAttr(r), "err", err, principalAttr(r))
		parseError(w, format, err)
		return
	}
	if err := s.node.Register(r.Context(), caller(r), appVar(r), in); err != nil {
		var inv *node.InvalidError
		if errors.As(err, &inv) && inv.Unparseable {
			parseError(w, format, inv)
			return
		}
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeError is the one place that turns a refused write into its HTTP
// answer: 400 with the rule's message for invalid input, 403 with the
// admission hook's message, 404 for an unknown instance, 503 while the
// store or the admission hook cannot take the write.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var inv *node.InvalidError
	var denied *node.DeniedError
	var limit *node.LimitError
	switch {
	case errors.As(err, &inv) && inv.Field == "":
		// Eureka's own checks, answered as Eureka does: plain text.
		s.log.Debug("write refused", pathAttr(r), "err", err, principalAttr(r))
		textError(w, http.StatusBadRequest, inv.Message)
	case errors.As(err, &inv):
		s.log.Debug("write refused", pathAttr(r), "err", err, principalAttr(r))
		errorAnswer(w, r, http.StatusBadRequest, inv.Message, inv.Field)
	case errors.As(err, &denied):
		s.log.Debug("write denied by admission", pathAttr(r), "err", err, principalAttr(r))
		// The hook's message may quote what the client sent.
		errorAnswer(w, r, http.StatusForbidden, rules.Cut(denied.Message, maxMessageBytes), "")
	case errors.As(err, &limit):
		// 403 like an admission refusal: a quota is a policy, not a
		// passing overload (429 makes some HTTP clients retry at once);
		// Eureka clients register again on their own heartbeat cycle,
		// so a freed place is taken within a renewal interval.
		s.log.Debug("registration over the namespace's limit", pathAttr(r), "limit", limit.Limit)
		errorAnswer(w, r, http.StatusForbidden, limit.Error(), "")
	case errors.Is(err, node.ErrNotFound):
		w.WriteHeader(http.StatusNotFound)
	case errors.Is(err, node.ErrAdmissionUnavailable):
		textError(w, http.StatusServiceUnavailable, err.Error())
	default:
		// The store refused or failed the write: it was not acknowledged,
		// it is kept in memory and may still be stored later.
		s.log.Warn("write not acknowledged", pathAttr(r), "err", rules.Cut(err.Error(), maxMessageBytes), principalAttr(r))
		textError(w, http.StatusServiceUnavailable, rules.Cut(err.Error(), maxMessageBytes))
	}
}

// maxMessageBytes bounds an error message written from another
// component's text (the admission hook, the store).
const maxMessageBytes = 1024

// errorAnswer writes an error in the request's format, the shape of
// parseError: {"error": message, "field": field} in JSON,
// <error><message>…</message><field>…</field></error> in XML. XML when the
// request's body is XML or it accepts XML only, JSON otherwise.
func errorAnswer(w http.ResponseWriter, r *http.Request, code int, msg, field string) {
	ct, accept := r.Header.Get("Content-Type"), r.Header.Get("Accept")
	if strings.Contains(ct, "xml") || (!strings.Contains(ct, "json") && strings.Contains(accept, "xml") && !wantsJSONEntity(r)) {
		w.Header().Set("Content-Type", contentXML)
		w.WriteHeader(code)
		b := appendXMLText([]byte("<error><message>"), msg)
		b = append(b, "</message>"...)
		if field != "" {
			b = append(appendXMLText(append(b, "<field>"...), field), "</field>"...)
		}
		w.Write(append(b, "</error>"...))
		return
	}
	body := map[string]string{"error": msg}
	if field != "" {
		body["field"] = field
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", contentJSON)
	w.WriteHeader(code)
	w.Write(b)
}

// parseError writes Eureka's body for an unparseable registration, in the
// request's format, with what was wrong as an extra detail.
func parseError(w http.ResponseWriter, f bodyFormat, err error) {
	if f == bodyXML {
		w.Header().Set("Content-Type", contentXML)
		w.WriteHeader(http.StatusBadRequest)
		b := []byte("<error><message>cannot parse request body</message><detail>")
		b = appendXMLText(b, rules.Cut(err.Error(), 512))
		w.Write(append(b, "</detail></error>"...))
		return
	}
	w.Header().Set("Content-Type", contentJSON)
	w.WriteHeader(http.StatusBadRequest)
	// json.Marshal, not strconv.Quote: the detail can echo any byte, and
	// Go's escapes are not all valid JSON.
	detail, _ := json.Marshal(rules.Cut(err.Error(), 512))
	b := []byte(`{"error":"cannot parse request body","detail":`)
	w.Write(append(append(b, detail...), '}'))
}

// appendXMLText appends s escaped as XML character data.
func appendXMLText(b []byte, s string) []byte {
	var w bytes.Buffer
	xml.EscapeText(&w, []byte(s))
	return append(b, w.Bytes()...)
}

// cancel is DELETE apps/{app}/{id} (§2.2).
func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	if err := s.node.Cancel(r.Context(), caller(r), appVar(r), pathVar(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// queryInt64 parses an optional numeric query parameter (0 when absent).
func queryInt64(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	v := queryParam(r.URL.RawQuery, name)
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		// A hostile value can be as long as the request line allows.
		textError(w, http.StatusBadRequest, "invalid "+name+": "+rules.Excerpt(v))
		return 0, false
	}
	return n, true
}

// renew is PUT apps/{app}/{id} (§2.3) for paths with escapes; the others
// take the fast path (routes.go). The status parameter is ignored, as in
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
		args.OverriddenStatus = eureka.Status(queryParam(r.URL.RawQuery, "overriddenstatus"))
	}
	res, in, err := s.node.Renew(app, id, args)
	switch {
	case err != nil:
		s.writeError(w, r, err)
	case res == registry.RenewOK:
		w.WriteHeader(http.StatusOK)
	case res == registry.RenewNotFound:
		w.WriteHeader(http.StatusNotFound)
	case res == registry.RenewConflict:
		writeInstance(w, r, http.StatusConflict, in)
	}
}

// setStatus is PUT apps/{app}/{id}/status (§2.4).
func (s *Server) setStatus(w http.ResponseWriter, r *http.Request) {
	dirty, ok := queryInt64(w, r, "lastDirtyTimestamp")
	if !ok {
		return
	}
	err := s.node.SetStatus(r.Context(), caller(r), appVar(r), pathVar(r, "id"), queryParam(r.URL.RawQuery, "value"), dirty)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// deleteStatus is DELETE apps/{app}/{id}/status (§2.5); without a value the
// instance becomes UNKNOWN.
func (s *Server) deleteStatus(w http.ResponseWriter, r *http.Request) {
	dirty, ok := queryInt64(w, r, "lastDirtyTimestamp")
	if !ok {
		return
	}
	err := s.node.DeleteStatus(r.Context(), caller(r), appVar(r), pathVar(r, "id"), queryParam(r.URL.RawQuery, "value"), dirty)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// updateMetadata is PUT apps/{app}/{id}/metadata (§2.6): every query
// parameter (its first value) is merged into the metadata.
func (s *Server) updateMetadata(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kv := make(map[string]string, len(q))
	for k, v := range q {
		kv[k] = v[0]
	}
	if err := s.node.UpdateMetadata(r.Context(), caller(r), appVar(r), pathVar(r, "id"), kv); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
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
	if ctx, cancel := s.longPoll(r); ctx != nil {
		p, _ = s.cache.Wait(ctx, k, r.Header.Get("If-None-Match"))
		cancel()
	}
	s.seen(r, k, p)
	if !p.Found() {
		if k.Entity != cache.EntityApp || !s.remoteApp(w, k) {
			w.WriteHeader(http.StatusNotFound)
		}
		return
	}
	writePayload(w, r, k.Format, p, gzipOK)
}

// encodedPayload is a payload in both encodings: a *cache.Payload, or a
// *regions.Payload (the answers with remote regions).
type encodedPayload interface {
	Plain() *cache.Representation
	Gzip() *cache.Representation
}

// writePayload writes p in format f with its ETag, or 304 when
// If-None-Match holds it; gzip when accepted and gzipOK.
func writePayload(w http.ResponseWriter, r *http.Request, f cache.Format, p encodedPayload, gzipOK bool) {
	h := w.Header()
	if f == cache.JSON {
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
	rep.WriteTo(w)
}

// Header values shared by every cached response; net/http only reads them.
// waitHeader asks for a long-poll: hold the read until the payload's
// entity tag differs from If-None-Match, for at most this long. Stock Eureka
// clients never send it.
const waitHeader = "X-Eurekad-Wait"

// longPoll returns the context a long-poll of r waits in, nil when r
// asks for none (no If-None-Match or no X-Eurekad-Wait) or long-polls are
// off.
func (s *Server) longPoll(r *http.Request) (context.Context, context.CancelFunc) {
	if r.Header.Get("If-None-Match") == "" || s.opts.MaxLongPoll <= 0 {
		return nil, nil
	}
	wait := longPollWait(r)
	if wait <= 0 {
		return nil, nil
	}
	return context.WithTimeout(r.Context(), min(wait, s.opts.MaxLongPoll))
}

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

// getApps is GET apps (§2.7). With a regions parameter naming configured
// remote regions the local registry and those regions' copies are merged
// (regions.go); otherwise, and for unknown names, the parameter is ignored
// and the cached local payload served.
func (s *Server) getApps(w http.ResponseWriter, r *http.Request) {
	if names := s.regionsOf(r); names != nil {
		s.serveRegions(w, r, regions.Apps, names)
		return
	}
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
	if names := s.regionsOf(r); names != nil {
		s.serveRegions(w, r, regions.Delta, names)
		return
	}
	if s.gate(w) {
		s.serveCached(w, r, cache.Key{Entity: cache.EntityDelta}, true)
	}
}

// getApp is GET apps/{app} (§2.9); an application with no local instance
// falls back to the remote regions (serveCached, remoteApp).
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
	if in == nil && s.opts.Regions != nil {
		in = s.opts.Regions.Instance(appVar(r), pathVar(r, "id"))
	}
	if in == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	writeInstance(w, r, http.StatusOK, in)
}

// getInstance is GET instances/{id} (§2.11).
func (s *Server) getInstance(w http.ResponseWriter, r *http.Request) {
	in := s.reg.InstanceByID(pathVar(r, "id"))
	if in == nil && s.opts.Regions != nil {
		in = s.opts.Regions.InstanceByID(pathVar(r, "id"))
	}
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

// pathAttr is the request path as a log attribute, cut short: a path can
// carry a hostile 30 KB application name.
func pathAttr(r *http.Request) slog.Attr {
	return slog.String("path", rules.Cut(r.URL.Path, 200))
}
