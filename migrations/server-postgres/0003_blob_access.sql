-- Photos: who may read a blob, and uploads in progress per uploader.
-- Append-only: never edit a released migration.

-- Which records refer to which photo, filled from every stored event's `photos` by a trigger
-- (so it is written in the same transaction as the event, whatever code inserts it). A blob
-- is readable by whoever may see one of these records.
CREATE TABLE event_photos (
    hash      TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    PRIMARY KEY (hash, entity_id)
);

CREATE FUNCTION fc_event_photos() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_photos (hash, entity_id)
    SELECT p ->> 'hash', NEW.entity_id
    FROM jsonb_array_elements(COALESCE(NEW.body::jsonb -> 'photos', '[]'::jsonb)) AS p
    WHERE p ->> 'hash' IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

-- Only events that carry photos pay for parsing their JSON.
CREATE TRIGGER events_photos AFTER INSERT ON events
FOR EACH ROW WHEN (NEW.body LIKE '%"photos":%')
EXECUTE FUNCTION fc_event_photos();

INSERT INTO event_photos (hash, entity_id)
SELECT p ->> 'hash', e.entity_id
FROM events e, jsonb_array_elements(COALESCE(e.body::jsonb -> 'photos', '[]'::jsonb)) AS p
WHERE e.body LIKE '%"photos":%' AND p ->> 'hash' IS NOT NULL
ON CONFLICT DO NOTHING;

-- One row per blob and uploader: an upload in progress is staged per uploader
-- (`blob_dir/partial/<hash>.<user_key>`), `complete` once that uploader's bytes verified
-- (the uploader may then read the blob back, even before a record refers to it).
-- `updated_at` (Unix ms) is the last chunk: unfinished uploads older than
-- `staged_upload_ttl_secs` are swept.
CREATE TABLE blob_uploads (
    hash       TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    user_key   TEXT NOT NULL,
    size       BIGINT,
    complete   BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (hash, user_id)
);
CREATE INDEX blob_uploads_unfinished ON blob_uploads (updated_at) WHERE NOT complete;

-- `blobs` rows now mean stored blobs only; progress lives in the staged files.
DELETE FROM blobs WHERE NOT complete;
