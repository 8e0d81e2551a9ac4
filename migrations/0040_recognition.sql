-- Recognition (issue 7): the face watchlist, the plate hotlist and their audit trail.
-- Faces of people who are not on the watchlist are never stored anywhere: only enrolled
-- embeddings and photos live here, and face_match events point at them.

CREATE TABLE watchlist_persons (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    reason     text CHECK (length(reason) <= 2000),
    category   text NOT NULL DEFAULT 'wanted'
               CHECK (category IN ('wanted', 'missing', 'suspect', 'other')),
    active     boolean NOT NULL DEFAULT true,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per enrolled photo: the aligned face's embedding (L2-normalised) and the
-- photo it came from (JPEG, for the operator to compare with the live crop).
CREATE TABLE watchlist_faces (
    id           bigserial PRIMARY KEY,
    person_id    bigint NOT NULL REFERENCES watchlist_persons (id) ON DELETE CASCADE,
    model        text NOT NULL,
    embedding    real[] NOT NULL CHECK (cardinality(embedding) BETWEEN 64 AND 2048),
    det_score    real,
    photo        bytea NOT NULL,
    photo_sha256 text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX watchlist_faces_person_idx ON watchlist_faces (person_id);

CREATE TABLE plate_hotlist (
    plate_compact text PRIMARY KEY CHECK (plate_compact ~ '^[0-9A-Z]{6,10}$'),
    plate         text NOT NULL,
    reason        text CHECK (length(reason) <= 2000),
    active        boolean NOT NULL DEFAULT true,
    expires_at    timestamptz,
    added_by      text,
    added_at      timestamptz NOT NULL DEFAULT now()
);

-- Who viewed or changed the watchlist and the hotlist (personal data): kept apart from
-- events, never deleted by retention.
CREATE TABLE recognition_audit (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,
    action   text NOT NULL,
    target   text,
    remote   text,
    detail   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX recognition_audit_at_idx ON recognition_audit (at DESC);

-- Plate search: prefix matches on the compact plate of plate_read / plate_match events.
CREATE INDEX events_plate_idx ON events ((attributes ->> 'plate_compact') text_pattern_ops)
    WHERE kind IN ('plate_read', 'plate_match');
