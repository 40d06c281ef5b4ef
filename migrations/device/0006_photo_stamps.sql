-- Evidence stamps (schema 6). Append-only: never edit a released migration; add a new file.

-- A stamped display copy made on this device names the photo it stamps. It is uploaded with
-- its photo but counted with it too: "3 photos to upload" means three photos a person took,
-- not six files.
ALTER TABLE photos ADD COLUMN stamp_of TEXT;
