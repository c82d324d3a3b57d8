-- Leases on units of work, so that processes sharing the database split the work and one takes
-- over what another stopped renewing.

CREATE TABLE leases (
    name     text COLLATE "C" PRIMARY KEY,
    holder   text NOT NULL,
    until_ns bigint NOT NULL
);
