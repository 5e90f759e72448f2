// Test-only: a camera that films the page's own light. Chromium's fake capture device plays a
// fixed file and cannot react to the colours the light step shows, so this init script
// replaces getUserMedia with a generated video track whose frames the CLI renders on request
// (`liveness render --serve`, behind hosted.mjs's POST /camera): the subject lit by the colour
// the page presented at each frame's time, reacting to the prompts and guidance it was shown.
// A worker fetches and writes the frames, so the camera runs beside the page's main thread
// (which the core's analysis keeps busy) as a real camera does. Everything after getUserMedia
// (video element → canvas → wasm core → signed upload) is the production path; hosted.mjs's
// other tests keep the real getUserMedia covered with the fake device.
//
// A camera's frames reach the page ~100–150 ms after they were taken here (render, transfer,
// the stream), as on a phone. Chromium stamps a real camera's frames with their capture time
// (requestVideoFrameCallback's `captureTime`, which the package uses), but not a generated
// track's (checked in Chromium 156: `captureTime` absent, `mediaTime` = the VideoFrame's
// timestamp). So this camera reports each frame's scene time the same way a real camera does:
// as `captureTime`, derived from the frame's timestamp for this camera's videos only.
(() => {
  const now = () => performance.timeOrigin + performance.now();
  let worker = null;
  const early = [];
  const tell = (message) => (worker ? worker.postMessage(message) : early.push(message));
  let lastColour = '';
  const track = { generator: null, t0: 0 };

  const rvfc = HTMLVideoElement.prototype.requestVideoFrameCallback;
  HTMLVideoElement.prototype.requestVideoFrameCallback = function (callback) {
    const ours = this.srcObject?.getVideoTracks?.().includes(track.generator);
    if (!ours) return rvfc.call(this, callback);
    return rvfc.call(this, (now, meta) => {
      const captureTime = track.t0 - performance.timeOrigin + meta.mediaTime * 1000;
      callback(now, { ...meta, captureTime });
    });
  };

  // A colour counts from the animation frame after the page set it: when it reaches the
  // screen (the page tells the core the same time).
  const watchColour = () => {
    new MutationObserver(() => {
      const colour = document.body.style.backgroundColor;
      if (colour === lastColour) return;
      lastColour = colour;
      const m = colour.match(/rgb\((\d+), (\d+), (\d+)\)/);
      const rgb = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
      requestAnimationFrame(() => tell({ shown: [now(), rgb] }));
    }).observe(document.body, { attributes: true, attributeFilter: ['style'] });
  };
  if (document.body) watchColour();
  else document.addEventListener('DOMContentLoaded', watchColour);

  // What the user read: the check's events, as the hosted page and <liveness-check> dispatch them.
  document.addEventListener('liveness-prompt', (e) => tell({ cue: ['prompt', e.detail.code] }), true);
  document.addEventListener('liveness-guidance', (e) => tell({ cue: ['guidance', e.detail.code ?? null] }), true);

  // The camera: at most 30 frames a second, each the scene at the time its request left
  // (times on the shared epoch clock, sent relative to the camera's start).
  const cameraWorker = () => {
    const now = () => performance.timeOrigin + performance.now();
    const shown = [];
    const cues = [];
    self.onmessage = async ({ data }) => {
      if (data.shown) return shown.push(data.shown);
      if (data.cue) return cues.push(data.cue);
      const { url, writable, t0 } = data;
      const writer = writable.getWriter();
      let latency = null;
      for (;;) {
        const t = now();
        const request = {
          t_ms: t - t0,
          shown: shown.splice(0).map(([at, rgb]) => [Math.max(0, at - t0), rgb]),
          cues: cues.splice(0),
          latency_ms: latency,
        };
        let frame;
        try {
          const r = await fetch(url, { method: 'POST', body: JSON.stringify(request) });
          if (!r.ok) break;
          const buf = await r.arrayBuffer();
          const head = new DataView(buf, 0, 8);
          const [width, height] = [head.getUint32(0, true), head.getUint32(4, true)];
          frame = new VideoFrame(new Uint8Array(buf, 8), {
            format: 'RGBA',
            codedWidth: width,
            codedHeight: height,
            timestamp: Math.round((t - t0) * 1000),
          });
          await writer.write(frame);
        } catch {
          break;
        }
        latency = now() - t;
        const wait = 1000 / 30 - (now() - t);
        if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      }
      await writer.close().catch(() => {});
    };
  };

  navigator.mediaDevices.getUserMedia = async () => {
    const generator = new MediaStreamTrackGenerator({ kind: 'video' });
    const code = `(${cameraWorker})()`;
    worker = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
    for (const m of early.splice(0)) worker.postMessage(m);
    Object.assign(track, { generator, t0: now() });
    worker.postMessage({ url: window.__livenessTestCamera, writable: generator.writable, t0: track.t0 }, [generator.writable]);
    // The first frame is there before the stream is handed over, as with a real camera.
    await new Promise((r) => setTimeout(r, 100));
    return new MediaStream([generator]);
  };
})();
