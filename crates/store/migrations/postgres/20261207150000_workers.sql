-- Each running outbox worker's last sign of life. A running row whose worker stopped
-- heartbeating is taken over within seconds instead of at the end of its lease, and a row held
-- past its lease by a worker that still heartbeats is left to it.
CREATE TABLE workers (
    owner TEXT PRIMARY KEY,
    heartbeat_at BIGINT NOT NULL
);
