-- flexcord-cases: cases, their timeline, the number counter and full-text search (SQLite).
-- Every table name starts with `case`, so the conversation store's tables never clash.

CREATE TABLE IF NOT EXISTS case_counters (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO case_counters (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS cases (
    number         INTEGER PRIMARY KEY,
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
    rating_score   INTEGER,
    rating_comment TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    resolved_at    TEXT
);
CREATE INDEX IF NOT EXISTS cases_status_idx ON cases (status, number);
CREATE INDEX IF NOT EXISTS cases_kind_idx ON cases (kind, status, number);
CREATE INDEX IF NOT EXISTS cases_requester_idx ON cases (requester_id, number);
CREATE INDEX IF NOT EXISTS cases_assignee_idx ON cases (assignee, number);

CREATE TABLE IF NOT EXISTS case_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    case_number INTEGER NOT NULL REFERENCES cases (number),
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_events_case_idx ON case_events (case_number, id);

-- External-content FTS5 index over cases, kept in step by triggers.
CREATE VIRTUAL TABLE IF NOT EXISTS cases_fts USING fts5 (
    subject, description, tags,
    content = 'cases', content_rowid = 'number',
    tokenize = 'porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS cases_fts_insert AFTER INSERT ON cases BEGIN
    INSERT INTO cases_fts (rowid, subject, description, tags)
    VALUES (new.number, new.subject, new.description, new.tags);
END;
CREATE TRIGGER IF NOT EXISTS cases_fts_delete AFTER DELETE ON cases BEGIN
    INSERT INTO cases_fts (cases_fts, rowid, subject, description, tags)
    VALUES ('delete', old.number, old.subject, old.description, old.tags);
END;
CREATE TRIGGER IF NOT EXISTS cases_fts_update AFTER UPDATE OF subject, description, tags ON cases BEGIN
    INSERT INTO cases_fts (cases_fts, rowid, subject, description, tags)
    VALUES ('delete', old.number, old.subject, old.description, old.tags);
    INSERT INTO cases_fts (rowid, subject, description, tags)
    VALUES (new.number, new.subject, new.description, new.tags);
END;
