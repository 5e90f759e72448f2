// The example page's script: fetch the session descriptor from the integrator's backend,
// start <liveness-check>, and go on when it ends.
// The package also defines <liveness-check> on import.
import { preload } from '/liveness/liveness.js';

const check = document.getElementById('check');
const status = document.getElementById('status');

preload('/liveness/').catch(() => {}); // the core and models download while the session is made

check.addEventListener('liveness-prompt', (e) => {
  status.textContent = e.detail.text ?? '';
});
check.addEventListener('liveness-end', (e) => {
  const { outcome, sessionId, code } = e.detail;
  const next = new URL(outcome === 'completed' ? '/done' : outcome === 'cancelled' ? '/cancel' : '/error', location.href);
  next.searchParams.set('session_id', sessionId);
  if (code) next.searchParams.set('error', code);
  location.replace(next.href);
});

const r = await fetch('/session', { method: 'POST' });
if (!r.ok) {
  status.textContent = 'Could not start the check. Please try again later.';
} else {
  // The backend also says where the liveness server is (absent: this page's own origin,
  // behind a reverse proxy). From another origin, the tenant lists this site's origin with
  // `liveness-server admin web-origins`.
  const { server, ...session } = await r.json();
  if (server) check.setAttribute('server', server);
  check.session = session;
  check.start();
}
