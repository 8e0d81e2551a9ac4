-- Users, kiosk (map wall) tokens, API tokens for read-only machine clients, and the
-- audit log (issue 6). Secrets are never stored: passwords as scrypt hashes, tokens as
-- the SHA-256 hex of the token. Rows are never deleted by retention.

CREATE TABLE users (
    name            text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
    role            text NOT NULL
                    CHECK (role IN ('admin', 'commander', 'operator', 'planner', 'wall')),
    wards           text[],                 -- NULL: every ward
    password_hash   text NOT NULL,
    disabled        boolean NOT NULL DEFAULT false,
    -- bumped by a new password or disabling: older sessions end
    session_version integer NOT NULL DEFAULT 1,
    created_by      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz
);

CREATE TABLE kiosk_tokens (
    key         text PRIMARY KEY CHECK (key ~ '^[0-9a-f]{64}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    wards       text[],
    created_by  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    key          text NOT NULL UNIQUE CHECK (key ~ '^[0-9a-f]{64}$'),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    scopes       text[] NOT NULL CHECK (scopes <@ ARRAY['view', 'plan', 'evidence']
                                        AND cardinality(scopes) >= 1),
    wards        text[],
    created_by   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- Who did what, when and from where: sign-ins (both outcomes), alert actions, evidence
-- views, exports, user, token and camera changes. Recognition keeps its own
-- recognition_audit (migration 0040); store.audit reads both as one log.
CREATE TABLE audit_log (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,
    role     text,
    action   text NOT NULL,
    target   text,
    outcome  text NOT NULL DEFAULT 'ok' CHECK (outcome IN ('ok', 'denied', 'failed')),
    remote   text,
    detail   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, at DESC);
