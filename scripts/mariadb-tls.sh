#!/usr/bin/env bash
# A second MariaDB for the TLS tests, on 127.0.0.1:3307, that accepts only TLS connections
# (require_secure_transport) with a certificate made here: a CA of its own and a server
# certificate for DNS:localhost only (so verify_identity passes for `localhost` and fails for
# `127.0.0.1`). Lives under ~/.cache/osiris-test/mariadb-tls/ and is reused; the pre-started
# MariaDB on 3306 stays as it is (TLS off). root has no password. Exits non-zero when it cannot
# be made reachable: a skipped service is a failure.
set -euo pipefail
DIR="$HOME/.cache/osiris-test/mariadb-tls"
PORT=3307
reachable() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
reachable && exit 0

mkdir -p "$DIR"
cd "$DIR"
if [ ! -f server.pem ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=osiris test CA" \
    -keyout ca-key.pem -out ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server-key.pem -out server.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
    -extfile server.ext -out server.pem 2>/dev/null
  chmod 644 ./*.pem
fi
if [ ! -d data/mysql ]; then
  rm -rf data && mkdir -p data
  mariadb-install-db --no-defaults --datadir="$DIR/data" --user="$(id -un)" \
    --auth-root-authentication-method=normal --skip-test-db >/dev/null
fi
nohup mariadbd --no-defaults --datadir="$DIR/data" --user="$(id -un)" --port=$PORT \
  --bind-address=127.0.0.1 --socket="$DIR/mysqld.sock" --pid-file="$DIR/mysqld.pid" \
  --ssl-ca="$DIR/ca.pem" --ssl-cert="$DIR/server.pem" --ssl-key="$DIR/server-key.pem" \
  --require-secure-transport=ON --skip-name-resolve --log-error="$DIR/error.log" >/dev/null 2>&1 &
for _ in $(seq 1 60); do
  if reachable; then
    # root over TCP from 127.0.0.1 (with skip-name-resolve the host is the address), no password.
    mariadb --no-defaults -S "$DIR/mysqld.sock" -uroot -e \
      "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; CREATE DATABASE IF NOT EXISTS test;"
    exit 0
  fi
  sleep 0.5
done
echo "mariadb-tls: not reachable on 127.0.0.1:$PORT (see $DIR/error.log)" >&2
exit 1
