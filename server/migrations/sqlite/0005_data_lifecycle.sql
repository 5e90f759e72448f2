-- The biometric data lifecycle: images sealed at rest (the key id of each row; NULL for rows
-- stored before encryption, re-sealed by `admin data-keys rotate`), per-tenant retention of
-- evidence after the verdict (NULL: the server's default), erasure on request, and an audit
-- trail of who read a result or a photo.
ALTER TABLE evidence_frames ADD COLUMN key_id TEXT;
ALTER TABLE tenants ADD COLUMN retention_hours INTEGER;
-- When the images of a session were deleted (retention or erasure); the verdict, its hashes
-- and the device's signature stay.
ALTER TABLE sessions ADD COLUMN evidence_deleted_at INTEGER;
-- When the integrator erased the session: options, result and images are gone.
ALTER TABLE sessions ADD COLUMN erased_at INTEGER;
CREATE INDEX sessions_retention ON sessions(evidence_deleted_at, completed_at);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    -- result_read, photo_read, session_read, erased, evidence_expired
    action TEXT NOT NULL,
    -- key:<api key id>, result_token, or system:retention
    actor TEXT NOT NULL,
    client TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX audit_events_session ON audit_events(tenant_id, session_id, at);
CREATE INDEX audit_events_tenant ON audit_events(tenant_id, at);
