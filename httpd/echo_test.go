package httpd

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eurekad/eurekad/core/node"
	"github.com/eurekad/eurekad/sdk/hook"
)

// TestAnswersDoNotEchoHostileValuesWhole: a huge query value, and an
// admission hook's refusal quoting a huge field, are answered in a few
// hundred bytes, in Eureka's error shape where the write path answers.
func TestAnswersDoNotEchoHostileValuesWhole(t *testing.T) {
	huge := strings.Repeat("9", 64<<10)
	admit := func(_ context.Context, a *node.Admission) (map[string]string, error) {
		if a.Instance.Metadata["zone"] == "" {
			return nil, nil
		}
		return nil, &node.DeniedError{Message: "zone " + huge + " is not ours"}
	}
	s := newNodeServer(t, node.Options{Admit: admit}, nil)
	s.expect("POST", "/eureka/apps/ORDERS", strings.Replace(springBody, `"zone":"zone-a"`, `"zone":""`, 1), 204, "Content-Type", jsonCT)
	for _, c := range []struct {
		method, path, body string
		code               int
	}{
		{"PUT", "/eureka/apps/ORDERS/" + springID + "?lastDirtyTimestamp=" + huge, "", 400},
		{"PUT", "/eureka/apps/ORDERS/" + springID + "/status?value=DOWN&lastDirtyTimestamp=" + huge, "", 400},
		{"DELETE", "/eureka/apps/ORDERS/" + springID + "/status?lastDirtyTimestamp=" + huge, "", 400},
		{"POST", "/eureka/apps/ORDERS", springBody, 403},
	} {
		w := s.expect(c.method, c.path, c.body, c.code, "Content-Type", jsonCT)
		if n := w.Body.Len(); n > 2048 {
			t.Errorf("%s %.60s…: %d bytes answered", c.method, c.path, n)
		}
		if c.code == 403 && !strings.HasPrefix(w.Body.String(), `{"error":"zone 999`) {
			t.Errorf("refusal %.80q", w.Body.String())
		}
	}
}

// Without an authenticator, naming the caller of a write allocates
// nothing.
func TestCallerWithoutPrincipalAllocatesNothing(t *testing.T) {
	r := httptest.NewRequest("POST", "/eureka/apps/ORDERS", nil)
	if a := testing.AllocsPerRun(100, func() {
		if c := caller(r); c.Principal != nil {
			t.Fatal("a principal without an authenticator")
		}
	}); a != 0 {
		t.Fatalf("caller allocates %v times", a)
	}
	p := withPrincipal(r, hook.Principal{Name: "orders"})
	if c := caller(p); c.Principal == nil || c.Principal.Name != "orders" {
		t.Fatalf("principal %+v", c.Principal)
	}
}
