package httpd

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Content types written by the server.
const (
	contentJSON = "application/json"
	contentXML  = "application/xml"
)

// wantsJSONCached is Eureka's rule for cached endpoints: JSON when the raw
// Accept header contains "json", otherwise XML (§1.4).
func wantsJSONCached(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "json")
}

// wantsJSONEntity is JAX-RS negotiation over XML and JSON with XML
// preferred on ties, used for single instances and 409 bodies (§1.4).
func wantsJSONEntity(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return false
	}
	var qJSON, qXML float64 = -1, -1
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		switch {
		case mt == contentJSON || strings.HasSuffix(mt, "+json"):
			qJSON = max(qJSON, q)
		case mt == contentXML || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
			qXML = max(qXML, q)
		case mt == "*/*" || mt == "application/*":
			qXML = max(qXML, q)
		}
	}
	return qJSON > 0 && qJSON > qXML
}

// acceptsGzip follows Eureka: any Accept-Encoding containing "gzip".
func acceptsGzip(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")
}

// bodyFormat is the format of a request body.
type bodyFormat int

const (
	bodyJSON bodyFormat = iota
	bodyXML
	bodyUnsupported
)

// requestFormat picks the body codec from Content-Type. A missing type is
// sniffed from the first byte, for curl users.
func requestFormat(ct string, body []byte) bodyFormat {
	if ct == "" {
		for _, c := range body {
			switch c {
			case ' ', '\t', '\r', '\n':
				continue
			case '<':
				return bodyXML
			}
			return bodyJSON
		}
		return bodyJSON
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return bodyUnsupported
	}
	switch {
	case mt == contentJSON || strings.HasSuffix(mt, "+json"):
		return bodyJSON
	case mt == contentXML || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		return bodyXML
	}
	return bodyUnsupported
}

// errBodyTooLarge is returned by readBody for bodies over the limit.
var errBodyTooLarge = errors.New("request body too large")

// readBody reads the whole request body, inflating a gzip-encoded one (peers
// may compress replication bodies) within the same size limit.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	if err := readBodyInto(&buf, r, limit); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxPooledBody is the largest buffer bodyPool keeps: a registration is
// about 1 KB; an occasional huge body is left to the collector.
const maxPooledBody = 64 << 10

// bodyPool holds the buffers registrations are read into: the decoders copy
// what they keep, so the body can be reused once decoded, and a register
// storm does not allocate (and collect) a kilobyte per request.
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readPooledBody is readBody into a pooled buffer; call release once
// nothing refers to the body any more.
func readPooledBody(r *http.Request, limit int64) (body []byte, release func(), err error) {
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	release = func() {
		if buf.Cap() <= maxPooledBody {
			bodyPool.Put(buf)
		}
	}
	if err := readBodyInto(buf, r, limit); err != nil {
		return nil, release, err
	}
	return buf.Bytes(), release, nil
}

// readBodyInto appends the request body to buf, gunzipped when so encoded,
// and fails with errBodyTooLarge past limit bytes.
func readBodyInto(buf *bytes.Buffer, r *http.Request, limit int64) error {
	var src io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return err
		}
		defer zr.Close()
		src = io.LimitReader(zr, limit+1)
	} else if n := r.ContentLength; n > 0 && n <= limit {
		// One read of the announced length, and room to see the end.
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(src)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || int64(buf.Len()) > limit {
		return errBodyTooLarge
	}
	return err
}

// etagMatches implements If-None-Match with weak comparison (RFC 9110).
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
