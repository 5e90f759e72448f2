// The hosted page the server serves at /ui/{session}/liveness?otp=… (see server/src/api/
// hosted.rs). It reads the descriptor the server embedded, runs the check here or hands it
// to a phone (a QR code of a second one-time link, then it follows the session), and goes
// where the session's options say: `exits.completed` / `exits.error` / `exits.cancelled`,
// each already carrying session_id and relay_state (never the result). A phone's page ends
// on "go back to your computer": the desktop that follows the session goes on.

import { runCheck, pickLanguage, preload } from './liveness.js';

const d = JSON.parse(document.getElementById('liveness-session').textContent);
const root = document.getElementById('liveness-root');
const assets = new URL('.', import.meta.url).href;
const lang = pickLanguage();
document.documentElement.lang = lang;
const strings = await fetch(new URL('hosted_strings.json', assets))
  .then((r) => (r.ok ? r.json() : {}))
  .catch(() => ({}));
const t = (k) => strings[lang]?.[k] ?? strings.en?.[k] ?? k;
const phone = d.kind === 'phone';
document.title = t('title');

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

function show(screen, ...children) {
  root.dataset.screen = screen;
  root.replaceChildren(...children);
}

/** A final screen, where the session gave no page to go to (and on the phone). */
function finalScreen(outcome, code) {
  const title = { completed: 'done_title', cancelled: 'cancelled_title' }[outcome] ?? 'error_title';
  let text = { completed: 'done_text', cancelled: 'cancelled_text' }[outcome] ?? 'error_text';
  if (phone && outcome === 'completed') text = 'phone_done_text';
  const p = el('p', { role: 'status' }, t(text));
  if (code) p.dataset.code = code;
  show(`end-${outcome}`, el('h1', {}, t(title)), p);
}

function leave(outcome, code) {
  const target = phone ? null : d.exits?.[outcome];
  if (!target) return finalScreen(outcome, code);
  const url = new URL(target);
  if (code) url.searchParams.set('error', code);
  // replace: Back must not return to a link that is used up.
  location.replace(url.href);
}

async function call(method, path, token, body) {
  const r = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    credentials: 'omit',
  });
  const json = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(json?.error?.message ?? `HTTP ${r.status}`), { code: json?.error?.code });
  return json;
}

async function cancelHere() {
  try {
    await call('POST', '/v1/submissions/cancel', d.submission_token, { reason: 'user_cancelled' });
  } catch {
    /* the server ends the session when its window closes */
  }
  leave('cancelled');
}

function intro() {
  const buttons = [el('button', { type: 'button', class: 'hosted-primary', onclick: check }, t('start'))];
  if (!phone && d.watch_token) {
    buttons.push(el('button', { type: 'button', class: 'hosted-secondary', onclick: handoff }, t('use_phone')));
  }
  buttons.push(el('button', { type: 'button', class: 'hosted-secondary', onclick: cancelHere }, t('cancel')));
  show('intro', el('h1', {}, t('title')), el('p', {}, t('intro')), el('div', { class: 'hosted-actions' }, ...buttons));
}

async function check() {
  const container = el('div', { class: 'hosted-check' });
  show('check', container);
  // The check's events as DOM events on the page's root (`liveness-<type>`), for whoever
  // watches the page (its tests read the timings this way).
  const onEvent = (e) => root.dispatchEvent(new CustomEvent(`liveness-${e.type.replace(/_/g, '-')}`, { detail: e, bubbles: true }));
  const result = await runCheck({ session: d, container, assets, language: lang, onEvent });
  if (result.outcome === 'completed') leave('completed');
  else if (result.outcome === 'cancelled') leave('cancelled');
  else leave('error', result.code);
}

async function handoff() {
  let link;
  try {
    link = await call('POST', `/ui/${encodeURIComponent(d.session_id)}/handoff`, d.watch_token);
  } catch (e) {
    return leave('error', e.code ?? 'network');
  }
  const qr = URL.createObjectURL(new Blob([link.qr_svg], { type: 'image/svg+xml' }));
  const status = el('p', { class: 'hosted-status', role: 'status', 'aria-live': 'polite' }, t('waiting_phone'));
  const stop = { done: false };
  const cancel = async () => {
    stop.done = true;
    try {
      await call('POST', `/ui/${encodeURIComponent(d.session_id)}/cancel`, d.watch_token);
    } catch {
      /* ended all the same when the window closes */
    }
    leave('cancelled');
  };
  show(
    'handoff',
    el('h1', {}, t('use_phone')),
    el('p', {}, t('scan')),
    el('img', { class: 'hosted-qr', src: qr, alt: t('scan'), width: '240', height: '240' }),
    el('p', {}, t('or_open')),
    el('p', { class: 'hosted-link' }, el('code', {}, link.url)),
    status,
    el('div', { class: 'hosted-actions' }, el('button', { type: 'button', class: 'hosted-secondary', onclick: cancel }, t('cancel'))),
  );
  follow(status, stop);
}

// Polls the session's progress (never its verdict) until it ends.
async function follow(status, stop) {
  const path = `/ui/${encodeURIComponent(d.session_id)}/progress`;
  while (!stop.done) {
    let p;
    try {
      p = await call('GET', path, d.watch_token);
    } catch (e) {
      if (e.code === 'invalid_watch_token') return leave('error', e.code);
      p = null; // a network blip: try again
    }
    switch (p?.state) {
      case 'phone_opened':
        status.textContent = t('phone_opened');
        break;
      case 'submitted':
        status.textContent = t('checking');
        break;
      case 'done':
        return leave('completed');
      case 'cancelled':
        return p.reason === 'user_cancelled' ? leave('cancelled') : leave('error', p.reason);
      case 'expired':
        return leave('error', 'timed_out');
      default:
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

intro();
// The phone hand-off never runs the check on this page; any other page may, so the core
// and models download while the intro is read. runCheck reports a failure again.
preload(assets).catch(() => {});
