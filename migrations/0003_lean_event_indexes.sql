-- Ingest speed: each secondary btree on events costs a random insertion per row, and
-- three of them made COPY ~3× slower (measured: ~300k rows/s with the primary key and
-- ts alone, ~100k with all five). Queries by ward, kind or camera are bounded by time
-- windows, which the ts index (and partition/chunk pruning) already narrows; heatmaps
-- and ward series read heatmap_rollup. What is kept for a camera is the one query that
-- is not time-bounded: its latest event with evidence (a small partial index).
DROP INDEX IF EXISTS events_camera_ts_idx;
DROP INDEX IF EXISTS events_ward_ts_idx;
DROP INDEX IF EXISTS events_kind_ts_idx;
CREATE INDEX events_camera_evidence_idx ON events (camera_id, ts DESC)
    WHERE evidence_path IS NOT NULL;
