-- Photos: who may read a blob, and uploads in progress per uploader.
-- Append-only: never edit a released migration.

-- Which records refer to which photo, filled from every stored event's `photos` by a trigger
-- (so it is written in the same transaction as the event, whatever code inserts it). A blob
-- is readable by whoever may see one of these records.
CREATE TABLE event_photos (
    hash      TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    PRIMARY KEY (hash, entity_id)
) WITHOUT ROWID;

CREATE TRIGGER events_photos AFTER INSERT ON events
WHEN NEW.body LIKE '%"photos":%'
BEGIN
    INSERT OR IGNORE INTO event_photos (hash, entity_id)
    SELECT json_extract(p.value, '$.hash'), NEW.entity_id
    FROM json_each(NEW.body, '$.photos') AS p
    WHERE json_extract(p.value, '$.hash') IS NOT NULL;
END;

INSERT OR IGNORE INTO event_photos (hash, entity_id)
SELECT json_extract(p.value, '$.hash'), e.entity_id
FROM events e, json_each(e.body, '$.photos') AS p
WHERE e.body LIKE '%"photos":%' AND json_extract(p.value, '$.hash') IS NOT NULL;

-- One row per blob and uploader: an upload in progress is staged per uploader
-- (`blob_dir/partial/<hash>.<user_key>`), `complete` once that uploader's bytes verified
-- (the uploader may then read the blob back, even before a record refers to it).
-- `updated_at` (Unix ms) is the last chunk: unfinished uploads older than
-- `staged_upload_ttl_secs` are swept.
CREATE TABLE blob_uploads (
    hash       TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    user_key   TEXT NOT NULL,
    size       INTEGER,
    complete   BOOLEAN NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (hash, user_id)
);
CREATE INDEX blob_uploads_unfinished ON blob_uploads (updated_at) WHERE NOT complete;

-- `blobs` rows now mean stored blobs only; progress lives in the staged files.
DELETE FROM blobs WHERE NOT complete;
