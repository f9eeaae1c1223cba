// Command auth-plugin is an eurekad auth plugin for an organisation's rule:
// the basic-auth user is a team; a team may write only the apps named
// <TEAM>-…; any valid user may read. Users are "team:password" lines in the
// file its config names: {"users_file": "/etc/eurekad/teams"}.
package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"os"
	"strings"

	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
)

type teams struct{ passwords map[string]string }

func (t *teams) Configure(_ context.Context, config []byte) error {
	var c struct {
		UsersFile string `json:"users_file"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return err
	}
	b, err := os.ReadFile(c.UsersFile)
	t.passwords = map[string]string{}
	for _, line := range strings.Fields(string(b)) {
		team, password, _ := strings.Cut(line, ":")
		t.passwords[team] = password
	}
	return err
}

func (t *teams) Authenticate(_ context.Context, r *hook.AuthRequest) (hook.Principal, error) {
	want, ok := t.passwords[r.Username]
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(r.Password)) != 1 {
		return hook.Principal{}, hook.ErrUnauthenticated
	}
	if r.Operation != hook.OpRead && !strings.HasPrefix(r.App, strings.ToUpper(r.Username)+"-") {
		return hook.Principal{}, hook.ErrForbidden
	}
	return hook.Principal{Name: r.Username}, nil
}

func main() {
	plugin.Serve(plugin.ServeOptions{Name: "team-auth", Version: "1.0.0", Authenticator: &teams{}})
}
