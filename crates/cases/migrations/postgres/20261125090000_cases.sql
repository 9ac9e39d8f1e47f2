-- flexcord-cases: cases, their timeline, the number counter and full-text search (Postgres).
-- Every table name starts with `case`, so the conversation store's tables never clash.

CREATE TABLE IF NOT EXISTS case_counters (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    n  BIGINT NOT NULL
);
INSERT INTO case_counters (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS cases (
    number         BIGINT PRIMARY KEY,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    priority       TEXT NOT NULL,
    subject        TEXT NOT NULL,
    description    TEXT NOT NULL,
    requester_id   TEXT NOT NULL,
    requester_name TEXT NOT NULL,
    source         TEXT NOT NULL,
    assignee       TEXT,
    tags           TEXT NOT NULL,
    rating_score   BIGINT,
    rating_comment TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    resolved_at    TIMESTAMPTZ,
    search         TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('english', subject), 'A')
        || setweight(to_tsvector('english', description), 'B')
        || setweight(to_tsvector('english', tags), 'C')
    ) STORED
);
CREATE INDEX IF NOT EXISTS cases_status_idx ON cases (status, number);
CREATE INDEX IF NOT EXISTS cases_kind_idx ON cases (kind, status, number);
CREATE INDEX IF NOT EXISTS cases_requester_idx ON cases (requester_id, number);
CREATE INDEX IF NOT EXISTS cases_assignee_idx ON cases (assignee, number);
CREATE INDEX IF NOT EXISTS cases_search_idx ON cases USING GIN (search);

CREATE TABLE IF NOT EXISTS case_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_number BIGINT NOT NULL REFERENCES cases (number),
    at          TIMESTAMPTZ NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_events_case_idx ON case_events (case_number, id);
