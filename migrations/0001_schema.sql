-- vigil core schema: areas, cameras, event kinds, events, alert state, heartbeats, rollups.
-- Numbered migrations are never edited once landed; functions and views live in
-- migrations/repeatable/ and are re-applied when their text changes.
--
-- Areas (wards, zones) are replaced wholesale by the GIS import, so nothing holds a
-- foreign key to them. Events hold no foreign keys either: the writer validates camera
-- and kind, and events outlive cameras.

CREATE TABLE wards (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    province    text,
    geometry    jsonb NOT NULL,               -- GeoJSON geometry, EPSG:4326
    approximate boolean NOT NULL DEFAULT false,
    properties  jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE zones (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('port', 'airport', 'market', 'square', 'casino',
                                              'tourist_area', 'critical_site', 'geofence')),
    ward_id     text,
    geometry    jsonb NOT NULL,
    approximate boolean NOT NULL DEFAULT false,
    properties  jsonb NOT NULL DEFAULT '{}'
);

-- Bumped by every replace of wards or zones, so writers reload their area index.
CREATE TABLE area_version (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO area_version DEFAULT VALUES;

CREATE TABLE cameras (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    kind        text NOT NULL DEFAULT 'ai' CHECK (kind IN ('ai', 'legacy', 'traffic')),
    lon         double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat         double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    heading_deg double precision,
    fov_deg     double precision,
    range_m     double precision,
    stream_url  text,
    status      text NOT NULL DEFAULT 'unknown'
                CHECK (status IN ('unknown', 'online', 'offline', 'tampered', 'disabled')),
    ward_id     text,
    zone_ids    text[] NOT NULL DEFAULT '{}',
    homography  jsonb,
    config      jsonb NOT NULL DEFAULT '{}',
    enabled     boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cameras_ward_idx ON cameras (ward_id);

CREATE TABLE event_kinds (
    code     text PRIMARY KEY,
    is_alert boolean NOT NULL,
    severity smallint NOT NULL,
    label_vi text NOT NULL,
    label_en text NOT NULL
);

-- The writer takes ids from this sequence under an advisory lock held until commit,
-- so id order is commit order (see store/writer.py).
CREATE SEQUENCE events_id_seq AS bigint;

-- A TimescaleDB hypertable with 1-day chunks when the extension is installed in this
-- database (store.migrate creates it when the server preloads it), else a table
-- partitioned by day (partitions made ahead by vigil_ensure_event_partitions).
DO $do$
DECLARE
    cols text := $cols$
    id              bigint NOT NULL DEFAULT nextval('events_id_seq'),
    ts              timestamptz NOT NULL,
    camera_id       text NOT NULL,
    kind            text NOT NULL,
    severity        smallint NOT NULL DEFAULT 0,
    lon             double precision NOT NULL,
    lat             double precision NOT NULL,
    ward_id         text,
    zone_id         text,
    track_id        bigint,
    value           double precision,
    cell_id         bigint,
    attributes      jsonb NOT NULL DEFAULT '{}',
    evidence_path   text,
    evidence_sha256 text,
    PRIMARY KEY (id, ts)
$cols$;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        EXECUTE 'CREATE TABLE events (' || cols || ')';
        PERFORM create_hypertable('events', by_range('ts', INTERVAL '1 day'));
    ELSE
        EXECUTE 'CREATE TABLE events (' || cols || ') PARTITION BY RANGE (ts)';
        CREATE INDEX events_ts_idx ON events (ts DESC);
    END IF;
END
$do$;

CREATE INDEX events_camera_ts_idx ON events (camera_id, ts DESC);
CREATE INDEX events_ward_ts_idx ON events (ward_id, ts DESC);
CREATE INDEX events_kind_ts_idx ON events (kind, ts DESC);

-- Alert handling, kept apart from the immutable events.
CREATE TABLE alert_state (
    event_id   bigint PRIMARY KEY,
    status     text NOT NULL DEFAULT 'new'
               CHECK (status IN ('new', 'acknowledged', 'assigned', 'resolved')),
    assignee   text,
    updated_by text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    note       text
);

CREATE TABLE alert_actions (
    id       bigserial PRIMARY KEY,
    event_id bigint NOT NULL,
    action   text NOT NULL,
    actor    text,
    at       timestamptz NOT NULL DEFAULT now(),
    note     text
);
CREATE INDEX alert_actions_event_idx ON alert_actions (event_id, at);

CREATE TABLE camera_heartbeats (
    camera_id      text NOT NULL,
    ts             timestamptz NOT NULL,
    status         text NOT NULL,
    fps            double precision,
    frames_read    bigint,
    frames_dropped bigint,
    detail         jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (camera_id, ts)
);
CREATE INDEX camera_heartbeats_ts_idx ON camera_heartbeats (ts);

-- Heatmap rollups: 15-minute bucket x ward x grid cell x kind, maintained incrementally
-- from the watermark in rollup_state (vigil_refresh_heatmap).
CREATE TABLE heatmap_rollup (
    bucket    timestamptz NOT NULL,
    ward_id   text,
    cell_id   bigint,
    kind      text NOT NULL,
    n         integer NOT NULL,
    value_sum double precision NOT NULL DEFAULT 0,
    value_max double precision,
    CONSTRAINT heatmap_rollup_key UNIQUE NULLS NOT DISTINCT (bucket, ward_id, cell_id, kind)
);

CREATE TABLE rollup_state (
    name          text PRIMARY KEY,
    last_event_id bigint NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO rollup_state (name) VALUES ('heatmap');
