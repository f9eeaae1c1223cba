package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/eurekad/eurekad/plugins/auth/static"
	"github.com/eurekad/eurekad/sdk/hook"
)

// hashPassword runs "eurekad hash-password args..." in process with stdin.
func hashPassword(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(&app{serve: noServe(t)})
	root.SetArgs(append([]string{"hash-password"}, args...))
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err := root.ExecuteContext(t.Context()); err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return exitUsage, out.String(), err.Error()
		}
		return exitError, out.String(), err.Error()
	}
	return exitOK, out.String(), errOut.String()
}

// The printed hash is what the static authenticator's password_bcrypt
// wants: it loads, and the password it was made from logs in.
func TestHashPassword(t *testing.T) {
	code, out, errOut := hashPassword(t, "s3cret pass\n")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	h := strings.TrimSuffix(out, "\n")
	if strings.Contains(h, "\n") {
		t.Fatalf("more than the hash printed: %q", out)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("s3cret pass")); err != nil {
		t.Errorf("the hash does not verify the password: %v", err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("s3cret pass\n")); err == nil {
		t.Error("the final line break was hashed with the password")
	}
	if c, err := bcrypt.Cost([]byte(h)); err != nil || c != bcrypt.DefaultCost {
		t.Errorf("cost %d, %v; want the default %d", c, err, bcrypt.DefaultCost)
	}

	a := static.New()
	cfg := `{"users": [{"username": "orders", "password_bcrypt": "` + h + `", "rules": [{"operations": ["read"]}]}]}`
	if err := a.Configure(context.Background(), []byte(cfg)); err != nil {
		t.Fatalf("the static authenticator refuses the hash: %v", err)
	}
	req := &hook.AuthRequest{Operation: hook.OpRead, Username: "orders", Password: "s3cret pass"}
	if p, err := a.Authenticate(t.Context(), req); err != nil || p.Name != "orders" {
		t.Errorf("login with the hashed password: %+v, %v", p, err)
	}
	req.Password = "s3cret"
	if _, err := a.Authenticate(t.Context(), req); !errors.Is(err, hook.ErrUnauthenticated) {
		t.Errorf("login with another password: %v, want ErrUnauthenticated", err)
	}
}

func TestHashPasswordCost(t *testing.T) {
	code, out, errOut := hashPassword(t, "pw", "--cost", "4")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if c, err := bcrypt.Cost([]byte(strings.TrimSpace(out))); err != nil || c != 4 {
		t.Errorf("cost %d, %v; want 4", c, err)
	}
}

// --token prints the SHA-256 the authenticator's tokens[].sha256 wants.
func TestHashPasswordToken(t *testing.T) {
	const tok = "tok-0123456789abcdef"
	code, out, errOut := hashPassword(t, tok+"\r\n", "--token")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// printf %s tok-0123456789abcdef | sha256sum
	const want = "6db3068996ff396f601ae0dcf903f6a970c685767d75e325d0cd88103779f2f0"
	sum := strings.TrimSuffix(out, "\n")
	if sum != want {
		t.Fatalf("printed %q, want %q", sum, want)
	}

	a := static.New()
	cfg := `{"tokens": [{"name": "ops-bot", "sha256": "` + sum + `", "rules": [{"operations": ["read"]}]}]}`
	if err := a.Configure(context.Background(), []byte(cfg)); err != nil {
		t.Fatalf("the static authenticator refuses the sum: %v", err)
	}
	if p, err := a.Authenticate(t.Context(), &hook.AuthRequest{Operation: hook.OpRead, BearerToken: tok}); err != nil || p.Name != "ops-bot" {
		t.Errorf("token login: %+v, %v", p, err)
	}
}

func TestHashPasswordRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"empty stdin", "", nil, exitError, "no password on stdin"},
		{"a line break only", "\n", nil, exitError, "no password on stdin"},
		{"empty token", "", []string{"--token"}, exitError, "no token on stdin"},
		{"longer than bcrypt takes", strings.Repeat("x", 73), nil, exitError, "bcrypt takes at most 72"},
		{"not a secret", strings.Repeat("x", maxSecret+1), nil, exitError, "more than 4096 bytes"},
		{"cost too low", "pw", []string{"--cost", "3"}, exitUsage, "--cost must be between 4 and 31"},
		{"an argument", "pw", []string{"pw"}, exitUsage, `unexpected argument "pw"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := hashPassword(t, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("exit %d, stdout %q, error %q; want exit %d and %q", code, out, errOut, tc.code, tc.want)
			}
		})
	}
}
