// The hosted browser flow in a real Chromium (Debian's, driven by playwright-core) against
// a real server on loopback (scripts/test-web.sh starts it with --web-dir). The camera is
// Chromium's fake capture device playing a .y4m the CLI renders for each session's plan:
// the production path getUserMedia → video → wasm core → signed upload. The light step with
// a genuine subject needs a camera that sees the page's colours: that test replaces
// getUserMedia with a closed-loop rendered camera (closed_loop_camera.js).
//
// Environment: TEST_SERVER_URL, TEST_API_KEY, TEST_TENANT_ID, TEST_DATABASE_URL, LIVENESS_CLI,
// LIVENESS_SERVER, CHROMIUM, WORK (scratch folder, screenshots land in $WORK/screens).

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';

// ES modules ignore NODE_PATH: resolve playwright-core from the folder scripts/setup.sh installed it in.
const require = createRequire(path.join(process.env.NODE_PATH || process.cwd(), 'resolver.js'));
const { chromium } = require('playwright-core');

const SERVER = process.env.TEST_SERVER_URL;
const API_KEY = process.env.TEST_API_KEY;
const CLI = process.env.LIVENESS_CLI;
const WORK = process.env.WORK;
const SCREENS = path.join(WORK, 'screens');
mkdirSync(SCREENS, { recursive: true });
const BASE_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--use-fake-device-for-media-stream'];

let failures = 0;
const results = [];

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

// The integrator's site: where the hosted page sends the user back to, and the self-hosted
// example page (bindings-web/example) with the package under /liveness/ and its backend's
// /session. The page calls the liveness server cross-origin: the site's origin is one of the
// tenant's web origins (admin web-origins), so the server answers it with CORS.
const EXAMPLE = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'example');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream' };
let exampleSession = null;
const site = createServer((req, res) => {
  const url = new URL(req.url, 'http://site');
  const file = (dir, rel) => {
    try {
      const full = path.join(dir, path.normalize(rel).replace(/^(\.\.[/\\])+/, ''));
      const body = readFileSync(full);
      res.writeHead(200, { 'content-type': TYPES[path.extname(full)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  };
  if (url.pathname === '/camera' && req.method === 'POST') return cameraFrame(req, res);
  if (url.pathname.startsWith('/example/')) return file(EXAMPLE, url.pathname.slice('/example/'.length) || 'index.html');
  if (url.pathname.startsWith('/liveness/')) return file(process.env.WEB_DIR, url.pathname.slice('/liveness/'.length));
  if (url.pathname === '/session' && req.method === 'POST') {
    // What the backend hands the page: never the result token.
    // and where the liveness server is.
    const { session_id, nonce, plan, submission_token, submission_expires_at } = exampleSession;
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ session_id, nonce, plan, submission_token, submission_expires_at, server: SERVER }));
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>integrator</title><h1>${url.pathname}</h1>`);
});
await new Promise((r) => site.listen(0, '127.0.0.1', r));
const SITE = `http://127.0.0.1:${site.address().port}`;
execFileSync(process.env.LIVENESS_SERVER, [
  '--database-url', process.env.TEST_DATABASE_URL, 'admin', 'web-origins',
  '--tenant', process.env.TEST_TENANT_ID, '--origin', SITE,
], { stdio: ['ignore', 'ignore', 'inherit'] });

async function api(method, p, body, token = API_KEY) {
  const r = await fetch(new URL(p, SERVER), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

async function newSession(name, extra = {}) {
  // Recorded clips cannot answer the screen-light step: the no-flash path (as scripts/test.sh).
  const options = {
    action: 'BlinkEyes',
    light_challenge: false,
    relay_state: `relay-${name}`,
    redirect_url: `${SITE}/done`,
    error_url: `${SITE}/error`,
    cancel_url: `${SITE}/cancel`,
    ...extra,
  };
  const r = await api('POST', '/v1/sessions', options);
  assert(r.status === 201, `create session: ${r.status} ${JSON.stringify(r.json)}`);
  assert(r.json.redirect_url?.startsWith(`${SERVER}/ui/${r.json.session_id}/liveness?otp=`), `redirect_url: ${r.json.redirect_url}`);
  const file = path.join(WORK, `${name}.json`);
  writeFileSync(file, JSON.stringify(r.json));
  return { ...r.json, file };
}

function clip(session, name, attack) {
  const out = path.join(WORK, `${name}.y4m`);
  const args = ['render', '--for-session', session.file, '--out', out];
  if (attack) args.push('--attack', attack);
  execFileSync(CLI, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}

// The closed-loop camera's renderer: `liveness render --serve` for the session's plan, one
// frame per request (see closed_loop_camera.js and rust-core/cli/src/subject.rs).
const CLOSED_LOOP = path.join(path.dirname(new URL(import.meta.url).pathname), 'closed_loop_camera.js');
let activeCamera = null;
// POST /camera (from the closed-loop camera's worker, cross-origin and simple: no preflight):
// a frame request as JSON, answered with the frame as u32 width, u32 height (LE), RGBA.
function cameraFrame(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const headers = { 'access-control-allow-origin': '*' };
    const request = JSON.parse(Buffer.concat(chunks).toString());
    const { latency_ms: latency, ...frameRequest } = request;
    const answer = await activeCamera?.frame(JSON.stringify(frameRequest), latency);
    if (!answer) return res.writeHead(410, headers).end();
    const head = Buffer.alloc(8);
    head.writeUInt32LE(answer.width, 0);
    head.writeUInt32LE(answer.height, 4);
    res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream' });
    res.end(Buffer.concat([head, answer.rgba]));
  });
}

function renderedCamera(session) {
  const child = spawn(CLI, ['render', '--for-session', session.file, '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  // Output kept as chunks and joined once per frame (a frame is ~1.2 MB in 64 KiB reads).
  let chunks = [];
  let size = 0;
  const joined = () => {
    if (chunks.length !== 1) chunks = [Buffer.concat(chunks, size)];
    return chunks[0];
  };
  let head = null; // the current frame's { width, height, start, end } once its line is in
  let waiting = null;
  let ended = false;
  const pump = () => {
    if (!waiting) return;
    if (ended) {
      waiting(null);
      waiting = null;
      return;
    }
    if (!head) {
      if (size === 0) return;
      const buf = joined();
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      const [tag, w, h] = buf.subarray(0, nl).toString().split(' ');
      if (tag !== 'frame') {
        console.error(`the renderer said: ${buf.subarray(0, nl)}`);
        ended = true;
        return pump();
      }
      head = { width: Number(w), height: Number(h), start: nl + 1, end: nl + 1 + Number(w) * Number(h) * 4 };
    }
    if (size < head.end) return;
    const buf = joined();
    const rgba = Buffer.from(buf.subarray(head.start, head.end));
    const rest = buf.subarray(head.end);
    chunks = rest.length ? [rest] : [];
    size = rest.length;
    const { width, height } = head;
    head = null;
    const answer = waiting;
    waiting = null;
    answer({ width, height, rgba });
  };
  child.stdout.on('data', (d) => {
    chunks.push(d);
    size += d.length;
    pump();
  });
  child.on('exit', () => {
    ended = true;
    pump();
  });
  child.stdin.on('error', () => {});
  return {
    frames: 0,
    latencies: [],
    frame(json, latency) {
      this.frames++;
      if (Number.isFinite(latency)) this.latencies.push(latency);
      return new Promise((resolve) => {
        waiting = resolve;
        if (ended) return pump();
        child.stdin.write(`${json}\n`);
        pump();
      });
    },
    // Median and 95th percentile of the frames' latency, ms.
    latency() {
      const l = [...this.latencies].sort((a, b) => a - b);
      const at = (q) => l[Math.min(l.length - 1, Math.floor(q * l.length))] ?? NaN;
      return `${at(0.5).toFixed(0)} ms (p95 ${at(0.95).toFixed(0)})`;
    },
    close() {
      child.stdin.end();
      child.kill();
    },
  };
}

async function browser(video, { grantCamera = true } = {}) {
  const args = [...BASE_FLAGS];
  if (grantCamera) args.push('--use-fake-ui-for-media-stream');
  if (video) args.push(`--use-file-for-fake-video-capture=${video}`);
  return chromium.launch({ executablePath: process.env.CHROMIUM, headless: true, args });
}

async function pageIn(b, name, { bypassCSP = false } = {}) {
  const context = await b.newContext({ viewport: { width: 800, height: 900 }, bypassCSP });
  const page = await context.newPage();
  // Errors fail the test; everything else the page did is shown only when a test fails.
  const problems = [];
  const log = [];
  page.on('pageerror', (e) => {
    problems.push(String(e));
    log.push(`page error: ${e.stack ?? e}`);
  });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
    log.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('requestfailed', (r) => log.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => r.status() >= 400 && log.push(`HTTP ${r.status()}: ${r.url()}`));
  page.log = log;
  page.problems = problems;
  // The hosted page dispatches the check's events on its root; the timings come this way.
  await page.exposeFunction('__livenessStats', (stats) => {
    page.stats = stats;
  });
  await page.addInitScript(() =>
    document.addEventListener('liveness-stats', (e) => window.__livenessStats(e.detail)),
  );
  page.shot = (what) => page.screenshot({ path: path.join(SCREENS, `${name}-${what}.png`), fullPage: true });
  return page;
}

// A failure's message with what the page said, and a screenshot of where it stopped.
async function failed(page, e) {
  await page.shot('failed').catch(() => {});
  const said = page.log.length ? `\n  page: ${page.log.join('\n  ')}` : '';
  throw new Error(`${e.message ?? e}${said}\n  at ${page.url()}`, { cause: e });
}

async function result(session) {
  // The backend reads the verdict with its result token, once it is decided.
  for (let i = 0; i < 240; i++) {
    const r = await api('GET', `/v1/sessions/${session.session_id}/result`, null, session.result_token);
    if (r.status === 200 && r.json.status !== 'pending' && r.json.verdict) return r.json;
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error('no verdict within 60 s');
}

function verifiesOffline(signedVerdict, name) {
  const jwks = path.join(WORK, 'jwks.json');
  const file = path.join(WORK, `${name}.verdict.json`);
  writeFileSync(file, JSON.stringify(signedVerdict));
  return fetch(new URL('/.well-known/jwks.json', SERVER))
    .then((r) => r.text())
    .then((text) => {
      writeFileSync(jwks, text);
      const out = execFileSync(CLI, ['verify-verdict', '--jwks', jwks, '--signed-verdict', file]).toString();
      assert(out.includes('signature OK'), `offline verification: ${out}`);
    });
}

function landed(page, where, session) {
  const url = new URL(page.url());
  assert(url.origin === SITE && url.pathname === where, `landed on ${page.url()}, not ${SITE}${where}`);
  assert(url.searchParams.get('session_id') === session.session_id, `session_id in ${page.url()}`);
  assert(url.searchParams.get('relay_state') === session.options.relay_state, `relay_state in ${page.url()}`);
  for (const k of url.searchParams.keys()) {
    assert(['session_id', 'relay_state', 'error'].includes(k), `${k} in the return URL`);
  }
  return url;
}

// startAtOnce: Start is pressed as soon as it is there (no intro screenshot first), so the page's
// first_frame_since_load_ms is the time from navigation to the first analysed frame for a
// user who does not wait (the first-frame target).
async function runThrough(name, { attack, expectLive, light = false, failedCheck, closedLoop = false, startAtOnce = false }) {
  const session = await newSession(name, { light_challenge: light });
  const b = await browser(closedLoop ? null : clip(session, name, attack));
  // The closed-loop camera's worker and its frame requests are the test's, not the page's
  // (its CSP allows neither).
  const page = await pageIn(b, name, { bypassCSP: closedLoop });
  const camera = closedLoop ? renderedCamera(session) : null;
  try {
    if (camera) {
      activeCamera = camera;
      await page.addInitScript({ path: CLOSED_LOOP });
      await page.addInitScript((url) => { window.__livenessTestCamera = url; }, `${SITE}/camera`);
    }
    const loaded = Date.now();
    await page.goto(session.redirect_url);
    if (!startAtOnce) await page.shot('intro');
    await page.getByRole('button', { name: 'Start' }).click();
    await page.waitForSelector('.liveness-video');
    // The preview shows the camera (headless screenshots of a <video> come out black, so
    // read its pixels instead).
    const brightness = await page.evaluate(async () => {
      const v = document.querySelector('.liveness-video');
      while (v.readyState < 2) await new Promise((r) => setTimeout(r, 20));
      const c = document.createElement('canvas');
      c.width = 64;
      c.height = 48;
      const x = c.getContext('2d');
      x.drawImage(v, 0, 0, 64, 48);
      const px = x.getImageData(0, 0, 64, 48).data;
      let sum = 0;
      for (let i = 0; i < px.length; i += 4) sum += px[i] + px[i + 1] + px[i + 2];
      return sum / ((px.length / 4) * 3);
    });
    assert(brightness > 20, `the preview is dark (mean ${brightness.toFixed(1)})`);
    await page.shot('check');
    await page.waitForURL(`${SITE}/done?**`, { timeout: 120_000 });
    const seconds = (Date.now() - loaded) / 1000;
    await page.shot('landed');
    landed(page, '/done', session);
    const body = await result(session);
    await verifiesOffline(body.verdict, name);
    assert(body.live === expectLive, `${name}: live=${body.live} (${body.verdict.verdict}), expected ${expectLive}: ${JSON.stringify(body.reasons)}`);
    assert(page.problems.length === 0, `page errors: ${page.problems.join(' | ')}`);
    const failed = body.reasons.filter((r) => !r.passed);
    if (failedCheck) {
      // The device's own finding (device_outcome, its reason) or the server's check.
      const named = (r) => r.check.startsWith(failedCheck) || String(r.reason ?? '').startsWith(failedCheck);
      assert(failed.some(named), `${name}: no failed check or reason ${failedCheck}*: ${JSON.stringify(failed)}`);
    }
    if (!expectLive) return `${body.verdict.verdict} in ${seconds.toFixed(1)} s: ${failed.map((r) => `${r.check} (${r.reason ?? r.score})`).join('; ')}`;
    let lightNote = '';
    if (light) {
      const lit = body.reasons.find((r) => r.check === 'light_reflection');
      assert(lit?.passed === true, `${name}: the light check did not pass: ${JSON.stringify(lit)}`);
      lightNote = `; light_reflection passed (score ${lit.score}); ${camera ? `${camera.frames} frames rendered in the loop, each reaching the stream ${camera.latency()} after its scene time` : ''}`;
    }
    const st = page.stats;
    assert(st && st.frames > 0, `no stats event: ${JSON.stringify(st)}`);
    return (
      `${body.verdict.verdict} in ${seconds.toFixed(1)} s; the core ${st.analysis_ms_median.toFixed(1)} ms/frame ` +
      `(median, p95 ${st.analysis_ms_p95.toFixed(1)}) over ${st.frames} frames; after Start: models fetched ` +
      `${st.models_fetched_ms} ms, ready ${st.models_ready_ms} ms, first frame analysed ${st.first_frame_ms} ms ` +
      `(${st.first_frame_since_load_ms} ms after the page's navigation)${lightNote}`
    );
  } catch (e) {
    if (camera) e.message += ` (closed-loop camera: ${camera.frames} frames, latency ${camera.latency()})`;
    await failed(page, e);
  } finally {
    if (camera) activeCamera = null;
    camera?.close();
    await b.close();
  }
}

async function test(name, fn) {
  // ONLY=<part of a name> runs the matching tests alone (when working on one).
  if (process.env.ONLY && !name.includes(process.env.ONLY)) return;
  const started = Date.now();
  try {
    const note = await fn();
    results.push(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)${note ? `: ${note}` : ''}`);
  } catch (e) {
    failures++;
    results.push(`FAIL ${name}: ${e.stack ?? e}`);
  }
  console.log(results.at(-1));
}

// A link left unopened past its window (30 s, the shortest the options allow): created first,
// checked last, so no test waits for it.
const expiring = await newSession('expired', { submission_ttl_seconds: 30 });
const expiringAt = Date.now() + 31_000;

await test('a genuine subject performing the plan passes and lands on redirect_url', () =>
  runThrough('genuine', { expectLive: true, startAtOnce: true }));

await test('the light step in the browser: a genuine subject lit by the page\'s colours (closed-loop camera) passes', () =>
  runThrough('genuine-light', { expectLive: true, light: true, closedLoop: true }));

await test('a print of the subject is not live', () => runThrough('print', { attack: 'print', expectLive: false }));

await test('a screen replaying the performance is not live: the screen-light step catches it', () =>
  runThrough('screen', { attack: 'screen', expectLive: false, light: true, failedCheck: 'light' }));

await test('cancel lands on cancel_url; the session ends not live at once', async () => {
  const session = await newSession('cancel');
  const b = await browser(clip(session, 'cancel'));
  try {
    const page = await pageIn(b, 'cancel');
    await page.goto(session.redirect_url);
    await page.getByRole('button', { name: 'Start' }).click();
    await page.waitForSelector('.liveness-video');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForURL(`${SITE}/cancel?**`);
    landed(page, '/cancel', session);
    const body = await result(session);
    assert(body.live === false && body.status === 'incompleted', `cancelled result: ${JSON.stringify(body)}`);
    assert(JSON.stringify(body.reasons).includes('user_cancelled'), `reason: ${JSON.stringify(body.reasons)}`);
  } finally {
    await b.close();
  }
});

await test('camera permission denied lands on error_url with the reason', async () => {
  const session = await newSession('denied');
  const b = await browser(null, { grantCamera: false });
  try {
    const page = await pageIn(b, 'denied');
    await page.goto(session.redirect_url);
    await page.getByRole('button', { name: 'Start' }).click();
    await page.waitForURL(`${SITE}/error?**`, { timeout: 30_000 });
    const url = landed(page, '/error', session);
    assert(url.searchParams.get('error') === 'permission_denied', `error=${url.searchParams.get('error')}`);
    const body = await result(session);
    assert(body.live === false && JSON.stringify(body.reasons).includes('camera_unavailable'), JSON.stringify(body));
  } finally {
    await b.close();
  }
});

await test('a reused, an unknown and an expired link each show a clear page', async () => {
  const b = await browser(null);
  try {
    const page = await pageIn(b, 'links');
    const session = await newSession('reused');
    await page.goto(session.redirect_url);
    await page.getByRole('button', { name: 'Start' }).waitFor();
    // The page's token replaced the session's first one.
    const old = await api('POST', '/v1/submissions/cancel', { reason: 'user_cancelled' }, session.submission_token);
    assert(old.status === 401, `the creation's submission token still works after the link opened: ${old.status}`);
    let r = await page.goto(session.redirect_url);
    assert(r.status() === 410, `reused link: HTTP ${r.status()}`);
    assert((await page.getAttribute('main', 'data-code')) === 'link_used', 'reused link page');
    assert((await page.textContent('h1')).includes('already used'), 'reused link title');
    await page.shot('reused');
    const csp = r.headers()['content-security-policy'];
    assert(csp.includes("default-src 'none'") && csp.includes("frame-ancestors 'none'"), `csp: ${csp}`);
    r = await page.goto(session.redirect_url.replace(/otp=[^&]+/, 'otp=otp_nottherightone'));
    assert(r.status() === 404 && (await page.getAttribute('main', 'data-code')) === 'link_unknown', 'unknown link');
    await page.shot('unknown');
    await new Promise((res) => setTimeout(res, Math.max(0, expiringAt - Date.now())));
    r = await page.goto(expiring.redirect_url);
    assert(r.status() === 410 && (await page.getAttribute('main', 'data-code')) === 'link_expired', `expired link: ${r.status()}`);
    await page.shot('expired');
  } finally {
    await b.close();
  }
});

await test('hand-off: the desktop shows a QR code, the phone runs the check, the desktop lands on redirect_url', async () => {
  const session = await newSession('handoff');
  const video = clip(session, 'handoff');
  const desktopBrowser = await browser(null);
  const phoneBrowser = await browser(video);
  try {
    const desktop = await pageIn(desktopBrowser, 'handoff-desktop');
    await desktop.goto(session.redirect_url);
    await desktop.getByRole('button', { name: 'Continue on your phone' }).click();
    await desktop.waitForSelector('img.hosted-qr');
    await desktop.shot('qr');
    const link = (await desktop.textContent('.hosted-link code')).trim();
    assert(link.startsWith(`${SERVER}/ui/${session.session_id}/liveness?otp=`), `phone link ${link}`);
    const qrLoaded = await desktop.$eval('img.hosted-qr', (img) => img.complete && img.naturalWidth > 0);
    assert(qrLoaded, 'the QR code did not render');
    const phone = await pageIn(phoneBrowser, 'handoff-phone');
    await phone.goto(link);
    assert(!(await phone.getByRole('button', { name: 'Continue on your phone' }).count()), 'the phone offers a hand-off');
    await phone.getByRole('button', { name: 'Start' }).click();
    await desktop.waitForFunction(() => document.querySelector('.hosted-status')?.textContent.includes('phone'), null, { timeout: 30_000 });
    await phone.waitForSelector('[data-screen="end-completed"]', { timeout: 120_000 });
    await phone.shot('done');
    await desktop.waitForURL(`${SITE}/done?**`, { timeout: 30_000 });
    landed(desktop, '/done', session);
    const body = await result(session);
    assert(body.live === true, `hand-off verdict: ${JSON.stringify(body.reasons)}`);
    // The phone's link is used up too.
    const again = await phone.goto(link);
    assert(again.status() === 410, `phone link reused: ${again.status()}`);
  } finally {
    await desktopBrowser.close();
    await phoneBrowser.close();
  }
});

await test('hand-off: cancelling on the phone lands the desktop on cancel_url', async () => {
  const session = await newSession('handoff-cancel');
  const desktopBrowser = await browser(null);
  const phoneBrowser = await browser(clip(session, 'handoff-cancel'));
  try {
    const desktop = await pageIn(desktopBrowser, 'handoff-cancel-desktop');
    await desktop.goto(session.redirect_url);
    await desktop.getByRole('button', { name: 'Continue on your phone' }).click();
    const link = (await desktop.textContent('.hosted-link code')).trim();
    const phone = await pageIn(phoneBrowser, 'handoff-cancel-phone');
    await phone.goto(link);
    await phone.getByRole('button', { name: 'Cancel' }).click();
    await phone.waitForSelector('[data-screen="end-cancelled"]');
    await desktop.waitForURL(`${SITE}/cancel?**`, { timeout: 30_000 });
    landed(desktop, '/cancel', session);
  } finally {
    await desktopBrowser.close();
    await phoneBrowser.close();
  }
});

await test('the example page: <liveness-check> on the integrator\'s own site, calling the server cross-origin (CORS)', async () => {
  const session = await newSession('example');
  exampleSession = session;
  const video = clip(session, 'example');
  const b = await browser(video);
  const page = await pageIn(b, 'example');
  const calls = [];
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/v1/')) calls.push(`${r.request().method()} ${u.origin}${u.pathname} ${r.status()}`);
  });
  try {
    await page.goto(`${SITE}/example/`);
    await page.waitForSelector('.liveness-video');
    await page.shot('check');
    await page.waitForURL(`${SITE}/done?**`, { timeout: 120_000 });
    const url = new URL(page.url());
    assert(url.searchParams.get('session_id') === session.session_id, `session_id in ${page.url()}`);
    const body = await result(session);
    assert(body.live === true, `example: ${JSON.stringify(body.reasons)}`);
    assert(page.problems.length === 0, `page errors: ${page.problems.join(' | ')}`);
    const submitted = calls.filter((c) => c.startsWith(`POST ${SERVER}/v1/submissions `));
    assert(submitted.length === 1 && submitted[0].endsWith(' 202'), `the upload went to the server cross-origin: ${calls.join('; ')}`);
    assert(calls.some((c) => c.startsWith(`GET ${SERVER}/v1/jobs/`)), `the job was followed cross-origin: ${calls.join('; ')}`);
    return `${body.verdict.verdict}; ${calls.length} cross-origin calls to the server`;
  } catch (e) {
    await failed(page, e);
  } finally {
    await b.close();
  }
});

site.close();
console.log(`\nweb: ${results.length - failures} passed, ${failures} failed; screenshots in ${SCREENS}`);
process.exit(failures ? 1 : 0);
