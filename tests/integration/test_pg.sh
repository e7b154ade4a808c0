#!/usr/bin/env bash
#
# Several radiusd sharing one store on PostgreSQL (store_pg.c): a real
# PostgreSQL of the test's own (pg.sh), the store's cases against it
# (pg_store_probe), twofa-admin on its URL, two radiusd on two ports
# sharing the database, the database stopped and paused under them, and
# twofa-admin migrate from an SQLite store.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse
declare -A SECRET
USERS_CSV=
for u in alice bob carol dave erin frank grace; do
	SECRET[$u]=$(tf_secret)
	USERS_CSV+="$u,$PW,${SECRET[$u]}"$'\n'
done

PID_A= PID_B= PID_C=
stop_all() {
	local pid
	for pid in "$PID_A" "$PID_B" "$PID_C"; do RADIUSD_PID=$pid twofa_stop_radiusd; done
	tf_pg_stop
}
trap stop_all EXIT

tf_pg_setup "$TF_WORK/pg"
printf 'CREATE DATABASE %s OWNER twofa;\n' twofa_probe twofa_empty twofa_mig twofa_old twofa_scan | tf_pg_psql postgres >/dev/null \
	|| die "creating the test databases failed"

# pg_url DB: the store's URL for another database of the same server.
pg_url() { printf '%s\n' "${PG_URL/\/twofa\?//$1?}"; }

PGKEY=$TF_WORK/pgkey/twofa.key
tf_pgadmin() { "$TWOFA_ADMIN" -s "$PG_URL" -k "$PGKEY" --db-password-file "$PG_PASSWORD_FILE" "$@"; }

# on A|B: later tf_send calls go to that server.
on() { if [ "$1" = A ]; then PORT=$PORT_A; else PORT=$PORT_B; fi; }

# The store's own cases against the server: consume races, backup code race, lockout, migrations.
store_cases() {
	TWOFA_PG_URL=$(pg_url twofa_probe) TWOFA_PG_EMPTY_URL=$(pg_url twofa_empty) \
		TWOFA_PG_PASSWORD_FILE=$PG_PASSWORD_FILE "$TOP/tests/integration/pg_store_probe"
}

# An unknown name costs an index lookup, as a known one does, whatever the
# planner's statistics: never a walk over the users (a cost that grows with
# the store and tells an attacker which names exist).  Counted, not timed:
# the rows PostgreSQL read from users for five lookups of unknown names.
unknown_name_reads_no_user_rows() {
	local url fetched0 fetched1
	url=$(pg_url twofa_scan)
	"$TWOFA_ADMIN" -s "$url" -k "$PGKEY" --db-password-file "$PG_PASSWORD_FILE" init >/dev/null
	tf_expect "init" "$?" 0
	# 5000 users straight into the table (no password hashing), no ANALYZE since.
	printf '%s\n' "INSERT INTO users (name, created) SELECT 'user' || g, 0 FROM generate_series(1, 5000) g;" |
		tf_pg_psql twofa_scan >/dev/null
	reads() {
		printf '%s\n' "SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) FROM pg_stat_user_tables WHERE relname = 'users';" |
			tf_pg_psql twofa_scan
	}
	fetched0=$(reads)
	for n in nobody1 nobody2 nobody3 User4999x Nobody5; do
		"$TWOFA_ADMIN" -s "$url" -k "$PGKEY" --db-password-file "$PG_PASSWORD_FILE" user show "$n" >/dev/null 2>&1
	done
	sleep 1	# each twofa-admin's statistics are flushed as it exits
	fetched1=$(reads)
	tf_expect "rows read from users for 5 unknown names (under 50)" \
		"$(( fetched1 - fetched0 < 50 ? 1 : fetched1 - fetched0 ))" 1
}

admin_init_add_enroll_list_on_postgresql() {
	local out
	out=$(tf_pgadmin init --owner freerad); tf_expect "init" "$?" 0
	tf_expect "init says" "$(printf '%s\n' "$out" | grep -c 'ready (schema 11)')" 1
	tf_expect "key owner" "$(stat -c %U:%a "$PGKEY")" "freerad:600"
	printf '%s' "$USERS_CSV" | tf_pgadmin user import - >/dev/null; tf_expect "import" "$?" 0
	printf '%s\n' "$PW" | tf_pgadmin user add zed >/dev/null; tf_expect "user add" "$?" 0
	printf '%s\n' "$PW" | tf_pgadmin user add ZED >/dev/null 2>&1; tf_expect "user add, other case" "$?" 1
	out=$(tf_pgadmin totp enroll zed); tf_expect "totp enroll" "$?" 0
	tf_expect "enroll URI" "$(printf '%s\n' "$out" | grep -c '^otpauth://totp/')" 1
	out=$(tf_pgadmin user list); tf_expect "user list" "$?" 0
	tf_expect "listed" "$(printf '%s\n' "$out" | awk 'NR > 1 { print $1 }' | tr '\n' ' ')" \
		"alice bob carol dave erin frank grace zed "
	tf_expect "zed pending" "$(printf '%s\n' "$out" | awk '$1 == "zed" { print $2 }')" pending
	tf_expect "schema" "$(tf_pg_sql 'SELECT version FROM schema_version')" 11
	tf_expect "audit" "$(tf_pg_sql "SELECT count(*) FROM audit WHERE action IN ('init', 'user import', 'user add', 'totp enroll')" | tr -d ' ')" 4
	# The password on no command line, and none in the URL.
	"$TWOFA_ADMIN" -s "postgresql://twofa:x@127.0.0.1:$PG_PORT/twofa" -k "$PGKEY" user list >/dev/null 2>"$TF_WORK/err"
	tf_expect "password in the URL" "$?" 2
	tf_expect "why" "$(grep -c 'password_file' "$TF_WORK/err")" 1
}

start_servers() {
	local extra
	extra="postgresql {
		password_file = $PG_PASSWORD_FILE
		statement_timeout = 1000
		pool_size = 4
	}
	lockout {
		max_failures = 2
	}"
	PORT_A=$(twofa_free_port)
	twofa_make_raddb "$TF_WORK/a" "$PORT_A" "\"$PG_URL\"" "$PGKEY" "$extra"
	twofa_start_radiusd "$TF_WORK/a" || die "radiusd A failed to start"
	PID_A=$RADIUSD_PID
	while PORT_B=$(twofa_free_port); [ "$PORT_B" = "$PORT_A" ]; do :; done
	twofa_make_raddb "$TF_WORK/b" "$PORT_B" "\"$PG_URL\"" "$PGKEY" "$extra"
	twofa_start_radiusd "$TF_WORK/b" || die "radiusd B failed to start"
	PID_B=$RADIUSD_PID
}

# login NAME CODE on the current server: both rounds; R_CODE is round two's answer.
login() {
	tf_round1 "$1" "$PW"
	[ "$R_CODE" = Access-Challenge ] || return 0
	tf_round2 "$1" "$2" "$R_STATE"
}

same_code_sent_to_both_at_once_is_accepted_once() {
	local sa sb code pids out=$TF_WORK/race
	on A; tf_round1 alice "$PW"; sa=$R_STATE
	tf_expect "round 1 on A" "$R_CODE" Access-Challenge
	on B; tf_round1 alice "$PW"; sb=$R_STATE
	tf_expect "round 1 on B" "$R_CODE" Access-Challenge
	tf_wait_fresh_step
	code=$(tf_code "${SECRET[alice]}")
	rm -rf "$out"; mkdir -p "$out"
	( on A; tf_round2 alice "$code" "$sa"; echo "$R_CODE" > "$out/a" ) & pids=$!
	( on B; tf_round2 alice "$code" "$sb"; echo "$R_CODE" > "$out/b" ) & pids+=" $!"
	# shellcheck disable=SC2086
	wait $pids		# not a bare wait: the radiusd are children too
	tf_expect "accepts" "$(cat "$out"/a "$out"/b | grep -c '^Access-Accept$')" 1
	tf_expect "the other asks again" "$(cat "$out"/a "$out"/b | grep -c '^Access-Challenge$')" 1
}

lockout_earned_on_a_holds_on_b() {
	on A; tf_round1 bob "$PW"
	tf_round2 bob 000000 "$R_STATE"
	tf_expect "first wrong code" "$R_CODE" Access-Challenge
	tf_round2 bob 000000 "$R_STATE"
	tf_expect_reject "second wrong code locks"
	tf_expect "locked in the database" "$(tf_pg_sql "SELECT locked_until > extract(epoch FROM now()) FROM users WHERE name = 'bob'")" t
	on B; tf_round1 bob "$PW"
	tf_expect_reject "right password on B while locked"
	tf_pgadmin user unlock bob >/dev/null
	tf_wait_fresh_step
	on B; login bob "$(tf_code "${SECRET[bob]}")"
	tf_expect "on B after unlock" "$R_CODE" Access-Accept
}

backup_code_used_on_a_is_refused_on_b() {
	local codes
	mapfile -t codes < <(tf_pgadmin backup generate carol --count 2 2>/dev/null)
	tf_expect "codes" "${#codes[@]}" 2
	on A; login carol "${codes[0]}"
	tf_expect "on A" "$R_CODE" Access-Accept
	on B; login carol "${codes[0]}"
	tf_expect "the same on B" "$R_CODE" Access-Challenge
	login carol "${codes[1]}"
	tf_expect "the other on B" "$R_CODE" Access-Accept
	tf_expect "left" "$(tf_pg_sql "SELECT count(*) FROM backup_codes b JOIN users u ON u.id = b.user_id WHERE u.name = 'carol' AND used_at IS NULL")" 0
}

# Round two on another server than round one: the sealed State carries the
# pending challenge (issue 18), so B answers it; the database records its
# nonce, so the State is answered once, on either server (later answers
# carry a code of the next step, unused, so only the State refuses them).
challenge_from_a_answered_on_b_once() {
	local state
	tf_wait_fresh_step
	on A; tf_round1 erin "$PW"; state=$R_STATE
	tf_expect "round one on A" "$R_CODE" Access-Challenge
	on B; tf_round2 erin "$(tf_code "${SECRET[erin]}")" "$state"
	tf_expect "round two on B" "$R_CODE" Access-Accept
	on A; tf_round2 erin "$(tf_code "${SECRET[erin]}" 30)" "$state"
	tf_expect_reject "the same State again on A"
	on B; tf_round2 erin "$(tf_code "${SECRET[erin]}" 30)" "$state"
	tf_expect_reject "the same State again on B"
	tf_expect "one nonce kept" "$(tf_pg_sql 'SELECT count(*) > 0 FROM used_states')" t
}

# Logins until one is accepted, at most 10 tries (the pool reconnects on the next call).
login_until_accepted() {
	local i
	for i in $(seq 1 10); do
		tf_wait_fresh_step
		login "$1" "$(tf_code "${SECRET[$1]}")"
		[ "$R_CODE" = Access-Accept ] && return 0
		sleep 1
	done
}

postgresql_stopped_rejects_cleanly_then_logins_work_again() {
	tf_pg_stop
	on A; tf_round1 dave "$PW"
	tf_expect_reject "A with the database stopped"
	on B; tf_round1 dave "$PW"
	tf_expect_reject "B with the database stopped"
	tf_expect "A logged it" "$(grep -c 'database unreachable' "$TF_WORK/a/log/radius.log" | sed 's/^[1-9][0-9]*$/yes/')" yes
	tf_pg_start || die "PostgreSQL did not start again"
	on A; login_until_accepted dave
	tf_expect "A once the database is back" "$R_CODE" Access-Accept
	on B; login_until_accepted frank
	tf_expect "B once the database is back" "$R_CODE" Access-Accept
	tf_expect "A says so" "$(grep -c 'database reachable again' "$TF_WORK/a/log/radius.log" | sed 's/^[1-9][0-9]*$/yes/')" yes
}

# A database that takes connections and never answers: the login gets its reject
# (radclient's 4 s are not spent), then works once the database answers again.
paused_postgresql_rejects_then_recovers() {
	tf_pg_pause
	on A; tf_round1 grace "$PW"
	tf_pg_resume
	tf_expect_reject "A with the database paused"
	on A; login_until_accepted grace
	tf_expect "A once it answers" "$R_CODE" Access-Accept
}

# An SQLite store with a user, a lock, a used step, backup codes, logins, a
# preferred method and a remembered device, copied to PostgreSQL, and logins
# on the copy with the same key file.
migrate_from_sqlite_then_logins_on_postgresql() {
	local sq=$TF_WORK/sqlite/twofa.db key=$TF_WORK/sqlite/twofa.key out codes step target status
	declare -A S
	twofa_init_store "$TF_WORK/sqlite"
	for u in heidi ivan judy; do S[$u]=$(tf_secret); done
	printf 'heidi,%s,%s\nivan,%s,%s\njudy,%s,%s\n' "$PW" "${S[heidi]}" "$PW" "${S[ivan]}" "$PW" "${S[judy]}" |
		"$TWOFA_ADMIN" -s "$sq" -k "$key" user import - >/dev/null
	mapfile -t codes < <("$TWOFA_ADMIN" -s "$sq" -k "$key" backup generate judy --count 3 2>/dev/null)
	step=$(( $(date +%s) / 30 ))
	sqlite3 "$sq" "UPDATE users SET locked_until = strftime('%s','now') + 3600, lock_count = 1 WHERE name = 'ivan';
		INSERT INTO factor_used (factor_id, step, expires) SELECT f.id, $step, ($step + 11) * 30 FROM factors f JOIN users u ON u.id = f.user_id WHERE u.name = 'heidi';
		INSERT INTO logins (at, user, nas, method, result, reason) VALUES ($step * 30 - 7, 'heidi', '127.0.0.1', 'totp', 'accept', 'ok'), ($step * 30 - 7, 'x', '127.0.0.1', 'none', 'reject', 'bad_password');
		INSERT INTO devices (id, user_id, hash, created, last_used, expires, nas) SELECT 7, id, zeroblob(31) || x'2a', 1000, 2000, strftime('%s','now') + 86400, '127.0.0.9' FROM users WHERE name = 'judy'"
	"$TWOFA_ADMIN" -s "$sq" -k "$key" user set judy --method totp >/dev/null; tf_expect "judy prefers totp" "$?" 0
	target=$(pg_url twofa_mig)
	# A target made by init (its own audit row is kept); the SQLite store's key serves both.
	"$TWOFA_ADMIN" -s "$target" -k "$key" --db-password-file "$PG_PASSWORD_FILE" init >/dev/null
	out=$("$TWOFA_ADMIN" -k "$key" --db-password-file "$PG_PASSWORD_FILE" migrate --from "sqlite:$sq" --to "$target"); status=$?
	tf_expect "migrate" "$status" 0
	tf_expect "counts" "$(printf '%s\n' "$out" | grep -c '^copied: 3 users, 3 factors, 1 used steps, 3 backup codes (3 unused), [0-9]* audit rows, 2 logins, 1 remembered devices$')" 1
	tf_expect "verified" "$(printf '%s\n' "$out" | grep -c '^verified: ')" 1
	"$TWOFA_ADMIN" -k "$key" --db-password-file "$PG_PASSWORD_FILE" migrate --from "sqlite:$sq" --to "$target" >/dev/null 2>"$TF_WORK/err"
	tf_expect "again into a full target" "$?" 1
	tf_expect "why" "$(grep -c 'holds users or logins already' "$TF_WORK/err")" 1
	tf_expect "no root-owned SQLite files" "$(find "$TF_WORK/sqlite" -user root | wc -l)" 0
	tf_expect "preferred method copied" "$(printf "SELECT preferred FROM users WHERE name = 'judy';\n" | tf_pg_psql twofa_mig)" totp
	tf_expect "device copied" "$(printf "SELECT d.id, encode(d.hash, 'hex'), d.created, d.last_used, d.nas FROM devices d JOIN users u ON u.id = d.user_id WHERE u.name = 'judy';\n" | tf_pg_psql twofa_mig)" \
		"7|$(printf '%062d2a' 0)|1000|2000|127.0.0.9"
	tf_expect "device listed" "$("$TWOFA_ADMIN" -s "$target" -k "$key" --db-password-file "$PG_PASSWORD_FILE" devices judy --json | grep -c '"id":7,.*"nas":"127.0.0.9"')" 1

	# radiusd C on the copy, with the SQLite store's key file.
	PORT_C=$(twofa_free_port)
	twofa_make_raddb "$TF_WORK/c" "$PORT_C" "\"$target\"" "$key" "postgresql {
		password_file = $PG_PASSWORD_FILE
	}"
	twofa_start_radiusd "$TF_WORK/c" || die "radiusd C failed to start"
	PID_C=$RADIUSD_PID
	PORT=$PORT_C
	login heidi "$(oathtool --totp -b -N "@$(( step * 30 ))" "${S[heidi]}")"
	tf_expect "heidi's used step stays used" "$R_CODE" Access-Challenge
	tf_round2 heidi "$(oathtool --totp -b -N "@$(( step * 30 + 30 ))" "${S[heidi]}")" "$R_STATE"
	tf_expect "heidi, the step after" "$R_CODE" Access-Accept
	tf_round1 ivan "$PW"
	tf_expect_reject "ivan's lock came along"
	login judy "${codes[1]}"
	tf_expect "judy's backup code" "$R_CODE" Access-Accept
	login judy "$(tf_code "${S[judy]}")"
	tf_expect "judy's TOTP secret decrypts" "$R_CODE" Access-Accept
	tf_expect "logins copied" "$(printf 'SELECT count(*) FROM logins WHERE at = %s;\n' $(( step * 30 - 7 )) | tf_pg_psql twofa_mig)" 2
	RADIUSD_PID=$PID_C twofa_stop_radiusd; PID_C=
}

# A database the first PostgreSQL backend made (schema 7: no oob_codes, sends,
# used_states, devices, users.preferred, users.reply) is brought to 11 by the next open,
# its rows kept.
schema_7_database_migrates_to_11() {
	local out
	old_admin() { "$TWOFA_ADMIN" -s "$(pg_url twofa_old)" -k "$PGKEY" --db-password-file "$PG_PASSWORD_FILE" "$@"; }
	old_admin init >/dev/null; tf_expect "init" "$?" 0
	printf '%s\n' "$PW" | old_admin user add kim >/dev/null; tf_expect "user add" "$?" 0
	printf 'DROP TABLE devices, used_states, sends, oob_codes; ALTER TABLE users DROP COLUMN preferred;
		ALTER TABLE users DROP COLUMN reply; UPDATE schema_version SET version = 7;\n' | tf_pg_psql twofa_old >/dev/null
	tf_expect "back at 7" "$(printf 'SELECT version FROM schema_version;\n' | tf_pg_psql twofa_old)" 7
	out=$(old_admin user set kim --method email); tf_expect "opened and used" "$?" 0
	tf_expect "schema" "$(printf 'SELECT version FROM schema_version;\n' | tf_pg_psql twofa_old)" 11
	tf_expect "kim kept, preferred set" "$(printf "SELECT preferred FROM users WHERE name = 'kim';\n" | tf_pg_psql twofa_old)" email
	tf_expect "new tables" "$(printf "SELECT count(*) FROM pg_tables WHERE tablename IN ('devices', 'used_states', 'sends', 'oob_codes');\n" | tf_pg_psql twofa_old)" 4
}

# The database's password is in no log line and on no command line of ours.
password_shown_nowhere() {
	# grep -f: the password as a pattern from its file, not on grep's own command line.
	tf_expect "in radiusd's logs" "$(cat "$TF_WORK"/a/log/radius.log "$TF_WORK"/b/log/radius.log | grep -cFf "$PG_PASSWORD_FILE")" 0
	tf_expect "in radiusd's config" "$(grep -rlFf "$PG_PASSWORD_FILE" "$TF_WORK/a/raddb" | wc -l)" 0
	tf_expect "on a command line" "$(ps -eo args | grep -cFf "$PG_PASSWORD_FILE")" 0
}

store_cases
tf_run admin_init_add_enroll_list_on_postgresql
tf_run unknown_name_reads_no_user_rows
start_servers
tf_run same_code_sent_to_both_at_once_is_accepted_once
tf_run lockout_earned_on_a_holds_on_b
tf_run backup_code_used_on_a_is_refused_on_b
tf_run challenge_from_a_answered_on_b_once
tf_run postgresql_stopped_rejects_cleanly_then_logins_work_again
tf_run paused_postgresql_rejects_then_recovers
tf_run migrate_from_sqlite_then_logins_on_postgresql
tf_run schema_7_database_migrates_to_11
tf_run password_shown_nowhere
