#!/usr/bin/env bash
# Make sure the services the tests talk to are up: MariaDB on 127.0.0.1:3306 (root, no password,
# database `test`) and PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`).
# Starts them when installed but stopped; installs them from Debian's packages when missing.
# Exits non-zero when a service cannot be made reachable: a skipped service is a failure.
set -euo pipefail

reachable() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do
    reachable "$port" && return 0
    sleep 0.5
  done
  echo "services: $name is not reachable on 127.0.0.1:$port" >&2
  return 1
}

apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_mariadb() {
  if ! reachable 3306; then
    local fresh=""
    if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then
      echo "services: installing MariaDB" >&2
      apt_install mariadb-server mariadb-client
      fresh=1
    fi
    echo "services: starting MariaDB" >&2
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql --bind-address=127.0.0.1
    wait_for 3306 MariaDB
    if [ -n "$fresh" ]; then
      mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;"
    fi
  fi
  mariadb -h127.0.0.1 -P3306 -uroot -e "CREATE DATABASE IF NOT EXISTS test" \
    || { echo "services: cannot log in to MariaDB as root without a password" >&2; return 1; }
}

ensure_postgres() {
  if ! reachable 5432; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      echo "services: installing PostgreSQL" >&2
      apt_install postgresql postgresql-client
      local hba
      hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -n1)
      cat > "$hba" <<'HBA'
local   all all                trust
host    all all 127.0.0.1/32   trust
host    all all ::1/128        trust
HBA
    fi
    echo "services: starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    wait_for 5432 PostgreSQL
  fi
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null \
    || { echo "services: cannot reach PostgreSQL as postgres with trust auth" >&2; return 1; }
}

ensure_mariadb
ensure_postgres
echo "services: MariaDB 127.0.0.1:3306 and PostgreSQL 127.0.0.1:5432 are up" >&2
