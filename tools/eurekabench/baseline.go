package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/mux"
)

// baselineInstance is the little a baseline register decodes: enough to make
// encoding/json walk the whole body, as a real server's decoder must.
type baselineInstance struct {
	Instance struct {
		InstanceID string `json:"instanceId"`
		HostName   string `json:"hostName"`
		App        string `json:"app"`
		IPAddr     string `json:"ipAddr"`
		Status     string `json:"status"`
		VIPAddress string `json:"vipAddress"`
	} `json:"instance"`
}

type baselineLease struct {
	info        baselineInstance
	lastRenewal int64
}

// baselineServer is the comparison point: the Eureka routes on gorilla/mux
// with the least work each can do (decode and store, a timestamp update,
// static bytes), so eurekad's overhead over it is what the benchmark shows.
type baselineServer struct {
	mu     sync.Mutex
	leases map[string]*baselineLease

	full, fullGz   []byte
	delta, deltaGz []byte
}

// newBaselineServer preloads the full registry of instances instances and a
// delta of deltaInstances: the delta scenario preregisters the same registry
// and adds a trickle, and everything registered within the last three minutes
// is in a Eureka delta, so the real server's delta is that big too.
func newBaselineServer(instances, deltaInstances int) *baselineServer {
	now := time.Now().UnixMilli()
	specs := registrySpecs(instances, len(serviceNames))
	dspecs := registrySpecs(deltaInstances, len(serviceNames))
	s := &baselineServer{leases: make(map[string]*baselineLease)}
	s.full = applicationsJSON(specs, specs, "1", now, "ADDED")
	s.fullGz = gzipBytes(s.full)
	s.delta = applicationsJSON(dspecs, dspecs, "2", now, "ADDED")
	s.deltaGz = gzipBytes(s.delta)
	return s
}

// handler returns the router, serving the API under /eureka like eurekad.
func (s *baselineServer) handler() http.Handler {
	r := mux.NewRouter()
	api := r.PathPrefix("/eureka").Subrouter()
	api.HandleFunc("/apps", s.serveFull).Methods(http.MethodGet)
	api.HandleFunc("/apps/", s.serveFull).Methods(http.MethodGet)
	api.HandleFunc("/apps/delta", s.serveDelta).Methods(http.MethodGet)
	api.HandleFunc("/apps/{app}", s.register).Methods(http.MethodPost)
	api.HandleFunc("/apps/{app}/{id}", s.renew).Methods(http.MethodPut)
	api.HandleFunc("/apps/{app}/{id}", s.cancel).Methods(http.MethodDelete)
	return r
}

func (s *baselineServer) register(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 2<<20))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	var in baselineInstance
	if err := json.Unmarshal(body, &in); err != nil || in.Instance.InstanceID == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error": "cannot parse request body"}`)
		return
	}
	key := strings.ToUpper(mux.Vars(r)["app"]) + "/" + in.Instance.InstanceID
	l := &baselineLease{info: in, lastRenewal: time.Now().UnixMilli()}
	s.mu.Lock()
	s.leases[key] = l
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *baselineServer) renew(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	key := strings.ToUpper(v["app"]) + "/" + v["id"]
	now := time.Now().UnixMilli()
	s.mu.Lock()
	l := s.leases[key]
	if l != nil {
		l.lastRenewal = now
	}
	s.mu.Unlock()
	if l == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *baselineServer) cancel(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	key := strings.ToUpper(v["app"]) + "/" + v["id"]
	s.mu.Lock()
	_, ok := s.leases[key]
	delete(s.leases, key)
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *baselineServer) serveFull(w http.ResponseWriter, r *http.Request) {
	serveCached(w, r, s.full, s.fullGz)
}

func (s *baselineServer) serveDelta(w http.ResponseWriter, r *http.Request) {
	serveCached(w, r, s.delta, s.deltaGz)
}

// serveCached picks plain or gzip bytes the way Eureka does (§1.5): gzip when
// Accept-Encoding contains "gzip". The baseline only holds JSON, so it
// answers JSON whatever the Accept header says.
func serveCached(w http.ResponseWriter, r *http.Request, plain, gz []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	body := plain
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// cmdBaseline runs the baseline server until SIGINT or SIGTERM.
func cmdBaseline(args []string) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8761", "listen address (loopback)")
	instances := fs.Int("instances", 1000, "instances in the preloaded /apps payload")
	deltaInstances := fs.Int("delta-instances", 1000+deltaTrickle, "instances in the preloaded /apps/delta payload")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server's whole life to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(*addr); err != nil {
		return err
	}
	s := newBaselineServer(*instances, *deltaInstances)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// The same server timeouts as eurekad's defaults, so neither side gets
	// connection handling the other lacks.
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// To set eurekad's profiles beside: where the baseline spends its time is
	// the floor for each route.
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Printf("baseline listening on %s (/apps %d bytes, gzip %d; /apps/delta %d bytes, gzip %d)",
		ln.Addr(), len(s.full), len(s.fullGz), len(s.delta), len(s.deltaGz))
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
