package plugins

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
	sdkclient "github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// Over HTTPS with client certificates, the static authenticator decides by
// the certificate eurekad verified: its own client registers ORDERS apps,
// a client without a certificate is unauthenticated, and no rule lets it
// touch another app. SIGHUP puts a renewed server certificate in use.
func TestMutualTLSClientIdentity(t *testing.T) {
	pki := eurekadtest.NewPKI(t)
	cert, key := pki.Issue("server", "127.0.0.1")
	pki.Issue("orders", "orders.internal")
	s := eurekadtest.Start(t,
		"EUREKAD_TLS_CERT_FILE="+cert, "EUREKAD_TLS_KEY_FILE="+key, "EUREKAD_TLS_CLIENT_CA_FILE="+pki.CAFile,
		eurekadtest.WriteConfig(t, `plugins:
  auth:
    plugin: static
    config:
      certificates:
        - common_name: orders.internal
          rules:
            - {operations: [register, renew, cancel, status, metadata], apps: ["ORDERS-*"]}
            - {operations: [read]}
`))
	ctx := t.Context()
	as := func(name string) *sdkclient.Client {
		c, err := sdkclient.New(sdkclient.Options{ServiceURLs: []string{s.Base}, Timeout: 5 * time.Second, TLSConfig: pki.ClientTLS(name)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	in := func(app string) *eureka.InstanceInfo {
		return &eureka.InstanceInfo{
			InstanceID: "i-1", HostName: "10.0.0.1", App: app, IPAddr: "10.0.0.1", Status: eureka.StatusUp,
			VIPAddress: "orders", Port: eureka.Port{Number: 8080, Enabled: true},
			DataCenterInfo: &eureka.DataCenterInfo{Name: eureka.DataCenterMyOwn},
			LeaseInfo:      &eureka.LeaseInfo{RenewalIntervalInSecs: 30, DurationInSecs: 90},
		}
	}
	orders := as("orders")
	if err := orders.Register(ctx, in("ORDERS-API")); err != nil {
		t.Fatalf("register with the orders certificate: %v", err)
	}
	if err := orders.Renew(ctx, "ORDERS-API", "i-1", 0); err != nil {
		t.Errorf("renew with the orders certificate: %v", err)
	}
	if app, err := orders.Application(ctx, "ORDERS-API"); err != nil || len(app.Instances) != 1 {
		t.Errorf("read with the orders certificate: %+v, %v", app, err)
	}
	if err := orders.Register(ctx, in("BILLING")); !errors.Is(err, sdkclient.ErrForbidden) {
		t.Errorf("register of another app with the orders certificate = %v, want 403", err)
	}
	if err := as("").Register(ctx, in("ORDERS-API")); !errors.Is(err, sdkclient.ErrUnauthorized) {
		t.Errorf("register without a certificate = %v, want 401", err)
	}
	// Plain HTTP on the HTTPS port is refused.
	if resp, err := http.Get("http://" + s.Addr + "/eureka/apps"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the HTTPS port: %d", resp.StatusCode)
		}
	}

	served := func() string {
		c, err := tls.Dial("tcp", s.Addr, pki.ClientTLS(""))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := served()
	pki.Issue("server", "127.0.0.1")
	if err := syscall.Kill(s.PID(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eurekadtest.Eventually(t, 10*time.Second, "the renewed certificate served", func() error {
		if now := served(); now == before {
			return fmt.Errorf("still serial %s", now)
		}
		return nil
	})
	if err := orders.Renew(context.Background(), "ORDERS-API", "i-1", 0); err != nil {
		t.Errorf("renew after the reload: %v", err)
	}
}
