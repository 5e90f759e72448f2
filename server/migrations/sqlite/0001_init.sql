-- Initial schema (SQLite). Times are Unix milliseconds; the PostgreSQL twin of this file
-- (migrations/postgres) must stay column-for-column identical.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- Signs this tenant's webhooks and `?signed=true` results, so it must be readable.
    response_secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    -- SHA-256 of the secret (bearer use) and HMAC-SHA256(secret, label) (request signing):
    -- neither lets anyone recover the secret.
    secret_sha256 TEXT NOT NULL,
    signing_key TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

CREATE TABLE oauth_tokens (
    token_sha256 TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    key_id TEXT NOT NULL REFERENCES api_keys(id),
    expires_at INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    seed TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    rotated_at INTEGER
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    options_json TEXT NOT NULL,
    nonce TEXT NOT NULL,
    plan_json TEXT NOT NULL,
    result_token_sha256 TEXT NOT NULL,
    submission_token_sha256 TEXT NOT NULL UNIQUE,
    submission_expires_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    submitted_at INTEGER,
    submission_sha256 TEXT,
    device_key TEXT,
    job_id TEXT,
    verdict TEXT,
    result_json TEXT,
    completed_at INTEGER
);
CREATE INDEX sessions_tenant ON sessions(tenant_id, created_at);

CREATE TABLE evidence_frames (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    idx INTEGER NOT NULL,
    role TEXT NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (session_id, idx)
);

CREATE TABLE evidence (
    session_id TEXT PRIMARY KEY REFERENCES sessions(id),
    manifest BLOB NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE REFERENCES sessions(id),
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    lease_until INTEGER,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    error TEXT
);
CREATE INDEX jobs_status ON jobs(status, created_at);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    url TEXT NOT NULL,
    event TEXT NOT NULL,
    body BLOB NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    last_error TEXT
);
CREATE INDEX webhook_due ON webhook_deliveries(status, next_attempt_at);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id),
    attempt INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE rate_counters (
    bucket TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

CREATE TABLE device_failures (
    device_key TEXT NOT NULL,
    session_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (device_key, session_id)
);
CREATE INDEX device_failures_at ON device_failures(device_key, at);
