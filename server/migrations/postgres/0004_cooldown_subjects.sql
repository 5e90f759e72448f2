-- What a failed session counts against for the cool-down (JSON array of subjects: the
-- device key, the integrator's user reference, the client address), fixed at submission.
ALTER TABLE sessions ADD COLUMN cooldown_subjects TEXT;
