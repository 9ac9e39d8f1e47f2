-- Agents as people (decision 0016): display names on the timeline, the credential each change
-- came through, agent accounts with password hashes, server-side sessions, and one API token
-- per integration (stored as a SHA-256 digest: tokens are long random values).
ALTER TABLE cases ADD COLUMN assignee_name TEXT;
ALTER TABLE case_events ADD COLUMN actor_name TEXT;
ALTER TABLE case_events ADD COLUMN via TEXT;

CREATE TABLE IF NOT EXISTS case_agents (
    login         TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS case_sessions (
    token_hash TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL,
    agent_name TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS case_sessions_expires_idx ON case_sessions (expires_at);

CREATE TABLE IF NOT EXISTS case_api_tokens (
    name       TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);
