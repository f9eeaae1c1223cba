package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eurekad/eurekad/cmd/eurekad/internal/config"
	"github.com/eurekad/eurekad/core/health"
	"github.com/eurekad/eurekad/core/replication"
	"github.com/eurekad/eurekad/plugins/check"
	"github.com/eurekad/eurekad/sdk/hook"
	"github.com/eurekad/eurekad/sdk/plugin"
)

// builtinChecker is the catalog id of the built-in checker.
const builtinChecker = "checker.builtin"

// loadChecker returns the checker of the health checks: the built-in for
// http, tcp and grpc (isolated with the other built-ins when asked), and
// the checker plugin, when one is configured, for every other kind. A
// plugin that is down answers plugin.ErrPluginExited: undecided.
func loadChecker(ctx context.Context, cfg config.Config, ps *pluginSet) (hook.Checker, error) {
	var r routedChecker
	if cfg.Plugins.IsolateBuiltins {
		p, err := ps.load(ctx, plugin.KindChecker, builtinChecker, "", true, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("built-in checker: %w", err)
		}
		r.builtin = p.Checker()
	} else {
		r.builtin = check.New()
	}
	if c := cfg.Plugins.Checker; c.Plugin != "" {
		p, err := ps.load(ctx, plugin.KindChecker, c.Plugin, c.SHA256, false, c.Block(), nil)
		if err != nil {
			return nil, fmt.Errorf("checker plugin: %w", err)
		}
		r.plugin = p.Checker()
	}
	return r, nil
}

// routedChecker sends the built-in kinds to the built-in and the others to
// the plugin.
type routedChecker struct{ builtin, plugin hook.Checker }

func (r routedChecker) Check(ctx context.Context, req *hook.CheckRequest) (hook.CheckResult, error) {
	if r.plugin != nil && !slices.Contains(check.Kinds, req.Kind) {
		return r.plugin.Check(ctx, req)
	}
	return r.builtin.Check(ctx, req)
}

// healthMembers is the cluster as the health checks see it; nil for a
// standalone server.
func healthMembers(cl *replication.Cluster, log *slog.Logger) health.Membership {
	if cl == nil {
		return nil
	}
	if self, _ := cl.Members(); self == "" && len(cl.Peers()) > 0 {
		log.Warn("health checks: this node's URL is not in cluster.peers and cluster.self_url is empty, so it cannot share the probes with its peers and probes every checked instance; list every node (this one too) in cluster.peers or set cluster.self_url")
	}
	return cl
}

// healthCollector serves the health checks' figures at /metrics: of each
// namespace's checks, labelled with the namespace when there are
// namespaces (namespaced), and without that label otherwise.
type healthCollector struct {
	// checks returns the schedulers by namespace name.
	checks     func() map[string]*health.Scheduler
	namespaced bool
}

// healthDesc is a health metric without and with the namespace label.
type healthDesc struct{ plain, ns *prometheus.Desc }

func newHealthDesc(name, help string, labels ...string) healthDesc {
	return healthDesc{prometheus.NewDesc(name, help, labels, nil),
		prometheus.NewDesc(name, help, append(append([]string(nil), labels...), "namespace"), nil)}
}

var (
	healthChecksDesc = newHealthDesc("eurekad_health_checks_total",
		"Health check probes by result: passing, failing, undecided (the checker could not decide, hung or is down: nothing changes) and refused (the target is not the instance's own address: not probed).",
		"result")
	healthCheckedDesc = newHealthDesc("eurekad_health_checked_instances",
		"Instances with a health check (by a health.checks rule or their metadata).")
	healthOwnedDesc = newHealthDesc("eurekad_health_probed_instances",
		"Checked instances this node probes (its share of the cluster).")
	healthFailingDesc = newHealthDesc("eurekad_health_failing_instances",
		"Instances this node probes and holds failing their health check.")
	healthDeregDesc = newHealthDesc("eurekad_health_deregistered_total",
		"Instances cancelled for failing their health check longer than deregister_after.")
)

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []healthDesc{healthChecksDesc, healthCheckedDesc, healthOwnedDesc, healthFailingDesc, healthDeregDesc} {
		if c.namespaced {
			ch <- d.ns
		} else {
			ch <- d.plain
		}
	}
}

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.checks() {
		send := func(d healthDesc, t prometheus.ValueType, v float64, labels ...string) {
			desc := d.plain
			if c.namespaced {
				desc, labels = d.ns, append(labels, name)
			}
			ch <- prometheus.MustNewConstMetric(desc, t, v, labels...)
		}
		st := s.Stats()
		for _, r := range health.Results {
			send(healthChecksDesc, prometheus.CounterValue, float64(st.Checks[r]), string(r))
		}
		send(healthCheckedDesc, prometheus.GaugeValue, float64(st.Checked))
		send(healthOwnedDesc, prometheus.GaugeValue, float64(st.Owned))
		send(healthFailingDesc, prometheus.GaugeValue, float64(st.Failing))
		send(healthDeregDesc, prometheus.CounterValue, float64(st.Deregistered))
	}
}
