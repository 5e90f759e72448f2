// The hosted browser flow in a real Chromium (Debian's, driven by playwright-core) against
// a real server on loopback (scripts/test-web.sh starts it with --web-dir). The camera is
// Chromium's fake capture device playing a .y4m the CLI renders for each session's plan:
// the production path getUserMedia → video → wasm core → signed upload.
//
// Environment: TEST_SERVER_URL, TEST_API_KEY, LIVENESS_CLI, CHROMIUM, WORK (scratch folder,
// screenshots land in $WORK/screens).

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';

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

// The integrator's site: where the hosted page sends the user back to.
const site = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>integrator</title><h1>${req.url.split('?')[0]}</h1>`);
});
await new Promise((r) => site.listen(0, '127.0.0.1', r));
const SITE = `http://127.0.0.1:${site.address().port}`;

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

async function browser(video, { grantCamera = true } = {}) {
  const args = [...BASE_FLAGS];
  if (grantCamera) args.push('--use-fake-ui-for-media-stream');
  if (video) args.push(`--use-file-for-fake-video-capture=${video}`);
  return chromium.launch({ executablePath: process.env.CHROMIUM, headless: true, args });
}

async function pageIn(b, name) {
  const context = await b.newContext({ viewport: { width: 800, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.problems = problems;
  page.shot = (what) => page.screenshot({ path: path.join(SCREENS, `${name}-${what}.png`), fullPage: true });
  return page;
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

async function runThrough(name, { attack, expectLive }) {
  const session = await newSession(name);
  const video = clip(session, name, attack);
  const b = await browser(video);
  try {
    const page = await pageIn(b, name);
    const loaded = Date.now();
    await page.goto(session.redirect_url);
    await page.shot('intro');
    await page.getByRole('button', { name: 'Start' }).click();
    await page.waitForSelector('.liveness-video');
    await page.waitForTimeout(1500);
    await page.shot('check');
    await page.waitForURL(`${SITE}/done?**`, { timeout: 120_000 });
    const seconds = (Date.now() - loaded) / 1000;
    await page.shot('landed');
    landed(page, '/done', session);
    const body = await result(session);
    await verifiesOffline(body.verdict, name);
    assert(body.live === expectLive, `${name}: live=${body.live} (${body.verdict.verdict}), expected ${expectLive}: ${JSON.stringify(body.reasons)}`);
    assert(page.problems.length === 0, `page errors: ${page.problems.join(' | ')}`);
    return `${body.verdict.verdict} in ${seconds.toFixed(1)} s`;
  } finally {
    await b.close();
  }
}

async function test(name, fn) {
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
  runThrough('genuine', { expectLive: true }));

await test('a print of the subject is not live', () => runThrough('print', { attack: 'print', expectLive: false }));

await test('a screen replaying the performance is not live', () =>
  runThrough('screen', { attack: 'screen', expectLive: false }));

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

site.close();
console.log(`\nweb: ${results.length - failures} passed, ${failures} failed; screenshots in ${SCREENS}`);
process.exit(failures ? 1 : 0);
