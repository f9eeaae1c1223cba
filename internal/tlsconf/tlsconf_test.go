package tlsconf_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/internal/tlsconf"
)

func TestServerValidate(t *testing.T) {
	for _, c := range []struct {
		s    tlsconf.Server
		want string // "" for valid
	}{
		{tlsconf.Server{}, ""},
		{tlsconf.Server{CertFile: "c", KeyFile: "k"}, ""},
		{tlsconf.Server{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"}, ""},
		{tlsconf.Server{CertFile: "c", KeyFile: "k", ClientCAFile: "ca", ClientAuth: "require"}, ""},
		{tlsconf.Server{CertFile: "c"}, "go together"},
		{tlsconf.Server{KeyFile: "k"}, "go together"},
		{tlsconf.Server{CertFile: "c", KeyFile: "k", ClientAuth: "always"}, "not none, request or require"},
		{tlsconf.Server{ClientCAFile: "ca"}, "need cert_file"},
		{tlsconf.Server{ClientAuth: "require"}, "need cert_file"},
		{tlsconf.Server{CertFile: "c", KeyFile: "k", ClientAuth: "request"}, "needs client_ca_file"},
		{tlsconf.Server{CertFile: "c", KeyFile: "k", ClientCAFile: "ca", ClientAuth: "none"}, "client_auth is none"},
	} {
		err := c.s.Validate()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: Validate = %v, want %q", c.s, err, c.want)
		}
	}
	if err := (tlsconf.Client{CertFile: "c"}).Validate(); err == nil {
		t.Error("client cert without key is valid")
	}
}

func TestLoadErrors(t *testing.T) {
	pki := eurekadtest.NewPKI(t)
	cert, key := pki.Issue("server", "127.0.0.1")
	missing := filepath.Join(t.TempDir(), "missing.pem")
	notPEM := filepath.Join(t.TempDir(), "notpem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for _, s := range []tlsconf.Server{
		{CertFile: missing, KeyFile: key},
		{CertFile: cert, KeyFile: cert},
		{CertFile: cert, KeyFile: key, ClientCAFile: missing},
		{CertFile: cert, KeyFile: key, ClientCAFile: notPEM},
	} {
		if _, _, err := s.Load(); err == nil {
			t.Errorf("%+v: Load succeeded", s)
		}
	}
	if _, _, err := (tlsconf.Client{CAFile: notPEM}).Load(); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("client CA file without certificates: %v", err)
	}
	if c, cfg, err := (tlsconf.Server{}).Load(); c != nil || cfg != nil || err != nil {
		t.Errorf("TLS off: Load = %v, %v, %v; want nothing", c, cfg, err)
	}
}

// handshake serves one TLS connection with srv and dials it with cli; it
// returns the client's error, the server's view of the connection and the
// certificate the client was served.
func handshake(t *testing.T, srv, cli *tls.Config) (error, tls.ConnectionState, *x509.Certificate) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	state := make(chan tls.ConnectionState, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			state <- tls.ConnectionState{}
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			state <- tls.ConnectionState{}
			return
		}
		tc.Write([]byte("x"))
		state <- tc.ConnectionState()
	}()
	var served *x509.Certificate
	c, err := tls.Dial("tcp", ln.Addr().String(), cli)
	if err == nil {
		served = c.ConnectionState().PeerCertificates[0]
		// TLS 1.3 reports a refused client certificate on the first read.
		_, err = io.ReadFull(c, make([]byte, 1))
		c.Close()
	}
	return err, <-state, served
}

func TestClientCertificates(t *testing.T) {
	pki := eurekadtest.NewPKI(t)
	cert, key := pki.Issue("server", "127.0.0.1")
	pki.Issue("orders", "orders.internal")
	other := eurekadtest.NewPKI(t)
	other.Issue("stranger", "stranger")
	stranger := other.ClientTLS("stranger")
	stranger.RootCAs = pki.Pool

	for _, mode := range []string{"", tlsconf.ClientAuthRequest, tlsconf.ClientAuthRequire} {
		_, srv, err := tlsconf.Server{CertFile: cert, KeyFile: key, ClientCAFile: pki.CAFile, ClientAuth: mode}.Load()
		if err != nil {
			t.Fatal(err)
		}
		err, st, _ := handshake(t, srv, pki.ClientTLS("orders"))
		if err != nil || len(st.VerifiedChains) == 0 || st.PeerCertificates[0].Subject.CommonName != "orders.internal" {
			t.Errorf("mode %q, CA's client: %v, verified chains %d", mode, err, len(st.VerifiedChains))
		}
		err, st, _ = handshake(t, srv, pki.ClientTLS(""))
		if mode == tlsconf.ClientAuthRequire {
			if err == nil {
				t.Errorf("mode require: a client without a certificate got through")
			}
		} else if err != nil || len(st.PeerCertificates) != 0 {
			t.Errorf("mode %q, client without a certificate: %v", mode, err)
		}
		if err, _, _ := handshake(t, srv, stranger); err == nil {
			t.Errorf("mode %q: a certificate of another CA got through", mode)
		}
	}
}

// Reload swaps the served certificate for new connections; a failed
// reload keeps the old one.
func TestReload(t *testing.T) {
	pki := eurekadtest.NewPKI(t)
	cert, key := pki.Issue("server", "127.0.0.1")
	certs, srv, err := tlsconf.Server{CertFile: cert, KeyFile: key}.Load()
	if err != nil {
		t.Fatal(err)
	}
	first := certs.Leaf().SerialNumber
	pki.Issue("server", "127.0.0.1")
	if err := certs.Reload(); err != nil {
		t.Fatal(err)
	}
	if certs.Leaf().SerialNumber.Cmp(first) == 0 {
		t.Fatal("Reload kept the old certificate")
	}
	err, _, served := handshake(t, srv, pki.ClientTLS(""))
	if err != nil {
		t.Fatal(err)
	}
	got := served.SerialNumber
	if got.Cmp(certs.Leaf().SerialNumber) != 0 {
		t.Errorf("a new connection got serial %v, want the reloaded %v", got, certs.Leaf().SerialNumber)
	}
	os.WriteFile(key, []byte("garbage"), 0o600)
	if err := certs.Reload(); err == nil {
		t.Error("Reload of a broken key succeeded")
	}
	if certs.Leaf().SerialNumber.Cmp(got) != 0 {
		t.Error("a failed Reload changed the certificate")
	}
	var nilCerts *tlsconf.Certs
	if err := nilCerts.Reload(); err != nil {
		t.Errorf("nil Certs: Reload = %v", err)
	}
}

// Reload also reads the client CA file: a client of a new CA is accepted
// on new connections once the file names it.
func TestReloadClientCA(t *testing.T) {
	pki := eurekadtest.NewPKI(t)
	cert, key := pki.Issue("server", "127.0.0.1")
	next := eurekadtest.NewPKI(t)
	next.Issue("client", "moved.internal")
	client := next.ClientTLS("client")
	client.RootCAs = pki.Pool
	caFile := filepath.Join(t.TempDir(), "clients.pem")
	copyFile(t, pki.CAFile, caFile)
	certs, srv, err := tlsconf.Server{CertFile: cert, KeyFile: key, ClientCAFile: caFile, ClientAuth: "require"}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err, _, _ := handshake(t, srv, client); err == nil {
		t.Fatal("a client of another CA got through")
	}
	copyFile(t, next.CAFile, caFile)
	if err := certs.Reload(); err != nil {
		t.Fatal(err)
	}
	if err, st, _ := handshake(t, srv, client); err != nil || len(st.VerifiedChains) == 0 {
		t.Errorf("after the reload: %v, verified chains %d", err, len(st.VerifiedChains))
	}
	os.WriteFile(caFile, []byte("not PEM"), 0o600)
	if err := certs.Reload(); err == nil {
		t.Error("Reload of a broken CA file succeeded")
	}
	if err, _, _ := handshake(t, srv, client); err != nil {
		t.Errorf("a failed reload changed the client CA in use: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
