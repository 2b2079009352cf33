-- Metric samples, partitioned by day (one partition per UTC day, made by
-- EnsurePartitions, dropped whole by DropPartitionsBefore: retention is a
-- DROP TABLE, not a DELETE that bloats). object_id is the VM (vm_metrics) or
-- the node (node_metrics); node_id is the host a VM ran on at the time.
-- There is no unique key: COPY cannot skip duplicates, and a sample sent
-- twice only weighs twice in an average.

CREATE TABLE vm_metrics (
    cluster_id             text             NOT NULL,
    object_id              text             NOT NULL,
    node_id                text             NOT NULL DEFAULT '',
    time                   timestamptz      NOT NULL,
    cpu_percent            double precision,
    mem_used_bytes         double precision,
    mem_balloon_bytes      double precision,
    disk_read_bytes_per_s  double precision,
    disk_write_bytes_per_s double precision,
    disk_read_ops_per_s    double precision,
    disk_write_ops_per_s   double precision,
    net_rx_bytes_per_s     double precision,
    net_tx_bytes_per_s     double precision,
    net_rx_packets_per_s   double precision,
    net_tx_packets_per_s   double precision
) PARTITION BY RANGE (time);
CREATE INDEX vm_metrics_object_time ON vm_metrics (cluster_id, object_id, time);

CREATE TABLE node_metrics (
    cluster_id       text             NOT NULL,
    object_id        text             NOT NULL,
    node_id          text             NOT NULL DEFAULT '',
    time             timestamptz      NOT NULL,
    cpu_percent      double precision,
    mem_used_bytes   double precision,
    mem_total_bytes  double precision,
    load1            double precision,
    load5            double precision,
    load15           double precision,
    disk_used_bytes  double precision,
    disk_total_bytes double precision
) PARTITION BY RANGE (time);
CREATE INDEX node_metrics_object_time ON node_metrics (cluster_id, object_id, time);
