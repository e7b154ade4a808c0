#!/usr/bin/env bash
#
# Append mode through a real radiusd (append = yes): the code typed after
# the password in the one field a NAS without a challenge has.  A right
# code, a wrong one, the same code twice, a backup code as printed, a
# password that itself ends in digits, a password alone (the challenge,
# as without append mode), a wrong password with a right code; and a NAS
# rule turning append mode off for its NAS; and password_source = none
# (files + pap check the password, twofa the code).  Every failure is the one
# reject, and a code is consumed once.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse-append
DIGITS_PW=pin-2024-123456	# ends in six digits of its own
declare -A SECRET
for u in alice bob carol dora erin fred; do SECRET[$u]=$(tf_secret); done
USERS_CSV="alice,$PW,${SECRET[alice]}
bob,$PW,${SECRET[bob]}
carol,$PW,
dora,$DIGITS_PW,${SECRET[dora]}
erin,$PW,${SECRET[erin]}
fred,,${SECRET[fred]}
"
CHALLENGE="Enter the 6-digit code from your authenticator app"

# last_logged: "result reason method" of the newest row of the login log.
last_logged() {
	tf_admin log --json | python3 -c '
import json, sys
r = json.load(sys.stdin)[-1]
print(r["result"], r["reason"], r["method"])'
}

# from_nas NAS USER PASSWORD: round one from 127.0.0.1 or 127.0.0.2.
from_nas() {
	tf_send "User-Name = $(tf_quote "$2")
User-Password = $(tf_quote "$3")
Packet-Src-IP-Address = $1"
}

right_code_after_the_password_is_accepted_once() {
	local code
	tf_wait_fresh_step
	code=$(tf_code "${SECRET[alice]}")
	tf_round1 alice "$PW$code"
	tf_expect "password and code" "$R_CODE" "Access-Accept"
	tf_expect "logged" "$(last_logged)" "accept ok totp"
	tf_round1 alice "$PW$code"
	tf_expect_reject "the same code again"
	tf_expect "logged as a replay" "$(last_logged)" "reject replayed totp"
}

wrong_code_is_the_one_reject_and_counts() {
	local code fails
	tf_wait_fresh_step
	code=$(tf_code "${SECRET[bob]}")
	tf_round1 bob "$PW$(printf '%06d' $(( (10#$code + 1) % 1000000 )))"
	tf_expect_reject "a wrong code"
	tf_expect "logged" "$(last_logged)" "reject bad_code totp"
	fails=$(sqlite3 "file:$STORE?mode=ro" "SELECT fail_count FROM users WHERE name = 'bob'")
	tf_expect "counts toward the lockout" "$fails" 1
	tf_round1 bob "wrong-$PW$code"
	tf_expect_reject "a wrong password with the right code"
	tf_expect "logged" "$(last_logged)" "reject bad_password none"
	# The code was not used: it still works with the right password.
	tf_round1 bob "$PW$code"
	tf_expect "right code after a wrong password" "$R_CODE" "Access-Accept"
	fails=$(sqlite3 "file:$STORE?mode=ro" "SELECT fail_count FROM users WHERE name = 'bob'")
	tf_expect "a success clears the count" "$fails" 0
}

backup_code_as_printed_after_the_password() {
	local codes
	mapfile -t codes < <(tf_admin backup generate carol --count 2 2>/dev/null)
	tf_round1 carol "$PW${codes[0]}"
	tf_expect "backup code" "$R_CODE" "Access-Accept"
	tf_expect "logged" "$(last_logged)" "accept ok backup"
	tf_round1 carol "$PW${codes[0]}"
	tf_expect_reject "the same backup code again"
	tf_round1 carol "$PW$(printf '%s' "${codes[1]}" | tr 'a-z' 'A-Z')"
	tf_expect "capitals" "$R_CODE" "Access-Accept"
	# A TOTP holder's backup code works too.
	mapfile -t codes < <(tf_admin backup generate erin --count 1 2>/dev/null)
	tf_round1 erin "$PW${codes[0]}"
	tf_expect "TOTP holder's backup code" "$R_CODE" "Access-Accept"
}

password_ending_in_digits_then_the_code() {
	tf_wait_fresh_step
	tf_round1 dora "$DIGITS_PW$(tf_code "${SECRET[dora]}")"
	tf_expect "digits, then the code" "$R_CODE" "Access-Accept"
	# Alone, its last six digits are taken for a code: documented, and a reject.
	tf_round1 dora "$DIGITS_PW"
	tf_expect_reject "the password alone"
}

password_alone_gets_the_challenge() {
	tf_wait_fresh_step
	tf_round1 erin "$PW"
	tf_expect "no code appended" "$R_CODE" "Access-Challenge"
	tf_expect "the usual prompt" "$R_MSG" "$CHALLENGE"
	tf_round2 erin "$(tf_code "${SECRET[erin]}")" "$R_STATE"
	tf_expect "answered" "$R_CODE" "Access-Accept"
}

# 127.0.0.2 is covered by "plain nas=127.0.0.2 action=require append=no".
rule_turns_append_mode_off_for_its_nas() {
	tf_wait_fresh_step
	from_nas 127.0.0.2 alice "$PW$(tf_code "${SECRET[alice]}" 30)"
	tf_expect_reject "append=no: the whole string is the password"
	from_nas 127.0.0.2 alice "$PW"
	tf_expect "append=no: the challenge" "$R_CODE" "Access-Challenge"
}

# password_source = none: files + pap check the password in authenticate,
# twofa cuts the code off in authorize and checks it in post-auth.
with_site_modules_checking_the_password() {
	local raddb=$DIR/none/raddb code
	tf_server_stop
	twofa_make_raddb "$DIR/none" "$PORT" "$STORE" "$KEY" "	append = yes
	password_source = none"
	awk '/^\tauthorize \{/ { print; print "\t\tfiles\n\t\tpap"; next }
	     /^\tauthenticate \{/ { print; print "\t\tAuth-Type PAP {\n\t\t\tpap\n\t\t}"; next } { print }' \
		"$raddb/sites-available/twofa" > "$raddb/sites-available/twofa.new"
	mv "$raddb/sites-available/twofa.new" "$raddb/sites-available/twofa"
	printf 'fred\tCleartext-Password := "%s"\n\n' "$PW" > "$raddb/mods-config/files/authorize"
	chown -R root:freerad "$DIR/none"; chmod -R g+rX,o-w "$DIR/none"
	twofa_start_radiusd "$DIR/none" || { tf_expect "radiusd starts" no yes; return; }
	tf_wait_fresh_step
	code=$(tf_code "${SECRET[fred]}")
	tf_round1 fred "wrong-$PW$code"
	tf_expect_reject "none: a wrong password with the right code"
	tf_round1 fred "$PW$(printf '%06d' $(( (10#$code + 1) % 1000000 )))"
	tf_expect_reject "none: a wrong code"
	tf_expect "none: logged" "$(last_logged)" "reject bad_code totp"
	tf_round1 fred "$PW$code"
	tf_expect "none: pap's password, then the code" "$R_CODE" "Access-Accept"
	tf_expect "none: logged" "$(last_logged)" "accept ok totp"
	tf_round1 fred "$PW$code"
	tf_expect_reject "none: the same code again"
	tf_round1 fred "$PW"
	tf_expect "none: no code appended, the challenge" "$R_CODE" "Access-Challenge"
}

tf_server_setup append "	append = yes"
tf_server_stop
printf 'plain nas=127.0.0.2 action=require append=no\n' > "$DIR/server/raddb/mods-config/twofa/policy"
cat >> "$DIR/server/raddb/clients.conf" <<CLIENTS
client two {
	ipaddr = 127.0.0.2
	secret = $RADIUS_SECRET
	require_message_authenticator = yes
}
CLIENTS
chgrp -R freerad "$DIR/server/raddb"
twofa_start_radiusd "$DIR/server" || die "radiusd failed to start"
trap tf_server_stop EXIT

tf_run right_code_after_the_password_is_accepted_once
tf_run wrong_code_is_the_one_reject_and_counts
tf_run backup_code_as_printed_after_the_password
tf_run password_ending_in_digits_then_the_code
tf_run password_alone_gets_the_challenge
tf_run rule_turns_append_mode_off_for_its_nas
tf_run with_site_modules_checking_the_password
