-- flexcord-store: conversations, processed events, the outbox.
CREATE TABLE conversations (
    id           TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL,
    dm_channel   BIGINT,
    twilio_sid   TEXT,
    case_number  TEXT,
    phase        TEXT NOT NULL,
    is_open      BOOLEAN NOT NULL,
    state        TEXT NOT NULL,
    wake_at      BIGINT,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
-- One open conversation per Discord user, whatever the number of app instances.
CREATE UNIQUE INDEX conversations_open_user ON conversations (user_id) WHERE is_open;
CREATE UNIQUE INDEX conversations_twilio_sid ON conversations (twilio_sid);
CREATE INDEX conversations_dm_channel ON conversations (dm_channel, created_at);
CREATE INDEX conversations_case_number ON conversations (case_number);
CREATE INDEX conversations_wake_at ON conversations (wake_at) WHERE wake_at IS NOT NULL;

CREATE TABLE processed_events (
    event_key    TEXT PRIMARY KEY,
    processed_at BIGINT NOT NULL
);
CREATE INDEX processed_events_at ON processed_events (processed_at);

-- state: pending -> running -> delivered (upstream id and result recorded) -> done (result
-- applied); running -> pending (retry) | failed (dead letter, result not yet applied) -> dead.
CREATE TABLE outbox (
    action_id       TEXT PRIMARY KEY,
    scope           TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    action          TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    lease_owner     TEXT,
    upstream_id     TEXT,
    result          TEXT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_scope_seq ON outbox (scope, seq);
