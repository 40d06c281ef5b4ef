-- Evidence stamps (水印): an event may name, in `stamps`, the display copy carrying the stamp
-- of one of its photos. The stamped copy is readable by whoever may see the record, like the
-- photo itself, so it joins `event_photos` through a second trigger (the first one, 0003,
-- stays as released). `Event::check_fields` admits only stamps of the event's own photos.
-- Append-only: never edit a released migration.

CREATE FUNCTION fc_event_photo_stamps() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_photos (hash, entity_id)
    SELECT s ->> 'stamped', NEW.entity_id
    FROM jsonb_array_elements(COALESCE(NEW.body::jsonb -> 'stamps', '[]'::jsonb)) AS s
    WHERE s ->> 'stamped' IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_photo_stamps AFTER INSERT ON events
FOR EACH ROW WHEN (NEW.body LIKE '%"stamps":%')
EXECUTE FUNCTION fc_event_photo_stamps();
