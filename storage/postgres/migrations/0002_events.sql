-- The cluster's change events, one row per (raft_index, seq): one Raft entry
-- (a batch) may change several objects. The primary key makes a replayed
-- event a no-op, which is what lets the export be at-least-once.
CREATE TABLE events (
    cluster_id text        NOT NULL,
    raft_index bigint      NOT NULL,
    seq        integer     NOT NULL,
    time       timestamptz NOT NULL,
    type       text        NOT NULL,
    action     text        NOT NULL DEFAULT '',
    object_id  text        NOT NULL DEFAULT '',
    name       text        NOT NULL DEFAULT '',
    project    text        NOT NULL DEFAULT '',
    data       jsonb,
    PRIMARY KEY (cluster_id, raft_index, seq)
);
CREATE INDEX events_object ON events (cluster_id, object_id, raft_index);
CREATE INDEX events_time ON events (cluster_id, time);

-- Where the export of each cluster stands: every event up to high_water is
-- in events. It moves in the same transaction as the events it covers, so a
-- new leader resumes after high_water and loses nothing.
CREATE TABLE export_state (
    cluster_id text        PRIMARY KEY,
    high_water bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
