-- Per-ward series (GET /api/v1/wards/{id}/series, store.readers.ward_series) from a
-- rollup without the grid cell: kind × ward at 15 minutes, 1 hour and 1 day.
--
-- The series read heatmap_rollup, which is nearly as long as events (about one event per
-- 15 minutes × ward × cell × kind), so one ward's 7 days meant every 15-minute row of
-- those days for every ward (≈ 1.3 s at 10 M events). Without the cell there are a few
-- hundred thousand rows for 30 days, and the key leads with the ward: a series is one
-- index range of the whole buckets of its own bucket width (15 min, 1 h or 1 d) plus
-- 15-minute edges. heatmap_kind_span's 4 h level is too coarse for hourly points.
--
-- Maintained with the other rollups by vigil_refresh_heatmap() (repeatable/events.sql)
-- from the same watermark and in the same statement, on either layout. Unlike the cell
-- spans it keeps events without a grid cell, like heatmap_rollup.

SET LOCAL work_mem = '256MB';
-- No rollup refresh may run while the new table is filled from heatmap_rollup.
SELECT last_event_id FROM rollup_state WHERE name = 'heatmap' FOR UPDATE;

CREATE TABLE ward_kind_span (
    span      interval NOT NULL,
    bucket    timestamptz NOT NULL,
    ward_id   text,
    kind      text NOT NULL,
    n         integer NOT NULL,
    value_sum double precision NOT NULL DEFAULT 0,
    value_max double precision,
    CONSTRAINT ward_kind_span_key UNIQUE NULLS NOT DISTINCT (ward_id, span, bucket, kind)
        INCLUDE (n, value_sum, value_max)
);
-- Series over every ward (store.readers.ward_series without a ward filter).
CREATE INDEX ward_kind_span_bucket ON ward_kind_span (span, bucket)
    INCLUDE (ward_id, kind, n, value_sum, value_max);

-- Filled level by level from the rollups already made (each from the one below).
INSERT INTO ward_kind_span
SELECT '15 minutes', bucket, ward_id, kind, sum(n), sum(value_sum), max(value_max)
FROM heatmap_rollup GROUP BY 2, 3, 4;

INSERT INTO ward_kind_span
SELECT '1 hour', date_bin('1 hour', bucket, '2000-01-01'), ward_id, kind,
       sum(n), sum(value_sum), max(value_max)
FROM ward_kind_span WHERE span = '15 minutes' GROUP BY 2, 3, 4;

INSERT INTO ward_kind_span
SELECT '1 day', date_bin('1 day', bucket, '2000-01-01'), ward_id, kind,
       sum(n), sum(value_sum), max(value_max)
FROM ward_kind_span WHERE span = '1 hour' GROUP BY 2, 3, 4;

-- Read by index-only scans: vacuumed eagerly.
ALTER TABLE ward_kind_span SET (autovacuum_vacuum_scale_factor = 0.02,
                                autovacuum_vacuum_insert_scale_factor = 0.02);
