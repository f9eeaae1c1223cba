package httpd

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/core/cache"
	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/internal/eurekadtest"
	"github.com/eurekad/eurekad/plugins/auth/guard"
	"github.com/eurekad/eurekad/plugins/auth/static"
)

// TestMutualTLSIdentity: a verified client certificate names the caller;
// one the server did not verify names nobody.
func TestMutualTLSIdentity(t *testing.T) {
	pki := eurekadtest.NewPKI(t)
	pki.Issue("client", "inventory.internal")
	client := pki.ClientTLS("client").Certificates[0]
	other := eurekadtest.NewPKI(t)
	other.Issue("rogue", "inventory.internal") // same name, not signed by the CA
	rogue := other.ClientTLS("rogue").Certificates[0]
	pool := pki.Pool

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
			ts := httptest.NewUnstartedServer(New(node.New(reg, node.Options{}), c, &o).Handler())
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
