-- Heatmap rollups at several spans, with the ward (and the kind) in the key, so that a
-- heatmap filtered by kind or ward is served by an index like the map's default one.
--
-- At 10 M events / 30 days there is about one event per (15 minutes, ward, cell, kind),
-- so heatmap_rollup is as long as events and a 7-day heatmap filtered by kind or ward
-- read ~2 M of its rows (0.4–1.1 s). heatmap_cell_hour/day had no kind or ward.
-- A window is covered by the widest whole buckets that fit (7 days, 1 day, 4 hours,
-- 1 hour) and 15-minute edges from heatmap_rollup (store.readers._segments), so a 30-day
-- heatmap reads a few tens of thousands of rows whatever the filter.
--
-- heatmap_cell_span: per grid cell and ward (a cell lies in one ward, nearly always, so
--   the ward costs ~1 % more rows), every kind together; spans 1 h, 4 h, 1 d, 7 d. Serves
--   the unfiltered heatmap (key order) and the ward filter (heatmap_cell_span_ward).
-- heatmap_kind_span: per kind, cell and ward; spans 4 h, 1 d, 7 d (an hour level would
--   be nearly as long as the 15-minute one). Serves any kind filter, with or without wards.
--
-- Both are maintained with heatmap_rollup by vigil_refresh_heatmap() (repeatable/events.sql)
-- from the same watermark, on either layout; they replace heatmap_cell_hour/day.

SET LOCAL work_mem = '256MB';
-- No rollup refresh may run while the new tables are filled from heatmap_rollup.
SELECT last_event_id FROM rollup_state WHERE name = 'heatmap' FOR UPDATE;

CREATE TABLE heatmap_cell_span (
    span      interval NOT NULL,
    bucket    timestamptz NOT NULL,
    ward_id   text,
    cell_id   bigint NOT NULL,
    n         integer NOT NULL,
    value_sum double precision NOT NULL DEFAULT 0,
    value_max double precision,
    CONSTRAINT heatmap_cell_span_key UNIQUE NULLS NOT DISTINCT (span, bucket, ward_id, cell_id)
        INCLUDE (n, value_sum, value_max)
);
CREATE INDEX heatmap_cell_span_ward ON heatmap_cell_span (ward_id, span, bucket)
    INCLUDE (cell_id, n, value_sum, value_max);

CREATE TABLE heatmap_kind_span (
    span      interval NOT NULL,
    bucket    timestamptz NOT NULL,
    kind      text NOT NULL,
    ward_id   text,
    cell_id   bigint NOT NULL,
    n         integer NOT NULL,
    value_sum double precision NOT NULL DEFAULT 0,
    value_max double precision,
    CONSTRAINT heatmap_kind_span_key
        UNIQUE NULLS NOT DISTINCT (kind, span, bucket, ward_id, cell_id)
        INCLUDE (n, value_sum, value_max)
);

-- Filled level by level from the rollups already made (each from the one below).
INSERT INTO heatmap_cell_span
SELECT '1 hour', date_bin('1 hour', bucket, '2000-01-01'), ward_id, cell_id,
       sum(n), sum(value_sum), max(value_max)
FROM heatmap_rollup WHERE cell_id IS NOT NULL GROUP BY 2, 3, 4;

INSERT INTO heatmap_cell_span
SELECT '4 hours', date_bin('4 hours', bucket, '2000-01-01'), ward_id, cell_id,
       sum(n), sum(value_sum), max(value_max)
FROM heatmap_cell_span WHERE span = '1 hour' GROUP BY 2, 3, 4;

INSERT INTO heatmap_cell_span
SELECT '1 day', date_bin('1 day', bucket, '2000-01-01'), ward_id, cell_id,
       sum(n), sum(value_sum), max(value_max)
FROM heatmap_cell_span WHERE span = '4 hours' GROUP BY 2, 3, 4;

INSERT INTO heatmap_cell_span
SELECT '7 days', date_bin('7 days', bucket, '2000-01-01'), ward_id, cell_id,
       sum(n), sum(value_sum), max(value_max)
FROM heatmap_cell_span WHERE span = '1 day' GROUP BY 2, 3, 4;

INSERT INTO heatmap_kind_span
SELECT '4 hours', date_bin('4 hours', bucket, '2000-01-01'), kind, ward_id, cell_id,
       sum(n), sum(value_sum), max(value_max)
FROM heatmap_rollup WHERE cell_id IS NOT NULL GROUP BY 2, 3, 4, 5;

INSERT INTO heatmap_kind_span
SELECT '1 day', date_bin('1 day', bucket, '2000-01-01'), kind, ward_id, cell_id,
       sum(n), sum(value_sum), max(value_max)
FROM heatmap_kind_span WHERE span = '4 hours' GROUP BY 2, 3, 4, 5;

INSERT INTO heatmap_kind_span
SELECT '7 days', date_bin('7 days', bucket, '2000-01-01'), kind, ward_id, cell_id,
       sum(n), sum(value_sum), max(value_max)
FROM heatmap_kind_span WHERE span = '1 day' GROUP BY 2, 3, 4, 5;

DROP TABLE heatmap_cell_hour, heatmap_cell_day;

-- Read by index-only scans: vacuumed eagerly (and by store.maintenance hourly).
ALTER TABLE heatmap_cell_span SET (autovacuum_vacuum_scale_factor = 0.02,
                                   autovacuum_vacuum_insert_scale_factor = 0.02);
ALTER TABLE heatmap_kind_span SET (autovacuum_vacuum_scale_factor = 0.02,
                                   autovacuum_vacuum_insert_scale_factor = 0.02);
