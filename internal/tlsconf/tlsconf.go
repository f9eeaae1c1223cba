// Package tlsconf builds eurekad's TLS configurations from PEM files: the
// listener's, which may ask clients for certificates and verify them (the
// auth hook then sees the client's identity), and the one eurekad uses as a
// client of its peers. SIGHUP re-reads the certificate and key files and
// the listener's client CA file (Reload), so certificates and the client CA
// rotate without a restart; the peers' CA file is read at start.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// Client authentication modes of Server.ClientAuth.
const (
	// ClientAuthNone asks clients for no certificate.
	ClientAuthNone = "none"
	// ClientAuthRequest asks for one and verifies it when sent: a client
	// without one is left to the other credentials.
	ClientAuthRequest = "request"
	// ClientAuthRequire refuses the handshake of a client without a
	// certificate the CA signed.
	ClientAuthRequire = "require"
)

// Server is the listener's TLS: HTTPS when CertFile is set.
type Server struct {
	CertFile     string `config:"cert_file" flag:"tls-cert" help:"PEM certificate (chain) to serve HTTPS with (empty: plain HTTP)"`
	KeyFile      string `config:"key_file" flag:"tls-key" help:"PEM private key of cert_file"`
	ClientCAFile string `config:"client_ca_file" help:"PEM CA certificates that sign the client certificates eurekad accepts"`
	// ClientAuth is none, request or require; empty means request when
	// ClientCAFile is set, none otherwise.
	ClientAuth string `config:"client_auth" help:"client certificates: none, request (verified when sent) or require (empty: request when client_ca_file is set)"`
}

// Enabled reports whether the listener serves HTTPS.
func (s Server) Enabled() bool { return s.CertFile != "" || s.KeyFile != "" }

// Validate reports settings that cannot work together; the files are read
// by Load.
func (s Server) Validate() error {
	switch {
	case (s.CertFile == "") != (s.KeyFile == ""):
		return errors.New("tls: cert_file and key_file go together")
	case s.ClientAuth != "" && s.ClientAuth != ClientAuthNone && s.ClientAuth != ClientAuthRequest && s.ClientAuth != ClientAuthRequire:
		return fmt.Errorf("tls: client_auth %q is not none, request or require", s.ClientAuth)
	case !s.Enabled() && (s.ClientCAFile != "" || (s.ClientAuth != "" && s.ClientAuth != ClientAuthNone)):
		return errors.New("tls: client certificates need cert_file and key_file (HTTPS)")
	case s.ClientCAFile != "" && s.ClientAuth == ClientAuthNone:
		return errors.New("tls: client_ca_file is set but client_auth is none")
	case s.ClientCAFile == "" && (s.ClientAuth == ClientAuthRequest || s.ClientAuth == ClientAuthRequire):
		return fmt.Errorf("tls: client_auth %s needs client_ca_file", s.ClientAuth)
	}
	return nil
}

// Load reads the files and returns the listener's configuration: nil when
// HTTPS is off.
func (s Server) Load() (*Certs, *tls.Config, error) {
	if err := s.Validate(); err != nil || !s.Enabled() {
		return nil, nil, err
	}
	c := &Certs{certFile: s.CertFile, keyFile: s.KeyFile, caFile: s.ClientCAFile, listener: true}
	if s.ClientCAFile != "" {
		c.clientAuth = tls.VerifyClientCertIfGiven
		if s.ClientAuth == ClientAuthRequire {
			c.clientAuth = tls.RequireAndVerifyClientCert
		}
	}
	if err := c.Reload(); err != nil {
		return nil, nil, err
	}
	cfg := serverBase()
	// Each handshake takes the configuration of the last Reload, so a new
	// certificate or client CA applies to new connections.
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return c.server.Load(), nil }
	return c, cfg, nil
}

func serverBase() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// HTTP/1.1 only: the listener is handed to http.Server.Serve, and
		// Eureka clients speak HTTP/1.1.
		NextProtos: []string{"http/1.1"},
	}
}

// Client is eurekad's TLS towards its peers (https:// peer URLs).
type Client struct {
	CAFile   string `config:"ca_file" help:"PEM CA certificates that sign the peers' certificates (empty: the system's)"`
	CertFile string `config:"cert_file" help:"PEM client certificate presented to peers that ask for one"`
	KeyFile  string `config:"key_file" help:"PEM private key of cert_file"`
}

// Validate reports settings that cannot work together.
func (c Client) Validate() error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("tls: cert_file and key_file go together")
	}
	return nil
}

// Load reads the files and returns the client configuration, nil when
// every setting is empty (Go's defaults then apply).
func (c Client) Load() (*Certs, *tls.Config, error) {
	if err := c.Validate(); err != nil || c == (Client{}) {
		return nil, nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	var err error
	if c.CAFile != "" {
		if cfg.RootCAs, err = loadPool(c.CAFile); err != nil {
			return nil, nil, err
		}
	}
	var certs *Certs
	if c.CertFile != "" {
		if certs, err = loadCerts(c.CertFile, c.KeyFile); err != nil {
			return nil, nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return certs.cur.Load(), nil
		}
	}
	return certs, cfg, nil
}

// Certs is a certificate and key (and, for the listener, the client CA)
// loaded from files, handed to each new connection; Reload reads the files
// again.
type Certs struct {
	certFile, keyFile, caFile string
	listener                  bool
	clientAuth                tls.ClientAuthType
	cur                       atomic.Pointer[tls.Certificate]
	// server is the listener's configuration as of the last Reload.
	server atomic.Pointer[tls.Config]
}

func loadCerts(certFile, keyFile string) (*Certs, error) {
	c := &Certs{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the certificate and key files, and the listener's client
// CA file, again; on an error everything in use stays. A nil Certs has
// nothing to reload.
func (c *Certs) Reload() error {
	if c == nil {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if c.listener {
		cfg := serverBase()
		cfg.Certificates = []tls.Certificate{cert}
		if c.caFile != "" {
			if cfg.ClientCAs, err = loadPool(c.caFile); err != nil {
				return err
			}
			cfg.ClientAuth = c.clientAuth
		}
		c.server.Store(cfg)
	}
	c.cur.Store(&cert)
	return nil
}

// Leaf returns the certificate in use (tls.LoadX509KeyPair parses it).
func (c *Certs) Leaf() *x509.Certificate { return c.cur.Load().Leaf }

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: %s holds no PEM certificate", file)
	}
	return pool, nil
}
