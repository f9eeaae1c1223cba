package httpd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/plugins/auth/guard"
	"github.com/eurekad/eurekad/plugins/auth/static"
)

// newCert makes a certificate for cn signed by parent (self-signed when
// parent is nil).
func newCert(t *testing.T, cn string, parent *tls.Certificate, isCA bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		IsCA:                  isCA,
		BasicConstraintsValid: true,
	}
	signer, signerKey := tmpl, any(key)
	if parent != nil {
		signer, signerKey = parent.Leaf, parent.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestMutualTLSIdentity: a verified client certificate names the caller;
// one the server did not verify names nobody.
func TestMutualTLSIdentity(t *testing.T) {
	ca := newCert(t, "test CA", nil, true)
	client := newCert(t, "inventory.internal", &ca, false)
	rogue := newCert(t, "inventory.internal", nil, false) // same name, not signed by the CA
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)

	a := static.New()
	cfg := `{"certificates":[{"common_name":"inventory.internal","rules":[{"operations":["register","renew","read"]}]}]}`
	if err := a.Configure(context.Background(), []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name   string
		auth   tls.ClientAuthType
		client tls.Certificate
		want   int
	}{
		{"verified", tls.VerifyClientCertIfGiven, client, 204},
		{"presented but not verified", tls.RequestClientCert, rogue, 401},
	} {
		t.Run(mode.name, func(t *testing.T) {
			reg := registry.New(nil)
			reg.OpenForTraffic(0)
			c, _ := cache.New(reg, nil)
			o := DefaultOptions()
			o.Auth = guard.New(a, nil)
			ts := httptest.NewUnstartedServer(New(reg, c, &o).Handler())
			ts.TLS = &tls.Config{ClientAuth: mode.auth, ClientCAs: pool}
			ts.StartTLS()
			defer ts.Close()
			hc := ts.Client()
			tr := hc.Transport.(*http.Transport)
			tr.TLSClientConfig.Certificates = []tls.Certificate{mode.client}
			req, _ := http.NewRequest("POST", ts.URL+"/eureka/apps/ORDERS", strings.NewReader(springBody))
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != mode.want {
				t.Fatalf("register = %d, want %d", resp.StatusCode, mode.want)
			}
		})
	}
}
