-- Browser sessions and failed sign-ins, kept in the database (issue 6) so that every
-- web process sees the same ones and a restart forgets neither.

-- One row per browser sign-in. The signed session cookie holds a random session id; the
-- row is keyed by its SHA-256 hex. ``active_at`` moves only on what the user does
-- (navigation, clicks reported by the page, state-changing calls), never on the pages'
-- background polls or the live socket, so an unattended browser reaches the idle limit.
-- Signing out deletes the row; rows idle for longer than any session can live are
-- removed at the next sign-in. The map wall's kiosk sessions have no row (no idle limit).
CREATE TABLE web_sessions (
    key        text PRIMARY KEY CHECK (key ~ '^[0-9a-f]{64}$'),
    user_name  text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    active_at  timestamptz NOT NULL DEFAULT now(),
    remote     text
);
CREATE INDEX web_sessions_active_at_idx ON web_sessions (active_at);
CREATE INDEX web_sessions_user_idx ON web_sessions (user_name);

-- One row per failed sign-in: the sign-in throttle counts them over a sliding window
-- per remote address and per (address, user name) pair; rows older than the window
-- are removed as new ones come in.
CREATE TABLE sign_in_failures (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    remote    text NOT NULL CHECK (length(remote) <= 100),
    user_name text NOT NULL CHECK (length(user_name) <= 100)   -- lower-cased as typed
);
CREATE INDEX sign_in_failures_remote_idx ON sign_in_failures (remote, at);
CREATE INDEX sign_in_failures_pair_idx ON sign_in_failures (remote, user_name, at);
CREATE INDEX sign_in_failures_at_idx ON sign_in_failures (at);
