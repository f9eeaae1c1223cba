package static

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/sdk/hook"
)

// Hashes at bcrypt's minimum cost keep the tests fast.
const (
	ordersHash = "$2a$04$qqDT1RFfdfLncEhQ14oVd.3lbq/VlYM4ua.USzrcCNZ0VbUNgQ99W" // orders-secret
	peerHash   = "$2a$04$LfmenJKv3/9nKLpMrQEnbuZwfzgD2SuDn/zGnQxX.X85R2cxbpkrW" // peer-secret
	readerHash = "$2a$04$WdRUNi2QwNRb2Bl7YSlesubvkrha8aiXWwGOq5gPL78PNwW3eQmjW" // reader-secret
)

func testConfig() string {
	return `{
  "users": [
    {"username": "orders", "password_bcrypt": "` + ordersHash + `",
     "rules": [{"operations": ["register", "renew", "cancel", "status", "metadata"], "apps": ["orders-*", "ORDERS"]},
               {"operations": ["read"]}]},
    {"username": "reader", "password_bcrypt": "` + readerHash + `", "rules": [{"operations": ["read"], "apps": ["*"]}]}
  ],
  "tokens": [{"name": "ops-bot", "sha256": "` + HashToken("ops-token") + `", "rules": [{"operations": ["*"]}]}],
  "certificates": [
    {"common_name": "inventory.internal", "rules": [{"operations": ["register", "renew"], "apps": ["INVENTORY"]}]},
    {"sha256": "` + strings.Repeat("AB", 32) + `", "rules": [{"operations": ["admin"]}]}
  ],
  "peers": [
    {"username": "peer", "password_bcrypt": "` + peerHash + `"},
    {"name": "eureka-c", "token_sha256": "` + HashToken("peer-token") + `"}
  ],
  "anonymous": ["read"]
}`
}

func configured(t *testing.T, cfg string) *Authenticator {
	t.Helper()
	a := New()
	if err := a.Configure(context.Background(), []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDecisions(t *testing.T) {
	a := configured(t, testConfig())
	type want int
	const (
		allow want = iota
		unauth
		forbid
	)
	cases := []struct {
		name      string
		req       hook.AuthRequest
		want      want
		principal string
	}{
		{"user renews own app", hook.AuthRequest{Operation: hook.OpRenew, App: "ORDERS-API", Username: "orders", Password: "orders-secret"}, allow, "orders"},
		{"user registers exact app", hook.AuthRequest{Operation: hook.OpRegister, App: "ORDERS", Username: "orders", Password: "orders-secret"}, allow, "orders"},
		{"user on other app", hook.AuthRequest{Operation: hook.OpRegister, App: "PAYMENTS", Username: "orders", Password: "orders-secret"}, forbid, ""},
		{"user replicates", hook.AuthRequest{Operation: hook.OpReplicate, App: "ORDERS", Username: "orders", Password: "orders-secret"}, forbid, ""},
		{"user admin", hook.AuthRequest{Operation: hook.OpAdmin, Username: "orders", Password: "orders-secret"}, forbid, ""},
		{"user reads all apps (rule without apps)", hook.AuthRequest{Operation: hook.OpRead, Username: "orders", Password: "orders-secret"}, allow, "orders"},
		{"wrong password", hook.AuthRequest{Operation: hook.OpRenew, App: "ORDERS", Username: "orders", Password: "nope"}, unauth, ""},
		{"unknown user", hook.AuthRequest{Operation: hook.OpRead, Username: "mallory", Password: "x"}, unauth, ""},
		{"password without user", hook.AuthRequest{Operation: hook.OpRead, Password: "orders-secret"}, unauth, ""},
		{"anonymous read", hook.AuthRequest{Operation: hook.OpRead, App: "ORDERS"}, allow, "anonymous"},
		{"anonymous write", hook.AuthRequest{Operation: hook.OpRegister, App: "ORDERS"}, unauth, ""},
		{"pattern * does not match no app", hook.AuthRequest{Operation: hook.OpRenew, App: "X", Username: "reader", Password: "reader-secret"}, forbid, ""},
		{"token admin", hook.AuthRequest{Operation: hook.OpAdmin, BearerToken: "ops-token"}, allow, "ops-bot"},
		{"unknown token", hook.AuthRequest{Operation: hook.OpRead, BearerToken: "guess"}, unauth, ""},
		{"peer replicates", hook.AuthRequest{Operation: hook.OpReplicate, Username: "peer", Password: "peer-secret"}, allow, "peer"},
		{"peer replicates an app", hook.AuthRequest{Operation: hook.OpReplicate, App: "ORDERS", Username: "peer", Password: "peer-secret"}, allow, "peer"},
		{"peer may not register directly", hook.AuthRequest{Operation: hook.OpRegister, App: "ORDERS", Username: "peer", Password: "peer-secret"}, forbid, ""},
		{"peer token", hook.AuthRequest{Operation: hook.OpReplicate, BearerToken: "peer-token"}, allow, "eureka-c"},
		{"certificate by common name", hook.AuthRequest{Operation: hook.OpRenew, App: "INVENTORY", TLS: &hook.TLSIdentity{CommonName: "inventory.internal", SHA256: "00"}}, allow, "cn=inventory.internal"},
		{"certificate on another app", hook.AuthRequest{Operation: hook.OpRenew, App: "ORDERS", TLS: &hook.TLSIdentity{CommonName: "inventory.internal"}}, forbid, ""},
		{"certificate by fingerprint", hook.AuthRequest{Operation: hook.OpAdmin, TLS: &hook.TLSIdentity{CommonName: "x", SHA256: strings.Repeat("ab", 32)}}, allow, "cert=abababababababab"},
		{"unknown certificate is no credential", hook.AuthRequest{Operation: hook.OpRead, TLS: &hook.TLSIdentity{CommonName: "stranger"}}, allow, "anonymous"},
		{"unknown certificate may not write", hook.AuthRequest{Operation: hook.OpRenew, App: "INVENTORY", TLS: &hook.TLSIdentity{CommonName: "stranger"}}, unauth, ""},
		{"basic credentials win over a certificate", hook.AuthRequest{Operation: hook.OpRenew, App: "INVENTORY", Username: "reader", Password: "reader-secret", TLS: &hook.TLSIdentity{CommonName: "inventory.internal"}}, forbid, ""},
		{"peer token admin", hook.AuthRequest{Operation: hook.OpAdmin, BearerToken: "peer-token"}, forbid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := a.Authenticate(context.Background(), &c.req)
			switch c.want {
			case allow:
				if err != nil || p.Name != c.principal {
					t.Fatalf("got %q, %v; want %q", p.Name, err, c.principal)
				}
			case unauth:
				if !errors.Is(err, hook.ErrUnauthenticated) {
					t.Fatalf("got %q, %v; want unauthenticated", p.Name, err)
				}
			case forbid:
				if !errors.Is(err, hook.ErrForbidden) {
					t.Fatalf("got %q, %v; want forbidden", p.Name, err)
				}
			}
		})
	}
}

func TestUnconfiguredDeniesEverything(t *testing.T) {
	a := New()
	for _, op := range hook.Operations {
		if _, err := a.Authenticate(context.Background(), &hook.AuthRequest{Operation: op}); !errors.Is(err, hook.ErrUnauthenticated) {
			t.Fatalf("%s: %v", op, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	user := func(extra string) string {
		return `{"users":[{"username":"u","password_bcrypt":"` + ordersHash + `","rules":[{"operations":["read"]}]` + extra + `}]}`
	}
	cases := map[string]string{
		`{"users":[{"username":"u","password":"x"}]}`:                                                                         `unknown field "password"`,
		`{"users":[{"username":"u","password_bcrypt":"plain","rules":[{"operations":["read"]}]}]}`:                            "users[0].password_bcrypt is not a bcrypt hash",
		`{"users":[{"username":"u","password_bcrypt":"` + ordersHash + `"}]}`:                                                 "users[0]: no rules",
		`{"users":[{"username":"u","password_bcrypt":"` + ordersHash + `","rules":[{"operations":["regster"]}]}]}`:            `users[0].rules[0].operations[0]: unknown operation "regster"`,
		`{"users":[{"username":"u","password_bcrypt":"` + ordersHash + `","rules":[{"operations":[]}]}]}`:                     "users[0].rules[0].operations is empty",
		`{"users":[{"username":"u","password_bcrypt":"` + ordersHash + `","rules":[{"operations":["read"],"apps":["[a"]}]}]}`: `users[0].rules[0].apps[0]: bad pattern "[a"`,
		`{"users":[{"username":"","password_bcrypt":"` + ordersHash + `","rules":[{"operations":["read"]}]}]}`:                "users[0].username: name is empty",
		user("") + `,"peers":[{"username":"u","password_bcrypt":"` + peerHash + `"}]}`:                                        "",
		`{"tokens":[{"name":"t","sha256":"abc","rules":[{"operations":["read"]}]}]}`:                                          "tokens[0].sha256 must be 64 hexadecimal digits",
		`{"certificates":[{"common_name":"a","sha256":"` + HashToken("x") + `","rules":[{"operations":["read"]}]}]}`:          "certificates[0]: give common_name or sha256, one of them",
		`{"certificates":[{"common_name":"a"}]}`:                                                                              "certificates[0]: no rules",
		`{"peers":[{"name":"p"}]}`:                                                                                            "peers[0]: needs username and password_bcrypt, or token_sha256",
		`{"anonymous":["everything"]}`:                                                                                        `anonymous[0]: unknown operation "everything"`,
		`{"users":[]} {}`:                                                                                                     "trailing data",
		`[]`:                                                                                                                  "cannot unmarshal array",
		`{"tokens":[{"name":"a","sha256":"` + HashToken("x") + `","rules":[{"operations":["read"]}]},{"name":"b","sha256":"` + HashToken("x") + `","rules":[{"operations":["read"]}]}]}`: "the same token is configured twice",
	}
	// A user and a peer with the same username clash.
	delete(cases, user("")+`,"peers":[{"username":"u","password_bcrypt":"`+peerHash+`"}]}`)
	cases[`{"users":[{"username":"u","password_bcrypt":"`+ordersHash+`","rules":[{"operations":["read"]}]}],"peers":[{"username":"u","password_bcrypt":"`+peerHash+`"}]}`] = `peers[0].name: name "u" is already used by users[0].username`
	for cfg, want := range cases {
		a := New()
		err := a.Configure(context.Background(), []byte(cfg))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %s:\n got %v\nwant an error containing %q", cfg, err, want)
		}
	}
}

func TestBadConfigKeepsTheOldOne(t *testing.T) {
	a := configured(t, testConfig())
	if err := a.Configure(context.Background(), []byte(`{"anonymous":["nope"]}`)); err == nil {
		t.Fatal("bad config accepted")
	}
	if _, err := a.Authenticate(context.Background(), &hook.AuthRequest{Operation: hook.OpAdmin, BearerToken: "ops-token"}); err != nil {
		t.Fatalf("old config lost: %v", err)
	}
}

func FuzzConfigure(f *testing.F) {
	f.Add([]byte(testConfig()))
	f.Add([]byte(`{"anonymous":["*"]}`))
	f.Add([]byte(`{"users":[{"username":"u","password_bcrypt":"$2a$04$x","rules":[{"operations":["read"],"apps":["\\"]}]}]}`))
	f.Fuzz(func(t *testing.T, cfg []byte) {
		a := New()
		if a.Configure(context.Background(), cfg) != nil {
			return
		}
		// Whatever was accepted must decide without panicking.
		for _, op := range hook.Operations {
			a.Authenticate(context.Background(), &hook.AuthRequest{Operation: op, App: "A", BearerToken: "t"})
		}
	})
}

// TestNamespaces confines entries to namespaces: a confined user is
// forbidden in every other namespace whatever its rules (even for the
// anonymous operations), an empty namespace is the default one, and
// entries without namespaces and peers cover all.
func TestNamespaces(t *testing.T) {
	a := configured(t, `{
  "users": [
    {"username": "orders", "password_bcrypt": "`+ordersHash+`", "namespaces": ["team-a"], "rules": [{"operations": ["*"]}]},
    {"username": "reader", "password_bcrypt": "`+readerHash+`", "rules": [{"operations": ["read"]}]}
  ],
  "tokens": [{"name": "bot", "sha256": "`+HashToken("bot-token")+`", "namespaces": ["default"], "rules": [{"operations": ["read"]}]}],
  "peers": [{"username": "peer", "password_bcrypt": "`+peerHash+`"}],
  "anonymous": ["read"]
}`)
	orders := func(op hook.Operation, ns string) hook.AuthRequest {
		return hook.AuthRequest{Operation: op, App: "ORDERS", Namespace: ns, Username: "orders", Password: "orders-secret"}
	}
	for _, c := range []struct {
		name  string
		req   hook.AuthRequest
		allow bool
	}{
		{"confined user in its namespace", orders(hook.OpRegister, "team-a"), true},
		{"confined user reads elsewhere", orders(hook.OpRead, "team-b"), false},
		{"confined user writes elsewhere", orders(hook.OpRegister, "default"), false},
		{"empty namespace is the default one", orders(hook.OpRead, ""), false},
		{"confined user's admin elsewhere", hook.AuthRequest{Operation: hook.OpAdmin, Namespace: "team-b", Username: "orders", Password: "orders-secret"}, false},
		{"unconfined user anywhere", hook.AuthRequest{Operation: hook.OpRead, Namespace: "team-b", Username: "reader", Password: "reader-secret"}, true},
		{"token in its namespace", hook.AuthRequest{Operation: hook.OpRead, BearerToken: "bot-token"}, true},
		{"token elsewhere", hook.AuthRequest{Operation: hook.OpRead, Namespace: "team-a", BearerToken: "bot-token"}, false},
		{"peer anywhere", hook.AuthRequest{Operation: hook.OpReplicate, Namespace: "team-b", Username: "peer", Password: "peer-secret"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Authenticate(context.Background(), &c.req)
			if c.allow && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.allow && !errors.Is(err, hook.ErrForbidden) {
				t.Fatalf("got %v, want forbidden", err)
			}
		})
	}
	// Names eurekad never serves would confine the user to nothing: the
	// server's own rule refuses them.
	for _, bad := range []string{"Team/A", "team_a", "team.a", "-team", ""} {
		if err := New().Configure(context.Background(), []byte(`{"users": [{"username": "x", "password_bcrypt": "`+ordersHash+`", "namespaces": [`+strconv.Quote(bad)+`], "rules": [{"operations": ["read"]}]}]}`)); err == nil || !strings.Contains(err.Error(), "namespaces[0]") {
			t.Errorf("namespace name %q accepted: %v", bad, err)
		}
	}
}
