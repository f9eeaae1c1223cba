// Package static is eurekad's built-in authenticator: a fixed table of
// users with bcrypt password hashes, bearer tokens, rules of operation ×
// application pattern, operations open to anonymous callers, and separate
// peer credentials that grant replication.
//
// It serves in process and as an isolated plugin from the same zero-argument
// factory: New returns an authenticator that denies everything until
// Configure loads its JSON configuration.
//
// # Configuration
//
//	{
//	  "users": [
//	    {"username": "orders", "password_bcrypt": "$2y$10$…", "namespaces": ["prod"],
//	     "rules": [{"operations": ["register", "renew", "cancel", "status", "metadata"], "apps": ["ORDERS-*"]},
//	               {"operations": ["read"]}]}
//	  ],
//	  "tokens": [
//	    {"name": "ops-bot", "sha256": "<hex SHA-256 of the token>",
//	     "rules": [{"operations": ["admin", "read"]}]}
//	  ],
//	  "certificates": [
//	    {"common_name": "inventory.internal", "rules": [{"operations": ["*"], "apps": ["INVENTORY"]}]},
//	    {"sha256": "<hex SHA-256 of the DER certificate>", "rules": [{"operations": ["read"]}]}
//	  ],
//	  "peers": [
//	    {"username": "peer", "password_bcrypt": "$2y$10$…"},
//	    {"name": "eureka-c", "token_sha256": "<hex SHA-256 of the token>"}
//	  ],
//	  "anonymous": ["read"]
//	}
//
// users authenticate with HTTP basic auth, which is what Eureka clients send
// for a service URL such as http://orders:secret@eureka:8761/eureka/. A
// password hash comes from `htpasswd -nbB user pass` or any bcrypt tool.
//
// tokens authenticate with "Authorization: Bearer <token>". Only the token's
// SHA-256 is configured: tokens are long random strings, so an unsalted
// fast hash is enough to keep a leaked config file from granting access,
// while a lookup stays a map access (a bcrypt check per token would need
// the token's name as well). Make one with `printf %s "$TOKEN" | sha256sum`.
//
// certificates name mutual-TLS clients by the common name or the SHA-256
// fingerprint of the certificate eurekad verified (eurekad passes only
// verified client certificates on). They apply when the request carries
// neither basic credentials nor a token.
//
// A rule grants its operations (register, renew, cancel, status, metadata,
// read, replicate, admin, or "*" for all) on the applications whose
// upper-cased name matches one of its apps patterns (path.Match syntax:
// "ORDERS-*", "*"). A rule without apps covers every application and also
// requests about no application (GET apps, admin calls), which a pattern
// never matches.
//
// peers are the other eurekad or Eureka servers of a cluster. They log in
// with basic auth (the Java Eureka server sends the credentials of its peer
// service URLs) or a token, and may replicate and read, on every
// application. Users may be granted replicate too, but keeping peers apart
// makes the cluster's credentials easy to rotate and audit.
//
// anonymous lists operations anyone may do without credentials; they are
// granted to every authenticated caller as well, in every namespace.
//
// users, tokens and certificates may carry "namespaces": ["team-a"], the
// namespaces (docs/protocol.md, namespaces) they are confined to: a request
// about any other namespace gets hook.ErrForbidden (403) whatever the
// rules, and before the anonymous operations are considered. Without it an
// entry covers every namespace, as peers always do.
//
// Decisions: no or unknown credentials, or a wrong password, give
// hook.ErrUnauthenticated (401); known credentials without a matching rule
// give hook.ErrForbidden (403). A client certificate that matches no entry
// counts as no credentials.
//
// bcrypt is slow by design (tens of milliseconds per check): run this
// authenticator behind plugins/auth/guard, whose decision cache makes that
// cost once per credential every few seconds rather than once per request.
package static

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"

	"github.com/eurekad/eurekad/sdk/hook"
)

// Config is the JSON configuration; see the package documentation.
type Config struct {
	Users        []User           `json:"users"`
	Tokens       []Token          `json:"tokens"`
	Certificates []Certificate    `json:"certificates"`
	Peers        []Peer           `json:"peers"`
	Anonymous    []hook.Operation `json:"anonymous"`
}

// User is a basic-auth login.
type User struct {
	Username       string `json:"username"`
	PasswordBcrypt string `json:"password_bcrypt"`
	Rules          []Rule `json:"rules"`
	// Namespaces confines the user to these namespaces; empty: all.
	Namespaces []string `json:"namespaces"`
}

// Token is a bearer token, configured by its SHA-256.
type Token struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Rules  []Rule `json:"rules"`
	// Namespaces confines the token to these namespaces; empty: all.
	Namespaces []string `json:"namespaces"`
}

// Certificate is a mutual-TLS client, by common name or by fingerprint.
type Certificate struct {
	CommonName string `json:"common_name"`
	SHA256     string `json:"sha256"`
	Rules      []Rule `json:"rules"`
	// Namespaces confines the client to these namespaces; empty: all.
	Namespaces []string `json:"namespaces"`
}

// Peer is a cluster peer: basic auth (username and password_bcrypt) or a
// token (token_sha256). It may replicate and read.
type Peer struct {
	Name           string `json:"name"`
	Username       string `json:"username"`
	PasswordBcrypt string `json:"password_bcrypt"`
	TokenSHA256    string `json:"token_sha256"`
}

// Rule grants operations on applications.
type Rule struct {
	Operations []string `json:"operations"`
	Apps       []string `json:"apps"`
}

// HashToken returns the hex SHA-256 of a token, as Token.SHA256 and
// Peer.TokenSHA256 hold it.
func HashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// Authenticator is the static authenticator. It is safe for concurrent use.
type Authenticator struct {
	cfg atomic.Pointer[compiled]
}

// New returns an authenticator that denies every request until Configure.
func New() *Authenticator {
	a := &Authenticator{}
	a.cfg.Store(&compiled{logins: map[string]*login{}, tokens: map[[32]byte]*principal{}})
	return a
}

type compiled struct {
	logins map[string]*login
	// byCN and byCert hold the certificate entries.
	byCN   map[string]*principal
	byCert map[string]*principal
	// dummy is checked for unknown users, so the answer takes as long as
	// for a known user with a wrong password.
	dummy     []byte
	tokens    map[[32]byte]*principal
	anonymous opSet
}

type login struct {
	hash []byte
	p    *principal
}

type principal struct {
	hook.Principal
	rules []rule
	// namespaces are the namespaces the principal is confined to; nil:
	// every namespace.
	namespaces map[string]bool
}

type rule struct {
	ops  opSet
	apps []string // upper-case patterns; nil: every app and none
}

type opSet map[hook.Operation]bool

// Configure loads the JSON configuration, replacing any earlier one. An
// invalid configuration leaves the current one in place.
func (a *Authenticator) Configure(_ context.Context, raw []byte) error {
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return fmt.Errorf("static: %w", err)
	}
	if dec.More() {
		return errors.New("static: trailing data after the configuration object")
	}
	c, err := compile(&cfg)
	if err != nil {
		return fmt.Errorf("static: %w", err)
	}
	a.cfg.Store(c)
	return nil
}

func compile(cfg *Config) (*compiled, error) {
	c := &compiled{logins: map[string]*login{}, tokens: map[[32]byte]*principal{},
		byCN: map[string]*principal{}, byCert: map[string]*principal{}}
	var err error
	if c.anonymous, err = parseOps(cfg.Anonymous, "anonymous"); err != nil {
		return nil, err
	}
	names := map[string]string{}
	claim := func(name, where string) error {
		if name == "" {
			return fmt.Errorf("%s: name is empty", where)
		}
		if prev, ok := names[name]; ok {
			return fmt.Errorf("%s: name %q is already used by %s", where, name, prev)
		}
		names[name] = where
		return nil
	}
	for i, u := range cfg.Users {
		where := fmt.Sprintf("users[%d]", i)
		if err := claim(u.Username, where+".username"); err != nil {
			return nil, err
		}
		h, err := checkBcrypt(u.PasswordBcrypt, where+".password_bcrypt")
		if err != nil {
			return nil, err
		}
		rules, err := compileRules(u.Rules, where)
		if err != nil {
			return nil, err
		}
		nss, err := compileNamespaces(u.Namespaces, where)
		if err != nil {
			return nil, err
		}
		c.logins[u.Username] = &login{hash: h, p: &principal{
			Principal:  hook.Principal{Name: u.Username, Attributes: map[string]string{"kind": "user"}},
			rules:      rules,
			namespaces: nss,
		}}
	}
	for i, t := range cfg.Tokens {
		where := fmt.Sprintf("tokens[%d]", i)
		if err := claim(t.Name, where+".name"); err != nil {
			return nil, err
		}
		sum, err := checkSHA256(t.SHA256, where+".sha256")
		if err != nil {
			return nil, err
		}
		rules, err := compileRules(t.Rules, where)
		if err != nil {
			return nil, err
		}
		if _, dup := c.tokens[sum]; dup {
			return nil, fmt.Errorf("%s.sha256: the same token is configured twice", where)
		}
		nss, err := compileNamespaces(t.Namespaces, where)
		if err != nil {
			return nil, err
		}
		c.tokens[sum] = &principal{
			Principal:  hook.Principal{Name: t.Name, Attributes: map[string]string{"kind": "token"}},
			rules:      rules,
			namespaces: nss,
		}
	}
	for i, ce := range cfg.Certificates {
		where := fmt.Sprintf("certificates[%d]", i)
		rules, err := compileRules(ce.Rules, where)
		if err != nil {
			return nil, err
		}
		nss, err := compileNamespaces(ce.Namespaces, where)
		if err != nil {
			return nil, err
		}
		switch {
		case (ce.CommonName == "") == (ce.SHA256 == ""):
			return nil, fmt.Errorf("%s: give common_name or sha256, one of them", where)
		case ce.CommonName != "":
			if _, dup := c.byCN[ce.CommonName]; dup {
				return nil, fmt.Errorf("%s.common_name %q is configured twice", where, ce.CommonName)
			}
			c.byCN[ce.CommonName] = &principal{
				Principal:  hook.Principal{Name: "cn=" + ce.CommonName, Attributes: map[string]string{"kind": "certificate"}},
				rules:      rules,
				namespaces: nss,
			}
		default:
			sum, err := checkSHA256(ce.SHA256, where+".sha256")
			if err != nil {
				return nil, err
			}
			fp := hex.EncodeToString(sum[:])
			if _, dup := c.byCert[fp]; dup {
				return nil, fmt.Errorf("%s.sha256 is configured twice", where)
			}
			c.byCert[fp] = &principal{
				Principal:  hook.Principal{Name: "cert=" + fp[:16], Attributes: map[string]string{"kind": "certificate"}},
				rules:      rules,
				namespaces: nss,
			}
		}
	}
	peerRules := []rule{{ops: opSet{hook.OpReplicate: true, hook.OpRead: true}}}
	for i, p := range cfg.Peers {
		where := fmt.Sprintf("peers[%d]", i)
		name := p.Name
		if name == "" {
			name = p.Username
		}
		if err := claim(name, where+".name"); err != nil {
			return nil, err
		}
		pr := &principal{
			Principal: hook.Principal{Name: name, Attributes: map[string]string{"kind": "peer"}},
			rules:     peerRules,
		}
		switch {
		case p.Username != "" && p.TokenSHA256 != "":
			return nil, fmt.Errorf("%s: give username and password_bcrypt, or token_sha256, not both", where)
		case p.Username != "":
			if p.Name != "" && p.Name != p.Username {
				if err := claim(p.Username, where+".username"); err != nil {
					return nil, err
				}
			}
			h, err := checkBcrypt(p.PasswordBcrypt, where+".password_bcrypt")
			if err != nil {
				return nil, err
			}
			c.logins[p.Username] = &login{hash: h, p: pr}
		case p.TokenSHA256 != "":
			sum, err := checkSHA256(p.TokenSHA256, where+".token_sha256")
			if err != nil {
				return nil, err
			}
			if _, dup := c.tokens[sum]; dup {
				return nil, fmt.Errorf("%s.token_sha256: the same token is configured twice", where)
			}
			c.tokens[sum] = pr
		default:
			return nil, fmt.Errorf("%s: needs username and password_bcrypt, or token_sha256", where)
		}
	}
	if len(c.logins) > 0 {
		cost := bcrypt.MinCost
		for _, l := range c.logins {
			cost = max(cost, mustCost(l.hash))
		}
		if c.dummy, err = bcrypt.GenerateFromPassword([]byte("no user has this password"), cost); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func mustCost(h []byte) int {
	n, _ := bcrypt.Cost(h) // checked by checkBcrypt
	return n
}

func checkBcrypt(h, where string) ([]byte, error) {
	if h == "" {
		return nil, fmt.Errorf("%s is empty", where)
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return nil, fmt.Errorf("%s is not a bcrypt hash: %w", where, err)
	}
	return []byte(h), nil
}

func checkSHA256(h, where string) ([32]byte, error) {
	var sum [32]byte
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != len(sum) {
		return sum, fmt.Errorf("%s must be 64 hexadecimal digits (a SHA-256), got %d characters", where, len(h))
	}
	copy(sum[:], b)
	return sum, nil
}

func parseOps(ops []hook.Operation, where string) (opSet, error) {
	s := opSet{}
	for i, op := range ops {
		if op == "*" {
			for _, o := range hook.Operations {
				s[o] = true
			}
			continue
		}
		if !op.Valid() {
			return nil, fmt.Errorf("%s[%d]: unknown operation %q (want %s or *)", where, i, op, opNames())
		}
		s[op] = true
	}
	return s, nil
}

func opNames() string {
	var b strings.Builder
	for i, o := range hook.Operations {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(o))
	}
	return b.String()
}

// compileNamespaces turns a namespaces list into a set; nil for none
// (every namespace).
func compileNamespaces(names []string, where string) (map[string]bool, error) {
	if len(names) == 0 {
		return nil, nil
	}
	set := make(map[string]bool, len(names))
	for i, n := range names {
		if !hook.ValidNamespace(n) {
			return nil, fmt.Errorf("%s.namespaces[%d]: %q is not a namespace name", where, i, n)
		}
		set[n] = true
	}
	return set, nil
}

func compileRules(rs []Rule, where string) ([]rule, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("%s: no rules; give at least one", where)
	}
	out := make([]rule, 0, len(rs))
	for i, r := range rs {
		rw := fmt.Sprintf("%s.rules[%d]", where, i)
		if len(r.Operations) == 0 {
			return nil, fmt.Errorf("%s.operations is empty", rw)
		}
		ops := make([]hook.Operation, len(r.Operations))
		for j, o := range r.Operations {
			ops[j] = hook.Operation(o)
		}
		set, err := parseOps(ops, rw+".operations")
		if err != nil {
			return nil, err
		}
		var apps []string
		for j, p := range r.Apps {
			p = strings.ToUpper(p)
			if p == "" {
				return nil, fmt.Errorf("%s.apps[%d] is empty", rw, j)
			}
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("%s.apps[%d]: bad pattern %q: %w", rw, j, r.Apps[j], err)
			}
			apps = append(apps, p)
		}
		out = append(out, rule{ops: set, apps: apps})
	}
	return out, nil
}

// Authenticate decides req; see the package documentation.
func (a *Authenticator) Authenticate(_ context.Context, req *hook.AuthRequest) (hook.Principal, error) {
	c := a.cfg.Load()
	var p *principal
	switch {
	case req.Username != "" || req.Password != "":
		l := c.logins[req.Username]
		hash := c.dummy
		if l != nil {
			hash = l.hash
		}
		err := bcrypt.CompareHashAndPassword(hash, []byte(req.Password))
		if l == nil || err != nil {
			return hook.Principal{}, fmt.Errorf("%w: wrong username or password", hook.ErrUnauthenticated)
		}
		p = l.p
	case req.BearerToken != "":
		// The map is keyed by the token's hash, so lookup timing reveals
		// nothing about the token.
		sum := sha256.Sum256([]byte(req.BearerToken))
		if p = c.tokens[sum]; p == nil {
			return hook.Principal{}, fmt.Errorf("%w: unknown token", hook.ErrUnauthenticated)
		}
	case req.TLS != nil && c.certificate(req.TLS) != nil:
		p = c.certificate(req.TLS)
	default:
		if c.anonymous[req.Operation] {
			return hook.Principal{Name: "anonymous"}, nil
		}
		return hook.Principal{}, fmt.Errorf("%w: credentials required to %s", hook.ErrUnauthenticated, req.Operation)
	}
	if ns := namespaceOf(req); p.namespaces != nil && !p.namespaces[ns] {
		// Checked before the anonymous operations: a confined caller's
		// credentials do not reach other namespaces at all.
		return hook.Principal{}, fmt.Errorf("%w: %s may not use namespace %s", hook.ErrForbidden, p.Name, ns)
	}
	if c.anonymous[req.Operation] || p.allows(req.Operation, strings.ToUpper(req.App)) {
		return p.Principal, nil
	}
	if req.App == "" {
		return hook.Principal{}, fmt.Errorf("%w: %s may not %s", hook.ErrForbidden, p.Name, req.Operation)
	}
	return hook.Principal{}, fmt.Errorf("%w: %s may not %s %s", hook.ErrForbidden, p.Name, req.Operation, req.App)
}

// namespaceOf is the namespace a request is about; an empty one (a host
// that predates namespaces) is the default namespace.
func namespaceOf(req *hook.AuthRequest) string {
	if req.Namespace == "" {
		return hook.DefaultNamespace
	}
	return req.Namespace
}

// certificate finds the entry for a verified client certificate: by
// fingerprint first, then by common name.
func (c *compiled) certificate(id *hook.TLSIdentity) *principal {
	if p := c.byCert[strings.ToLower(id.SHA256)]; p != nil {
		return p
	}
	if id.CommonName != "" {
		return c.byCN[id.CommonName]
	}
	return nil
}

func (p *principal) allows(op hook.Operation, app string) bool {
	for _, r := range p.rules {
		if !r.ops[op] {
			continue
		}
		if r.apps == nil {
			return true
		}
		if app == "" {
			continue
		}
		for _, pat := range r.apps {
			if ok, _ := path.Match(pat, app); ok {
				return true
			}
		}
	}
	return false
}

// Interface guards.
var (
	_ hook.Authenticator = (*Authenticator)(nil)
	_ hook.Configurer    = (*Authenticator)(nil)
)
