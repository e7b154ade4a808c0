# pg.sh: a real PostgreSQL for the tests (Debian's postgresql package),
# sourced by lib.sh.  Its own cluster, made with initdb in a folder of the
# test's, listening on 127.0.0.1 only at a free high port, no unix socket;
# TLS on with a certificate of a test CA (tf_make_ca; PG_TLS=0: off, as
# bench/run wants it); scram-sha-256
# passwords.  It runs as the postgres user, with freerad as a
# supplementary group only so that it may enter the test's work folder
# (root:freerad, 0750).  Stopped by pg_ctl, which signals the PID in
# postmaster.pid.
#
#   tf_pg_setup DIR    cluster, certificates, role and database; starts it
#   tf_pg_start        start it again (same port, same data)
#   tf_pg_stop         stop it (pg_ctl -m fast: its PID from postmaster.pid)
#   tf_pg_pause/resume SIGSTOP/SIGCONT of the postmaster and its backends: a
#                      database that takes connections and never answers
#   tf_pg_sql SQL      run SQL (on stdin of psql, never argv) as the superuser
#                      in the test database; prints the rows, unaligned
#
# Sets PG_URL (postgresql://twofa@127.0.0.1:PORT/twofa?sslmode=verify-full
# &sslrootcert=CA; with PG_TLS=0 the plain one), PG_PLAIN_URL (sslmode=disable), PG_PASSWORD_FILE (the
# role's password, mode 0600 owned by freerad: radiusd reads it), PG_CA,
# PG_PORT, PG_LOG and PG_DIR.

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

# tf_pg_as CMD...: as the postgres user, in its data folder's parent.
tf_pg_as() {
	( cd "$PG_DIR" && setpriv --reuid=postgres --regid=postgres --groups=freerad -- "$@" )
}

# tf_pg_secret FILE OWNER: a random password into FILE, mode 0600, owned by OWNER.
tf_pg_secret() {
	( umask 077 && head -c 18 /dev/urandom | base64 | tr -d '\n/+=' > "$1" ) || die "cannot write $1"
	chown "$2" "$1"
}

tf_pg_setup() {
	PG_DIR=$1
	[ -x "$PG_BIN/initdb" ] || die "PostgreSQL's initdb not found (apt-get install postgresql)"
	rm -rf "$PG_DIR"
	mkdir -p "$PG_DIR/data" "$PG_DIR/log"
	chgrp freerad "$PG_DIR" && chmod 0750 "$PG_DIR"
	chown postgres:postgres "$PG_DIR/data" "$PG_DIR/log" && chmod 0700 "$PG_DIR/data"
	if [ "${PG_TLS:-1}" = 1 ]; then
		tf_make_ca "$PG_DIR/tls"
		chgrp freerad "$PG_DIR/tls" && chmod 0750 "$PG_DIR/tls"
		# The server's key, its own: PostgreSQL wants it 0600 (or 0640 root-owned).
		chown postgres "$PG_DIR/tls/server.key" && chmod 0600 "$PG_DIR/tls/server.key"
		PG_CA=$PG_DIR/tls/ca.pem
	fi
	PG_LOG=$PG_DIR/log/postgres.log
	PG_PORT=$(tf_free_tcp_port)

	tf_pg_secret "$PG_DIR/superuser-pw" postgres
	tf_pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --pwfile="$PG_DIR/superuser-pw" \
		--auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 > "$PG_DIR/initdb.out" 2>&1 \
		|| { cat "$PG_DIR/initdb.out" >&2; die "initdb failed"; }
	cat >> "$PG_DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 60
fsync = ${PG_FSYNC:-off}
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
CONF
	if [ "${PG_TLS:-1}" = 1 ]; then
		cat >> "$PG_DIR/data/postgresql.conf" <<CONF
ssl = on
ssl_cert_file = '$PG_DIR/tls/server.pem'
ssl_key_file = '$PG_DIR/tls/server.key'
CONF
	fi
	cat > "$PG_DIR/data/pg_hba.conf" <<HBA
# TYPE	DATABASE	USER	ADDRESS		METHOD
host	all		all	127.0.0.1/32	scram-sha-256
HBA
	tf_pg_start || die "PostgreSQL did not start"

	# The superuser's password through a passfile (no secret on a command line).
	( umask 077 && printf '127.0.0.1:%s:*:postgres:%s\n' "$PG_PORT" "$(cat "$PG_DIR/superuser-pw")" \
		> "$PG_DIR/pgpass" )
	tf_pg_secret "$PG_DIR/twofa-pw" freerad
	PG_PASSWORD_FILE=$PG_DIR/twofa-pw
	printf "CREATE ROLE twofa LOGIN PASSWORD '%s';\nCREATE DATABASE twofa OWNER twofa;\n" \
		"$(cat "$PG_PASSWORD_FILE")" | tf_pg_psql postgres > "$PG_DIR/create.out" 2>&1 \
		|| { cat "$PG_DIR/create.out" >&2; die "creating the role and database failed"; }
	PG_PLAIN_URL="postgresql://twofa@127.0.0.1:$PG_PORT/twofa?sslmode=disable"
	PG_URL=$PG_PLAIN_URL
	[ "${PG_TLS:-1}" = 1 ] && PG_URL="postgresql://twofa@127.0.0.1:$PG_PORT/twofa?sslmode=verify-full&sslrootcert=$PG_CA"
}

# tf_pg_psql DB: psql as the superuser on DB, SQL on stdin; rows unaligned, no headers.
tf_pg_psql() {
	PGPASSFILE=$PG_DIR/pgpass PGSSLMODE=disable psql -X -q -A -t -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$1" -f -
}

tf_pg_sql() { printf '%s\n' "$1" | tf_pg_psql twofa; }

tf_pg_start() {
	tf_pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_LOG" -w -t 60 start > /dev/null 2>&1 \
		|| { tail -20 "$PG_LOG" >&2; return 1; }
	PG_PID=$(head -n 1 "$PG_DIR/data/postmaster.pid")
}

tf_pg_stop() {
	[ -n "${PG_PID:-}" ] || return 0
	kill -CONT -- "$PG_PID" $(pgrep -P "$PG_PID") 2>/dev/null
	tf_pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop > /dev/null 2>&1 \
		|| kill -9 "$PG_PID" 2>/dev/null
	PG_PID=
}

# The postmaster and its children (backends, checkpointer...), by the postmaster's PID.
tf_pg_pause() { kill -STOP -- "$PG_PID" $(pgrep -P "$PG_PID"); }
tf_pg_resume() { kill -CONT -- "$PG_PID" $(pgrep -P "$PG_PID"); }
