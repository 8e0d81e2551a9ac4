-- One row per batch the writer committed, written in the batch's own transaction: after
-- a connection lost during COMMIT the writer looks its batch up here before retrying,
-- so an accepted event is stored exactly once. Old rows go with retention.
CREATE TABLE writer_batches (
    batch_id     uuid PRIMARY KEY,
    first_id     bigint NOT NULL,
    last_id      bigint NOT NULL,
    n            integer NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX writer_batches_committed_idx ON writer_batches (committed_at);
