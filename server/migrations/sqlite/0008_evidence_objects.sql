-- Evidence images in S3-compatible object storage (`serve --s3-bucket`): the row keeps the
-- frame's role, key id and place; `bytes` is empty and `object_key` names the sealed object.
-- NULL: the sealed bytes are in the row, as before.
ALTER TABLE evidence_frames ADD COLUMN object_key TEXT;

-- Objects to delete (retention, erasure, a failed upload, a re-sealed frame's old copy),
-- written in the same transaction as the change that orphans them and removed once the
-- object store confirms the deletion, so an unreachable store delays a deletion but never
-- loses it.
CREATE TABLE object_deletions (
    object_key TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    last_error TEXT
);
