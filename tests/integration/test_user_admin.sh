#!/usr/bin/env bash
#
# twofa-admin user 2fa | reset | list through a real radiusd (enforce =
# required, the default): an exemption lets the password alone in, a reset
# makes the user enroll again and voids a challenge already sent, the
# list's filters and JSON; each change at the next login, radiusd never
# restarted.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse
declare -A SECRET
USERS_CSV=
for u in alice bob dave; do
	SECRET[$u]=$(tf_secret)
	USERS_CSV+="$u,$PW,${SECRET[$u]}"$'\n'
done
USERS_CSV+="carol,$PW,"$'\n'		# no second factor
USERS_CSV+="erin,$PW,"$'\n'		# backup codes only, below

# tf_user_field NAME FIELD: one field of "twofa-admin --json user show NAME".
tf_user_field() {
	tf_admin --json user show "$1" | sed -n "s/.*\"$2\":\(\"[^\"]*\"\|null\|true\|false\|[0-9][0-9]*\).*/\1/p"
}

# login_with NAME ANSWER: round one, then ANSWER to the challenge.
login_with() {
	tf_round1 "$1" "$PW"
	tf_expect "$1 round 1" "$R_CODE" "Access-Challenge"
	tf_round2 "$1" "$2" "$R_STATE"
}

# audited NAME ACTION: the audit log's details for NAME's ACTION rows, in order.
audited() {
	sqlite3 "file:$STORE?mode=ro" "SELECT group_concat(detail, '|') FROM (SELECT detail FROM audit WHERE user = '$1' AND action = '$2' ORDER BY id)"
}

# list_names ARGS: the names "twofa-admin user list ARGS" shows, space-separated.
list_names() { tf_admin user list "$@" | awk 'NR > 1 { print $1 }' | tr '\n' ' '; }

same_radiusd() { tf_expect "radiusd not restarted" "$(kill -0 "$RADIUSD_PID" 2>/dev/null && echo running)" running; }

exempt_user_passes_with_the_password_alone() {
	local json
	tf_round1 carol "$PW"
	tf_expect_reject "no second factor, required"
	json=$(tf_admin --json user 2fa carol off)
	tf_expect "2fa off" "$?/$json" '0/{"user":"carol","result":"exempt from the second factor"}'
	tf_round1 carol "$PW"
	tf_expect "exempt, no factor" "$R_CODE" "Access-Accept"
	tf_round1 carol "wrong-password"
	tf_expect_reject "exempt, wrong password"
	# Exempt outranks a factor on file too.
	tf_admin user 2fa alice off >/dev/null
	tf_round1 alice "$PW"
	tf_expect "exempt, TOTP on file" "$R_CODE" "Access-Accept"
	tf_expect "show --json" "$(tf_user_field alice exempt)" true
	tf_expect "show text" "$(tf_admin user show alice | sed -n 's/^exempt: *//p')" "yes (first factor alone)"
	tf_admin user 2fa alice on >/dev/null; tf_expect "2fa on" $? 0
	tf_round1 alice "$PW"
	tf_expect "not exempt: challenged" "$R_CODE" "Access-Challenge"
	tf_wait_fresh_step
	tf_round2 alice "$(tf_code "${SECRET[alice]}")" "$R_STATE"
	tf_expect "and the code lets in" "$R_CODE" "Access-Accept"
	tf_expect "show --json, on" "$(tf_user_field alice exempt)" false
	tf_admin user 2fa carol on >/dev/null
	tf_round1 carol "$PW"
	tf_expect_reject "carol on again, no factor"
	tf_expect "audited" "$(audited alice 'user 2fa')" "off: exempt|on: not exempt"
	same_radiusd
}

reset_user_must_enroll_again() {
	local state json
	tf_admin backup generate bob --count 3 >/dev/null 2>&1
	# A challenge sent before the reset, answered after it with a right code
	# of a step never used (without the reset it would let bob in).
	tf_wait_fresh_step
	tf_round1 bob "$PW"
	tf_expect "challenge before the reset" "$R_CODE" "Access-Challenge"
	state=$R_STATE
	json=$(tf_admin --json user reset bob)
	tf_expect "reset" "$?/$json" '0/{"user":"bob","result":"reset: factors removed, counters reset"}'
	tf_round2 bob "$(tf_code "${SECRET[bob]}")" "$state"
	tf_expect_reject "old challenge, old code"
	tf_round1 bob "$PW"
	tf_expect_reject "after the reset, required"
	tf_expect "show totp" "$(tf_user_field bob totp)" '"none"'
	tf_expect "show backup codes" "$(tf_user_field bob backup_codes)" 0
	tf_expect "audited" "$(audited bob 'user reset')" "1 factor removed, 3 unused backup codes voided, counters reset"
	# Enrolled again, the user is challenged again.
	tf_admin backup generate bob --count 1 >/dev/null 2>&1
	tf_round1 bob "$PW"
	tf_expect "new factor: challenged" "$R_CODE" "Access-Challenge"
	same_radiusd
}

list_filters_and_json() {
	local json
	login_with alice "$(tf_code "${SECRET[alice]}" 30)"	# the next step: this one may be used
	tf_expect "alice logs in" "$R_CODE" "Access-Accept"
	tf_admin backup generate erin --count 2 >/dev/null 2>&1
	tf_admin user 2fa carol off >/dev/null
	# dave locked by two wrong codes (max_failures = 2).
	login_with dave 000000
	tf_round2 dave 000001 "$R_STATE"
	tf_expect_reject "dave locked"
	# An exemption does not lift a lockout.
	tf_admin user 2fa dave off >/dev/null
	tf_round1 dave "$PW"
	tf_expect_reject "dave locked and exempt"
	tf_admin user 2fa dave on >/dev/null
	tf_expect "all" "$(list_names)" "alice bob carol dave erin "
	# bob was reset (no factor); carol has none but is exempt; erin has backup codes.
	tf_admin user reset bob >/dev/null
	tf_expect "--without-2fa" "$(list_names --without-2fa)" "bob "
	tf_expect "--locked" "$(list_names --locked)" "dave "
	tf_expect "both" "$(list_names --locked --without-2fa)" ""
	tf_expect "columns" "$(tf_admin user list | head -1 | tr -s ' ')" "NAME TOTP PARAMS FACTORS BACKUP EXEMPT LOCKED UNTIL FAILURES LAST LOGIN"
	tf_expect "carol row" "$(tf_admin user list | awk '$1 == "carol" { print $2, $3, $4, $5, $6, $7 }')" "none - - 0 yes -"
	tf_expect "erin row" "$(tf_admin user list | awk '$1 == "erin" { print $2, $4, $5, $6 }')" "none - 2 no"
	tf_expect "dave locked column" "$(tf_admin user list | awk '$1 == "dave" { print ($7 != "-") }')" 1
	# alice logged in (earlier test), nobody else did: the last Accept from the login log.
	tf_expect "alice factors and last login" "$(tf_admin user list | awk '$1 == "alice" { print $4, ($0 ~ /20[0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9:]+ [A-Z]+$/) }')" "totp 1"
	tf_expect "erin last login" "$(tf_admin user list | awk '$1 == "erin" { print $NF }')" "-"
	json=$(tf_admin --json user list --locked)
	tf_expect "json locked" "$(printf '%s' "$json" | grep -c '^{"name":"dave",.*"locked_until":"[0-9].*Z".*"exempt":false,"last_login":null}$')" 1
	tf_expect "json factors" "$(printf '%s' "$json" | grep -c '"factors":\[{"kind":"totp","state":"confirmed","id":[0-9]*,"address":null}\]')" 1
	tf_expect "json locked, one" "$(printf '%s' "$json" | grep -c '"name"')" 1
	json=$(tf_admin --json user list)
	tf_expect "json all" "$(printf '%s' "$json" | grep -c '"name"')" 5
	tf_expect "json carol" "$(printf '%s' "$json" | grep -c '"name":"carol".*"factors":\[\],.*"backup_codes":0,.*"exempt":true,')" 1
	tf_expect "json erin" "$(printf '%s' "$json" | grep -c '"name":"erin".*"backup_codes":2,.*"exempt":false,"last_login":null}')" 1
	tf_expect "json alice last login" "$(printf '%s' "$json" | grep -c '"name":"alice".*"last_login":"20[0-9-]*T[0-9:]*Z"}')" 1
	tf_admin user 2fa bob off >/dev/null
	tf_expect "json without, none left" "$(tf_admin --json user list --without-2fa | tr -d '\n')" "[]"
	# A reset lifts the lock: dave is let in to be challenged again.
	tf_admin user reset dave >/dev/null
	tf_expect "--locked after reset" "$(list_names --locked)" ""
	tf_round1 dave "$PW"
	tf_expect_reject "dave after reset: no factor, required"
	same_radiusd
}

exit_codes() {
	tf_admin user 2fa nosuchuser off >/dev/null 2>&1; tf_expect "2fa unknown user" $? 1
	tf_admin user reset nosuchuser >/dev/null 2>&1; tf_expect "reset unknown user" $? 1
	tf_admin user 2fa alice maybe >/dev/null 2>&1; tf_expect "2fa bad mode" $? 1
	tf_admin user 2fa alice >/dev/null 2>&1; tf_expect "2fa no mode" $? 1
	tf_admin user reset >/dev/null 2>&1; tf_expect "reset no name" $? 1
	tf_admin user list --bogus >/dev/null 2>&1; tf_expect "list bad option" $? 1
	tf_admin user list extra >/dev/null 2>&1; tf_expect "list extra argument" $? 1
	tf_expect "refused ones audited nothing" \
		"$(sqlite3 "file:$STORE?mode=ro" "SELECT count(*) FROM audit WHERE user = 'nosuchuser' OR detail LIKE '%maybe%'")" 0
	tf_expect "message" "$(tf_admin user reset nosuchuser 2>&1)" 'twofa-admin: no such user "nosuchuser"'
}

tf_server_setup user_admin "lockout {
		max_failures = 2
	}"
trap tf_server_stop EXIT
# A login finds a user by the name, then in any ASCII case; so does every
# command: what "user show ALICE" shows, "user 2fa ALICE" changes.
commands_find_a_name_in_any_ascii_case() {
	tf_expect "show" "$(tf_user_field DAVE name)" '"dave"'
	tf_admin user 2fa DAVE off >/dev/null 2>&1
	tf_expect "2fa off: exit" "$?" 0
	tf_expect "dave exempt" "$(tf_user_field dave exempt)" true
	tf_admin user 2fa Dave on >/dev/null 2>&1
	tf_expect "dave not exempt" "$(tf_user_field dave exempt)" false
	tf_admin user unlock DAVE >/dev/null 2>&1
	tf_expect "unlock: exit" "$?" 0
	tf_admin backup generate DAVE --count 1 >/dev/null 2>&1
	tf_expect "backup generate: exit" "$?" 0
	tf_admin backup remove DAVE >/dev/null 2>&1
	tf_expect "backup remove: exit" "$?" 0
	tf_admin devices DAVE >/dev/null 2>&1
	tf_expect "devices: exit" "$?" 0
	tf_admin user set DAVE --email dave@example.org >/dev/null 2>&1
	tf_expect "set: exit" "$?" 0
	tf_expect "audited under the stored name" "$(sqlite3 "file:$STORE?mode=ro" "SELECT count(*) FROM audit WHERE user = 'DAVE' OR user = 'Dave'")" 0
	printf '%s\n' "$PW" | tf_admin user add DAVE >/dev/null 2>&1
	tf_expect "add: the name is taken in any case" "$?" 1
}

tf_run exempt_user_passes_with_the_password_alone
tf_run reset_user_must_enroll_again
tf_run list_filters_and_json
tf_run exit_codes
tf_run commands_find_a_name_in_any_ascii_case
