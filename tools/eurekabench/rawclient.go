package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// rawConn is a measured worker's HTTP/1.1 client, as wrk has one: a single
// keep-alive connection on which it writes prepared request bytes and
// reads the answer with a minimal parser. net/http's Transport costs the
// generator 30-40 µs of CPU per small request, about as much as the server
// spends answering it; on two cores the generator then takes a third of
// the machine from the server it measures. This client costs a few µs.
type rawConn struct {
	addr    string
	timeout time.Duration
	c       net.Conn
	br      *bufio.Reader
}

// rawResponse is what a measured request needs of an answer.
type rawResponse struct {
	status          int
	n               int64
	contentEncoding string
}

// errRawProtocol is an answer the minimal parser does not accept.
var errRawProtocol = errors.New("malformed HTTP response")

// rawRequest serialises a template once: request line, Host, the template's
// headers in a fixed order, Content-Length, body.
func rawRequest(r *http.Request, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString(r.Method + " " + r.URL.RequestURI() + " HTTP/1.1\r\nHost: " + r.Host + "\r\n")
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range r.Header[k] {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	if body != nil || r.Method == http.MethodPost || r.Method == http.MethodPut {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// do sends req and reads the answer, into sink when not nil. After an
// error the connection is dropped and the next call dials again.
func (rc *rawConn) do(req []byte, sink *bytes.Buffer) (rawResponse, error) {
	res, err := rc.roundTrip(req, sink)
	if err != nil && rc.c != nil {
		rc.c.Close()
		rc.c = nil
	}
	return res, err
}

func (rc *rawConn) roundTrip(req []byte, sink *bytes.Buffer) (rawResponse, error) {
	fresh := false
	if rc.c == nil {
		c, err := net.DialTimeout("tcp", rc.addr, 5*time.Second)
		if err != nil {
			return rawResponse{}, err
		}
		rc.c, fresh = c, true
		if rc.br == nil {
			rc.br = bufio.NewReaderSize(c, 64<<10)
		} else {
			rc.br.Reset(c)
		}
	}
	rc.c.SetDeadline(time.Now().Add(rc.timeout))
	var res rawResponse
	var closeAfter bool
	_, err := rc.c.Write(req)
	if err == nil {
		res, closeAfter, err = rc.readResponse(sink)
	}
	if err != nil && !fresh && res.status == 0 && staleConn(err) {
		// The server closed an idle keep-alive connection as we wrote:
		// one retry on a new connection, as net/http does.
		rc.c.Close()
		rc.c = nil
		return rc.roundTrip(req, sink)
	}
	if err == nil && closeAfter {
		rc.c.Close()
		rc.c = nil
	}
	return res, err
}

// staleConn reports an error of a keep-alive connection the server had
// closed before the request reached it.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// readResponse parses a status line, headers and a body framed by
// Content-Length, chunked encoding or the end of the connection.
func (rc *rawConn) readResponse(sink *bytes.Buffer) (res rawResponse, closeAfter bool, err error) {
	line, err := rc.br.ReadSlice('\n')
	if err != nil {
		return res, false, err
	}
	// "HTTP/1.1 204 No Content"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return res, false, fmt.Errorf("%w: status line %q", errRawProtocol, line)
	}
	if res.status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return res, false, fmt.Errorf("%w: status line %q", errRawProtocol, line)
	}
	length, chunked := int64(-1), false
	for {
		h, err := rc.br.ReadSlice('\n')
		if err != nil {
			return res, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return res, false, fmt.Errorf("%w: header %q", errRawProtocol, h)
		}
		v = bytes.TrimSpace(v)
		switch strings.ToLower(string(k)) {
		case "content-length":
			if length, err = strconv.ParseInt(string(v), 10, 64); err != nil || length < 0 {
				return res, false, fmt.Errorf("%w: Content-Length %q", errRawProtocol, v)
			}
		case "transfer-encoding":
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case "connection":
			closeAfter = bytes.EqualFold(v, []byte("close"))
		case "content-encoding":
			res.contentEncoding = string(v)
		}
	}
	var body io.Reader
	switch {
	case res.status == http.StatusNoContent || res.status == http.StatusNotModified || res.status < 200:
		return res, closeAfter, nil
	case chunked:
		body = httputil.NewChunkedReader(rc.br)
	case length >= 0:
		body = io.LimitReader(rc.br, length)
	default:
		body, closeAfter = rc.br, true
	}
	if sink != nil {
		res.n, err = sink.ReadFrom(body)
	} else {
		res.n, err = io.Copy(io.Discard, body)
	}
	if err == nil && length >= 0 && res.n != length {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && chunked {
		// The trailer section ends with an empty line.
		for {
			t, terr := rc.br.ReadSlice('\n')
			if terr != nil {
				return res, closeAfter, terr
			}
			if len(bytes.TrimRight(t, "\r\n")) == 0 {
				break
			}
		}
	}
	return res, closeAfter, err
}

func (rc *rawConn) close() {
	if rc.c != nil {
		rc.c.Close()
		rc.c = nil
	}
}
