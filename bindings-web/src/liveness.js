// The web package: the SDK's Rust core (WebAssembly, `liveness_web.js`) driven from the
// browser. This file owns what the browser does: the camera, the screen, the device key
// (WebCrypto), the network; the core owns every decision about the frames.
//
// Two ways in:
// - `runCheck(options)`: runs one check inside a container element; resolves with how it
//   ended ({outcome: 'completed'|'cancelled'|'error', ...}).
// - `<liveness-check>`: the same as a custom element with typed DOM events
//   (`liveness-prompt`, `liveness-progress`, `liveness-guidance`, `liveness-complete`,
//   `liveness-cancel`, `liveness-error`).
//
// Evidence goes to the server the session came from (`server`, default: this origin) with the
// session's one-time submission token. The verdict is never shown here: the integrator's
// backend reads it with its result token.

import init, { LivenessCheck } from './liveness_web.js';

const LANGUAGES = ['en', 'fr', 'es', 'de', 'pt', 'id'];
const WIDTH = 640;
const HEIGHT = 480;

// A module with one v128 instruction: whether this engine has SIMD128.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

let coreReady = null;
let stringsReady = null;

// `assets` may be relative to the page ('/liveness/'), like an attribute's URL.
function assetUrl(assets, name) {
  const folder = new URL(assets.endsWith('/') ? assets : assets + '/', globalThis.document?.baseURI ?? import.meta.url);
  return new URL(name, folder).href;
}

function loadCore(assets) {
  coreReady ??= init({ module_or_path: assetUrl(assets, 'liveness_web_bg.wasm') });
  return coreReady;
}

async function loadStrings(assets) {
  stringsReady ??= fetch(assetUrl(assets, 'strings.json')).then((r) => {
    if (!r.ok) throw new Error(`strings.json: HTTP ${r.status}`);
    return r.json();
  });
  return stringsReady;
}

// The models' bytes, fetched once per page (a second check reuses them).
let modelsReady = null;

function loadModels(assets) {
  modelsReady ??= loadCore(assets).then(() =>
    Promise.all(
      JSON.parse(LivenessCheck.modelFiles()).map(async ({ file }) => {
        const r = await fetch(assetUrl(assets, `models/${file}`));
        if (!r.ok) throw new LivenessError('model_load', `${file}: HTTP ${r.status}`);
        return [file, new Uint8Array(await r.arrayBuffer())];
      }),
    ),
  );
  // A failed fetch is tried again by the next check.
  modelsReady.catch(() => {
    modelsReady = null;
  });
  return modelsReady;
}

// Parsing and optimising the models takes ~1.5 s in the core: done once per page, one model
// per task so the page stays responsive in between.
let preparing = null;

function prepareModels(assets) {
  preparing ??= loadModels(assets).then(async (models) => {
    for (const [file, bytes] of models) {
      await new Promise((r) => setTimeout(r, 0));
      LivenessCheck.prepareModel(file, bytes);
    }
  });
  preparing.catch(() => {
    preparing = null;
  });
  return preparing;
}

/**
 * Downloads the core, the strings and the models (~10 MB) and makes the models ready
 * before the check: call it when the page that will run a check opens (an intro screen),
 * so the first frame is analysed soon after Start. A failure here is reported again by
 * runCheck.
 */
export function preload(assets = new URL('.', import.meta.url).href) {
  return Promise.all([loadStrings(assets), prepareModels(assets)]).then(() => undefined);
}

/** The user's language among the six the SDK ships, English when none matches. */
export function pickLanguage(preferred = navigator.languages ?? [navigator.language]) {
  for (const tag of preferred) {
    const base = String(tag).toLowerCase().split('-')[0];
    const lang = base === 'in' ? 'id' : base;
    if (LANGUAGES.includes(lang)) return lang;
  }
  return 'en';
}

/** An error with the core's stable code (`invalid_input: ...` messages) or one of ours. */
export class LivenessError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'LivenessError';
    this.code = code;
  }

  static from(e, fallback = 'internal') {
    if (e instanceof LivenessError) return e;
    const text = String(e?.message ?? e);
    const m = /^([a-z_]+): (.*)$/s.exec(text);
    return m ? new LivenessError(m[1], m[2]) : new LivenessError(fallback, text);
  }
}

function b64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// The device key: a non-extractable WebCrypto Ed25519 key kept in IndexedDB, so the same
// browser profile keeps one key (the server's per-device cool-down counts on that). `null`
// when the browser has no Ed25519 in WebCrypto: the core then signs with a key of its own.
const KEY_DB = 'open-liveness';
async function deviceKey() {
  if (!globalThis.crypto?.subtle || !globalThis.indexedDB) return null;
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open(KEY_DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore('keys');
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  }).catch(() => null);
  const get = () =>
    new Promise((resolve) => {
      if (!db) return resolve(null);
      const req = db.transaction('keys').objectStore('keys').get('device');
      req.onsuccess = () => resolve(req.result ?? null);
      req.onerror = () => resolve(null);
    });
  let pair = await get();
  if (!pair) {
    try {
      pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    } catch {
      return null;
    }
    if (db) {
      await new Promise((resolve) => {
        const tx = db.transaction('keys', 'readwrite');
        tx.objectStore('keys').put(pair, 'device');
        tx.oncomplete = resolve;
        tx.onerror = resolve;
      });
    }
  }
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return { pair, publicKey: raw };
}

function browserInfo(keyStorage) {
  const ua = navigator.userAgentData;
  const brand = ua?.brands?.find((b) => !/Not.?A.?Brand/i.test(b.brand));
  return JSON.stringify({
    browser: brand ? `${brand.brand} ${brand.version}` : navigator.userAgent.slice(0, 120),
    os: ua?.platform ?? '',
    key_storage: keyStorage,
    origin: location.origin,
  });
}

// The check's screen: preview, oval, prompt (polite live region), guidance (assertive), a
// progress bar, the FollowText target, Cancel. Styles come from liveness.css; only values
// that change per frame are set through the CSSOM (allowed under a strict CSP).
function buildView(container, t) {
  container.replaceChildren();
  container.classList.add('liveness');
  const stage = document.createElement('div');
  stage.className = 'liveness-stage';
  const video = document.createElement('video');
  video.className = 'liveness-video';
  video.muted = true;
  video.playsInline = true;
  video.autoplay = true;
  video.setAttribute('aria-label', t('liveness_cd_camera_preview'));
  const oval = document.createElement('div');
  oval.className = 'liveness-oval';
  oval.setAttribute('aria-hidden', 'true');
  const target = document.createElement('div');
  target.className = 'liveness-target';
  target.textContent = t('liveness_follow_target');
  target.setAttribute('aria-label', t('liveness_cd_follow_target'));
  target.hidden = true;
  stage.append(video, oval, target);
  const prompt = document.createElement('p');
  prompt.className = 'liveness-prompt';
  prompt.setAttribute('role', 'status');
  prompt.setAttribute('aria-live', 'polite');
  const guidance = document.createElement('p');
  guidance.className = 'liveness-guidance';
  guidance.setAttribute('role', 'alert');
  guidance.setAttribute('aria-live', 'assertive');
  const progress = document.createElement('div');
  progress.className = 'liveness-progress';
  progress.setAttribute('role', 'progressbar');
  progress.setAttribute('aria-valuemin', '0');
  progress.setAttribute('aria-valuemax', '100');
  progress.setAttribute('aria-valuenow', '0');
  const bar = document.createElement('div');
  bar.className = 'liveness-progress-bar';
  progress.append(bar);
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.className = 'liveness-cancel';
  cancel.textContent = t('liveness_cancel');
  container.append(stage, prompt, guidance, progress, cancel);
  return { stage, video, target, prompt, guidance, progress, bar, cancel };
}

async function post(server, path, token, body) {
  const headers = { authorization: `Bearer ${token}` };
  if (!(body instanceof FormData)) headers['content-type'] = 'application/json';
  return fetch(new URL(path, server), {
    method: 'POST',
    headers,
    body: body instanceof FormData ? body : JSON.stringify(body),
    credentials: 'omit',
  });
}

/**
 * Runs one check in `container`.
 * options: {session (the descriptor object), assets (URL of this package's files), server
 * (base URL, default this origin), language, onEvent(event), signal (AbortSignal), camera
 * (a MediaStream to use instead of getUserMedia: tests and custom sources)}.
 */
export async function runCheck(options) {
  const { session, container } = options;
  const assets = options.assets ?? new URL('.', import.meta.url).href;
  const server = options.server ?? location.origin;
  const emit = (e) => options.onEvent?.(e);
  const timing = new Timing(performance.now());
  const token = session.submission_token;
  let strings;
  try {
    [strings] = await Promise.all([loadStrings(assets), loadCore(assets)]);
  } catch (e) {
    // No WebAssembly SIMD (the module does not compile), or the package is not reachable:
    // an outcome like any other, and the session ends now with the device's reason.
    coreReady = null;
    stringsReady = null;
    const simd = WebAssembly.validate(SIMD_PROBE);
    const error = new LivenessError('model_load', simd ? `the core did not load: ${e?.message ?? e}` : 'this browser has no WebAssembly SIMD');
    await post(server, '/v1/submissions/cancel', token, { reason: 'device_error' }).catch(() => {});
    emit({ type: 'error', code: error.code, message: error.message });
    return { outcome: 'error', code: error.code, message: error.message, sessionId: session.session_id };
  }
  const lang = options.language ?? pickLanguage();
  const t = (key) => strings[lang]?.[key] ?? strings.en?.[key] ?? key;
  const view = buildView(container, t);
  // The camera opens (and asks for permission) while the models get ready, not after.
  // (A refusal is read where the stream is needed; without mediaDevices, e.g. over plain
  // http, the call throws and that is a refusal like any other.)
  const opening = (async () =>
    options.camera ??
    navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: 'user', width: { ideal: WIDTH }, height: { ideal: HEIGHT } },
    }))();
  opening.catch(() => {});

  let stream = null;
  let cancelled = false;
  let finished = false;
  // Stops the camera, also one still opening (the check failed or was cancelled first).
  const stop = () => opening.then((s) => s.getTracks().forEach((tr) => tr.stop()), () => {});

  // Tells the server the session ended here without evidence, so the integrator has a
  // (not live) verdict at once. Best effort: the server also ends it at the window's close.
  const abandon = async (reason) => {
    try {
      await post(server, '/v1/submissions/cancel', token, { reason });
    } catch {
      /* the expiry sweep ends the session */
    }
  };
  const fail = async (error, reason) => {
    stop();
    finished = true;
    if (reason) await abandon(reason);
    view.guidance.textContent = t(`liveness_error_${error.code}`) || error.message;
    emit({ type: 'error', code: error.code, message: error.message });
    return { outcome: 'error', code: error.code, message: error.message, sessionId: session.session_id };
  };

  const cancelPromise = new Promise((resolve) => {
    const onCancel = async () => {
      if (finished) return;
      cancelled = true;
      finished = true;
      stop();
      await abandon('user_cancelled');
      emit({ type: 'cancel' });
      resolve({ outcome: 'cancelled', sessionId: session.session_id });
    };
    view.cancel.addEventListener('click', onCancel);
    options.signal?.addEventListener('abort', onCancel);
  });

  const work = (async () => {
    let check;
    try {
      const key = await deviceKey();
      check = new LivenessCheck(JSON.stringify(session), browserInfo(key ? 'webcrypto' : 'wasm'));
      // A preload under way finishes first (its models are then taken as they are).
      if (preparing) await preparing.catch(() => {});
      const models = await loadModels(assets);
      timing.modelsFetched = performance.now();
      for (const [file, bytes] of models) {
        if (!check.loadPrepared(file)) check.loadModel(file, bytes);
      }
      check.start();
      timing.modelsReady = performance.now();
      try {
        stream = await opening;
      } catch (e) {
        const code = e?.name === 'NotAllowedError' || e?.name === 'SecurityError'
          ? 'permission_denied'
          : 'camera_unavailable';
        return fail(new LivenessError(code, `${e?.name ?? 'Error'}: ${e?.message ?? e}`), 'camera_unavailable');
      }
      if (cancelled) return stop();
      view.video.srcObject = stream;
      await view.video.play();
      const outcome = await capture(check, view, t, emit, () => cancelled, timing);
      stop();
      emit(timing.stats());
      if (cancelled) return;
      if (outcome === 'camera_stopped') {
        // Judged all the same: what was captured goes to the server (not live, incomplete).
      }
      view.prompt.textContent = t('liveness_submitting');
      const manifest = check.manifest();
      let publicKey;
      let signature;
      if (key) {
        publicKey = key.publicKey;
        signature = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key.pair.privateKey, manifest));
      } else {
        const both = check.signWithEphemeralKey();
        publicKey = both.slice(0, 32);
        signature = both.slice(32);
      }
      const form = new FormData();
      form.append('manifest', new Blob([manifest], { type: 'application/json' }), 'manifest.json');
      form.append('public_key', b64url(publicKey));
      form.append('signature', b64url(signature));
      for (let i = 0; i < check.frameCount(); i++) {
        form.append('frame', new Blob([check.frame(i)], { type: 'image/jpeg' }), `frame${i}.jpg`);
      }
      emit({ type: 'submitting', attempt: 1 });
      const jobId = await submit(server, token, form);
      emit({ type: 'submitted', job_id: jobId });
      await waitJob(server, token, jobId);
      finished = true;
      emit({ type: 'complete', session_id: session.session_id, job_id: jobId });
      return { outcome: 'completed', sessionId: session.session_id, jobId };
    } catch (e) {
      if (cancelled) return;
      const err = LivenessError.from(e);
      // A submission the server refused or never got is not the device's to end: the
      // server decides (at the latest when the window closes).
      const uploaded = ['network', 'server_rejected', 'token_expired'].includes(err.code);
      return fail(err, uploaded ? null : 'device_error');
    } finally {
      // After a trap the module is unusable and free() throws too; the error above is the one that counts.
      try {
        check?.free();
      } catch {
        /* already reported */
      }
    }
  })();
  const result = await Promise.race([work.then((r) => r ?? null), cancelPromise]);
  return result ?? (await cancelPromise);
}

// How long the core takes per frame in this browser, and how soon the first frame is
// analysed: the `stats` event at the end of the capture.
class Timing {
  constructor(start) {
    this.start = start;
    this.modelsFetched = null;
    this.modelsReady = null;
    this.firstFrame = null;
    this.durations = [];
  }

  frame(before, after) {
    this.firstFrame ??= after;
    this.durations.push(after - before);
  }

  stats() {
    const sorted = [...this.durations].sort((a, b) => a - b);
    const at = (q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null);
    const since = (t) => (t === null ? null : Math.round(t - this.start));
    return {
      type: 'stats',
      frames: sorted.length,
      analysis_ms_median: at(0.5),
      analysis_ms_p95: at(0.95),
      models_fetched_ms: since(this.modelsFetched),
      models_ready_ms: since(this.modelsReady),
      first_frame_ms: since(this.firstFrame),
      // performance.now() counts from the page's navigation.
      first_frame_since_load_ms: this.firstFrame === null ? null : Math.round(this.firstFrame),
    };
  }
}

async function submit(server, token, form) {
  let delay = 500;
  for (let attempt = 1; ; attempt++) {
    let r;
    try {
      r = await post(server, '/v1/submissions', token, form);
    } catch (e) {
      if (attempt >= 4) throw new LivenessError('network', String(e?.message ?? e));
      await new Promise((res) => setTimeout(res, delay));
      delay *= 2;
      continue;
    }
    if (r.status === 202) return (await r.json()).job_id;
    const body = await r.json().catch(() => ({}));
    const code = body?.error?.code ?? '';
    if (code === 'submission_token_expired') throw new LivenessError('token_expired', 'the submission token has expired');
    if ((r.status >= 500 || r.status === 429) && attempt < 4) {
      await new Promise((res) => setTimeout(res, delay));
      delay *= 2;
      continue;
    }
    throw new LivenessError('server_rejected', `${r.status} ${code}: ${body?.error?.message ?? ''}`);
  }
}

async function waitJob(server, token, jobId) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const r = await fetch(new URL(`/v1/jobs/${encodeURIComponent(jobId)}`, server), {
      headers: { authorization: `Bearer ${token}` },
      credentials: 'omit',
    });
    if (r.ok) {
      const job = await r.json();
      if (job.status === 'done' || job.status === 'failed') return job.status;
    } else if (r.status !== 429 && r.status < 500) {
      throw new LivenessError('server_rejected', `job: HTTP ${r.status}`);
    }
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new LivenessError('timeout', 'the server did not finish in time');
}

// When the video element's current frame was taken, on the performance.now() clock: the
// camera's capture time where the browser reports it (requestVideoFrameCallback), else the
// time the frame reached the compositor, else the animation frame's. The light step compares
// frame times with the times colours reached the screen, so a frame stamped when the page got
// round to it (after the camera pipeline's latency) looks like a late, replayed reflection.
function frameClock(video) {
  if (typeof video.requestVideoFrameCallback !== 'function') return (now) => now;
  let latest = null;
  const onFrame = (now, meta) => {
    const taken = [meta.captureTime, meta.presentationTime, now].find(
      (v) => Number.isFinite(v) && v > 0 && Math.abs(v - now) < 1000,
    );
    latest = { t: taken, frames: meta.presentedFrames };
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  let used = null;
  let handedAt = null;
  let lastT = -Infinity;
  // The time of a frame not handed out before, or null (no new frame since the last call).
  // A video the browser stops compositing (hidden by the integrator's CSS) gets no callbacks:
  // after a second without a new frame, animation-frame times. Times never go backwards
  // (the engine counts that as a doctored recording): a frame stamped before the last one
  // handed out, as after such a fallback, is skipped.
  const hand = (t, now) => {
    handedAt = now;
    if (t <= lastT) return null;
    lastT = t;
    return t;
  };
  return (now) => {
    if (latest && latest.frames !== used) {
      used = latest.frames;
      return hand(latest.t, now);
    }
    handedAt ??= now;
    return now - handedAt > 1000 ? hand(now, now) : null;
  };
}

// Frames from the video element into the core, one at a time (a frame that arrives while the
// previous one is analysed is skipped: the engine's timing uses each frame's own time).
function capture(check, view, t, emit, isCancelled, timing) {
  const canvas = document.createElement('canvas');
  canvas.width = WIDTH;
  canvas.height = HEIGHT;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const body = document.body;
  let pendingColour = null;
  const newFrameTime = frameClock(view.video);
  return new Promise((resolve, reject) => {
    let done = false;
    const handle = (json) => {
      const step = JSON.parse(json);
      for (const e of step.events) {
        apply(e);
        emit(e);
      }
      return step.done;
    };
    const apply = (e) => {
      switch (e.type) {
        case 'prompt':
          view.prompt.textContent = t(`liveness_prompt_${e.code}`);
          if (e.target) {
            view.target.hidden = false;
            view.target.style.left = `${e.target[0] / 10}%`;
            view.target.style.top = `${e.target[1] / 10}%`;
          } else {
            view.target.hidden = true;
          }
          break;
        case 'guidance':
          view.guidance.textContent = e.code ? t(`liveness_guidance_${e.code}`) : '';
          break;
        case 'progress': {
          const pct = Math.round(e.session * 100);
          view.bar.style.width = `${pct}%`;
          view.progress.setAttribute('aria-valuenow', String(pct));
          break;
        }
        case 'screen':
          // The light step: the page lights the face; the colour's presentation time is the
          // next animation frame's.
          if (e.rgb) {
            body.style.backgroundColor = `rgb(${e.rgb[0]}, ${e.rgb[1]}, ${e.rgb[2]})`;
            view.stage.classList.add('liveness-lit');
            pendingColour = e.index;
          } else {
            body.style.backgroundColor = '';
            view.stage.classList.remove('liveness-lit');
            pendingColour = null;
          }
          break;
        default:
      }
    };
    const frame = (now) => {
      if (done) return;
      if (isCancelled()) {
        done = true;
        body.style.backgroundColor = '';
        return resolve('cancelled');
      }
      try {
        if (pendingColour !== null) {
          check.screenPresented(pendingColour, now);
          pendingColour = null;
        }
        const video = view.video;
        if (video.readyState >= 2 && video.videoWidth > 0) {
          if (video.srcObject?.getVideoTracks?.().every((tr) => tr.readyState === 'ended')) {
            done = true;
            handle(check.end('stopped'));
            return resolve('camera_stopped');
          }
          const taken = newFrameTime(now);
          if (taken !== null) {
            ctx.drawImage(video, 0, 0, WIDTH, HEIGHT);
            const pixels = ctx.getImageData(0, 0, WIDTH, HEIGHT).data;
            const before = performance.now();
            const json = check.pushRgba(pixels, WIDTH, HEIGHT, taken, Date.now());
            timing.frame(before, performance.now());
            if (handle(json)) {
              done = true;
              body.style.backgroundColor = '';
              return resolve('decided');
            }
          }
        }
        requestAnimationFrame(frame);
      } catch (e) {
        done = true;
        body.style.backgroundColor = '';
        reject(e);
      }
    };
    requestAnimationFrame(frame);
  });
}

/** `<liveness-check>`: set `.session` (object) and optionally the `assets`/`server`/`lang`
 * attributes, then call `.start()` (or set the `autostart` attribute). */
export class LivenessCheckElement extends HTMLElement {
  #controller = null;

  connectedCallback() {
    if (this.hasAttribute('autostart') && this.session) this.start();
  }

  disconnectedCallback() {
    this.#controller?.abort();
  }

  cancel() {
    this.#controller?.abort();
  }

  async start() {
    if (this.#controller) return;
    this.#controller = new AbortController();
    const fire = (name, detail) => this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
    const result = await runCheck({
      session: this.session,
      container: this,
      assets: this.getAttribute('assets') ?? undefined,
      server: this.getAttribute('server') ?? undefined,
      language: this.getAttribute('lang') ?? undefined,
      signal: this.#controller.signal,
      onEvent: (e) => fire(`liveness-${e.type.replace(/_/g, '-')}`, e),
    });
    fire('liveness-end', result);
    return result;
  }
}

if (globalThis.customElements && !customElements.get('liveness-check')) {
  customElements.define('liveness-check', LivenessCheckElement);
}
