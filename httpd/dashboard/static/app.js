// eurekad dashboard: reads the admin JSON API only (docs/admin-api.md) and
// follows /admin/api/stream for live updates. Every value from the server is
// written with textContent, never parsed as HTML.
//
// Views are hash routes, so each has a URL to share: #/ (home),
// #/apps/NAME (an application), #/apps/NAME/ID (an instance), #/cluster,
// #/readers;
// /lastn is the last-1000 page. Lists are paged, sorted and filtered by
// the server, so a registry of any size costs the page one page of rows.
"use strict";

const $ = (id) => document.getElementById(id);
const STATUSES = ["UP", "DOWN", "STARTING", "OUT_OF_SERVICE", "UNKNOWN"];
const CRED_KEY = "eurekad.credentials";
// NS_KEY holds the namespace shown (README, "Namespaces"), for this tab.
const NS_KEY = "eurekad.namespace";
const PAGE = 50;

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
  }
  append(e, ...children);
  return e;
}

// append adds children, skipping null and undefined (DOM append would write
// them as text).
function append(parent, ...children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    parent.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function fmtTime(iso) {
  if (!iso || iso.startsWith("0001-")) return "—";
  const d = new Date(iso);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function fmtAgo(iso) {
  if (!iso || iso.startsWith("0001-")) return "";
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (Math.abs(s) < 90) return s >= 0 ? `${s}s ago` : `in ${-s}s`;
  const m = Math.round(s / 60);
  if (Math.abs(m) < 120) return m >= 0 ? `${m} min ago` : `in ${-m} min`;
  const h = Math.round(m / 60);
  return h >= 0 ? `${h} h ago` : `in ${-h} h`;
}

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return `${n.toFixed(1)} ${units[i]}`;
}

const fmtInt = (n) => n.toLocaleString("en-US");
const appHref = (app) => `#/apps/${encodeURIComponent(app)}`;
const instanceHref = (app, id) => `${appHref(app)}/${encodeURIComponent(id)}`;
const instancePath = (app, id) => `/admin/api/instances/${encodeURIComponent(app)}/${encodeURIComponent(id)}`;

// Credentials: whatever the operator typed, kept for this tab only. A
// "user:password" pair is sent as Basic, anything else as a Bearer token.
function authHeader() {
  const v = sessionStorage.getItem(CRED_KEY);
  if (!v) return null;
  return v.includes(":") ? "Basic " + btoa(v) : "Bearer " + v;
}

// inNamespace adds the selected namespace to an admin API path; the
// default namespace's paths stay as they are.
function inNamespace(path) {
  const ns = sessionStorage.getItem(NS_KEY);
  if (!ns || ns === "default" || path === "/admin/api/namespaces") return path;
  return path + (path.includes("?") ? "&" : "?") + "namespace=" + encodeURIComponent(ns);
}

// api calls the admin API, with the operator's credentials when there are
// some (reads are open by default; an auth hook may guard them too), in
// the selected namespace.
async function api(path, opts = {}) {
  const headers = { Accept: "application/json" };
  const auth = authHeader();
  if (auth) headers.Authorization = auth;
  const resp = await fetch(inNamespace(path), { method: opts.method || "GET", headers, cache: "no-store" });
  const text = await resp.text();
  if (!resp.ok) {
    const err = new Error(`${resp.status} ${text.trim() || resp.statusText}`);
    err.status = resp.status;
    throw err;
  }
  return text ? JSON.parse(text) : null;
}

function setText(id, v) { $(id).textContent = v; }

function showError(msg) {
  const e = $("error");
  e.hidden = !msg;
  e.textContent = msg || "";
}

function kv(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", { text: k }),
    v instanceof Node ? el("dd", null, v) : el("dd", { text: v == null || v === "" ? "—" : String(v) })]));
}

// canAdmin is whether this browser may use the actions, as
// /admin/api/whoami answers; the action buttons show only then.
let canAdmin = false;

// ---- paged tables ----

// pager renders "from–to of total" with previous and next buttons.
function renderPager(box, res, onPage) {
  const from = res.total ? res.offset + 1 : 0;
  const to = res.offset + (res.instances || res.applications).length;
  box.replaceChildren(
    el("button", { type: "button", class: "prev", onclick: () => onPage(Math.max(0, res.offset - res.limit)) , text: "‹ Previous" }),
    el("span", { class: "range", text: `${fmtInt(from)}–${fmtInt(to)} of ${fmtInt(res.total)}` }),
    el("button", { type: "button", class: "next", onclick: () => onPage(res.offset + res.limit), text: "Next ›" }));
  box.querySelector(".prev").disabled = res.offset === 0;
  box.querySelector(".next").disabled = to >= res.total;
}

// sortable makes the .sort buttons of a table header set state.sort
// (clicking the same column again reverses it).
function sortable(thead, state, reload) {
  for (const b of thead.querySelectorAll("button.sort")) {
    b.addEventListener("click", () => {
      const k = b.dataset.sort;
      state.sort = state.sort === k ? "-" + k : k;
      state.offset = 0;
      reload();
    });
  }
}

function markSort(thead, sort) {
  for (const b of thead.querySelectorAll("button.sort")) {
    const th = b.parentElement;
    const k = b.dataset.sort;
    th.setAttribute("aria-sort", sort === k ? "ascending" : sort === "-" + k ? "descending" : "none");
  }
}

// InstanceTable is a paged, sorted, filtered list of instances from
// GET /admin/api/instances, optionally fixed to one application.
class InstanceTable {
  constructor(box, app) {
    this.app = app || "";
    this.state = { q: "", status: "", sort: "", offset: 0 };
    box.replaceChildren($("instance-table").content.cloneNode(true));
    this.root = box.firstElementChild;
    this.form = this.root.querySelector("form");
    this.table = this.root.querySelector("table");
    this.pager = this.root.querySelector(".pager");
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.filter(); });
    this.form.q.addEventListener("input", () => { clearTimeout(this.t); this.t = setTimeout(() => this.filter(), 150); });
    this.form.status.addEventListener("change", () => this.filter());
    sortable(this.table.tHead, this.state, () => this.load());
  }

  filter() {
    this.state.q = this.form.q.value.trim();
    this.state.status = this.form.status.value;
    this.state.offset = 0;
    return this.load();
  }

  async load() {
    const p = new URLSearchParams({ offset: this.state.offset, limit: PAGE });
    for (const k of ["q", "status", "sort"]) if (this.state[k]) p.set(k, this.state[k]);
    if (this.app) p.set("app", this.app);
    const res = await api("/admin/api/instances?" + p);
    this.render(res);
    return res;
  }

  render(res) {
    markSort(this.table.tHead, this.state.sort);
    this.table.tBodies[0].replaceChildren(...res.instances.map((i) => {
      const meta = Object.keys(i.metadata).sort().map((k) => `${k}=${i.metadata[k]}`).join(", ");
      return el("tr", { "data-instance": `${i.app}/${i.instanceId}` },
        el("td", null, el("a", { href: appHref(i.app), text: i.app })),
        el("td", null, el("a", { href: instanceHref(i.app, i.instanceId), text: i.instanceId }),
          i.lease.expired ? el("span", { class: "expired", title: "lease expired, not evicted yet", text: " (expired)" }) : null),
        el("td", { class: "status-" + i.status, text: i.status + (i.override ? " (override)" : "") }),
        el("td", { text: i.hostName }),
        el("td", { text: i.ipAddr + (i.port ? ":" + i.port : "") }),
        el("td", { text: i.zone || "—" }),
        el("td", { text: fmtAgo(i.lease.lastRenewal), title: fmtTime(i.lease.lastRenewal) }),
        el("td", { class: "meta", text: meta, title: meta }));
    }));
    this.root.querySelector(".empty").hidden = res.total > 0;
    renderPager(this.pager, res, (off) => { this.state.offset = off; this.load(); });
  }
}

// ---- home view ----

function renderStatus(s) {
  const sp = s.selfPreservation;
  setText("s-env", s.server.environment);
  setText("s-dc", s.server.dataCenter);
  setText("s-time", fmtTime(s.server.currentTime));
  setText("s-uptime", s.server.uptime);
  setText("s-lease", String(sp.leaseExpirationEnabled));
  setText("s-threshold", sp.renewsThreshold);
  setText("s-renews", sp.renewsLastMinute);
  const r = s.registry;
  setText("s-instances", `${fmtInt(r.instances)} in ${fmtInt(r.applications)} application${r.applications === 1 ? "" : "s"}` +
    (r.expiredLeases ? `, ${r.expiredLeases} expired` : ""));

  // The banner is Eureka's warning; the explanation is in the
  // self-preservation card only.
  const banner = $("banner");
  banner.hidden = !sp.banner;
  banner.replaceChildren();
  if (sp.banner) banner.append(sp.banner, el("small", null, el("a", { href: "#sp-card", text: "What this means: see Self-preservation below." })));

  const state = $("sp-state");
  state.className = "pill" + (sp.active ? " active" : sp.enabled ? "" : " off");
  state.textContent = !sp.enabled ? "off" : sp.active ? (sp.warmingUp ? "starting: evictions paused" : "active: evictions paused") : "standing by";
  setText("sp-explain", sp.explanation);
  setText("sp-expected", sp.expectedClients);
  setText("sp-expected-rpm", `${sp.expectedRenewsPerMinute} (one per client every ${sp.expectedRenewalIntervalSecs}s)`);
  setText("sp-threshold", `${sp.renewsThreshold} / min (${Math.round(sp.renewalPercentThreshold * 100)}% of expected)`);
  setText("sp-measured", sp.renewsLastMinute);
  setText("sp-interval", sp.evictionInterval + (sp.lastEviction ? `, last run ${fmtAgo(sp.lastEviction)}` : ""));
  const meter = $("sp-meter");
  meter.max = Math.max(sp.expectedRenewsPerMinute, sp.renewsLastMinute, 1);
  meter.low = sp.renewsThreshold;
  meter.optimum = meter.max;
  meter.value = sp.renewsLastMinute;

  const shielded = $("sp-shielded");
  shielded.replaceChildren();
  const list = (title, items, cls) => {
    if (!items.length) return;
    append(shielded, el("h3", { text: title }),
      el("ul", { class: "plain " + cls }, ...items.slice(0, 50).map((i) =>
        el("li", null, instanceLink(i.app, i.instanceId), ` — last renewed ${fmtAgo(i.lease.lastRenewal)}, expired ${fmtAgo(i.lease.expiresAt)}`))),
      items.length > 50 ? el("p", { text: `… and ${items.length - 50} more` }) : null);
  };
  list("Shielded from eviction (expired, kept by self-preservation)", sp.shielded, "shielded");
  list("Expired, evicted at the next run", sp.pendingEviction, "pending");
  if (!sp.shielded.length && !sp.pendingEviction.length) {
    shielded.append(el("p", { class: "muted-dark", text: "No lease has expired." }));
  }

  renderHealth(s);
  renderInfo(s);
}

function instanceLink(app, id) {
  return el("a", { href: instanceHref(app, id), "data-instance": `${app}/${id}`, text: `${app}/${id}` });
}

function renderHealth(s) {
  const st = s.storage;
  const sp = $("storage");
  sp.replaceChildren();
  if (!st.persistent) {
    sp.append("memory only — nothing survives a restart");
  } else {
    const x = st.status || {};
    const bad = x.degraded || st.reachable === false;
    append(sp, el("span", { class: bad ? "bad" : "ok", text: st.reachable === false ? "unreachable" : x.degraded ? "degraded" : "healthy" }),
      ` ${st.kind}, ${x.durability} writes, ${x.pending} pending, ${x.commits} commits, ${x.failures} failures`,
      st.error ? el("div", { class: "bad", text: "probe: " + st.error }) : null,
      x.lastError ? el("div", { class: x.degraded ? "bad" : "muted-dark", text: "last error: " + x.lastError }) : null);
  }
  const peers = $("peers");
  peers.replaceChildren();
  if (!s.peers.configured || !s.peers.peers.length) {
    peers.append(el("p", { text: "No peers configured" }));
  } else {
    peers.append(el("ul", { class: "plain" }, ...s.peers.peers.map((p) =>
      el("li", { "data-peer": p.name }, el("a", { href: p.url, text: p.name }), " ",
        el("span", { class: p.up ? "ok" : "bad", text: p.up ? "up" : "down" }),
        `, queue ${p.queueLength}, lag ${(p.lagNs / 1e9).toFixed(1)}s`,
        // Only a peer that is down has a current error; a past failure is
        // history, on the cluster view.
        !p.up && p.lastError ? el("div", { class: "bad", text: p.lastError }) : null))));
  }
  // Remote regions: a copy older than three fetch intervals is stale.
  const regions = (s.regions && s.regions.remote) || [];
  $("regions-box").hidden = !regions.length;
  $("regions").replaceChildren(el("ul", { class: "plain" }, ...regions.map((r) =>
    el("li", { "data-region": r.name }, `${r.name}: ${r.instances} instances, copy ${r.ageSeconds.toFixed(0)}s old `,
      el("span", { class: r.stale ? "bad" : "ok", text: r.stale ? "stale" : r.firstFetchDone ? "current" : "first fetch pending" }),
      r.lastError ? el("div", { class: "bad", text: r.lastError }) : null))));
  const plugins = $("plugins");
  plugins.replaceChildren();
  if (!s.plugins.configured || !s.plugins.plugins.length) {
    plugins.append(el("p", { text: "No plugins" }));
  } else {
    plugins.append(el("ul", { class: "plain" }, ...s.plugins.plugins.map((p) =>
      el("li", null, `${p.name} (${p.kind}${p.external ? ", external" : ""}) `,
        el("span", { class: p.running ? "ok" : "bad", text: p.running ? "running" : "stopped" }),
        p.restarts ? `, ${p.restarts} restarts` : "",
        p.lastError ? el("div", { class: p.running ? "muted-dark" : "bad", text: (p.running ? "last error: " : "") + p.lastError }) : null))));
  }
  const extra = $("health-extra");
  extra.replaceChildren();
  if (s.listeners && s.listeners.length) {
    extra.append(el("h3", { text: "Event listeners" }), el("ul", { class: "plain" }, ...s.listeners.map((l) =>
      el("li", null, `${l.name}: ${l.delivered} delivered, `,
        el("span", { class: l.dropped ? "bad" : "", text: `${l.dropped} dropped` }), `, ${l.queueLength} queued`))));
  }
  if (s.auth && s.auth.length) {
    extra.append(el("h3", { text: "Authentication" }), el("ul", { class: "plain" }, ...s.auth.map((a) =>
      el("li", null, `${a.op}: ${a.allowed} allowed, ${a.denied} denied`))));
  }
}

// renderInfo shows the server's figures in Go's terms: eurekad is a Go
// process, not a JVM (generalStats keeps Spring's keys for GET status).
function renderInfo(s) {
  const rows = (id, pairs) => {
    $(id).tBodies[0].replaceChildren(...pairs.map(([k, v]) =>
      el("tr", null, el("th", { scope: "row", text: k }), el("td", { text: v == null || v === "" ? "—" : String(v) }))));
  };
  const rt = s.runtime;
  const a = s.applicationStats || {};
  rows("general", [
    ["Environment", s.server.environment],
    ["Data center", s.server.dataCenter],
    ["Uptime", s.server.uptime],
    ["Go version", rt.goVersion],
    ["CPUs (GOMAXPROCS)", `${rt.cpus} (${rt.gomaxprocs})`],
    ["Goroutines", fmtInt(rt.goroutines)],
    ["Go heap allocated", fmtBytes(rt.heapAllocBytes)],
    ["Go heap in use (spans)", fmtBytes(rt.heapInuseBytes)],
    ["Memory from the OS (Go runtime)", fmtBytes(rt.sysBytes)],
    ["Garbage collections", fmtInt(rt.numGC)],
    ["Registered replicas", a["registered-replicas"]],
    ["Available replicas", a["available-replicas"]],
    ["Unavailable replicas", a["unavailable-replicas"]],
  ]);
  const i = s.instanceInfo;
  rows("self", [["Host name", i.hostName], ["IP address", i.ipAddr], ["Status", i.status]]);
}

const home = { apps: { q: "", status: "", sort: "", offset: 0 }, table: null };

function countText(m) {
  return Object.entries(m).sort((x, y) => y[1] - x[1]).map(([k, n]) => `${k || "—"} (${fmtInt(n)})`).join(", ");
}

async function loadApps() {
  const st = home.apps;
  const p = new URLSearchParams({ offset: st.offset, limit: PAGE });
  for (const k of ["q", "status", "sort"]) if (st[k]) p.set(k, st[k]);
  const res = await api("/admin/api/apps?" + p);
  const thead = $("apps").tHead;
  markSort(thead, st.sort);
  $("apps").tBodies[0].replaceChildren(...res.applications.map((a) => {
    const statuses = el("td");
    for (const s of STATUSES.concat(Object.keys(a.statusCounts).filter((k) => !STATUSES.includes(k)))) {
      const n = a.statusCounts[s];
      if (!n) continue;
      append(statuses, el("span", { class: "count status-" + s, "data-status": s, text: `${s} ${fmtInt(n)}` }), " ");
    }
    if (a.expired) append(statuses, el("span", { class: "expired", text: `${a.expired} expired` }));
    return el("tr", { "data-app": a.name },
      el("th", { scope: "row" }, el("a", { href: appHref(a.name), text: a.name })),
      el("td", { text: fmtInt(a.instances) }), statuses,
      el("td", { text: countText(a.zones) }), el("td", { text: countText(a.amis) }));
  }));
  $("no-apps").hidden = res.total > 0 || !!(st.q || st.status);
  renderPager($("apps-pager"), res, (off) => { st.offset = off; loadApps(); });
}

async function refreshHome() {
  if (!home.table) home.table = new InstanceTable($("home-instances"));
  const [s] = await Promise.all([api("/admin/api/summary?applications=false"), loadApps(), home.table.load()]);
  renderStatus(s);
}

// ---- application view ----

const appView = { name: "", table: null };

async function refreshApp(name) {
  if (appView.name !== name || !appView.table) {
    appView.name = name;
    appView.table = new InstanceTable($("app-instances"), name);
    setText("app-name", name);
    setText("app-title", name);
    setText("a-action-msg", "");
    if (!acting) $("a-drain-box").hidden = true;
  }
  const [res] = await Promise.all([api("/admin/api/apps?" + new URLSearchParams({ app: name })), appView.table.load()]);
  const a = res.applications.find((x) => x.name === name);
  appView.instances = a ? a.instances : 0;
  updateAppActions();
  if (!a) {
    kv($("app-summary"), [["Instances", "none registered"]]);
    return;
  }
  kv($("app-summary"), [
    ["Instances", fmtInt(a.instances)],
    ["By status", countText(a.statusCounts)],
    ["Availability zones", countText(a.zones)],
    ["AMIs", countText(a.amis)],
    ["Expired leases", a.expired],
  ]);
}

// updateAppActions shows the application's drain to an operator this
// server lets act, while it has instances.
function updateAppActions() {
  $("a-drain").hidden = !canAdmin || !appView.instances;
}

function confirmAppDrain() {
  const name = appView.name;
  askConfirm({
    title: "Drain every instance of this application?",
    text: `Every instance of ${name} changes now, on every peer; the answer waits until each client that reads the registry has fetched the change.`,
    ok: "Drain", drain: true,
    run: () => drain($("a-drain-box"), $("a-action-msg"), `/admin/api/apps/${encodeURIComponent(name)}/drain`, name,
      () => { if (appView.name === name) return refreshApp(name); }),
  });
}

// ---- instance view and actions ----

let current = null; // {app, id, instance} on the instance view

async function refreshInstance(app, id) {
  if (!current || current.app !== app || current.id !== id) {
    current = { app, id };
    setText("i-action-msg", "");
    if (!acting) $("i-drain-box").hidden = true;
  }
  setText("i-id", id);
  const link = $("i-app-link");
  link.href = appHref(app);
  link.textContent = app;
  setText("i-title", `${app} / ${id}`);
  const [i, h] = await Promise.all([
    api(instancePath(app, id)).catch((e) => { if (e.status === 404) return null; throw e; }),
    api(instancePath(app, id) + "/history"),
  ]);
  current.instance = i;
  renderHistory(h);
  if (!i) {
    $("i-title").textContent = `${app} / ${id} — not registered`;
    for (const d of ["i-lease", "i-info", "i-meta"]) $(d).replaceChildren();
    updateActions();
    return;
  }
  const l = i.lease;
  kv($("i-lease"), [
    ["Status", el("span", { class: "status-" + i.status, text: i.status + (i.override ? ` (operator override: ${i.override})` : "") })],
    ["Registered", fmtTime(l.registeredAt)],
    ["Last renewal", `${fmtTime(l.lastRenewal)} (${fmtAgo(l.lastRenewal)})`],
    ["Expires", `${fmtTime(l.expiresAt)} (${fmtAgo(l.expiresAt)})`],
    ["Up since", fmtTime(l.serviceUpAt)],
    ["Renews every / lease lasts", `${l.renewalIntervalSecs}s / ${l.durationSecs}s`],
    ["Eviction", l.expired ? (l.eviction === "shielded" ? "expired, kept by self-preservation" : "expired, evicted at the next run") : "lease is live"],
  ]);
  const url = (u) => /^https?:/.test(u || "") ? el("a", { href: u, target: "_blank", rel: "noopener", text: u }) : u;
  kv($("i-info"), [
    ["Host", i.hostName], ["IP", i.ipAddr], ["Port", i.port], ["Secure port", i.securePort],
    ["VIP", i.vipAddress], ["Secure VIP", i.secureVipAddress], ["Data center", i.dataCenter],
    ["Zone", i.zone], ["AMI", i.ami], ["Home page", url(i.homePageUrl)], ["Status page", url(i.statusPageUrl)], ["Health check", url(i.healthCheckUrl)],
    ["Last change", `${i.actionType} at ${fmtTime(i.lastUpdated)}`], ["Last dirty", fmtTime(i.lastDirty)],
  ]);
  const meta = Object.keys(i.metadata).sort().map((k) => [k, i.metadata[k]]);
  kv($("i-meta"), meta.length ? meta : [["(none)", ""]]);
  updateActions();
}

function renderHistory(h) {
  const body = $("i-history").tBodies[0];
  if (!h.recorded || !h.changes.length) {
    body.replaceChildren(el("tr", null, el("td", { colspan: 4, class: "muted-dark",
      text: h.recorded ? "No change seen since this server started." : "This server keeps no history." })));
    return;
  }
  body.replaceChildren(...h.changes.map((c) => el("tr", { "data-event": c.event },
    el("td", { text: fmtTime(c.time), title: fmtAgo(c.time) }),
    el("td", { text: c.event + (c.repeats ? ` (×${c.repeats + 1})` : "") }),
    el("td", { class: "status-" + c.status, text: (c.status || "") + (c.overriddenStatus && c.overriddenStatus !== "UNKNOWN" ? ` (override ${c.overriddenStatus})` : "") +
      (c.health ? ` (health check failing: ${c.healthDetail || c.health})` : "") }),
    el("td", { text: c.replicated ? "from a peer" : "this server" }))));
}

// updateActions shows the actions that apply to the instance's state, and
// only to an operator this server lets act.
function updateActions() {
  const i = current && current.instance;
  const can = canAdmin && !!i;
  $("i-out").hidden = !can || i.status === "OUT_OF_SERVICE";
  $("i-in").hidden = !can || (i.status === "UP" && !i.override);
  $("i-deregister").hidden = !can;
  $("i-drain").hidden = !can;
  $("i-readonly").hidden = canAdmin || !i;
}

let acting = false;

function failure(e) {
  return e.status === 401 || e.status === 403
    ? `Refused (${e.status}): enter operator credentials at the top of the page. ${e.message}`
    : `Failed: ${e.message}`;
}

async function action(verb, done) {
  if (acting) return; // one action at a time
  acting = true;
  const { app, id } = current;
  const msg = $("i-action-msg");
  msg.className = "";
  msg.textContent = "…";
  try {
    await api(`${instancePath(app, id)}/${verb}`, { method: "POST" });
    msg.className = "ok";
    msg.textContent = done;
  } catch (e) {
    msg.className = "bad";
    msg.textContent = failure(e);
  } finally {
    acting = false;
  }
  await refreshInstance(app, id);
}

// pendingConfirm is what the confirmation dialog asks about; the dialog's
// close takes it, so one confirmation sends one request.
let pendingConfirm = null;

// askConfirm opens the confirmation dialog; run is called on OK. drain
// shows the drain's options (the change to make, how long to wait).
function askConfirm({ title, text, ok, drain, run }) {
  pendingConfirm = run;
  setText("c-title", title);
  setText("c-text", text);
  setText("c-ok", ok);
  $("c-drain-opts").hidden = !drain;
  const dlg = $("confirm");
  dlg.returnValue = "";
  dlg.showModal();
}

function confirmClosed() {
  // The close event is a queued task: a close that arrives once the dialog
  // is open again belongs to the previous question, not this one.
  if ($("confirm").open) return;
  const run = pendingConfirm;
  pendingConfirm = null;
  if (run && $("confirm").returnValue === "ok") run();
}

// onCurrent runs fn only while the instance view still shows app/id.
const onCurrent = (app, id, fn) => () => { if (current && current.app === app && current.id === id) return fn(); };

function confirmDeregister() {
  const { app, id } = current;
  askConfirm({
    title: "Deregister this instance?",
    text: `${app}/${id} is removed from the registry now, on every peer. A client that is still running registers again with its next heartbeat.`,
    ok: "Deregister",
    run: onCurrent(app, id, () => action("deregister", "Deregistered.")),
  });
}

function confirmDrain() {
  const { app, id } = current;
  askConfirm({
    title: "Drain this instance?",
    text: `${app}/${id} changes now, on every peer; the answer waits until each client that reads the registry has fetched the change, so none still sends it traffic.`,
    ok: "Drain", drain: true,
    run: onCurrent(app, id, () => drain($("i-drain-box"), $("i-action-msg"), instancePath(app, id) + "/drain", `${app}/${id}`,
      onCurrent(app, id, () => refreshInstance(app, id)))),
  });
}

// ---- drain ----

const fmtSecs = (s) => `${s.toFixed(1)} s`;

// readerRow is one reader of a drain: its state, and what it holds.
function readerRow(r, state, label) {
  return el("tr", { "data-reader": r.name, "data-state": state },
    el("th", { scope: "row", text: r.name }),
    el("td", { class: state === "pending" || state === "waiting" ? "bad" : "ok", text: label }),
    el("td", { text: r.app || "whole registry" }),
    el("td", { text: String(r.version) }),
    el("td", { text: r.lastFetch ? fmtAgo(r.lastFetch) : "never" }),
    el("td", { text: r.intervalSeconds ? fmtSecs(r.intervalSeconds) : "—" }));
}

// drain makes the change (the confirmation dialog's mode and timeout) and
// shows it in box. The server holds its answer until every active reader
// has fetched the change or the timeout passes; meanwhile the box polls the
// propagation view, so the operator sees which readers have still to
// fetch. The server's answer then replaces that with its own list.
async function drain(box, msg, path, what, done) {
  if (acting) return; // one action at a time
  acting = true;
  // The actions wait for the drain's answer, which may take its timeout.
  const buttons = [...document.querySelectorAll("#i-actions button, #a-drain")];
  for (const b of buttons) b.disabled = true;
  const mode = $("c-mode").value;
  const timeout = Math.max(1, Number($("c-timeout").value) || 30);
  const app = what.split("/")[0];
  const state = el("p", { class: "drain-state", role: "status" }, el("span", { class: "spinner", "aria-hidden": "true" }),
    el("span", { class: "drain-text", text: `Draining ${what}…` }));
  const body = el("tbody");
  box.replaceChildren(el("h3", { text: `Drain of ${what} (${mode})` }), state,
    el("table", { class: "list drain-readers" },
      el("thead", null, el("tr", null, ...["Reader", "State", "Reads", "Version", "Last fetch", "Interval"].map((h) => el("th", { scope: "col", text: h })))),
      body));
  box.hidden = false;
  box.dataset.state = "running";
  msg.className = "";
  msg.textContent = "";
  const t0 = performance.now();
  let waiting = true;
  const watch = (async () => {
    while (waiting) {
      try {
        const p = await api("/admin/api/propagation");
        if (!waiting) break;
        const mine = p.readers.filter((r) => r.active && (!r.app || r.app === app));
        state.querySelector(".drain-text").textContent =
          `Draining ${what}: waiting for readers to fetch the change, ${fmtSecs((performance.now() - t0) / 1000)} of at most ${timeout} s…`;
        body.replaceChildren(...mine.map((r) => r.behind ? readerRow(r, "waiting", "waiting") : readerRow(r, "fetched", "has fetched")));
      } catch (e) {
        // The answer below says what went wrong.
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })();
  try {
    const q = new URLSearchParams({ timeout: `${timeout}s`, mode });
    const res = await api(`${path}?${q}`, { method: "POST" });
    waiting = false;
    const n = res.confirmed.length;
    state.className = "drain-state " + (res.timedOut ? "bad" : "ok");
    state.textContent = res.timedOut
      ? `Timed out after ${fmtSecs(res.elapsedSeconds)}: ${res.pending.length} of ${n + res.pending.length} readers had not fetched the change. The change is made.`
      : n ? `Confirmed by ${n} reader${n === 1 ? "" : "s"} in ${fmtSecs(res.elapsedSeconds)}.` : "No active reader to wait for: done.";
    body.replaceChildren(...res.confirmed.map((r) => readerRow(r, "confirmed", "confirmed")),
      ...res.pending.map((r) => readerRow(r, "pending", "not fetched")));
    box.dataset.state = res.timedOut ? "timed-out" : "confirmed";
  } catch (e) {
    waiting = false;
    state.className = "drain-state bad";
    state.textContent = failure(e);
    body.replaceChildren();
    box.dataset.state = "failed";
  } finally {
    acting = false;
    for (const b of buttons) b.disabled = false;
  }
  await watch;
  await done();
}

// ---- cluster view ----

async function refreshCluster() {
  const s = await api("/admin/api/summary?applications=false");
  const i = s.instanceInfo;
  kv($("node-self"), [
    ["Host name", i.hostName], ["IP address", i.ipAddr], ["Status", i.status],
    ["Uptime", s.server.uptime], ["Registry", `${fmtInt(s.registry.instances)} instances, version ${s.registry.version}`],
    ["Self-preservation", s.selfPreservation.active ? "active: evictions paused" : s.selfPreservation.enabled ? "standing by" : "off"],
  ]);
  const peers = s.peers.configured ? s.peers.peers : [];
  $("no-peers").hidden = peers.length > 0;
  $("cluster-peers").tBodies[0].replaceChildren(...peers.map((p) => {
    const failures = el("td", { class: "failures" });
    // The current error belongs to a peer that is down; a recovered
    // peer's last failure is history.
    if (!p.up && p.lastError) append(failures, el("div", { class: "bad current-error", text: p.lastError }));
    if (p.lastFailure && (p.up || p.lastFailure !== p.lastError)) {
      append(failures, el("div", { class: "muted-dark last-failure",
        text: `last failure${p.lastFailureTime ? " " + fmtAgo(p.lastFailureTime) : ""}: ${p.lastFailure}` }));
    }
    if (!failures.childNodes.length) failures.textContent = "none";
    return el("tr", { "data-peer": p.name },
      el("th", { scope: "row" }, el("a", { href: p.url, text: p.name })),
      el("td", { class: p.up ? "ok" : "bad", text: p.up ? "up" : "down" }),
      el("td", { text: fmtInt(p.queueLength) }),
      el("td", { text: `${(p.lagNs / 1e9).toFixed(1)}s` }),
      el("td", { text: fmtInt(p.sent) }), el("td", { text: fmtInt(p.failed) }), el("td", { text: fmtInt(p.dropped) }),
      el("td", { text: p.lastSuccess ? fmtAgo(p.lastSuccess) : "never" }),
      failures);
  }));
}

// ---- readers view ----

async function refreshReaders() {
  const p = await api("/admin/api/propagation");
  kv($("readers-summary"), [
    ["Registry version", String(p.version)],
    ["Readers tracked", fmtInt(p.tracked)],
    ["Behind", p.behind.length ? `${p.behind.length}: ${p.behind.join(", ")}` : "none"],
    ["Forgotten (went silent)", fmtInt(p.forgotten)],
    ["Not tracked (past the cap)", fmtInt(p.dropped)],
  ]);
  $("no-readers").hidden = p.readers.length > 0;
  $("readers").tBodies[0].replaceChildren(...p.readers.map((r) => el("tr", { "data-reader": r.name, "data-behind": String(r.behind) },
    el("th", { scope: "row", text: r.name, title: r.userAgent ? `${r.addr}, User-Agent ${r.userAgent}` : r.addr }),
    el("td", { text: r.app || "whole registry" }),
    el("td", { text: String(r.version) }),
    el("td", { class: r.behind ? "bad" : "ok", text: (r.behind ? "behind" : "up to date") + (r.active ? "" : ", idle") }),
    el("td", { class: "lag", text: r.behind ? fmtSecs(r.lagSeconds) : "—" }),
    el("td", { text: fmtAgo(r.lastFetch) }),
    el("td", { text: r.intervalSeconds ? fmtSecs(r.intervalSeconds) : "—" }),
    el("td", { text: fmtInt(r.fetches) }))));
}

// ---- last 1000 view ----

async function refreshLastN() {
  const ev = await api("/admin/api/events");
  for (const kind of ["canceled", "registered"]) {
    $(kind).tBodies[0].replaceChildren(...ev[kind].map((e) =>
      el("tr", null, el("td", { text: fmtTime(e.time) }), el("td", null, el("a", { href: "/" + instanceHref(e.app, e.instanceId), text: `${e.app}(${e.instanceId})` })))));
  }
}

// ---- routing, refresh and live updates ----

// route reads the view from the location: /lastn, else the hash.
function route() {
  if (location.pathname.replace(/\/+$/, "").endsWith("/lastn")) return { view: "lastn" };
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter((p) => p !== "").map(decodeURIComponent);
  if (parts[0] === "cluster") return { view: "cluster" };
  if (parts[0] === "readers") return { view: "readers" };
  if (parts[0] === "apps" && parts.length === 2) return { view: "app", app: parts[1].toUpperCase() };
  if (parts[0] === "apps" && parts.length >= 3) return { view: "instance", app: parts[1].toUpperCase(), id: parts.slice(2).join("/") };
  return { view: "home" };
}

function show(view) {
  for (const s of document.querySelectorAll("main > section[data-view]")) s.hidden = s.dataset.view !== view;
  const nav = view === "app" || view === "instance" ? "home" : view;
  for (const a of document.querySelectorAll("nav a[data-view]")) {
    if (a.dataset.view === nav) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  document.body.dataset.view = view;
}

// refresh renders the current view; it resolves once the view shows the
// server's data (the browser test times it).
async function refresh() {
  const r = route();
  show(r.view);
  try {
    switch (r.view) {
      case "lastn": await refreshLastN(); break;
      case "cluster": await refreshCluster(); break;
      case "readers":
        await refreshReaders();
        // A held-back reader's lag grows with no change to announce it:
        // the view redraws every second while shown.
        clearTimeout(timer);
        timer = setTimeout(refresh, 1000);
        break;
      case "app": await refreshApp(r.app); break;
      case "instance": await refreshInstance(r.app, r.id); break;
      default: await refreshHome();
    }
    if (r.view !== "instance") current = null;
    showError("");
    document.title = r.view === "home" ? "eurekad" : `eurekad — ${r.id || r.app || r.view}`;
    if (!document.body.dataset.loaded) {
      // Milliseconds from navigation to the first view drawn, for the
      // browser test.
      document.body.dataset.firstRenderMs = Math.round(performance.now());
    }
    document.body.dataset.loaded = "true";
  } catch (e) {
    showError("Cannot reach eurekad: " + e.message);
  }
}

let timer = null;
function schedule() {
  clearTimeout(timer);
  timer = setTimeout(refresh, 150);
}

let stream = null;
function connect() {
  const live = $("live");
  if (!window.EventSource) {
    live.textContent = "polling";
    setInterval(refresh, 5000);
    return;
  }
  if (stream) stream.close();
  const es = new EventSource(inNamespace("/admin/api/stream"));
  stream = es;
  es.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
  es.onerror = () => { live.textContent = "reconnecting…"; live.classList.remove("on"); };
  for (const ev of ["hello", "change", "tick"]) es.addEventListener(ev, schedule);
}

// checkCredentials asks the server whether this browser may act: with
// the operator's credentials, or without any where the server lets
// loopback clients act.
async function checkCredentials() {
  const state = $("auth-state");
  const has = !!sessionStorage.getItem(CRED_KEY);
  try {
    await api("/admin/api/whoami");
    canAdmin = true;
    state.textContent = "operator";
  } catch (e) {
    canAdmin = false;
    state.textContent = !has ? "read-only" : e.status ? `not accepted (${e.status})` : "cannot check";
  }
  if (current) updateActions();
  updateAppActions();
}

// loadNamespaces fills the namespace selector, shown when the server has
// namespaces besides the default one (those the caller may read). A caller
// who may read one namespace only is put in it. It reports whether the
// namespace shown changed.
async function loadNamespaces() {
  let list = [];
  try {
    list = (await api("/admin/api/namespaces")).namespaces.map((n) => n.name);
  } catch (e) {
    list = [];
  }
  const before = sessionStorage.getItem(NS_KEY) || "default";
  let cur = before;
  if (list.length > 0 && !list.includes(cur)) cur = list[0];
  if (cur === "default") sessionStorage.removeItem(NS_KEY); else sessionStorage.setItem(NS_KEY, cur);
  const sel = $("ns");
  sel.replaceChildren(...list.map((n) => el("option", { value: n, text: n })));
  sel.value = cur;
  $("ns-box").hidden = list.length === 0 || (list.length === 1 && list[0] === "default");
  return cur !== before;
}

// nsChanged shows the namespace now selected.
function nsChanged() {
  if (home.table) home.table.state.offset = 0;
  home.apps.offset = 0;
  if (location.hash !== "#/" && location.hash !== "") location.hash = "#/";
  connect();
  refresh();
}

function init() {
  $("auth").addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = $("token").value.trim();
    if (v) sessionStorage.setItem(CRED_KEY, v); else sessionStorage.removeItem(CRED_KEY);
    $("token").value = "";
    await checkCredentials();
    // Other credentials may read other namespaces.
    if (await loadNamespaces()) nsChanged();
  });
  const af = $("app-filters");
  af.addEventListener("submit", (e) => e.preventDefault());
  const appFilter = () => { home.apps.q = $("app-q").value.trim(); home.apps.status = $("app-status").value; home.apps.offset = 0; loadApps(); };
  $("app-q").addEventListener("input", () => { clearTimeout(home.t); home.t = setTimeout(appFilter, 150); });
  $("app-status").addEventListener("change", appFilter);
  sortable($("apps").tHead, home.apps, loadApps);
  $("i-out").addEventListener("click", () => action("out-of-service", "Taken out of service."));
  $("i-in").addEventListener("click", () => action("in-service", "Back in service."));
  $("i-deregister").addEventListener("click", confirmDeregister);
  $("i-drain").addEventListener("click", confirmDrain);
  $("a-drain").addEventListener("click", confirmAppDrain);
  $("confirm").addEventListener("close", confirmClosed);
  window.addEventListener("hashchange", () => { window.scrollTo(0, 0); refresh(); });
  $("ns").addEventListener("change", () => {
    sessionStorage.setItem(NS_KEY, $("ns").value);
    nsChanged();
  });
  checkCredentials();
  refresh();
  connect();
  loadNamespaces().then((changed) => { if (changed) nsChanged(); });
}

document.addEventListener("DOMContentLoaded", init);
