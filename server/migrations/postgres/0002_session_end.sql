-- Sessions that end without evidence (the device cancelled, or the submission window closed)
-- are found by the expiry sweep; this keeps that lookup off a table scan.
CREATE INDEX sessions_open ON sessions(status, submission_expires_at);
