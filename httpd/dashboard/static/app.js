// eurekad dashboard: reads the admin JSON API only (docs/admin-api.md) and
// follows /admin/api/stream for live updates. Every value from the server is
// written with textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const STATUSES = ["UP", "DOWN", "STARTING", "OUT_OF_SERVICE", "UNKNOWN"];
const CRED_KEY = "eurekad.credentials";

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
  for (const c of children) {
    if (c == null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
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
  return m >= 0 ? `${m} min ago` : `in ${-m} min`;
}

// Credentials: whatever the operator typed, kept for this tab only. A
// "user:password" pair is sent as Basic, anything else as a Bearer token.
function authHeader() {
  const v = sessionStorage.getItem(CRED_KEY);
  if (!v) return null;
  return v.includes(":") ? "Basic " + btoa(v) : "Bearer " + v;
}

// api calls the admin API, with the operator's credentials when there are
// some (reads are open by default; an auth hook may guard them too).
async function api(path, opts = {}) {
  const headers = { Accept: "application/json" };
  const auth = authHeader();
  if (auth) headers.Authorization = auth;
  const resp = await fetch(path, { method: opts.method || "GET", headers, cache: "no-store" });
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
  setText("s-instances", `${r.instances} in ${r.applications} application${r.applications === 1 ? "" : "s"}` +
    (r.expiredLeases ? `, ${r.expiredLeases} expired` : ""));

  const banner = $("banner");
  banner.hidden = !sp.banner;
  banner.replaceChildren();
  if (sp.banner) banner.append(sp.banner, el("small", { text: "What this means: " + sp.explanation }));

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
    shielded.append(el("h3", { text: title }),
      el("ul", { class: "plain " + cls }, ...items.map((i) =>
        el("li", null, instanceButton(i.app, i.instanceId), ` — last renewed ${fmtAgo(i.lease.lastRenewal)}, expired ${fmtAgo(i.lease.expiresAt)}`))));
  };
  list("Shielded from eviction (expired, kept by self-preservation)", sp.shielded, "shielded");
  list("Expired, evicted at the next run", sp.pendingEviction, "pending");
  if (!sp.shielded.length && !sp.pendingEviction.length) {
    shielded.append(el("p", { class: "muted-dark", text: "No lease has expired." }));
  }

  renderHealth(s);
  renderInfo(s);
}

function renderHealth(s) {
  const st = s.storage;
  const sp = $("storage");
  sp.replaceChildren();
  if (!st.persistent) {
    sp.append("memory only — nothing survives a restart");
  } else {
    const x = st.status;
    const bad = x.degraded || st.reachable === false;
    sp.append(el("span", { class: bad ? "bad" : "ok", text: st.reachable === false ? "unreachable" : x.degraded ? "degraded" : "healthy" }),
      ` ${st.kind}, ${x.durability} writes, ${x.pending} pending, ${x.commits} commits, ${x.failures} failures`,
      st.error ? el("div", { class: "bad", text: "probe: " + st.error }) : null,
      x.lastError ? el("div", { class: "bad", text: "last error: " + x.lastError }) : null);
  }
  const peers = $("peers");
  peers.replaceChildren();
  if (!s.peers.configured || !s.peers.peers.length) {
    peers.append(el("p", { text: "No peers configured" }));
  } else {
    peers.append(el("ul", { class: "plain" }, ...s.peers.peers.map((p) =>
      el("li", null, el("a", { href: p.url, text: p.name }), " ",
        el("span", { class: p.up ? "ok" : "bad", text: p.up ? "up" : "down" }),
        `, queue ${p.queueLength}, lag ${(p.lagNs / 1e9).toFixed(1)}s`,
        p.lastError ? el("div", { class: "bad", text: p.lastError }) : null))));
  }
  const plugins = $("plugins");
  plugins.replaceChildren();
  if (!s.plugins.configured || !s.plugins.plugins.length) {
    plugins.append(el("p", { text: "No plugins" }));
  } else {
    plugins.append(el("ul", { class: "plain" }, ...s.plugins.plugins.map((p) =>
      el("li", null, `${p.name} (${p.kind}${p.external ? ", external" : ""}) `,
        el("span", { class: p.running ? "ok" : "bad", text: p.running ? "running" : "stopped" }),
        p.restarts ? `, ${p.restarts} restarts` : "",
        p.lastError ? el("div", { class: "bad", text: p.lastError }) : null))));
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

function renderInfo(s) {
  const rows = (id, obj) => {
    $(id).tBodies[0].replaceChildren(...Object.keys(obj).sort().map((k) =>
      el("tr", null, el("th", { scope: "row", text: k }), el("td", { text: obj[k] || "" }))));
  };
  rows("general", Object.assign({}, s.generalStats, s.applicationStats));
  rows("self", s.instanceInfo);
}

function instanceButton(app, id) {
  return el("button", { type: "button", class: "linkish", "data-instance": `${app}/${id}`, onclick: () => openDetails(app, id), text: id });
}

// renderApps fills the applications table from rows of
// {name, amis, zones, statusCounts: {STATUS: n}, byStatus: {STATUS: [{id, url, expired}]}}.
function renderApps(apps) {
  const body = $("apps").tBodies[0];
  body.replaceChildren(...apps.map((a) => {
    const count = (m) => Object.entries(m).map(([k, n]) => `${k || "—"} (${n})`).join(", ");
    const statuses = el("td", { class: "ids" });
    for (const st of STATUSES.concat(Object.keys(a.byStatus).filter((k) => !STATUSES.includes(k)))) {
      const ids = a.byStatus[st];
      if (!ids || !ids.length) continue;
      const total = a.statusCounts[st];
      const line = el("div", { class: "status-" + st, "data-status": st }, el("b", { text: `${st} (${total})` }), " - ");
      ids.forEach((i, n) => {
        if (n) line.append(", ");
        line.append(instanceButton(a.name, i.id));
        if (i.expired) line.append(" ", el("span", { class: "expired", title: "lease expired, not evicted yet", text: "(expired)" }));
        if (i.url) line.append(" ", el("a", { href: i.url, target: "_blank", rel: "noopener", "aria-label": `status page of ${i.id}`, text: "↗" }));
      });
      if (total > ids.length) {
        line.append(" ", el("button", { type: "button", class: "linkish", onclick: () => { $("q").value = a.name; refresh(); }, text: `… ${total - ids.length} more` }));
      }
      statuses.append(line);
    }
    return el("tr", { "data-app": a.name }, el("th", { scope: "row", text: a.name }), el("td", { text: count(a.amis) }), el("td", { text: count(a.zones) }), statuses);
  }));
  $("no-instances").hidden = apps.length > 0;
}

function groupInstances(list) {
  const apps = new Map();
  for (const i of list) {
    let a = apps.get(i.app);
    if (!a) apps.set(i.app, (a = { name: i.app, amis: {}, zones: {}, byStatus: {}, statusCounts: {} }));
    a.statusCounts[i.status] = (a.statusCounts[i.status] || 0) + 1;
    a.amis[i.ami || "n/a"] = (a.amis[i.ami || "n/a"] || 0) + 1;
    a.zones[i.zone || ""] = (a.zones[i.zone || ""] || 0) + 1;
    (a.byStatus[i.status] ||= []).push({ id: i.instanceId, expired: i.lease.expired, url: /^https?:/.test(i.statusPageUrl || "") ? i.statusPageUrl : "" });
  }
  return [...apps.values()];
}

async function refreshHome() {
  const s = await api("/admin/api/summary");
  renderStatus(s);
  const q = $("q").value.trim();
  const status = $("status").value;
  if (!q && !status) {
    renderApps(s.applications);
    return;
  }
  const params = new URLSearchParams();
  if (q) params.set("q", q);
  if (status) params.set("status", status);
  const res = await api("/admin/api/instances?" + params);
  renderApps(groupInstances(res.instances));
}

// ---- last 1000 view ----

async function refreshLastN() {
  const ev = await api("/admin/api/events");
  for (const kind of ["canceled", "registered"]) {
    $(kind).tBodies[0].replaceChildren(...ev[kind].map((e) =>
      el("tr", null, el("td", { text: fmtTime(e.time) }), el("td", { text: `${e.app}(${e.instanceId})` }))));
  }
}

// ---- instance details and actions ----

let current = null;

async function openDetails(app, id) {
  current = { app, id };
  setText("d-action-msg", "");
  const dlg = $("details");
  if (!dlg.open) dlg.showModal();
  await fillDetails();
}

async function fillDetails() {
  const { app, id } = current;
  const path = `/admin/api/instances/${encodeURIComponent(app)}/${encodeURIComponent(id)}`;
  let i;
  try {
    i = await api(path);
  } catch (e) {
    setText("d-title", `${app} / ${id}`);
    setText("d-action-msg", e.status === 404 ? "This instance is no longer registered." : e.message);
    return;
  }
  setText("d-title", `${i.app} / ${i.instanceId}`);
  const kv = (dl, pairs) => $(dl).replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v == null || v === "" ? "—" : String(v) })]));
  const l = i.lease;
  kv("d-lease", [
    ["Status", i.status + (i.override ? ` (operator override: ${i.override})` : "")],
    ["Registered", fmtTime(l.registeredAt)],
    ["Last renewal", `${fmtTime(l.lastRenewal)} (${fmtAgo(l.lastRenewal)})`],
    ["Expires", `${fmtTime(l.expiresAt)} (${fmtAgo(l.expiresAt)})`],
    ["Up since", fmtTime(l.serviceUpAt)],
    ["Renews every / lease lasts", `${l.renewalIntervalSecs}s / ${l.durationSecs}s`],
    ["Eviction", l.expired ? (l.eviction === "shielded" ? "expired, kept by self-preservation" : "expired, evicted at the next run") : "lease is live"],
  ]);
  kv("d-info", [
    ["Host", i.hostName], ["IP", i.ipAddr], ["Port", i.port], ["Secure port", i.securePort],
    ["VIP", i.vipAddress], ["Secure VIP", i.secureVipAddress], ["Data center", i.dataCenter],
    ["Zone", i.zone], ["Home page", i.homePageUrl], ["Status page", i.statusPageUrl], ["Health check", i.healthCheckUrl],
    ["Last change", `${i.actionType} at ${fmtTime(i.lastUpdated)}`], ["Last dirty", fmtTime(i.lastDirty)],
  ]);
  const meta = Object.keys(i.metadata).sort().map((k) => [k, i.metadata[k]]);
  kv("d-meta", meta.length ? meta : [["(none)", ""]]);
  $("d-out").disabled = i.status === "OUT_OF_SERVICE";
  $("d-in").disabled = i.status === "UP" && !i.override;
}

async function statusAction(out) {
  const { app, id } = current;
  const verb = out ? "out-of-service" : "in-service";
  const msg = $("d-action-msg");
  msg.className = "";
  msg.textContent = "…";
  try {
    await api(`/admin/api/instances/${encodeURIComponent(app)}/${encodeURIComponent(id)}/${verb}`, { method: "POST" });
    msg.className = "ok";
    msg.textContent = out ? "Taken out of service." : "Back in service.";
  } catch (e) {
    msg.className = "bad";
    msg.textContent = e.status === 401 || e.status === 403
      ? `Refused (${e.status}): enter operator credentials at the top of the page. ${e.message}`
      : `Failed: ${e.message}`;
  }
  await fillDetails();
  schedule();
}

// ---- routing, refresh and live updates ----

function view() { return location.pathname.replace(/\/+$/, "").endsWith("/lastn") ? "lastn" : "home"; }

async function refresh() {
  try {
    if (view() === "lastn") await refreshLastN(); else await refreshHome();
    showError("");
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

function connect() {
  const live = $("live");
  if (!window.EventSource) {
    live.textContent = "polling";
    setInterval(refresh, 5000);
    return;
  }
  const es = new EventSource("/admin/api/stream");
  es.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
  es.onerror = () => { live.textContent = "reconnecting…"; live.classList.remove("on"); };
  for (const ev of ["hello", "change", "tick"]) {
    es.addEventListener(ev, () => {
      schedule();
      if (ev === "change" && current && $("details").open) fillDetails();
    });
  }
}

async function checkCredentials() {
  const state = $("auth-state");
  if (!sessionStorage.getItem(CRED_KEY)) {
    state.textContent = "read-only";
    return;
  }
  try {
    await api("/admin/api/whoami");
    state.textContent = "operator";
  } catch (e) {
    state.textContent = e.status ? `not accepted (${e.status})` : "cannot check";
  }
}

function init() {
  const v = view();
  $("view-home").hidden = v !== "home";
  $("view-lastn").hidden = v !== "lastn";
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.view === v) a.setAttribute("aria-current", "page");
  }
  $("auth").addEventListener("submit", (e) => {
    e.preventDefault();
    const v = $("token").value.trim();
    if (v) sessionStorage.setItem(CRED_KEY, v); else sessionStorage.removeItem(CRED_KEY);
    $("token").value = "";
    checkCredentials();
  });
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
  $("q").addEventListener("input", schedule);
  $("status").addEventListener("change", refresh);
  $("d-out").addEventListener("click", () => statusAction(true));
  $("d-in").addEventListener("click", () => statusAction(false));
  $("details").addEventListener("close", () => { current = null; });
  checkCredentials();
  refresh();
  connect();
}

document.addEventListener("DOMContentLoaded", init);
