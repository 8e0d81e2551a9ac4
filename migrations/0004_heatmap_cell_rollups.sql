-- Coarser heatmap rollups for the map's default heatmap (every kind, every ward):
-- events per grid cell per hour and per day. Events are sparse per (cell, kind, ward)
-- and 15 minutes, so heatmap_rollup is nearly as long as events; dropping kind and ward
-- and widening the bucket makes a 24 h or 7 d heatmap read a few tens of thousands of
-- rows instead of hundreds of thousands. Maintained with heatmap_rollup by
-- vigil_refresh_heatmap(); filtered heatmaps still read heatmap_rollup.
CREATE TABLE heatmap_cell_hour (
    bucket    timestamptz NOT NULL,
    cell_id   bigint NOT NULL,
    n         integer NOT NULL,
    value_sum double precision NOT NULL DEFAULT 0,
    value_max double precision,
    PRIMARY KEY (bucket, cell_id)
);

CREATE TABLE heatmap_cell_day (LIKE heatmap_cell_hour INCLUDING ALL);

INSERT INTO heatmap_cell_hour
SELECT date_bin('1 hour', bucket, '2000-01-01'), cell_id, sum(n), sum(value_sum), max(value_max)
FROM heatmap_rollup WHERE cell_id IS NOT NULL GROUP BY 1, 2;

INSERT INTO heatmap_cell_day
SELECT date_bin('1 day', bucket, '2000-01-01'), cell_id, sum(n), sum(value_sum), max(value_max)
FROM heatmap_rollup WHERE cell_id IS NOT NULL GROUP BY 1, 2;
