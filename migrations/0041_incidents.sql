-- Incidents (issue 7): related alerts from nearby cameras within a short time merged into
-- one incident; operators mark incidents true or false alarm, which gives every rule a
-- measured precision. Events stay immutable; membership lives here.

CREATE TABLE incidents (
    id          bigserial PRIMARY KEY,
    kind_group  text NOT NULL,
    first_ts    timestamptz NOT NULL,
    last_ts     timestamptz NOT NULL,
    lon         double precision NOT NULL,
    lat         double precision NOT NULL,
    ward_id     text,
    n           integer NOT NULL DEFAULT 1,
    max_severity smallint NOT NULL DEFAULT 0,
    verdict     text CHECK (verdict IN ('true_alarm', 'false_alarm')),
    verdict_by  text,
    verdict_at  timestamptz,
    note        text CHECK (length(note) <= 2000)
);
CREATE INDEX incidents_last_ts_idx ON incidents (kind_group, last_ts DESC);
CREATE INDEX incidents_ward_idx ON incidents (ward_id, last_ts DESC);

CREATE TABLE incident_members (
    event_id    bigint PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    ts          timestamptz NOT NULL,
    camera_id   text NOT NULL,
    kind        text NOT NULL,
    rule        text
);
CREATE INDEX incident_members_incident_idx ON incident_members (incident_id);

-- How far the merger has read the events table (ids are commit order).
CREATE TABLE incident_state (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_event_id bigint NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO incident_state DEFAULT VALUES;
