package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The raw client reads every framing net/http's server uses, keeps one
// connection across requests, and survives the server closing it.
func TestRawConn(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			w.Header().Set("Content-Encoding", "identity")
			w.Write(body)
		case "/chunked":
			w.Write([]byte(strings.Repeat("a", 5000)))
			w.(http.Flusher).Flush()
			w.Write([]byte(strings.Repeat("b", 5000)))
		case "/none":
			w.WriteHeader(http.StatusNoContent)
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tmpl := func(method, path string, body []byte) []byte {
		r, _ := http.NewRequest(method, srv.URL+path, nil)
		r.Header = jsonHeader
		return rawRequest(r, body)
	}
	rc := &rawConn{addr: strings.TrimPrefix(srv.URL, "http://"), timeout: 5 * time.Second}
	defer rc.close()
	var sink bytes.Buffer

	res, err := rc.do(tmpl("POST", "/echo", []byte(`{"x":1}`)), &sink)
	if err != nil || res.status != 200 || sink.String() != `{"x":1}` || res.contentEncoding != "identity" {
		t.Fatalf("echo: %+v %v %q", res, err, sink.String())
	}
	sink.Reset()
	if res, err = rc.do(tmpl("GET", "/chunked", nil), &sink); err != nil || res.n != 10000 || sink.Len() != 10000 {
		t.Fatalf("chunked: %+v %v", res, err)
	}
	if res, err = rc.do(tmpl("PUT", "/none", nil), nil); err != nil || res.status != 204 {
		t.Fatalf("204: %+v %v", res, err)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for three requests; want one kept alive", n)
	}
	if res, err = rc.do(tmpl("GET", "/close", nil), nil); err != nil || res.n != 3 || rc.c != nil {
		t.Fatalf("Connection: close: %+v %v (connection kept: %v)", res, err, rc.c != nil)
	}
	if res, err = rc.do(tmpl("PUT", "/none", nil), nil); err != nil || res.status != 204 || conns.Load() != 2 {
		t.Fatalf("after close: %+v %v, %d connections", res, err, conns.Load())
	}
	// The server drops the idle connection: the next request is retried
	// once on a new one.
	srv.CloseClientConnections()
	if res, err = rc.do(tmpl("PUT", "/none", nil), nil); err != nil || res.status != 204 {
		t.Fatalf("after the server closed the connection: %+v %v", res, err)
	}
}
