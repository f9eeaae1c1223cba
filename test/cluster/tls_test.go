package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// Two nodes that serve HTTPS and require client certificates replicate to
// each other: each trusts the CA and presents its own certificate to its
// peer. A client without a certificate is refused by both.
func TestPeersOverMutualTLS(t *testing.T) {
	pki := eurekadtest.NewPKI(t)
	addrs := freeAddrs(t, 2)
	urls := peerURLs("https", addrs)
	var nodes []*node
	for i, a := range addrs {
		name := fmt.Sprintf("node%d", i)
		cert, key := pki.Issue(name, "127.0.0.1")
		s := eurekadtest.StartAt(t, a,
			"EUREKAD_CLUSTER_PEERS="+strings.Join(urls, ","),
			"EUREKAD_TLS_CERT_FILE="+cert, "EUREKAD_TLS_KEY_FILE="+key,
			"EUREKAD_TLS_CLIENT_CA_FILE="+pki.CAFile, "EUREKAD_TLS_CLIENT_AUTH=require",
			"EUREKAD_CLUSTER_TLS_CA_FILE="+pki.CAFile,
			"EUREKAD_CLUSTER_TLS_CERT_FILE="+cert, "EUREKAD_CLUSTER_TLS_KEY_FILE="+key)
		nodes = append(nodes, newNodeTLS(t, s, pki.ClientTLS(name)))
	}
	if err := nodes[0].c.Register(bg, instance("TLS-APP", "i-1")); err != nil {
		t.Fatal(err)
	}
	waitAll(t, nodes, 20*time.Second, "the registration on both nodes", func(n *node) error {
		_, err := n.fromApps("TLS-APP", "i-1")
		return err
	})
	if err := nodes[1].c.Cancel(bg, "TLS-APP", "i-1"); err != nil {
		t.Fatal(err)
	}
	waitAll(t, nodes, 20*time.Second, "the cancel on both nodes", func(n *node) error {
		if _, err := n.fromApps("TLS-APP", "i-1"); err == nil {
			return fmt.Errorf("i-1 still on %s", n.Addr)
		}
		return nil
	})
	anon := newNodeTLS(t, nodes[0].Server, pki.ClientTLS(""))
	if _, err := anon.c.Applications(bg); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Errorf("a client without a certificate: %v, want the handshake refused", err)
	}
}
