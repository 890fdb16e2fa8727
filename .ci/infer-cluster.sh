#!/usr/bin/env bash
# Starts the PostgreSQL cluster the ownership-inference tests run real traffic through: a second
# cluster "infer" on port 5433 (CONVERGE_INFER_PORT), trust authentication on the loopback, with
# pg_stat_statements preloaded and every statement logged (log_statement = all) through the
# logging collector to a file whose prefix names the role and the database. Idempotent: creates
# the cluster once, rewrites its settings, restarts it only when they changed, and starts it when
# it is down. Run it as root (or as postgres); .ci/run calls it before the tests.
#
#   bash .ci/infer-cluster.sh        then  CONVERGE_TEST_INFER_POSTGRES_URL=postgres://postgres@127.0.0.1:5433/postgres
set -euo pipefail

port="${CONVERGE_INFER_PORT:-5433}"
name=infer
version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
log() { printf '[infer-cluster] %s\n' "$*" >&2; }

if [ -z "$version" ] || ! command -v pg_createcluster >/dev/null; then
  log "PostgreSQL (postgresql-common) is not installed; the inference suites will skip (or fail under CI)"
  exit 1
fi

if ! pg_lsclusters -h | awk '{print $1 "/" $2}' | grep -qx "$version/$name"; then
  log "creating cluster $version/$name on port $port"
  pg_createcluster "$version" "$name" -p "$port" -- --auth=trust >/dev/null
fi

conf_dir="/etc/postgresql/$version/$name/conf.d"
data_dir="/var/lib/postgresql/$version/$name"
conf="$conf_dir/converge-infer.conf"
wanted="# Written by .ci/infer-cluster.sh: what converge ownership infer reads (docs/ownership-inference.md).
port = $port
listen_addresses = '127.0.0.1'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
log_statement = 'all'
log_line_prefix = '%m [%p] %q%u@%d '
logging_collector = on
log_directory = '$data_dir/log'
log_filename = 'postgresql.log'
log_file_mode = 0644
log_rotation_age = 0
log_rotation_size = 0
max_connections = 50
fsync = off
"
changed=0
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$(printf '%s' "$wanted")" ]; then
  mkdir -p "$conf_dir"
  printf '%s' "$wanted" >"$conf"
  chown postgres:postgres "$conf" 2>/dev/null || true
  changed=1
fi

status="$(pg_lsclusters -h | awk -v v="$version" -v n="$name" '$1 == v && $2 == n {print $4}')"
if [ "$status" = online ] && [ "$changed" = 1 ]; then
  log "settings changed; restarting $version/$name"
  pg_ctlcluster --skip-systemctl-redirect "$version" "$name" restart
elif [ "$status" != online ]; then
  log "starting $version/$name"
  pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start
fi

for _ in $(seq 1 30); do
  if pg_isready -q -h 127.0.0.1 -p "$port"; then
    PGOPTIONS='-c client_min_messages=warning' psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qtAc 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' >/dev/null
    log "ready: postgres://postgres@127.0.0.1:$port/postgres"
    exit 0
  fi
  sleep 1
done
log "cluster $version/$name did not accept connections on 127.0.0.1:$port"
exit 1
