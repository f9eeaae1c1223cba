package httpd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/eurekad/eurekad/sdk/eureka"
)

// statusInfo is the body of GET status (§2.15): the general and application
// stats maps and this server's instance.
type statusInfo struct {
	General     map[string]string
	Application map[string]string
	Instance    *eureka.InstanceInfo
}

func (s *Server) statusInfo() statusInfo {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	total := m.Sys >> 20
	used := m.HeapAlloc >> 20
	pct := 0
	if m.Sys > 0 {
		pct = int(m.HeapAlloc * 100 / m.Sys)
	}
	return statusInfo{
		General: map[string]string{
			"server-uptime":        uptime(time.Since(s.started)),
			"environment":          s.opts.Environment,
			"num-of-cpus":          strconv.Itoa(runtime.NumCPU()),
			"total-avail-memory":   fmt.Sprintf("%dmb", total),
			"current-memory-usage": fmt.Sprintf("%dmb (%d%%)", used, pct),
		},
		Application: s.replicas(),
		Instance:    s.self,
	}
}

// replicas fills the applicationStats replica keys in Eureka's formats:
// registered peers joined by ", ", available and unavailable ones each
// followed by ",". A peer is available when its last exchange (a batch or
// the periodic probe) succeeded; Eureka instead looks for the peer's host
// among its own application's registered instances, which eurekad does
// not register.
func (s *Server) replicas() map[string]string {
	var reg, up, down []byte
	if s.opts.Ops.Peers != nil {
		for i, p := range s.opts.Ops.Peers() {
			// As in the admin API: GET status never shows credentials.
			u := withoutUserinfo(p.URL)
			if i > 0 {
				reg = append(reg, ", "...)
			}
			reg = append(reg, u...)
			if p.Up {
				up = append(append(up, u...), ',')
			} else {
				down = append(append(down, u...), ',')
			}
		}
	}
	return map[string]string{
		"registered-replicas":  string(reg),
		"available-replicas":   string(up),
		"unavailable-replicas": string(down),
	}
}

// uptime formats a duration as Eureka does: "HH:mm" or "N days HH:mm".
func uptime(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	h := int(d/time.Hour) % 24
	m := int(d/time.Minute) % 60
	if days > 0 {
		return fmt.Sprintf("%d days %02d:%02d", days, h, m)
	}
	return fmt.Sprintf("%02d:%02d", h, m)
}

// status is GET status.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	info := s.statusInfo()
	if wantsJSONEntity(r) {
		inst := json.RawMessage(eureka.AppendInstanceJSON(nil, info.Instance))
		b, _ := json.Marshal(map[string]any{
			"generalStats":     info.General,
			"applicationStats": info.Application,
			"instanceInfo":     inst,
		})
		w.Header().Set("Content-Type", contentJSON)
		w.Write(b)
		return
	}
	b := []byte("<status>\n")
	b = appendXMLMap(b, "generalStats", info.General)
	b = appendXMLMap(b, "applicationStats", info.Application)
	b = append(b, "  <instanceInfo>\n"...)
	b = eureka.AppendInstanceXML(b, info.Instance)
	b = append(b, "\n  </instanceInfo>\n</status>"...)
	w.Header().Set("Content-Type", contentXML)
	w.Write(b)
}

func appendXMLMap(b []byte, name string, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, "  <"+name+">\n"...)
	for _, k := range keys {
		b = append(b, "    <"+k+">"...)
		b = appendXMLText(b, m[k])
		b = append(b, "</"+k+">\n"...)
	}
	return append(b, "  </"+name+">\n"...)
}

// statusOverrides is GET serverinfo/statusoverrides (§2.16).
func (s *Server) statusOverrides(w http.ResponseWriter, _ *http.Request) {
	b, _ := json.Marshal(s.reg.Overrides())
	w.Header().Set("Content-Type", contentJSON)
	w.Write(b)
}
