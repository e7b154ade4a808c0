#!/usr/bin/env bash
#
# A store that does not exist yet: radiusd starts, rejects every login
# cleanly with a log line, and uses the store as soon as it is created,
# without a restart.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse
SECRET_ALICE=$(tf_secret)
USERS_CSV="alice,$PW,$SECRET_ALICE"

missing_store_rejects_cleanly_until_created() {
	tf_round1 alice "$PW"
	tf_expect_reject "round 1 without a store"
	tf_expect "logged" "$(grep -cE "No such file or directory|unable to open database file" "$DIR/server/log/radius.log" | sed 's/^[1-9][0-9]*$/yes/')" yes
	kill -0 "$RADIUSD_PID" 2>/dev/null
	tf_expect "radiusd alive" "$?" 0

	tf_admin init --owner freerad >/dev/null
	printf '%s\n' "$USERS_CSV" | tf_admin user import - >/dev/null
	sleep 1.1	# a failed open is retried at most once a second
	tf_wait_fresh_step
	tf_round1 alice "$PW"
	tf_expect "round 1 once the store exists" "$R_CODE" "Access-Challenge"
	tf_round2 alice "$(tf_code "$SECRET_ALICE")" "$R_STATE"
	tf_expect "round 2" "$R_CODE" "Access-Accept"
}

# The key is there, the store is not.
DIR=$TF_WORK/store_missing
rm -rf "$DIR"; mkdir -p "$DIR"
STORE=$DIR/store/twofa.db
KEY=$DIR/store/twofa.key
twofa_init_store "$DIR/store"
rm -f "$STORE" "$STORE"-wal "$STORE"-shm
PORT=$(twofa_free_port)
twofa_make_raddb "$DIR/server" "$PORT" "$STORE" "$KEY"
twofa_start_radiusd "$DIR/server" || die "radiusd failed to start without a store"
trap tf_server_stop EXIT
tf_run missing_store_rejects_cleanly_until_created
