-- HMAC request nonces, remembered until their timestamp would be refused anyway: a signed
-- request is accepted once.
CREATE TABLE request_nonces (
    key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    forget_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX request_nonces_forget_at ON request_nonces(forget_at);

-- Idempotency-Key on session creation: the first answer is replayed while its submission
-- token can still be used (it holds the session's tokens, so it is kept no longer); the key
-- itself is remembered for a day.
CREATE TABLE idempotency_keys (
    tenant_id TEXT NOT NULL,
    key_sha256 TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    session_id TEXT,
    response_json TEXT,
    response_until BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key_sha256)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys(created_at);
