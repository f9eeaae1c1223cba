package regions

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Options configure the remote regions. Start from DefaultOptions; the
// string lists keep Eureka's flat forms so that every setting has an
// environment variable and a flag.
type Options struct {
	// Local is this server's region (Eureka's eureka.region); no remote
	// region may have its name.
	Local string `config:"local" help:"this server's region name (Eureka's eureka.region)"`
	// Remote lists the remote regions as "name;url" entries, Eureka's
	// remoteRegionUrlsWithName; a name given more than once has several
	// servers, tried in order. Empty: no remote regions.
	Remote []string `config:"remote" help:"remote regions as name;url entries (Eureka's remoteRegionUrlsWithName); repeat a name for more servers"`
	// AppAllowList lists the applications served from remote regions as
	// "region;APP" entries (remoteRegion.<region>.appWhiteList); entries
	// of the region "global" apply to every region without entries of its
	// own (remoteRegion.global.appWhiteList). Empty: every application.
	AppAllowList []string `config:"app_allow_list" help:"applications served from remote regions, as region;APP entries (global;APP for regions without a list of their own); empty: all"`
	// FetchInterval is how often a remote region is fetched
	// (remoteRegion.registryFetchIntervalInSeconds); against eurekad the
	// fetch long-polls for that long, so changes arrive at once. A copy
	// older than three intervals is shown as stale.
	FetchInterval time.Duration `config:"fetch_interval" help:"how often a remote region's registry is fetched (a copy older than 3 intervals is stale)"`
	// ConnectTimeout and ReadTimeout bound one request to a remote
	// region's server.
	ConnectTimeout time.Duration `config:"connect_timeout" help:"time allowed to connect to a remote region's server"`
	ReadTimeout    time.Duration `config:"read_timeout" help:"time allowed for one request to a remote region's server"`
	// DisableTransparentFallback stops GET apps/{app} and the instance
	// lookups from answering with a remote region's instances when no
	// local instance has the application
	// (remoteRegion.disable.transparent.fallback).
	DisableTransparentFallback bool `config:"disable_transparent_fallback" help:"never answer apps/{app} and instance lookups from remote regions"`

	// DeltaRetention is how long a remote change stays in apps/delta
	// answers, the local delta's retention. Zero means 3 minutes.
	DeltaRetention time.Duration `config:"-"`
	// DeltaRefresh is how long a payload of apps/delta with regions is
	// reused when nothing changed, so that changes past their retention
	// leave it (the local delta's sweep interval). Zero means 30 s.
	DeltaRefresh time.Duration `config:"-"`
	// Logger receives fetch records; nil discards them.
	Logger *slog.Logger `config:"-"`
}

// DefaultOptions returns Eureka's defaults: region us-east-1, no remote
// regions, 30 s fetches.
func DefaultOptions() Options {
	return Options{
		Local:          "us-east-1",
		Remote:         []string{},
		AppAllowList:   []string{},
		FetchInterval:  30 * time.Second,
		ConnectTimeout: 5 * time.Second,
		ReadTimeout:    30 * time.Second,
		DeltaRetention: 3 * time.Minute,
		DeltaRefresh:   30 * time.Second,
	}
}

// Region is one remote region as configured.
type Region struct {
	// Name is lower case.
	Name string
	// URLs are the region's servers' Eureka base URLs, in order.
	URLs []string
	// Allow holds the upper-case names of the applications served from
	// the region; nil means all.
	Allow map[string]bool
}

// global is the allow-list entry prefix that applies to every region
// without entries of its own.
const global = "global"

// Regions parses Remote and AppAllowList and checks them: names are
// lower-cased and must be non-empty, every region needs a URL, none may be
// named like the local region (or "global"), and an allow-list entry must
// name a configured region or "global". Regions are in order of first
// appearance in Remote.
func (o Options) Regions() ([]Region, error) {
	local := strings.ToLower(strings.TrimSpace(o.Local))
	if local == "" {
		return nil, errors.New("local: the local region needs a name")
	}
	var out []Region
	index := map[string]int{}
	for _, e := range o.Remote {
		name, raw, ok := strings.Cut(e, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		raw = strings.TrimSpace(raw)
		switch {
		case !ok || name == "" || raw == "":
			return nil, fmt.Errorf("remote: %q is not name;url", e)
		case name == local:
			return nil, fmt.Errorf("remote: region %q is the local region's name", name)
		case name == global:
			return nil, fmt.Errorf("remote: %q is reserved for the global allow-list", name)
		case strings.ContainsAny(name, ", \t"):
			return nil, fmt.Errorf("remote: region name %q holds a comma or a space", name)
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("remote: region %s: %q is not an http(s) URL", name, raw)
		}
		i, seen := index[name]
		if !seen {
			i = len(out)
			index[name] = i
			out = append(out, Region{Name: name})
		}
		out[i].URLs = append(out[i].URLs, raw)
	}
	var globalAllow map[string]bool
	for _, e := range o.AppAllowList {
		name, app, ok := strings.Cut(e, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		app = strings.ToUpper(strings.TrimSpace(app))
		if !ok || name == "" || app == "" {
			return nil, fmt.Errorf("app_allow_list: %q is not region;APP", e)
		}
		if name == global {
			if globalAllow == nil {
				globalAllow = map[string]bool{}
			}
			globalAllow[app] = true
			continue
		}
		i, known := index[name]
		if !known {
			return nil, fmt.Errorf("app_allow_list: %q names no remote region", e)
		}
		if out[i].Allow == nil {
			out[i].Allow = map[string]bool{}
		}
		out[i].Allow[app] = true
	}
	for i := range out {
		if out[i].Allow == nil && globalAllow != nil {
			out[i].Allow = globalAllow
		}
	}
	return out, nil
}

// Validate checks the options as Regions does, and the durations.
func (o Options) Validate() error {
	if _, err := o.Regions(); err != nil {
		return err
	}
	if len(o.Remote) > 0 && (o.FetchInterval <= 0 || o.ConnectTimeout <= 0 || o.ReadTimeout <= 0) {
		return errors.New("fetch_interval, connect_timeout and read_timeout must be positive")
	}
	return nil
}
