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
# Codes by SMS and email (the HTTP and SMTP sinks of tests/integration/sinks/
# stand in for the gateway and the relay): a switch word typed after the
# password ("passwordsms") sends one, answered by a Reject that says where it
# went, the one reject that is not the generic one; the next login types the
# password and that code.  With a separator, and with password_source = none,
# where the user is read from the store once per login.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse-append
DIGITS_PW=pin-2024-123456	# ends in six digits of its own
declare -A SECRET
for u in alice bob carol dora erin fred tom; do SECRET[$u]=$(tf_secret); done
USERS_CSV="alice,$PW,${SECRET[alice]}
bob,$PW,${SECRET[bob]}
carol,$PW,
dora,$DIGITS_PW,${SECRET[dora]}
erin,$PW,${SECRET[erin]}
fred,,${SECRET[fred]}
sara,$PW,
emil,$PW,
tom,$PW,${SECRET[tom]}
pete,$PW,
lim,$PW,
nina,,
"
CHALLENGE="Enter the 6-digit code from your authenticator app"
CA=$TF_WORK/ca
THEN="Log in again with your password followed by the code"
SENT_SMS="Code sent by SMS to +44•••••7890. $THEN"

# contacts: the SMS and email factors, in the store of the server just set up.
contacts() {
	tf_admin user set sara --phone +441234567890 >/dev/null
	tf_admin user set emil --email emil@example.org >/dev/null
	tf_admin user set tom --phone +441234567891 >/dev/null
	tf_admin user set pete --phone +441234567892 >/dev/null
	tf_admin user set lim --phone +441234567893 >/dev/null
	tf_admin user set nina --phone +441234567890 >/dev/null
}

# delivery: the module's sms { } and email { }, sent to the sinks.
delivery() {
	cat <<CONF
	sms {
		url = "https://127.0.0.1:$SMS_PORT/send"
		content_type = "application/json"
		body = '{"to":"{phone}","text":"{message}"}'
		ca_file = "$CA/ca.pem"
		timeout = 5
	}
	email {
		url = "smtp://127.0.0.1:$MAIL_PORT"
		username = "twofa"
		password = "relay-password"
		ca_file = "$CA/ca.pem"
		from = "twofa@example.org"
		body = "Your code is {code}."
		timeout = 5
	}
CONF
}

# counts USER: "fail_count password_failures" (wrong codes, wrong passwords in a row).
counts() {
	sqlite3 -separator ' ' "file:$STORE?mode=ro" "SELECT fail_count, password_failures FROM users WHERE name = '$1'"
}

# other CODE: another code of as many digits.
other() { printf '%0*d' "${#1}" $(( (10#$1 + 1) % 10**${#1} )); }

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

# ---- codes by SMS and email: a word after the password sends one ----

sms_word_sends_a_code_then_the_code_logs_in_once() {
	local n code
	n=$(tf_sink_records "$SMS_RECORD")
	tf_round1 sara "${PW}sms"
	tf_expect "reply" "$R_CODE" "Access-Reject"
	tf_expect "says where the code went and what next" "$R_MSG" "$SENT_SMS"
	tf_expect "the gateway got it" "$(tf_wait_records "$SMS_RECORD" $((n + 1)) && tf_sms_to $((n + 1)))" "+441234567890"
	tf_expect "logged" "$(last_logged)" "reject code_sent sms"
	tf_expect "no failure counted" "$(counts sara)" "0 0"
	code=$(tf_sms_code $((n + 1)))
	tf_round1 sara "$PW$code"
	tf_expect "password and the sent code" "$R_CODE" "Access-Accept"
	tf_expect "logged" "$(last_logged)" "accept ok sms"
	tf_round1 sara "$PW$code"
	tf_expect_reject "the same code again"
	tf_expect "logged as a replay" "$(last_logged)" "reject replayed sms"
	tf_expect "one SMS" "$(tf_sink_records "$SMS_RECORD")" $((n + 1))
	tf_expect "no code in radiusd's log" "$(grep -c "$code" "$DIR/server/log/radius.log")" 0
}

wrong_sent_code_is_the_one_reject_and_counts_once() {
	local n code
	n=$(tf_sink_records "$SMS_RECORD")
	tf_round1 sara "${PW}sms"
	tf_expect "sent" "$R_MSG" "$SENT_SMS"
	code=$(tf_sms_code $((n + 1)))
	tf_round1 sara "$PW$(other "$code")"
	tf_expect_reject "a wrong code"
	tf_expect "logged" "$(last_logged)" "reject bad_code sms"
	tf_expect "counts toward the lockout" "$(counts sara)" "1 0"
	tf_round1 sara "$PW$code"
	tf_expect "the right code still works" "$R_CODE" "Access-Accept"
	tf_expect "a success clears the count" "$(counts sara)" "0 0"
	# TOTP and SMS held: a wrong code is tried against both, and counts once.
	n=$(tf_sink_records "$SMS_RECORD")
	tf_round1 tom "${PW}sms"
	tf_expect "tom: sent" "$R_MSG" "Code sent by SMS to +44•••••7891. $THEN"
	code=$(tf_sms_code $((n + 1)))
	tf_round1 tom "$PW$(other "$code")"
	tf_expect_reject "tom: a wrong code"
	tf_expect "tom: counts once" "$(counts tom)" "1 0"
}

totp_holder_gets_a_sent_code_and_keeps_totp() {
	local n
	n=$(tf_sink_records "$SMS_RECORD")
	tf_round1 tom "${PW}resend"
	tf_expect "resend: by the user's out-of-band method" "$R_MSG" "Code sent by SMS to +44•••••7891. $THEN"
	tf_round1 tom "$PW$(tf_sms_code $((n + 1)))"
	tf_expect "the SMS code, not the app's" "$R_CODE" "Access-Accept"
	tf_expect "logged" "$(last_logged)" "accept ok sms"
	tf_next_code tom
	tf_round1 tom "$PW$CODE"
	tf_expect "the app's code" "$R_CODE" "Access-Accept"
	tf_expect "logged" "$(last_logged)" "accept ok totp"
}

email_word_sends_by_email() {
	local n
	n=$(tf_sink_records "$MAIL_RECORD")
	tf_round1 emil "${PW}email"
	tf_expect "reply" "$R_CODE" "Access-Reject"
	tf_expect "says where" "$R_MSG" "Code sent by email to e•••@example.org. $THEN"
	tf_expect "logged" "$(last_logged)" "reject code_sent email"
	tf_round1 emil "$PW$(tf_mail_code $((n + 1)))"
	tf_expect "password and the mailed code" "$R_CODE" "Access-Accept"
	tf_expect "logged" "$(last_logged)" "accept ok email"
}

word_for_a_method_not_held_is_the_one_reject() {
	local n
	n=$(tf_sink_records "$SMS_RECORD")
	tf_round1 carol "${PW}sms"
	tf_expect_reject "backup codes only: no word, the whole is the password"
	tf_expect "logged" "$(last_logged)" "reject bad_password none"
	tf_round1 emil "${PW}sms"
	tf_expect_reject "email only"
	tf_expect "nothing sent" "$(tf_sink_records "$SMS_RECORD")" "$n"
}

wrong_password_and_a_word_sends_nothing() {
	local n
	n=$(tf_sink_records "$SMS_RECORD")
	tf_round1 pete "wrong-${PW}sms"
	tf_expect_reject "a wrong password"
	tf_expect "logged" "$(last_logged)" "reject bad_password none"
	tf_expect "counted as a wrong password" "$(counts pete)" "0 1"
	sleep 0.5	# a send would have reached the sink by now
	tf_expect "nothing sent" "$(tf_sink_records "$SMS_RECORD")" "$n"
}

send_limit_is_the_one_reject() {
	local i
	for i in 1 2 3 4 5; do
		tf_round1 lim "${PW}sms"
		tf_expect "send $i" "$R_MSG" "Code sent by SMS to +44•••••7893. $THEN"
	done
	tf_round1 lim "${PW}sms"
	tf_expect_reject "past send_limits"
	tf_expect "logged" "$(last_logged)" "reject send_limit none"
}

# append_separator = ",": the word and the code after it, and only there.
with_a_separator() {
	local n code
	tf_server_stop
	twofa_make_raddb "$DIR/sep" "$PORT" "$STORE" "$KEY" "	append = yes
	append_separator = \",\"
$(delivery)"
	twofa_start_radiusd "$DIR/sep" || { tf_expect "radiusd starts" no yes; return; }
	n=$(tf_sink_records "$SMS_RECORD")
	tf_round1 sara "$PW,sms"
	tf_expect "the word after the separator" "$R_MSG" "$SENT_SMS"
	code=$(tf_sms_code $((n + 1)))
	tf_round1 sara "${PW}sms"
	tf_expect_reject "no separator: the whole is the password"
	tf_round1 sara "$PW$code"
	tf_expect_reject "the code without the separator"
	tf_round1 sara "$PW,$code"
	tf_expect "the code after the separator" "$R_CODE" "Access-Accept"
	tf_expect "one SMS" "$(tf_sink_records "$SMS_RECORD")" $((n + 1))
}

# password_source = none: files + pap check the password in authenticate,
# twofa cuts the code off in authorize and checks it in post-auth.
with_site_modules_checking_the_password() {
	local raddb=$DIR/none/raddb code
	tf_server_stop
	twofa_make_raddb "$DIR/none" "$PORT" "$STORE" "$KEY" "	append = yes
	password_source = none
$(delivery)"
	awk '/^\tauthorize \{/ { print; print "\t\tfiles\n\t\tpap"; next }
	     /^\tauthenticate \{/ { print; print "\t\tAuth-Type PAP {\n\t\t\tpap\n\t\t}"; next } { print }' \
		"$raddb/sites-available/twofa" > "$raddb/sites-available/twofa.new"
	mv "$raddb/sites-available/twofa.new" "$raddb/sites-available/twofa"
	printf '%s\tCleartext-Password := "%s"\n\n' fred "$PW" nina "$PW" > "$raddb/mods-config/files/authorize"
	chown -R root:freerad "$DIR/none"; chmod -R g+rX,o-w "$DIR/none"
	# -xx: the module's debug lines reach the log (none_append_login_reads_the_user_once).
	twofa_start_radiusd "$DIR/none" -xx || { tf_expect "radiusd starts" no yes; return; }
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

# password_source = none (the server above): pap checks the password, twofa
# sends the code from post-auth, and checks the next login's code there.
none_word_sends_a_code_then_the_code_logs_in() {
	local n code
	n=$(tf_sink_records "$SMS_RECORD")
	tf_round1 nina "wrong-${PW}sms"
	tf_expect_reject "none: a wrong password and the word"
	tf_expect "none: wrong password counted" "$(counts nina)" "0 1"
	tf_round1 nina "${PW}sms"
	tf_expect "none: reply" "$R_CODE" "Access-Reject"
	tf_expect "none: says where the code went" "$R_MSG" "$SENT_SMS"
	tf_expect "none: logged" "$(last_logged)" "reject code_sent sms"
	tf_expect "none: one SMS, after the right password only" \
		"$(tf_wait_records "$SMS_RECORD" $((n + 1)) && tf_sink_records "$SMS_RECORD")" $((n + 1))
	tf_expect "none: the right password clears its count" "$(counts nina)" "0 0"
	code=$(tf_sms_code $((n + 1)))
	tf_round1 nina "$PW$(other "$code")"
	tf_expect_reject "none: a wrong code"
	tf_expect "none: counted" "$(counts nina)" "1 0"
	tf_round1 nina "$PW$code"
	tf_expect "none: password and the sent code" "$R_CODE" "Access-Accept"
	tf_expect "none: logged" "$(last_logged)" "accept ok sms"
	tf_round1 nina "$PW$code"
	tf_expect_reject "none: the same code again"
}

# The user is read from the store in authorize (for the split) and kept for
# post-auth: one read per append login (load_user's debug line, -xx).
none_append_login_reads_the_user_once() {
	local log=$DIR/none/log/radius.log before codes
	mapfile -t codes < <(tf_admin backup generate fred --count 1 2>/dev/null)
	before=$(grep -c 'User "fred": read from the store' "$log")
	tf_round1 fred "$PW${codes[0]}"
	tf_expect "none: accepted" "$R_CODE" "Access-Accept"
	tf_expect "none: reads of the user" "$(( $(grep -c 'User "fred": read from the store' "$log") - before ))" 1
}

tf_make_ca "$CA"
printf 'relay-password\n' > "$TF_WORK/smtp-pw"
tf_start_sink http gateway --cert "$CA/server.pem" --key "$CA/server.key" --status 200
SMS_RECORD=$SINK_RECORD SMS_PORT=$SINK_PORT
tf_start_sink smtp relay --cert "$CA/server.pem" --key "$CA/server.key" --starttls require \
	--auth "twofa:$TF_WORK/smtp-pw"
MAIL_RECORD=$SINK_RECORD MAIL_PORT=$SINK_PORT
trap 'tf_stop_sinks; tf_server_stop' EXIT

tf_server_setup append "	append = yes
$(delivery)"
contacts
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

tf_run right_code_after_the_password_is_accepted_once
tf_run wrong_code_is_the_one_reject_and_counts
tf_run backup_code_as_printed_after_the_password
tf_run password_ending_in_digits_then_the_code
tf_run password_alone_gets_the_challenge
tf_run rule_turns_append_mode_off_for_its_nas
tf_run sms_word_sends_a_code_then_the_code_logs_in_once
tf_run wrong_sent_code_is_the_one_reject_and_counts_once
tf_run totp_holder_gets_a_sent_code_and_keeps_totp
tf_run email_word_sends_by_email
tf_run word_for_a_method_not_held_is_the_one_reject
tf_run wrong_password_and_a_word_sends_nothing
tf_run send_limit_is_the_one_reject
tf_run with_a_separator
tf_run with_site_modules_checking_the_password
tf_run none_word_sends_a_code_then_the_code_logs_in
tf_run none_append_login_reads_the_user_once
