-- What customers see of an agent: a display name and an optional photo (a media file's
-- SHA-256). The login name (`name`) stays among staff.
ALTER TABLE agents ADD COLUMN display_name TEXT;
ALTER TABLE agents ADD COLUMN photo_sha256 TEXT;
