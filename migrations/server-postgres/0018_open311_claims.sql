-- Open311 POSTs in flight (issue 19). A POST claims its (key, fields) here before it checks
-- for a retry and stores the request, and releases the claim when it is done: two copies of
-- one request sent at once, to the same instance or to two on one database, cannot both miss
-- the retry check (the primary key lets one claim; the other waits and then answers the
-- request the first made). `token` names the holder; a claim older than a minute is a
-- holder that died (`claimed_at`, Unix ms) and may be taken over.
CREATE TABLE open311_claims (
    key_id      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    token       TEXT NOT NULL,
    claimed_at  BIGINT NOT NULL,
    PRIMARY KEY (key_id, fingerprint)
);
CREATE INDEX open311_claims_at ON open311_claims (claimed_at);
