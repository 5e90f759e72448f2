-- The hosted browser flow: one-time links to the page the server serves for a session
-- (`redirect_url` in the creation answer, and the phone hand-off's QR code). Only the code's
-- SHA-256 is kept; a link is redeemed once, and redeeming it gives the page a fresh
-- submission token (the session's earlier token stops working).
CREATE TABLE hosted_links (
    code_sha256 TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    -- page (the link the integrator sends the user to) or phone (the hand-off's QR code)
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX hosted_links_session ON hosted_links(session_id);
-- The origins that may embed a tenant's hosted page in an iframe (CSP frame-ancestors,
-- space-separated); NULL: none.
ALTER TABLE tenants ADD COLUMN frame_ancestors TEXT;
-- A hosted page follows its session (the desktop while the phone runs the check) with a
-- token of its own, never the submission token.
ALTER TABLE sessions ADD COLUMN watch_token_sha256 TEXT;
