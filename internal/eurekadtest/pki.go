package eurekadtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a throw-away certificate authority in a test's directory: a CA
// file, and certificates it signs for 127.0.0.1 servers and named clients.
type PKI struct {
	// Dir holds the PEM files.
	Dir string
	// CAFile is the CA certificate.
	CAFile string
	// Pool holds the CA, for Go clients.
	Pool *x509.CertPool

	t      testing.TB
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	serial int64
}

// NewPKI creates a CA under t.TempDir().
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	p := &PKI{Dir: t.TempDir(), t: t, serial: 1}
	p.caKey = newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "eurekadtest CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.CAFile = filepath.Join(p.Dir, "ca.pem")
	writePEM(t, p.CAFile, "CERTIFICATE", der)
	p.Pool = x509.NewCertPool()
	p.Pool.AddCert(p.ca)
	return p
}

// Issue writes a certificate for cn, valid for servers on 127.0.0.1 and
// localhost and for clients, as name.pem and name-key.pem, and returns
// their paths. Issuing the same name again replaces the files.
func (p *PKI) Issue(name, cn string) (certFile, keyFile string) {
	p.t.Helper()
	p.serial++
	key := newKey(p.t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	certFile = filepath.Join(p.Dir, name+".pem")
	keyFile = filepath.Join(p.Dir, name+"-key.pem")
	writePEM(p.t, certFile, "CERTIFICATE", der)
	writePEM(p.t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile
}

// ClientTLS returns a client configuration trusting the CA and, when
// name is not empty, presenting the certificate Issue wrote under name.
func (p *PKI) ClientTLS(name string) *tls.Config {
	p.t.Helper()
	cfg := &tls.Config{RootCAs: p.Pool}
	if name != "" {
		cert, err := tls.LoadX509KeyPair(filepath.Join(p.Dir, name+".pem"), filepath.Join(p.Dir, name+"-key.pem"))
		if err != nil {
			p.t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, file, typ string, der []byte) {
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
