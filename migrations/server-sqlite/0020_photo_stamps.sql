-- Evidence stamps (水印): an event may name, in `stamps`, the display copy carrying the stamp
-- of one of its photos. The stamped copy is readable by whoever may see the record, like the
-- photo itself, so it joins `event_photos` through a second trigger (the first one, 0003,
-- stays as released). `Event::check_fields` admits only stamps of the event's own photos.
-- Append-only: never edit a released migration.

CREATE TRIGGER events_photo_stamps AFTER INSERT ON events
WHEN NEW.body LIKE '%"stamps":%'
BEGIN
    INSERT OR IGNORE INTO event_photos (hash, entity_id)
    SELECT json_extract(s.value, '$.stamped'), NEW.entity_id
    FROM json_each(NEW.body, '$.stamps') AS s
    WHERE json_extract(s.value, '$.stamped') IS NOT NULL;
END;
