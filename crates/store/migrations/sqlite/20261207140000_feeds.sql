-- flexcord-store: the feeds relayed into #announcements. One row per configured feed: the
-- validators of its last answer (conditional requests after a restart too) and when its first
-- poll was done (the entries it found then are history, not news). The entries themselves are
-- remembered as processed events `feed:<feed>:<entry>`, which are never pruned.
CREATE TABLE feeds (
    name          TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    primed_at     INTEGER,
    polled_at     INTEGER NOT NULL
);
