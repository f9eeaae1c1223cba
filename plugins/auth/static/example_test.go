package static_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/eurekad/eurekad/plugins/auth/static"
	"github.com/eurekad/eurekad/sdk/hook"
)

func Example() {
	a := static.New()
	cfg := `{
	  "tokens": [{"name": "deployer", "sha256": "` + static.HashToken("s3cret") + `",
	              "rules": [{"operations": ["register", "renew", "cancel"], "apps": ["ORDERS-*"]}]}],
	  "anonymous": ["read"]
	}`
	if err := a.Configure(context.Background(), []byte(cfg)); err != nil {
		panic(err)
	}
	p, err := a.Authenticate(context.Background(), &hook.AuthRequest{Operation: hook.OpRegister, App: "ORDERS-API", BearerToken: "s3cret"})
	fmt.Println(p.Name, err)
	_, err = a.Authenticate(context.Background(), &hook.AuthRequest{Operation: hook.OpRegister, App: "PAYMENTS", BearerToken: "s3cret"})
	fmt.Println(errors.Is(err, hook.ErrForbidden))
	p, _ = a.Authenticate(context.Background(), &hook.AuthRequest{Operation: hook.OpRead})
	fmt.Println(p.Name)
	// Output:
	// deployer <nil>
	// true
	// anonymous
}
