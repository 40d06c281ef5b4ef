-- Idempotent enrollment: the hash of the token a redeemed code was exchanged for, so that the
-- same device retrying with the same token (its answer was lost) gets the same enrollment
-- while the code is valid, and anyone else is refused.
ALTER TABLE enroll_codes ADD COLUMN token_hash TEXT;
