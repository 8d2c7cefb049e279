# Sourced by the scripts that need a database: start_postgres starts a throwaway PostgreSQL cluster in a
# temporary folder on a free local port (installing the server if it is missing), sets PG_URL, and removes
# the cluster when the calling script exits.

start_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$bin" ]; then
    echo "PostgreSQL is not installed; installing the postgresql package" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  # initdb refuses to run as root: as root, run the cluster as the postgres user.
  local as=()
  [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)

  PG_DIR=$(mktemp -d /tmp/agent-marketplace-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync -E UTF8 >"$PG_DIR/initdb.log"
  "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -o \
    "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
     -c full_page_writes=off -c max_connections=200" start >/dev/null
  PG_CTL=("${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data")
  trap stop_postgres EXIT
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"
  echo "throwaway PostgreSQL: $PG_URL" >&2
}

stop_postgres() {
  "${PG_CTL[@]}" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
