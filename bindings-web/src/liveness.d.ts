// Types of the web package (liveness.js).

/** The part of the server's `POST /v1/sessions` answer a page gets (never the result token). */
export interface SessionDescriptor {
  session_id: string;
  nonce: string;
  plan: unknown;
  submission_token: string;
  /** Unix seconds. */
  submission_expires_at: number;
}

export type Language = 'en' | 'fr' | 'es' | 'de' | 'pt' | 'id';

export type ErrorCode =
  | 'camera_unavailable' | 'permission_denied' | 'token_expired' | 'network' | 'server_rejected'
  | 'timeout' | 'model_load' | 'invalid_frame' | 'invalid_input' | 'invalid_state'
  | 'no_evidence' | 'internal';

export type LivenessEvent =
  | { type: 'guidance'; code: string | null; text: string | null }
  | { type: 'prompt'; code: string; text: string; target: [number, number] | null }
  | { type: 'progress'; step: number; session: number }
  | { type: 'challenge_started'; index: number; kind: string }
  | { type: 'challenge_finished'; index: number; kind: string; passed: boolean; reason: string | null }
  | { type: 'captured'; role: string; challenge_index: number | null }
  | { type: 'screen'; index: number; rgb: [number, number, number] | null }
  | { type: 'local_outcome'; passed: boolean; failure: string | null }
  /** At the end of the capture: the core's time per frame in this browser (ms), and how
   * long after runCheck() the models were ready and the first frame was analysed. */
  | {
      type: 'stats';
      frames: number;
      analysis_ms_median: number | null;
      analysis_ms_p95: number | null;
      /** The models' bytes in hand (at once when preload() got them earlier). */
      models_fetched_ms: number | null;
      /** The models checked against their SHA-256 and ready in the core. */
      models_ready_ms: number | null;
      first_frame_ms: number | null;
      /** The same from the page's navigation start. */
      first_frame_since_load_ms: number | null;
    }
  | { type: 'submitting'; attempt: number }
  | { type: 'submitted'; job_id: string }
  | { type: 'complete'; session_id: string; job_id: string }
  | { type: 'cancel' }
  | { type: 'error'; code: ErrorCode; message: string };

export type CheckResult =
  | { outcome: 'completed'; sessionId: string; jobId: string }
  | { outcome: 'cancelled'; sessionId: string }
  | { outcome: 'error'; sessionId: string; code: ErrorCode; message: string };

export interface RunCheckOptions {
  session: SessionDescriptor;
  container: HTMLElement;
  /** URL of the package's folder (liveness_web_bg.wasm, strings.json, models/). */
  assets?: string;
  /** The liveness server's base URL; default this page's origin. */
  server?: string;
  language?: Language;
  onEvent?: (event: LivenessEvent) => void;
  signal?: AbortSignal;
  /** A MediaStream to use instead of the front camera (custom sources, tests). */
  camera?: MediaStream;
}

export function runCheck(options: RunCheckOptions): Promise<CheckResult>;
/** Downloads the core, strings and models ahead of the first check (an intro screen). */
export function preload(assets?: string): Promise<void>;
export function pickLanguage(preferred?: readonly string[]): Language;

export class LivenessError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string);
}

/** `<liveness-check>`: events are `liveness-<type>` (`_` → `-`) with the event as `detail`,
 * and `liveness-end` with the {@link CheckResult}. */
export class LivenessCheckElement extends HTMLElement {
  session: SessionDescriptor;
  start(): Promise<CheckResult>;
  cancel(): void;
}

declare global {
  interface HTMLElementTagNameMap {
    'liveness-check': LivenessCheckElement;
  }
  interface HTMLElementEventMap {
    'liveness-prompt': CustomEvent<Extract<LivenessEvent, { type: 'prompt' }>>;
    'liveness-guidance': CustomEvent<Extract<LivenessEvent, { type: 'guidance' }>>;
    'liveness-progress': CustomEvent<Extract<LivenessEvent, { type: 'progress' }>>;
    'liveness-complete': CustomEvent<Extract<LivenessEvent, { type: 'complete' }>>;
    'liveness-cancel': CustomEvent<Extract<LivenessEvent, { type: 'cancel' }>>;
    'liveness-error': CustomEvent<Extract<LivenessEvent, { type: 'error' }>>;
    'liveness-stats': CustomEvent<Extract<LivenessEvent, { type: 'stats' }>>;
    'liveness-end': CustomEvent<CheckResult>;
  }
}
