// Package namespace holds what makes one eurekad serve several registries
// side by side: the rules of a namespace's name, its settings (which
// namespaces exist, whether unknown ones are created on first use, how many
// instances each may hold), the store wrapper that keeps each namespace's
// records apart in one store, the event sink that stamps events with their
// namespace, and the set of running namespaces.
//
// A namespace is a registry of its own (registry, response cache, write
// path, persister, self-preservation and eviction, replication) selected by
// the base path /ns/{namespace}/eureka/; the default namespace, "default",
// is the one served at /eureka/ and keeps the layout and behaviour of a
// server without namespaces. This package knows nothing of HTTP or of how a
// namespace's parts are wired (cmd/eurekad builds them).
package namespace

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/eurekad/eurekad/sdk/hook"
)

// Default is the namespace served at the plain base paths (/eureka/).
const Default = hook.DefaultNamespace

// MaxNameBytes bounds a namespace's name: a DNS label's length.
const MaxNameBytes = hook.MaxNamespaceBytes

// ValidName reports whether name may name a namespace (the hook
// contract's rule, hook.ValidNamespace, which hooks check their settings
// with).
func ValidName(name string) bool { return hook.ValidNamespace(name) }

// Options are the namespaces settings.
type Options struct {
	// Declared are the namespaces served besides the default one.
	Declared []string `config:"declared" help:"namespaces served at /ns/{name}/eureka/ besides the default one (lower-case DNS labels)"`
	// CreateOnFirstUse creates an undeclared namespace on its first
	// request instead of answering 404, up to Max namespaces.
	CreateOnFirstUse bool `config:"create_on_first_use" help:"create an undeclared namespace on its first request (otherwise 404), up to namespaces.max"`
	// Max bounds the number of namespaces, the default one included.
	Max int `config:"max" help:"most namespaces served, the default one included"`
	// MaxInstances limits the instances of namespaces: "name=N" entries
	// for one namespace, and a bare "N" (or "*=N") for all the others;
	// none or 0 means no limit.
	MaxInstances []string `config:"max_instances" help:"instance limit per namespace: name=N entries, and *=N for every other namespace (0: no limit)"`
}

// DefaultOptions returns the defaults: the default namespace only.
func DefaultOptions() Options {
	return Options{Max: 64, Declared: []string{}, MaxInstances: []string{}}
}

// Enabled reports whether any namespace besides the default one can exist.
func (o Options) Enabled() bool { return len(o.Declared) > 0 || o.CreateOnFirstUse }

// Validate checks the settings; errors name the setting below
// "namespaces.".
func (o Options) Validate() error {
	var errs []error
	if o.Max < 1 {
		errs = append(errs, fmt.Errorf("max: %d is below 1", o.Max))
	}
	seen := map[string]bool{}
	for _, n := range o.Declared {
		switch {
		case !ValidName(n):
			errs = append(errs, fmt.Errorf("declared: %q is not a namespace name (lower-case letters, digits and inner hyphens, at most %d bytes)", cut(n), MaxNameBytes))
		case seen[n]:
			errs = append(errs, fmt.Errorf("declared: %q is listed twice", n))
		}
		seen[n] = true
	}
	if !seen[Default] && len(seen)+1 > o.Max || seen[Default] && len(seen) > o.Max {
		errs = append(errs, fmt.Errorf("declared: %d namespaces and the default one are more than max (%d)", len(o.Declared), o.Max))
	}
	if _, _, err := o.limits(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// limits parses MaxInstances.
func (o Options) limits() (per map[string]int, all int, err error) {
	per = map[string]int{}
	for _, e := range o.MaxInstances {
		name, num, ok := strings.Cut(e, "=")
		if !ok {
			name, num = "*", e
		}
		name, num = strings.TrimSpace(name), strings.TrimSpace(num)
		n, perr := strconv.Atoi(num)
		if perr != nil || n < 0 {
			return nil, 0, fmt.Errorf("max_instances: %q: the limit is not a whole number of 0 or more", cut(e))
		}
		switch {
		case name == "*":
			all = n
		case ValidName(name):
			per[name] = n
		default:
			return nil, 0, fmt.Errorf("max_instances: %q: %q is not a namespace name", cut(e), cut(name))
		}
	}
	return per, all, nil
}

// MaxInstancesOf returns the instance limit of namespace name, 0 for none.
// The settings must have passed Validate.
func (o Options) MaxInstancesOf(name string) int {
	per, all, err := o.limits()
	if err != nil {
		return 0
	}
	if n, ok := per[name]; ok {
		return n
	}
	return all
}

// Known reports whether name is the default namespace or a declared one.
func (o Options) Known(name string) bool {
	return name == Default || slices.Contains(o.Declared, name)
}

// cut shortens hostile input quoted in an error.
func cut(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
