-- Schema 2: the normalised activity's columns beside each record, for the activity log's filters.
--
-- Codes (keep them stable; new values only ever get new codes):
-- * app: 1 + the position in skylight_model::App::ALL (1 exchange … 25 unknown);
-- * category: 1 + the position in skylight_model::Category::ALL;
-- * actor_kind: 1 user, 2 admin, 3 external, 4 system, 5 application, 6 unknown;
-- * outcome: 1 success, 2 failure, 3 unknown;
-- * flags: bit 0 administrative, bit 1 external user, bit 2 impersonated.
-- Records stored before this schema (or imported without normalising) have NULL codes.

ALTER TABLE records ADD COLUMN app INTEGER;
ALTER TABLE records ADD COLUMN category INTEGER;
ALTER TABLE records ADD COLUMN actor_kind INTEGER;
ALTER TABLE records ADD COLUMN outcome INTEGER;
ALTER TABLE records ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
ALTER TABLE records ADD COLUMN user_agent INTEGER;
