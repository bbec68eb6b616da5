-- A space is (label, model, dim): changing the model behind a label makes a
-- new space that is backfilled in the background and takes over when
-- complete. `name` becomes the unique key `label:model:dim`; `label` is what
-- search asks for ("text", "conse", "visual", "clip").
--   state: active (serves searches) | building (being backfilled) | retired
ALTER TABLE spaces ADD COLUMN label TEXT;
ALTER TABLE spaces ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
UPDATE spaces SET label = name, name = name || ':' || model || ':' || dim;
