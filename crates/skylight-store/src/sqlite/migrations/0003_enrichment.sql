-- Schema 3: what enrichment adds, beside each record. Text values are ids into `strings`;
-- `ip_tags` is `category|name:…|tag:…` of the named ranges holding the client address.

ALTER TABLE records ADD COLUMN country INTEGER;
ALTER TABLE records ADD COLUMN city INTEGER;
ALTER TABLE records ADD COLUMN asn INTEGER;
ALTER TABLE records ADD COLUMN isp INTEGER;
ALTER TABLE records ADD COLUMN ip_tags INTEGER;
ALTER TABLE records ADD COLUMN device_type INTEGER;
ALTER TABLE records ADD COLUMN client_app INTEGER;
ALTER TABLE records ADD COLUMN os INTEGER;
