'use strict';

// Drives the real eureka-js-client against a running eurekad.
//
// Configuration comes from the environment (set by test/e2e):
//   EUREKA_HOST, EUREKA_PORT, EUREKA_SERVICE_PATH (default /eureka/apps/),
//   JS_APP (application name), JS_VIP (vipAddress); for HTTPS, EUREKA_CA
//   (PEM file of the server's CA) and, for a client certificate, EUREKA_CERT
//   and EUREKA_KEY; JS_SCENARIO picks the scenario: lifecycle (the default),
//   admission or reader.
//
// Scenario lifecycle: client A registers, heartbeats and fetches the full registry;
// client B registers; A learns about B through deltas; B deregisters; A
// learns that through deltas too. Then the script prints
//   {"phase":"ready",...}
// on stdout and waits for a line on stdin, so the Go test can inspect the
// server while A is still registered and heartbeating. After that line A
// stops (deregisters) and the script prints
//   {"phase":"done","ok":true|false,...}
// and exits 0 only if every step succeeded. Client logs go to stderr.
//
// Scenario admission, against an eurekad whose admission plugin is
// examples/admission-plugin: client B (ipAddr 127.0.0.1, no team metadata)
// and client C (team metadata, ipAddr 127.0.0.11, not the address it
// connects from) must fail to start; their errors are kept in "refusals"
// and what they logged in "expectedErrors". Client A (ipAddr 127.0.0.1,
// team metadata) registers, heartbeats and must see itself in its registry
// cache with the metadata the plugin added. Then the same ready / go-ahead
// / done protocol as above, A deregistering at the go-ahead.
//
// Scenario health: client A registers an instance whose healthCheckUrl is
// JS_HEALTH_URL (a test server the Go test turns from 200 to 500 and
// back) with metadata eurekad.check: http, so eurekad probes it; A
// heartbeats and fetches deltas. It prints "ready", then for each line
// "status S" on stdin waits until its own registry cache (the VIP cache,
// which applies MODIFIED deltas) shows its instance with status S and
// prints {"phase":"status-S"}; the line "go" stops A, which prints "done".
//
// Scenario reader: client R registers nothing and only fetches the registry
// (full, then deltas) every second, with the client's own timer, so that a
// drain (POST /admin/api/.../drain) waits for it. It prints "ready" after
// its second fetch, keeps fetching until the go-ahead, and then prints
// "done" with the status its cache holds for each instance of JS_APP in
// "seen" (instance id to status), so the Go test can check what the client
// itself saw.

const { Eureka } = require('eureka-js-client');
const fs = require('fs');
const readline = require('readline');

const env = (name, dflt) => {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (dflt === undefined) throw new Error(`missing environment variable ${name}`);
    return dflt;
  }
  return v;
};

const host = env('EUREKA_HOST', '127.0.0.1');
const port = Number(env('EUREKA_PORT'));
const servicePath = env('EUREKA_SERVICE_PATH', '/eureka/apps/');
const app = env('JS_APP', 'jsclient-e2e');
const vip = env('JS_VIP', 'jsclient-e2e.vip');
const scenario = env('JS_SCENARIO', 'lifecycle');
const deadlineMs = 45000;
// TLS options for the request library, set on every request.
const tls = {};
if (process.env.EUREKA_CA) tls.ca = fs.readFileSync(process.env.EUREKA_CA);
if (process.env.EUREKA_CERT) tls.cert = fs.readFileSync(process.env.EUREKA_CERT);
if (process.env.EUREKA_KEY) tls.key = fs.readFileSync(process.env.EUREKA_KEY);

const summary = {
  phase: 'ready',
  app: app.toUpperCase(),
  vip,
  instanceA: `js-a-${port}.e2e.local`,
  instanceB: `js-b-${port}.e2e.local`,
  instanceC: `js-c-${port}.e2e.local`,
  events: {},
  requests: {},
  clientErrors: [],
  // Admission scenario: what a refused client's start reported, by client,
  // and what refused clients logged (expected, so not clientErrors).
  refusals: {},
  expectedErrors: [],
  steps: [],
};

// A logger on stderr that also keeps the client's errors and the warnings
// that mean a request failed in errors (by default clientErrors, which fail
// the scenario).
function makeLogger(name, errors = summary.clientErrors) {
  const failureWarnings = [/FAILED/, /^Error /, /Unknown delta actionType/, /request failed/];
  const log = (level) => (...args) => {
    const text = args.map((a) => (a instanceof Error ? a.stack : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
    process.stderr.write(`[${name} ${level}] ${text}\n`);
    if (level === 'error' || (level === 'warn' && failureWarnings.some((re) => re.test(text)))) {
      errors.push(`${name}: ${text}`);
    }
  };
  return { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug'), level() {} };
}

function instanceConfig(hostName, ipAddr, portNumber, metadata = {}) {
  return {
    app,
    hostName,
    ipAddr,
    port: { $: portNumber, '@enabled': true },
    vipAddress: vip,
    statusPageUrl: `http://${hostName}:${portNumber}/info`,
    healthCheckUrl: `http://${hostName}:${portNumber}/health`,
    homePageUrl: `http://${hostName}:${portNumber}/`,
    dataCenterInfo: {
      '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo',
      name: 'MyOwn',
    },
    metadata: Object.assign({ client: 'eureka-js-client', 'e2e.run': String(port) }, metadata),
  };
}

function makeClient(name, instance, eurekaOverrides, errors) {
  summary.events[name] = {};
  summary.requests[name] = [];
  const client = new Eureka({
    logger: makeLogger(name, errors),
    // Keep the client from reading eureka-client*.yml from the cwd.
    cwd: __dirname,
    filename: 'no-such-eureka-config',
    shouldUseDelta: true,
    // Records every request the client makes (method and path below servicePath).
    requestMiddleware: (opts, done) => {
      summary.requests[name].push(`${(opts.method || 'GET').toUpperCase()} ${opts.uri}`);
      done(Object.assign(opts, tls));
    },
    instance,
    eureka: Object.assign({
      host,
      port,
      ssl: tls.ca !== undefined,
      servicePath,
      maxRetries: 1,
      requestRetryDelay: 100,
      heartbeatInterval: 100,
      registryFetchInterval: 200,
    }, eurekaOverrides),
  });
  for (const ev of ['started', 'registered', 'deregistered', 'heartbeat', 'registryUpdated']) {
    client.on(ev, () => { summary.events[name][ev] = (summary.events[name][ev] || 0) + 1; });
  }
  return client;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const call = (fn) => new Promise((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
const hostNames = (list) => list.map((i) => i.hostName).sort();

// waitFor polls cond (which may fetch) until it returns true.
async function waitFor(what, cond, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) {
      summary.steps.push(what);
      return;
    }
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
}

function count(name, method, uri) {
  return summary.requests[name].filter((r) => r === `${method} ${uri}`).length;
}

async function run() {
  const a = makeClient('A', instanceConfig(summary.instanceA, '127.0.0.11', 8080), {});
  const b = makeClient('B', instanceConfig(summary.instanceB, '127.0.0.12', 8081), {
    fetchRegistry: false,
    heartbeatInterval: 1000,
  });

  // A: register (204), start heartbeats and the full fetch.
  await call((cb) => a.start(cb));
  summary.steps.push('A started');

  // A's own instance shows up in its cache (the first fetch may have run
  // before the registration was visible; later fetches are deltas).
  await waitFor('A sees itself', async () => {
    await call((cb) => a.fetchRegistry(cb));
    return hostNames(a.getInstancesByAppId(app)).includes(summary.instanceA);
  });

  await waitFor('A sent at least 3 heartbeats', async () => (summary.events.A.heartbeat || 0) >= 3);

  // B registers; A must learn about it from deltas only.
  const fullFetchesBeforeB = count('A', 'GET', '');
  await call((cb) => b.start(cb));
  summary.steps.push('B started');
  await waitFor('A sees B by app and VIP via delta', async () => {
    await call((cb) => a.fetchRegistry(cb));
    return hostNames(a.getInstancesByAppId(app)).includes(summary.instanceB) &&
      hostNames(a.getInstancesByVipAddress(vip)).join() === [summary.instanceA, summary.instanceB].sort().join();
  });
  if (count('A', 'GET', '') !== fullFetchesBeforeB) {
    throw new Error('A did a full registry fetch after its first one; expected deltas only');
  }

  // B deregisters (200); A's delta removes it from the VIP cache. (The
  // client's app-cache removal has an index bug, so only the VIP cache is
  // a reliable view of deletions.)
  await call((cb) => b.stop(cb));
  summary.steps.push('B stopped');
  await waitFor('A sees B gone from the VIP via delta', async () => {
    await call((cb) => a.fetchRegistry(cb));
    return hostNames(a.getInstancesByVipAddress(vip)).join() === summary.instanceA;
  });

  summary.deltaFetches = count('A', 'GET', 'delta');
  summary.fullFetches = count('A', 'GET', '');
  // Once A has the full registry it must use deltas only. (Under load the
  // interval fetch can overlap the first full fetch, so several full
  // fetches may come before the first delta.)
  const firstDelta = summary.requests.A.indexOf('GET delta');
  summary.fullFetchesAfterFirstDelta = summary.requests.A.slice(firstDelta).filter((r) => r === 'GET ').length;
  report('ready');

  // Wait for the Go test to inspect the server.
  await goAhead();

  const heartbeatsBeforeStop = summary.events.A.heartbeat || 0;
  await call((cb) => a.stop(cb));
  summary.steps.push('A stopped');
  summary.heartbeatsBeforeStop = heartbeatsBeforeStop;
  report('done');
}

async function runAdmission() {
  const team = { team: 'orders' };
  // B lacks the team metadata and C claims an address it does not connect
  // from: the plugin refuses both, so start must fail (403 is not retried).
  const refused = {
    B: instanceConfig(summary.instanceB, '127.0.0.1', 8081),
    C: instanceConfig(summary.instanceC, '127.0.0.11', 8082, team),
  };
  for (const [name, instance] of Object.entries(refused)) {
    const c = makeClient(name, instance, { fetchRegistry: false }, summary.expectedErrors);
    try {
      await call((cb) => c.start(cb));
    } catch (err) {
      summary.refusals[name] = err.message;
      continue;
    }
    throw new Error(`client ${name} started although its registration breaks the admission rule`);
  }
  summary.steps.push('B and C refused');

  const a = makeClient('A', instanceConfig(summary.instanceA, '127.0.0.1', 8080, team), {});
  await call((cb) => a.start(cb));
  summary.steps.push('A started');
  await waitFor('A sees itself with the metadata the plugin added', async () => {
    await call((cb) => a.fetchRegistry(cb));
    const self = a.getInstancesByAppId(app).find((i) => i.hostName === summary.instanceA);
    return self !== undefined && self.metadata['admitted-by'] === 'admission-plugin' && self.metadata.team === 'orders';
  });
  // Renewals never reach the admission plugin; they must simply work.
  await waitFor('A sent at least 3 heartbeats', async () => (summary.events.A.heartbeat || 0) >= 3);
  report('ready');

  await goAhead();
  await call((cb) => a.stop(cb));
  summary.steps.push('A stopped');
  report('done');
}

async function runReader() {
  const r = makeClient('R', {}, { registerWithEureka: false, registryFetchInterval: 1000 });
  await call((cb) => r.start(cb));
  summary.steps.push('R started');
  // Two fetches give the server the reader's interval.
  await waitFor('R fetched twice', async () => summary.requests.R.length >= 2);
  report('ready');

  await goAhead();
  summary.seen = {};
  for (const i of r.cache.app[app.toUpperCase()] || []) summary.seen[i.instanceId] = i.status;
  summary.fetches = summary.requests.R.length;
  await call((cb) => r.stop(cb));
  summary.steps.push('R stopped');
  report('done');
}

async function runHealth() {
  const url = new URL(env('JS_HEALTH_URL'));
  const instance = instanceConfig(summary.instanceA, '127.0.0.1', Number(url.port), { 'eurekad.check': 'http' });
  instance.healthCheckUrl = url.href;
  // Unfiltered, so that the cache keeps a DOWN instance to look at.
  const a = makeClient('A', instance, { filterUpInstances: false });
  await call((cb) => a.start(cb));
  summary.steps.push('A started');
  const own = async () => {
    await call((cb) => a.fetchRegistry(cb));
    return a.getInstancesByVipAddress(vip).find((i) => i.hostName === summary.instanceA);
  };
  await waitFor('A sees itself', async () => (await own()) !== undefined);
  report('ready');
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === 'go') break;
    if (cmd !== 'status') throw new Error(`unknown command ${line}`);
    await waitFor(`A sees itself ${arg}`, async () => {
      const self = await own();
      return self !== undefined && self.status === arg;
    }, 20000);
    report(`status-${arg}`);
  }
  rl.close();
  await call((cb) => a.stop(cb));
  summary.steps.push('A stopped');
  report('done');
}

// report prints the summary of phase; a client error fails the scenario.
function report(phase) {
  summary.phase = phase;
  summary.ok = summary.clientErrors.length === 0;
  if (!summary.ok) throw new Error('client reported errors');
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

// goAhead resolves on the Go test's line on stdin.
function goAhead() {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: process.stdin });
    rl.once('line', () => { resolve(); rl.close(); });
    rl.once('close', () => reject(new Error('stdin closed before the go-ahead')));
  });
}

const scenarios = { lifecycle: run, admission: runAdmission, reader: runReader, health: runHealth };

const timer = setTimeout(() => {
  fail(new Error(`scenario did not finish within ${deadlineMs} ms`));
}, deadlineMs);

function fail(err) {
  summary.phase = 'done';
  summary.ok = false;
  summary.error = String(err && err.stack ? err.stack : err);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(1);
}

if (!(scenario in scenarios)) fail(new Error(`unknown JS_SCENARIO ${scenario}`));
scenarios[scenario]().then(() => {
  clearTimeout(timer);
  process.exit(0);
}, fail);
