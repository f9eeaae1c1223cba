package plugins

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/eurekad/eurekad/internal/eurekadtest"
)

// An auth plugin configured without a file: its config block comes from
// the environment (--auth-plugin-config on the command line).
func TestAuthPluginConfiguredWithoutAFile(t *testing.T) {
	bin := eurekadtest.BuildPackage(t, "./examples/auth-plugin")
	s := eurekadtest.Start(t, "EUREKAD_PLUGINS_AUTH_PLUGIN="+bin,
		fmt.Sprintf(`EUREKAD_PLUGINS_AUTH_CONFIG_JSON={"users_file": %q}`, teamsFile(t)))
	url := s.Base + "apps/ORDERS-API"
	for _, c := range []struct {
		user, pass string
		want       int
	}{
		{"", "", http.StatusUnauthorized},
		{"payments", "p-secret", http.StatusForbidden},
		{"orders", "o-secret", http.StatusNoContent},
	} {
		if code, body := call(t, c.user, c.pass, "POST", url, instanceJSON("ORDERS-API", "o-1")); code != c.want {
			t.Errorf("register as %q = %d %s, want %d", c.user, code, body, c.want)
		}
	}
}
