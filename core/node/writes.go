package node

import (
	"context"
	"fmt"
	"strings"

	"github.com/eurekad/eurekad/core/registry"
	"github.com/eurekad/eurekad/core/rules"
	"github.com/eurekad/eurekad/sdk/eureka"
	"github.com/eurekad/eurekad/sdk/hook"
)

// Register stores a registration (POST apps/{app}, docs/protocol.md
// §2.1). pathApp is the application the request addresses, upper-cased;
// the node takes ownership of in.
func (n *Node) Register(ctx context.Context, c Caller, pathApp string, in *eureka.InstanceInfo) error {
	s := n.begin()
	defer s.end()
	if err := n.checkRegistration(in, pathApp); err != nil {
		return err
	}
	var add map[string]string
	if n.opts.Admit != nil && !c.Replication {
		// Only built for a hook: the Admission escapes, and the
		// registration path is kept lean without one.
		var err error
		if add, err = n.admit(ctx, &Admission{Operation: hook.OpRegister, App: pathApp, ID: in.ID(), Instance: in, Caller: c}); err != nil {
			return err
		}
	}
	if len(add) > 0 {
		if in.Metadata == nil {
			in.Metadata = make(map[string]string, len(add))
		}
		for k, v := range add {
			in.Metadata[k] = v
		}
		if err := n.opts.Limits.Metadata(in.Metadata); err != nil {
			return invalid(err)
		}
	}
	if err := n.admitStore(); err != nil {
		return err
	}
	if err := n.register(in, pathApp, c.Replication); err != nil {
		return err
	}
	n.replicate(c, eureka.ReplicateRegister, pathApp, in.ID())
	if n.opts.Store == nil {
		return nil
	}
	s.end()
	return n.opts.Store.CommitHealing(ctx, pathApp, in.ID())
}

// register stores the registration in the registry, unless it is a new
// instance beyond the limit. The limit holds for peers' registrations too
// (a single one, a batch's, a merge's), so every node of a cluster keeps a
// namespace to the same size.
func (n *Node) register(in *eureka.InstanceInfo, pathApp string, replicated bool) error {
	return n.limited(pathApp, in.ID(), func() { n.reg.Register(in, replicated) })
}

// limited makes write, the registration of instance (app, id), unless it
// is a new instance beyond the limit; checked and written in one step, so
// concurrent registrations cannot overshoot it.
func (n *Node) limited(app, id string, write func()) error {
	max := n.opts.MaxInstances
	if max <= 0 {
		write()
		return nil
	}
	n.limitMu.Lock()
	defer n.limitMu.Unlock()
	free := max - n.reg.Size()
	if !n.fits(app, id, &free) {
		return &LimitError{Limit: max}
	}
	write()
	return nil
}

// fits is the instance limit's one rule, under limitMu: instance (app, id)
// may be written when it is registered already (a re-registration, a
// newer copy) or while a place is free, which it then takes.
func (n *Node) fits(app, id string, free *int) bool {
	if n.reg.Instance(app, id) != nil {
		return true
	}
	if *free <= 0 {
		return false
	}
	*free--
	return true
}

// checkRegistration runs Eureka's checks in Eureka's order, with its
// messages (§2.1), then the input rules; it completes what Eureka
// completes (the EC2 instance-id).
func (n *Node) checkRegistration(in *eureka.InstanceInfo, pathApp string) error {
	if d := in.DataCenterInfo; d != nil && !knownDataCenter(d.Name) {
		// Java's reader fails on any other name, so Eureka answers this
		// as an unparseable body; clients would fail on it too.
		return &InvalidError{Field: "dataCenterInfo", Unparseable: true,
			Message: fmt.Sprintf("dataCenterInfo name %q is not MyOwn, Amazon or Netflix", rules.Cut(d.Name, 64))}
	}
	msg := ""
	switch {
	case isBlank(in.ID()):
		msg = "Missing instanceId"
	case isBlank(in.HostName):
		msg = "Missing hostname"
	case isBlank(in.IPAddr):
		msg = "Missing ip address"
	case isBlank(in.App):
		msg = "Missing appName"
	case strings.ToUpper(in.App) != pathApp:
		if err := n.opts.Limits.App(pathApp); err != nil {
			return invalid(err)
		}
		msg = "Mismatched appName, expecting " + pathApp + " but was " + rules.Cut(strings.ToUpper(in.App), 128)
	case in.DataCenterInfo == nil:
		msg = "Missing dataCenterInfo"
	case in.DataCenterInfo.Name == "":
		msg = "Missing dataCenterInfo Name"
	}
	if msg != "" {
		return &InvalidError{Message: msg}
	}
	if err := n.opts.Limits.Instance(in); err != nil {
		return invalid(err)
	}
	if d := in.DataCenterInfo; d.Name == eureka.DataCenterAmazon && d.Metadata["instance-id"] == "" {
		// Eureka copies the instance id into the EC2 metadata (§2.1 step 8).
		if d.Metadata == nil {
			d.Metadata = map[string]string{}
		}
		d.Metadata["instance-id"] = in.ID()
	}
	return nil
}

func knownDataCenter(name string) bool {
	switch name {
	case "", eureka.DataCenterMyOwn, eureka.DataCenterAmazon, eureka.DataCenterNetflix:
		return true
	}
	return false
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// Cancel removes an instance (DELETE apps/{app}/{id}, §2.2).
func (n *Node) Cancel(ctx context.Context, c Caller, app, id string) error {
	s := n.begin()
	defer s.end()
	if err := n.admitStore(); err != nil {
		return err
	}
	if !n.reg.Cancel(app, id, c.Replication) {
		return ErrNotFound
	}
	n.replicate(c, eureka.ReplicateCancel, app, id)
	return n.commit(ctx, &s)
}

// errBadOverride answers a renewal whose overriddenstatus is not a status;
// one value, so the renewal path allocates nothing.
var errBadOverride error = &InvalidError{Field: "overriddenstatus", Message: "overriddenstatus: not one of UP, DOWN, STARTING, OUT_OF_SERVICE, UNKNOWN"}

// Renew renews a lease (PUT apps/{app}/{id}, §2.3): the hottest write,
// which touches neither the store nor a hook, and allocates nothing. For
// registry.RenewConflict it also returns this node's newer copy.
func (n *Node) Renew(app, id string, args registry.RenewArgs) (registry.RenewResult, *eureka.InstanceInfo, error) {
	if args.OverriddenStatus != "" {
		if _, ok := eureka.ParseStatus(string(args.OverriddenStatus)); !ok {
			return 0, nil, errBadOverride
		}
	}
	res, in := n.reg.Renew(app, id, args)
	// A renewal answered 404 because the client's copy is newer is not
	// replicated (Eureka does): the client's re-registration that follows
	// is.
	if res == registry.RenewOK && !args.Replication && n.opts.Replicator != nil {
		n.opts.Replicator.Replicate(eureka.ReplicateHeartbeat, app, id)
	}
	return res, in, nil
}

// SetStatus sets an operator's status override (PUT …/status, §2.4):
// value is the status asked for, checked after the instance as Eureka
// does. lastDirty is the request's lastDirtyTimestamp, 0 if absent.
func (n *Node) SetStatus(ctx context.Context, c Caller, app, id, value string, lastDirty int64) error {
	s := n.begin()
	defer s.end()
	cur := n.reg.Instance(app, id)
	if cur == nil {
		return ErrNotFound
	}
	st, err := rules.OverrideStatus(value)
	if err != nil {
		return invalid(err)
	}
	if n.opts.Admit != nil && !c.Replication {
		changed := cur.Clone()
		changed.Status, changed.OverriddenStatus = st, st
		if _, err := n.admit(ctx, &Admission{Operation: hook.OpStatus, App: app, ID: id, Instance: changed, Status: st, Caller: c}); err != nil {
			return err
		}
	}
	if err := n.admitDurable(c); err != nil {
		return err
	}
	if !n.reg.SetStatus(app, id, st, lastDirty, c.Replication) {
		return ErrNotFound
	}
	n.replicate(c, eureka.ReplicateStatusUpdate, app, id)
	return n.commitDurable(ctx, &s, c, app, id)
}

// DeleteStatus removes an operator's override (DELETE …/status, §2.5);
// the instance's status becomes value, UNKNOWN when it is empty.
func (n *Node) DeleteStatus(ctx context.Context, c Caller, app, id, value string, lastDirty int64) error {
	s := n.begin()
	defer s.end()
	cur := n.reg.Instance(app, id)
	if cur == nil {
		return ErrNotFound
	}
	st := eureka.StatusUnknown
	if value != "" {
		var ok bool
		if st, ok = eureka.ParseStatus(value); !ok {
			return &InvalidError{Field: "value", Message: "value: not one of UP, DOWN, STARTING, OUT_OF_SERVICE, UNKNOWN"}
		}
	}
	if n.opts.Admit != nil && !c.Replication {
		changed := cur.Clone()
		changed.Status, changed.OverriddenStatus = st, eureka.StatusUnknown
		// Status "" tells the hook the override is being removed.
		if _, err := n.admit(ctx, &Admission{Operation: hook.OpStatus, App: app, ID: id, Instance: changed, Caller: c}); err != nil {
			return err
		}
	}
	if err := n.admitDurable(c); err != nil {
		return err
	}
	if !n.reg.DeleteStatusOverride(app, id, st, lastDirty, c.Replication) {
		return ErrNotFound
	}
	n.replicate(c, eureka.ReplicateDeleteStatusOverride, app, id)
	return n.commitDurable(ctx, &s, c, app, id)
}

// UpdateMetadata merges kv into an instance's metadata (PUT …/metadata,
// §2.6). The node takes ownership of kv.
func (n *Node) UpdateMetadata(ctx context.Context, c Caller, app, id string, kv map[string]string) error {
	s := n.begin()
	defer s.end()
	cur := n.reg.Instance(app, id)
	if cur == nil {
		return ErrNotFound
	}
	if err := n.opts.Limits.MetadataUpdate(cur.Metadata, kv); err != nil {
		return invalid(err)
	}
	if n.opts.Admit != nil && !c.Replication {
		merged := cur.Clone()
		if merged.Metadata == nil {
			merged.Metadata = make(map[string]string, len(kv))
		}
		for k, v := range kv {
			merged.Metadata[k] = v
		}
		add, err := n.admit(ctx, &Admission{Operation: hook.OpMetadata, App: app, ID: id, Instance: merged, Metadata: kv, Caller: c})
		if err != nil {
			return err
		}
		for k, v := range add {
			kv[k] = v
		}
		if err := n.opts.Limits.MetadataUpdate(cur.Metadata, kv); err != nil {
			return invalid(err)
		}
	}
	if err := n.admitDurable(c); err != nil {
		return err
	}
	if !n.reg.UpdateMetadata(app, id, kv) {
		return ErrNotFound
	}
	// Eureka re-registers the updated instance and replicates that as a
	// Register, the full instance, so peers get the new metadata.
	n.replicate(c, eureka.ReplicateRegister, app, id)
	return n.commitDurable(ctx, &s, c, app, id)
}

// SetHealth records a server-side health check's verdict (core/health):
// a failing instance that is UP becomes DOWN, and one the checker took
// DOWN becomes UP again once passing; an operator's override and a status
// the client reports itself are left as they are (registry.SetHealth). A
// change is replicated as a Register, the full instance with its status
// and verdict, which Java peers take as a plain status change. It is a
// write that heals by itself (the checker repeats it), so it follows the
// store's failure policy like a registration. It reports whether anything
// changed.
func (n *Node) SetHealth(ctx context.Context, app, id string, failing bool, detail string) (bool, error) {
	s := n.begin()
	defer s.end()
	if err := n.admitStore(); err != nil {
		return false, err
	}
	detail = rules.Cut(detail, 200)
	if failing {
		// The verdict's keys obey the metadata rules like the client's own
		// (peers check them too): without the detail if need be, else not
		// at all.
		cur := n.reg.Instance(app, id)
		if cur == nil {
			return false, ErrNotFound
		}
		if !registry.HealthFailing(cur) && n.opts.Limits.MetadataUpdate(cur.Metadata, map[string]string{registry.HealthKey: "failing", registry.HealthDetailKey: detail}) != nil {
			detail = ""
			if err := n.opts.Limits.MetadataUpdate(cur.Metadata, map[string]string{registry.HealthKey: "failing", registry.HealthDetailKey: "failing"}); err != nil {
				return false, invalid(err)
			}
		}
	}
	changed, ok := n.reg.SetHealth(app, id, failing, detail)
	if !ok {
		return false, ErrNotFound
	}
	if !changed {
		return false, nil
	}
	n.replicate(Caller{}, eureka.ReplicateRegister, app, id)
	return true, n.commit(ctx, &s)
}
