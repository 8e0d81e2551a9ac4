-- Re-runnable definitions for the events table; re-applied whenever this file changes.
-- One body serves both layouts: TimescaleDB hypertable or native daily partitions.

-- Create the daily partitions events_pYYYYMMDD covering [first_day, last_day] (UTC days).
-- A no-op on a hypertable (TimescaleDB makes chunks itself). Returns how many were made.
CREATE OR REPLACE FUNCTION vigil_ensure_event_partitions(first_day date, last_day date)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
    d date;
    made integer := 0;
    part text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RETURN 0;
    END IF;
    d := first_day;
    WHILE d <= last_day LOOP
        part := 'events_p' || to_char(d, 'YYYYMMDD');
        IF to_regclass(quote_ident(part)) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE IF NOT EXISTS %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                part, (d::timestamp AT TIME ZONE 'UTC'),
                ((d + 1)::timestamp AT TIME ZONE 'UTC'));
            made := made + 1;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN made;
END
$fn$;

-- Drop events older than keep (whole days: chunks or partitions), and the rollups and
-- heartbeats of that age. Returns how many chunks or partitions were dropped.
CREATE OR REPLACE FUNCTION vigil_apply_retention(keep interval)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
    cutoff timestamptz := now() - keep;
    dropped integer := 0;
    part record;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        EXECUTE 'SELECT count(*) FROM drop_chunks(''events'', older_than => $1)'
            INTO dropped USING cutoff;
    ELSE
        FOR part IN
            SELECT c.relname
            FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'events'::regclass
              AND c.relname ~ '^events_p[0-9]{8}$'
              AND (to_date(substr(c.relname, 9), 'YYYYMMDD') + 1)::timestamp
                  AT TIME ZONE 'UTC' <= cutoff
        LOOP
            EXECUTE format('DROP TABLE %I', part.relname);
            dropped := dropped + 1;
        END LOOP;
    END IF;
    DELETE FROM heatmap_rollup WHERE bucket < date_bin('1 day', cutoff, '2000-01-01');
    -- A 7-day bucket goes once all of it is past the cutoff.
    DELETE FROM heatmap_cell_span
    WHERE bucket + span <= date_bin('1 day', cutoff, '2000-01-01');
    DELETE FROM heatmap_kind_span
    WHERE bucket + span <= date_bin('1 day', cutoff, '2000-01-01');
    DELETE FROM ward_kind_span
    WHERE bucket + span <= date_bin('1 day', cutoff, '2000-01-01');
    DELETE FROM camera_heartbeats WHERE ts < cutoff;
    DELETE FROM writer_batches WHERE committed_at < least(cutoff, now() - interval '7 days');
    RETURN dropped;
END
$fn$;

-- Fold events committed since the watermark into the rollups: heatmap_rollup (15 min ×
-- ward × cell × kind), heatmap_cell_span (ward × cell at 1 h, 4 h, 1 d, 7 d),
-- heatmap_kind_span (kind × ward × cell at 4 h, 1 d, 7 d) and ward_kind_span (ward ×
-- kind, no cell, at 15 min, 1 h, 1 d: the ward series); the spans are the ones
-- store.readers reads (CELL_SPANS, KIND_SPANS, SERIES_SPANS). Ids are committed in
-- order (the writer's advisory lock), so every snapshot sees a prefix of the ids and
-- "id > watermark" never skips a row. Works through the new ids in slices, one statement
-- per slice: the slice is aggregated once per 15 minutes and the wider spans are summed
-- from that, so a large backlog never builds one huge aggregate and events are read
-- once. Returns how many events were folded in.
DROP FUNCTION IF EXISTS vigil_refresh_heatmap();  -- the first version took no argument
CREATE OR REPLACE FUNCTION vigil_refresh_heatmap(slice bigint DEFAULT 250000)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    mark bigint;
    top bigint;
    lo bigint;
    hi bigint;
    part bigint;
    folded bigint := 0;
BEGIN
    SELECT last_event_id INTO mark FROM rollup_state WHERE name = 'heatmap' FOR UPDATE;
    SELECT max(id) INTO top FROM events WHERE id > mark;
    IF top IS NULL THEN
        RETURN 0;
    END IF;
    lo := mark;
    WHILE lo < top LOOP
        hi := least(top, lo + slice);
        -- Data-modifying CTEs all run, referenced or not, on the one aggregate.
        WITH agg AS MATERIALIZED (
            SELECT date_bin('15 minutes', ts, '2000-01-01') AS bucket, ward_id, cell_id,
                   kind, count(*)::integer AS n, coalesce(sum(value), 0) AS value_sum,
                   max(value) AS value_max
            FROM events WHERE id > lo AND id <= hi
            GROUP BY 1, 2, 3, 4
        ), quarter AS (
            INSERT INTO heatmap_rollup AS r
                (bucket, ward_id, cell_id, kind, n, value_sum, value_max)
            SELECT * FROM agg
            ON CONFLICT ON CONSTRAINT heatmap_rollup_key DO UPDATE
            SET n = r.n + excluded.n,
                value_sum = r.value_sum + excluded.value_sum,
                value_max = greatest(r.value_max, excluded.value_max)
            RETURNING 1
        ), cells AS (
            INSERT INTO heatmap_cell_span AS r
                (span, bucket, ward_id, cell_id, n, value_sum, value_max)
            SELECT s.span, date_bin(s.span, a.bucket, '2000-01-01'), a.ward_id, a.cell_id,
                   sum(a.n), sum(a.value_sum), max(a.value_max)
            FROM agg a CROSS JOIN (VALUES (interval '1 hour'), (interval '4 hours'),
                                          (interval '1 day'), (interval '7 days')) s (span)
            WHERE a.cell_id IS NOT NULL
            GROUP BY 1, 2, 3, 4
            ON CONFLICT ON CONSTRAINT heatmap_cell_span_key DO UPDATE
            SET n = r.n + excluded.n,
                value_sum = r.value_sum + excluded.value_sum,
                value_max = greatest(r.value_max, excluded.value_max)
            RETURNING 1
        ), kinds AS (
            INSERT INTO heatmap_kind_span AS r
                (span, bucket, kind, ward_id, cell_id, n, value_sum, value_max)
            SELECT s.span, date_bin(s.span, a.bucket, '2000-01-01'), a.kind, a.ward_id,
                   a.cell_id, sum(a.n), sum(a.value_sum), max(a.value_max)
            FROM agg a CROSS JOIN (VALUES (interval '4 hours'), (interval '1 day'),
                                          (interval '7 days')) s (span)
            WHERE a.cell_id IS NOT NULL
            GROUP BY 1, 2, 3, 4, 5
            ON CONFLICT ON CONSTRAINT heatmap_kind_span_key DO UPDATE
            SET n = r.n + excluded.n,
                value_sum = r.value_sum + excluded.value_sum,
                value_max = greatest(r.value_max, excluded.value_max)
            RETURNING 1
        ), wards AS (
            INSERT INTO ward_kind_span AS r
                (span, bucket, ward_id, kind, n, value_sum, value_max)
            SELECT s.span, date_bin(s.span, a.bucket, '2000-01-01'), a.ward_id, a.kind,
                   sum(a.n), sum(a.value_sum), max(a.value_max)
            FROM agg a CROSS JOIN (VALUES (interval '15 minutes'), (interval '1 hour'),
                                          (interval '1 day')) s (span)
            GROUP BY 1, 2, 3, 4
            ON CONFLICT ON CONSTRAINT ward_kind_span_key DO UPDATE
            SET n = r.n + excluded.n,
                value_sum = r.value_sum + excluded.value_sum,
                value_max = greatest(r.value_max, excluded.value_max)
            RETURNING 1
        )
        SELECT coalesce(sum(n), 0) INTO part FROM agg;
        folded := folded + part;
        lo := hi;
    END LOOP;
    UPDATE rollup_state SET last_event_id = top, updated_at = now() WHERE name = 'heatmap';
    RETURN folded;
END
$fn$;
