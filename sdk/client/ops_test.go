package client_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/eurekad/eurekad/sdk/client"
	"github.com/eurekad/eurekad/sdk/eureka"
)

// ApplicationsFunc hands fn the applications Applications returns, in
// order, from JSON (decoded in parallel) and XML answers, returns the
// header, stops at fn's error and reports a malformed answer.
func TestApplicationsFunc(t *testing.T) {
	want := &eureka.Applications{VersionsDelta: 7, AppsHashcode: "UP_300_"}
	for i := range 150 {
		app := &eureka.Application{Name: fmt.Sprintf("APP-%03d", i)}
		for j := range 2 {
			in := testInstance(fmt.Sprintf("i%d-%d", i, j))
			in.App = app.Name
			app.Instances = append(app.Instances, in)
		}
		want.Applications = append(want.Applications, app)
	}
	for _, tc := range []struct {
		ct  string
		doc []byte
	}{
		{"application/json", eureka.AppendApplicationsJSON(nil, want)},
		{"application/xml", eureka.AppendApplicationsXML(nil, want)},
	} {
		c := newClient(t, client.Options{ServiceURLs: []string{newFake(t, body(tc.ct, tc.doc)).URL + "/eureka/"}})
		whole, err := c.Applications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []*eureka.Application
		head, err := c.ApplicationsFunc(ctx, func(app *eureka.Application) error {
			got = append(got, app)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.ct, err)
		}
		if head.VersionsDelta != 7 || head.AppsHashcode != "UP_300_" || len(head.Applications) != 0 {
			t.Errorf("%s: header %+v", tc.ct, head)
		}
		if !reflect.DeepEqual(got, whole.Applications) {
			t.Errorf("%s: fn got other applications than Applications returns", tc.ct)
		}

		stop, calls := errors.New("stop"), 0
		_, err = c.ApplicationsFunc(ctx, func(*eureka.Application) error {
			if calls++; calls == 2 {
				return stop
			}
			return nil
		})
		if err != stop || calls != 2 {
			t.Errorf("%s: fn failing at the 2nd application: %d calls, %v", tc.ct, calls, err)
		}
	}
	bad := eureka.AppendApplicationsJSON(nil, want)
	bad = bad[:len(bad)-1]
	c := newClient(t, client.Options{ServiceURLs: []string{newFake(t, body("application/json", bad)).URL + "/eureka/"}})
	if _, err := c.ApplicationsFunc(ctx, func(*eureka.Application) error { return nil }); !errors.Is(err, eureka.ErrMalformed) {
		t.Errorf("a truncated answer: %v, want ErrMalformed", err)
	}
}
