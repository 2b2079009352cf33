-- The cluster's objects as the exporter last saw them. Every table is keyed by
-- cluster_id first, so one database can hold several clusters. raft_index is
-- the Raft index of the change a row shows: an upsert carrying an older index
-- is ignored, so replaying events (at-least-once export) never moves a row
-- back. data holds the whole record as JSON for what has no column of its own.
-- deleted_at marks a removed object: history outlives the cluster's state.

CREATE TABLE projects (
    cluster_id  text        NOT NULL,
    name        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    data        jsonb,
    created_at  timestamptz,
    updated_at  timestamptz,
    deleted_at  timestamptz,
    raft_index  bigint      NOT NULL,
    PRIMARY KEY (cluster_id, name)
);

-- No password hash: a history database is read by more people than the
-- cluster's state, and a hash is a secret.
CREATE TABLE users (
    cluster_id text        NOT NULL,
    name       text        NOT NULL,
    role       text        NOT NULL,
    disabled   boolean     NOT NULL DEFAULT false,
    created_at timestamptz,
    updated_at timestamptz,
    deleted_at timestamptz,
    raft_index bigint      NOT NULL,
    PRIMARY KEY (cluster_id, name)
);

-- API keys without their secrets or hashes, on purpose: this table says who
-- had which key when, never anything that could authenticate.
CREATE TABLE api_keys (
    cluster_id text        NOT NULL,
    id         text        NOT NULL,
    name       text        NOT NULL,
    role       text        NOT NULL,
    user_name  text        NOT NULL DEFAULT '',
    project    text        NOT NULL DEFAULT '',
    created_at timestamptz,
    expires_at timestamptz,
    revoked_at timestamptz,
    raft_index bigint      NOT NULL,
    PRIMARY KEY (cluster_id, id)
);

CREATE TABLE nodes (
    cluster_id  text        NOT NULL,
    id          text        NOT NULL,
    name        text        NOT NULL,
    status      text        NOT NULL DEFAULT '',
    api_addr    text        NOT NULL DEFAULT '',
    version     text        NOT NULL DEFAULT '',
    vcpus       integer     NOT NULL DEFAULT 0,
    memory_mib  bigint      NOT NULL DEFAULT 0,
    maintenance boolean     NOT NULL DEFAULT false,
    data        jsonb,
    joined_at   timestamptz,
    updated_at  timestamptz,
    deleted_at  timestamptz,
    raft_index  bigint      NOT NULL,
    PRIMARY KEY (cluster_id, id)
);

CREATE TABLE vms (
    cluster_id    text        NOT NULL,
    id            text        NOT NULL,
    project       text        NOT NULL DEFAULT '',
    name          text        NOT NULL,
    node_id       text        NOT NULL DEFAULT '',
    state         text        NOT NULL DEFAULT '',
    desired_state text        NOT NULL DEFAULT '',
    vcpus         integer     NOT NULL DEFAULT 0,
    memory_mib    bigint      NOT NULL DEFAULT 0,
    disk_gib      bigint      NOT NULL DEFAULT 0,
    generation    bigint      NOT NULL DEFAULT 0,
    data          jsonb,
    created_at    timestamptz,
    updated_at    timestamptz,
    deleted_at    timestamptz,
    raft_index    bigint      NOT NULL,
    PRIMARY KEY (cluster_id, id)
);
CREATE INDEX vms_project ON vms (cluster_id, project, name);

-- One row per version of a VM's configuration (its spec), valid from
-- valid_from until valid_to; valid_to is NULL for the current one. This is
-- oVirt's history-database model: "what did this VM look like last Tuesday"
-- is one range query.
CREATE TABLE vm_config_history (
    cluster_id text        NOT NULL,
    vm_id      text        NOT NULL,
    version    integer     NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_to   timestamptz,
    config     jsonb       NOT NULL,
    raft_index bigint      NOT NULL,
    PRIMARY KEY (cluster_id, vm_id, version),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX vm_config_history_current ON vm_config_history (cluster_id, vm_id) WHERE valid_to IS NULL;
CREATE INDEX vm_config_history_time ON vm_config_history (cluster_id, vm_id, valid_from);

CREATE TABLE migrations (
    cluster_id  text        NOT NULL,
    id          text        NOT NULL,
    vm_id       text        NOT NULL,
    source_node text        NOT NULL DEFAULT '',
    target_node text        NOT NULL DEFAULT '',
    mode        text        NOT NULL DEFAULT '',
    state       text        NOT NULL DEFAULT '',
    reason      text        NOT NULL DEFAULT '',
    error       text        NOT NULL DEFAULT '',
    data        jsonb,
    created_at  timestamptz,
    started_at  timestamptz,
    finished_at timestamptz,
    updated_at  timestamptz,
    raft_index  bigint      NOT NULL,
    PRIMARY KEY (cluster_id, id)
);
CREATE INDEX migrations_vm ON migrations (cluster_id, vm_id, created_at);

CREATE TABLE failovers (
    cluster_id   text        NOT NULL,
    id           text        NOT NULL,
    node_id      text        NOT NULL,
    cause        text        NOT NULL DEFAULT '',
    vm_count     integer     NOT NULL DEFAULT 0,
    data         jsonb,
    detected_at  timestamptz,
    fenced_at    timestamptz,
    restarted_at timestamptz,
    completed_at timestamptz,
    raft_index   bigint      NOT NULL,
    PRIMARY KEY (cluster_id, id)
);
CREATE INDEX failovers_node ON failovers (cluster_id, node_id, detected_at);

CREATE TABLE operations (
    cluster_id  text        NOT NULL,
    id          text        NOT NULL,
    kind        text        NOT NULL,
    object_id   text        NOT NULL DEFAULT '',
    project     text        NOT NULL DEFAULT '',
    state       text        NOT NULL DEFAULT '',
    error       text        NOT NULL DEFAULT '',
    data        jsonb,
    created_at  timestamptz,
    updated_at  timestamptz,
    finished_at timestamptz,
    raft_index  bigint      NOT NULL,
    PRIMARY KEY (cluster_id, id)
);
CREATE INDEX operations_object ON operations (cluster_id, object_id, created_at);

CREATE TABLE volumes (
    cluster_id text        NOT NULL,
    id         text        NOT NULL,
    project    text        NOT NULL DEFAULT '',
    name       text        NOT NULL,
    pool       text        NOT NULL DEFAULT '',
    size_gib   bigint      NOT NULL DEFAULT 0,
    vm_id      text        NOT NULL DEFAULT '',
    node_id    text        NOT NULL DEFAULT '',
    data       jsonb,
    created_at timestamptz,
    updated_at timestamptz,
    deleted_at timestamptz,
    raft_index bigint      NOT NULL,
    PRIMARY KEY (cluster_id, id)
);

-- Snapshots of VMs and of volumes: object_id is what was snapshotted.
CREATE TABLE snapshots (
    cluster_id text        NOT NULL,
    id         text        NOT NULL,
    object_id  text        NOT NULL,
    project    text        NOT NULL DEFAULT '',
    name       text        NOT NULL DEFAULT '',
    state      text        NOT NULL DEFAULT '',
    data       jsonb,
    created_at timestamptz,
    updated_at timestamptz,
    deleted_at timestamptz,
    raft_index bigint      NOT NULL,
    PRIMARY KEY (cluster_id, id)
);
CREATE INDEX snapshots_object ON snapshots (cluster_id, object_id);

CREATE TABLE alerts (
    cluster_id  text        NOT NULL,
    id          text        NOT NULL,
    name        text        NOT NULL,
    severity    text        NOT NULL DEFAULT '',
    state       text        NOT NULL DEFAULT '',
    object_id   text        NOT NULL DEFAULT '',
    message     text        NOT NULL DEFAULT '',
    data        jsonb,
    started_at  timestamptz,
    resolved_at timestamptz,
    updated_at  timestamptz,
    raft_index  bigint      NOT NULL,
    PRIMARY KEY (cluster_id, id)
);
CREATE INDEX alerts_started ON alerts (cluster_id, started_at);

-- The audit log is append-only: an entry never changes once written.
CREATE TABLE audit_log (
    cluster_id text        NOT NULL,
    seq        bigint      NOT NULL,
    time       timestamptz NOT NULL,
    actor      text        NOT NULL DEFAULT '',
    via        text        NOT NULL DEFAULT '',
    project    text        NOT NULL DEFAULT '',
    action     text        NOT NULL,
    object     text        NOT NULL DEFAULT '',
    source     text        NOT NULL DEFAULT '',
    node_id    text        NOT NULL DEFAULT '',
    status     integer     NOT NULL DEFAULT 0,
    raft_index bigint      NOT NULL DEFAULT 0,
    message    text        NOT NULL DEFAULT '',
    PRIMARY KEY (cluster_id, seq)
);
CREATE INDEX audit_log_time ON audit_log (cluster_id, time);
