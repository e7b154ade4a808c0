#!/usr/bin/env bash
#
# The login log through a real radiusd: an accepted two-round login, a
# wrong password, a wrong code and an exempt user's password-only login
# each leave one row, with the reason, the NAS address and the
# Calling-Station-Id sent; "twofa-admin log" shows them (text, --json,
# --since, a name in any case); no password or code reaches the store.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse-audit
SECRET=$(tf_secret)
USERS_CSV="alice,$PW,$SECRET"$'\n'"carol,$PW,"$'\n'
CSID=02-00-5E-10-00-01

# send_csid USER PASSWORD [STATE]: a request with a Calling-Station-Id.
send_csid() {
	tf_send "User-Name = $(tf_quote "$1")
User-Password = $(tf_quote "$2")
Calling-Station-Id = $(tf_quote "$CSID")${3:+
State = $3}"
}

# logged ARGS: "twofa-admin --json log ARGS" as one line per row:
# user result reason method nas calling_station_id.
logged() {
	tf_admin log "$@" --json | python3 -c '
import json, sys
for r in json.load(sys.stdin):
	print(r["user"], r["result"], r["reason"], r["method"], r["nas"], r["calling_station_id"])'
}

WRONG_CODE=
GOOD_CODE=

three_outcomes_are_logged() {
	tf_wait_fresh_step
	send_csid alice "$PW"
	tf_expect "round 1" "$R_CODE" "Access-Challenge"
	GOOD_CODE=$(tf_code "$SECRET")
	send_csid alice "$GOOD_CODE" "$R_STATE"
	tf_expect "round 2" "$R_CODE" "Access-Accept"

	send_csid alice "wrong-$PW"
	tf_expect_reject "wrong password"

	send_csid alice "$PW"
	tf_expect "round 1 again" "$R_CODE" "Access-Challenge"
	WRONG_CODE=$(printf '%06d' $(( (10#$(tf_code "$SECRET") + 500000) % 1000000 )))
	send_csid alice "$WRONG_CODE" "$R_STATE"
	tf_expect_reject "wrong code"

	tf_expect "log --json" "$(logged alice)" "alice accept ok totp 127.0.0.1 $CSID
alice reject bad_password none 127.0.0.1 $CSID
alice reject bad_code totp 127.0.0.1 $CSID"
	tf_expect "any case" "$(logged ALICE | wc -l)" 3
	tf_expect "text" "$(tf_admin log alice | awk '{ print $(NF-5), $(NF-4), $(NF-3), $(NF-2), $(NF-1), $NF }')" \
		"$(logged alice)"
}

exempt_login_is_logged_as_not_needed() {
	tf_admin user 2fa carol off >/dev/null
	tf_round1 carol "$PW"
	tf_expect "exempt" "$R_CODE" "Access-Accept"
	tf_expect "log" "$(logged carol)" "carol accept not_needed none 127.0.0.1 None"
	tf_expect "everyone" "$(logged | wc -l)" 4
}

no_secret_reaches_the_store() {
	local dump
	dump=$(sqlite3 "file:$STORE?mode=ro" ".dump logins" ".dump audit")
	tf_expect "dump read" "$(printf '%s' "$dump" | grep -c 'INSERT INTO logins')" 4
	tf_expect "password" "$(sqlite3 "file:$STORE?mode=ro" .dump | grep -c -F -e "$PW")" 0
	tf_expect "good code" "$(printf '%s' "$dump" | grep -c -w -F -e "$GOOD_CODE")" 0
	tf_expect "wrong code" "$(printf '%s' "$dump" | grep -c -w -F -e "$WRONG_CODE")" 0
}

since_and_exit_codes() {
	tf_expect "--since 1h" "$(logged alice --since 1h | wc -l)" 3
	tf_expect "--since today (UTC date)" "$(logged --since "$(date -u +%Y-%m-%d)Z" | wc -l)" 4
	tf_expect "--since the future" "$(logged --since 2099-01-01T00:00:00Z)" ""
	tf_expect "unknown user: no rows" "$(logged nosuchuser)" ""
	tf_admin log nosuchuser >/dev/null; tf_expect "unknown user exit" $? 0
	tf_admin log --since yesterday >/dev/null 2>&1; tf_expect "bad --since" $? 1
	tf_admin log --since 2026-02-30 >/dev/null 2>&1; tf_expect "no such day" $? 1
	tf_admin log alice carol >/dev/null 2>&1; tf_expect "two names" $? 1
	tf_admin log --bogus >/dev/null 2>&1; tf_expect "bad option" $? 1
	tf_admin -s "$DIR/nothere.db" log >/dev/null 2>&1; tf_expect "no store" $? 2
}

# remember_days = 0: the same Calling-Station-Id logs in again, and must be challenged again.
tf_server_setup login_audit "attempts = 1
	remember_days = 0"
trap tf_server_stop EXIT
tf_run three_outcomes_are_logged
tf_run exempt_login_is_logged_as_not_needed
tf_run no_secret_reaches_the_store
tf_run since_and_exit_codes
