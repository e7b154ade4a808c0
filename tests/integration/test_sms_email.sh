#!/usr/bin/env bash
#
# Codes by SMS and email through a real radiusd (method_sms.c,
# method_email.c, method_oob.c, the flow in rlm_twofa.c), with the HTTP
# and SMTP sinks of tests/integration/sinks/ standing in for the gateway
# and the relay: the code is read where the sink recorded it.  No timed
# assertions: a gateway that never answers must still leave radiusd
# answering (radclient's own timeout would show it did not).
#
set -u
source "$(dirname "$0")/lib.sh"

CA=$TF_WORK/ca
PHONE_A=+441234567890
PHONE_B=+441234567891
NASTY_NAME='a&b=c"d"100%' # no blank: filter_username refuses one
NASTY_MAIL='a&b=c%d@example.org'

# conf SMS_URL MAIL_URL [extra lines]: the module's sms { } and email { } for the sinks.
# (No backslash in them: twofa_make_raddb puts them in with awk -v, which reads escapes.)
conf() {
	cat <<CONF
sms {
	url = "$1"
	content_type = "application/json"
	body = '{"to":"{phone}","user":"{user}","text":"{message}"}'
	message = "Your code is {code}"
	ca_file = "$CA/ca.pem"
	timeout = 5
	${SMS_EXTRA:-}
}
email {
	url = "$2"
	username = "twofa"
	password = "relay-password"
	ca_file = "$CA/ca.pem"
	from = "twofa@example.org"
	subject = "Code for {user}"
	body = "Hello {user}, your code is {code}."
	timeout = 5
	${MAIL_EXTRA:-}
}
${3:-}
CONF
}

start_relay() {
	printf 'relay-password\n' > "$TF_WORK/smtp-pw"
	tf_start_sink smtp "$1" --cert "$CA/server.pem" --key "$CA/server.key" --starttls "${2:-require}" \
		--auth "twofa:$TF_WORK/smtp-pw"
	MAIL_PORT=$SINK_PORT
	MAIL_RECORD=$SINK_RECORD
}

start_gateway() {
	tf_start_sink http "$1" --cert "$CA/server.pem" --key "$CA/server.key" "${@:2}"
	SMS_PORT=$SINK_PORT
	SMS_RECORD=$SINK_RECORD
}

# login USER PASSWORD CODE: round one, then CODE in round two.
login() {
	tf_round1 "$1" "$2"
	[ "$R_CODE" = Access-Challenge ] || return
	tf_round2 "$1" "$3" "$R_STATE"
}

# ---- the main server: both gateways answer ----

sms_login_is_accepted() {
	tf_round1 sam pw-sam
	tf_expect "challenge" "$R_CODE" Access-Challenge
	tf_expect "text names the masked number" "$R_MSG" "Enter the code sent by SMS to +44•••••7890"
	tf_expect "to" "$(tf_sms_to 1)" "$PHONE_A"
	tf_round2 sam "$(tf_sms_code 1)" "$R_STATE"
	tf_expect "accept" "$R_CODE" Access-Accept
	tf_expect "logged" "$(tf_admin log sam | grep -c 'accept.*sms')" 1
	tf_expect "no code in radiusd's log" "$(grep -c "$(tf_sms_code 1)" "$DIR/server/log/radius.log" 2>/dev/null)" 0
}

reused_code_is_refused() {
	local code state
	tf_round1 sam pw-sam
	code=$(tf_sms_code 2)
	tf_round2 sam "$code" "$R_STATE"
	tf_expect "first use" "$R_CODE" Access-Accept
	# The same code again in a new login: a new code was sent, the old one is void.
	tf_round1 sam pw-sam
	state=$R_STATE
	tf_round2 sam "$code" "$state"
	tf_expect "old code at the new prompt" "$R_CODE" Access-Challenge
	tf_round2 sam "$(tf_sms_code 3)" "$R_STATE"
	tf_expect "the new code" "$R_CODE" Access-Accept
}

another_users_code_is_refused() {
	local sam_code
	tf_round1 sam pw-sam
	sam_code=$(tf_sms_code 4)
	tf_round1 bob pw-bob
	tf_expect "bob's code went to bob" "$(tf_sms_to 5)" "$PHONE_B"
	tf_round2 bob "$sam_code" "$R_STATE"
	tf_expect "sam's code for bob" "$R_CODE" Access-Challenge
	tf_round2 bob "$(tf_sms_code 5)" "$R_STATE"
	tf_expect "bob's own" "$R_CODE" Access-Accept
}

email_login_is_accepted() {
	local n
	n=$(wc -l < "$MAIL_RECORD")
	tf_round1 emma pw-emma
	tf_expect "challenge" "$R_CODE" Access-Challenge
	tf_expect "text names the masked address" "$R_MSG" "Enter the code sent by email to e•••@example.org"
	tf_round2 emma "$(tf_mail_code $((n + 1)))" "$R_STATE"
	tf_expect "accept" "$R_CODE" Access-Accept
	tf_expect "envelope to" "$(tf_sink_py "$MAIL_RECORD" "r[$n][\"rcpt\"]")" "['<emma@example.org>']"
	tf_expect "over TLS" "$(tf_sink_py "$MAIL_RECORD" "r[$n][\"tls\"]")" True
}

email_to_both_addresses() {
	local n
	n=$(wc -l < "$MAIL_RECORD")
	tf_round1 both pw-both
	tf_expect "text names both" "$R_MSG" "Enter the code sent by email to b•••@example.org and b•••@home.example"
	tf_round2 both "$(tf_mail_code $((n + 1)))" "$R_STATE"
	tf_expect "accept" "$R_CODE" Access-Accept
	tf_expect "envelope to" "$(tf_sink_py "$MAIL_RECORD" "r[$n][\"rcpt\"]")" "['<both@example.org>', '<both@home.example>']"
	tf_expect "one message" "$(wc -l < "$MAIL_RECORD")" $((n + 1))
	# The second address only.
	tf_admin user set both --email-to second >/dev/null
	tf_round1 both pw-both
	tf_expect "second only" "$R_MSG" "Enter the code sent by email to b•••@home.example"
	tf_round2 both "$(tf_mail_code $((n + 2)))" "$R_STATE"
	tf_expect "accept (second)" "$R_CODE" Access-Accept
	# user show: the addresses and the choice, as stored; --json the same.
	tf_expect "show email" "$(tf_admin user show both | sed -n 's/^email: *//p')" "second:both@example.org,both@home.example"
	tf_expect "show method" "$(tf_admin user show both | sed -n 's/^method: *//p')" "default order"
	tf_admin user set both --method email >/dev/null
	tf_expect "json preferred" "$(tf_admin --json user show both | grep -c '"preferred":"email"')" 1
	tf_admin user show sam | grep -q '^phone: *+44' && r=yes || r=no
	tf_expect "show phone" "$r" yes
}

switching_method_and_resend_at_the_prompt() {
	local sms_n mail_n first state
	sms_n=$(wc -l < "$SMS_RECORD")
	mail_n=$(wc -l < "$MAIL_RECORD")
	tf_round1 multi pw-multi
	tf_expect "TOTP first" "$R_MSG" "Enter the 6-digit code from your authenticator app"
	tf_round2 multi sms "$R_STATE"
	tf_expect "switched to SMS" "$R_MSG" "Enter the code sent by SMS to +44•••••7892"
	first=$(tf_sms_code $((sms_n + 1)))
	tf_round2 multi resend "$R_STATE"
	tf_expect "resent" "$R_MSG" "Enter the code sent by SMS to +44•••••7892"
	tf_expect "a second SMS" "$(tf_wait_records "$SMS_RECORD" $((sms_n + 2)) && echo yes)" yes
	state=$R_STATE
	tf_round2 multi "$first" "$state"
	tf_expect "the first code is void" "$R_CODE" Access-Challenge
	tf_round2 multi email "$R_STATE"
	tf_expect "switched to email" "$R_MSG" "Enter the code sent by email to m•••@example.org"
	tf_round2 multi "$(tf_mail_code $((mail_n + 1)))" "$R_STATE"
	tf_expect "email code accepted" "$R_CODE" Access-Accept
	# The preferred method comes first.
	tf_admin user set multi --method email >/dev/null
	tf_round1 multi pw-multi
	tf_expect "preferred email" "$R_MSG" "Enter the code sent by email to m•••@example.org"
	tf_round2 multi totp "$R_STATE"
	tf_expect "back to TOTP" "$R_MSG" "Enter the 6-digit code from your authenticator app"
	tf_wait_fresh_step
	tf_round2 multi "$(tf_code "$MULTI_SECRET")" "$R_STATE"
	tf_expect "TOTP accepted" "$R_CODE" Access-Accept
}

# resend_limit = 3: the fourth word ends the login, and its last State
# takes no answer after that, not even the code last sent.
resend_limit_ends_the_login_and_its_state() {
	local sms_n i state
	sms_n=$(wc -l < "$SMS_RECORD")
	tf_round1 resender pw-resender
	tf_expect "SMS first" "$R_MSG" "Enter the code sent by SMS to +44•••••7895"
	for i in 1 2 3; do
		tf_round2 resender resend "$R_STATE"
		tf_expect "resend $i" "$R_MSG" "Enter the code sent by SMS to +44•••••7895"
	done
	state=$R_STATE
	tf_expect "four codes sent" "$(tf_wait_records "$SMS_RECORD" $((sms_n + 4)) && echo yes)" yes
	tf_round2 resender resend "$state"
	tf_expect_reject "past resend_limit"
	tf_expect "nothing more sent" "$(wc -l < "$SMS_RECORD")" $((sms_n + 4))
	tf_round2 resender "$(tf_sms_code $((sms_n + 4)))" "$state"
	tf_expect_reject "the ended login's State again, with the last code"
}

# A State is answered once: a word or a number sent again in an answered
# State is refused before anything is sent or counted (the send limits,
# the lockout), and the code the first answer sent stays the one that works.
resend_in_an_answered_state_sends_nothing() {
	local sms_n first second
	sms_n=$(wc -l < "$SMS_RECORD")
	tf_round1 replayer pw-replayer
	first=$R_STATE
	tf_round2 replayer resend "$first"
	tf_expect "resent" "$R_MSG" "Enter the code sent by SMS to +44•••••7896"
	second=$R_STATE
	tf_round2 replayer resend "$first"
	tf_expect_reject "resend in the answered State"
	tf_expect "sends counted" "$(sends_of replayer)" 2
	tf_expect "SMS sent" "$(wc -l < "$SMS_RECORD")" $((sms_n + 2))
	tf_round2 replayer "$(tf_sms_code $((sms_n + 2)))" "$second"
	tf_expect "the code the resend sent still works" "$R_CODE" Access-Accept
}

wrong_answer_in_an_answered_state_counts_nothing() {
	local first before
	before=$(failures_of replayer)
	tf_round1 replayer pw-replayer
	first=$R_STATE
	tf_round2 replayer not-a-code "$first"
	tf_expect "asked again" "$R_CODE" Access-Challenge
	tf_expect "one failure" "$(failures_of replayer)" $((before + 1))
	tf_round2 replayer not-a-code "$first"
	tf_expect_reject "the answered State again"
	tf_expect "still one failure" "$(failures_of replayer)" $((before + 1))
}

number_in_an_answered_state_sends_nothing() {
	local n first
	n=$(wc -l < "$SMS_RECORD")
	tf_round1 asker pw-asker
	first=$R_STATE
	tf_round2 asker "+44 1234 567 897" "$first"
	tf_expect "code sent" "$R_MSG" "Enter the code sent by SMS to +44•••••7897"
	tf_round2 asker "+44 1234 567 898" "$first"
	tf_expect_reject "another number in the answered State"
	tf_expect "sends counted" "$(sends_of asker)" 1
	tf_expect "SMS sent" "$(wc -l < "$SMS_RECORD")" $((n + 1))
}

# failures_of USER: USER's failed codes toward the lockout.
failures_of() { sqlite3 "file:$STORE?mode=ro" "SELECT fail_count FROM users WHERE name = '$1'"; }

# sends_of USER: the sends counted against USER's limit.
sends_of() {
	sqlite3 "file:$STORE?mode=ro" "SELECT count(*) FROM sends s JOIN users u ON u.id = s.user_id WHERE u.name = '$1'"
}

send_limit_is_reached() {
	local i
	# per_user = 5 an hour: sam has had codes from the tests above; limit's user is fresh.
	for i in 1 2 3 4 5; do
		tf_round1 limit pw-limit
		tf_expect "send $i" "$R_CODE" Access-Challenge
	done
	tf_round1 limit pw-limit
	tf_expect_reject "sixth send"
	tf_expect "logged" "$(tf_admin log limit | grep -c send_limit)" 1
}

values_change_neither_request_nor_headers() {
	local n_sms n_mail
	n_sms=$(wc -l < "$SMS_RECORD")
	n_mail=$(wc -l < "$MAIL_RECORD")
	tf_round1 "$NASTY_NAME" pw-nasty
	tf_expect "challenge" "$R_CODE" Access-Challenge
	tf_wait_records "$SMS_RECORD" $((n_sms + 1))
	tf_expect "json keys" "$(tf_sink_py "$SMS_RECORD" "sorted(json.loads(r[$n_sms][\"body\"]))")" "['text', 'to', 'user']"
	tf_expect "json user" "$(tf_sink_py "$SMS_RECORD" "json.loads(r[$n_sms][\"body\"])[\"user\"]")" "$NASTY_NAME"
	tf_round2 "$NASTY_NAME" email "$R_STATE"
	tf_expect "mail sent" "$(tf_wait_records "$MAIL_RECORD" $((n_mail + 1)) && echo yes)" yes
	tf_expect "envelope" "$(tf_sink_py "$MAIL_RECORD" "r[$n_mail][\"rcpt\"]")" "['<$NASTY_MAIL>']"
	tf_expect "To" "$(tf_sink_py "$MAIL_RECORD" "m($((n_mail + 1)))[\"To\"]")" "$NASTY_MAIL"
	tf_expect "Subject" "$(tf_sink_py "$MAIL_RECORD" "m($((n_mail + 1)))[\"Subject\"]")" "Code for $NASTY_NAME"
	tf_expect "headers" "$(tf_sink_py "$MAIL_RECORD" "sorted(k.lower() for k in m($((n_mail + 1))).keys())")" \
		"['auto-submitted', 'content-transfer-encoding', 'content-type', 'date', 'from', 'message-id', 'mime-version', 'subject', 'to']"
	tf_round2 "$NASTY_NAME" "$(tf_mail_code $((n_mail + 1)))" "$R_STATE"
	tf_expect "accept" "$R_CODE" Access-Accept
}

number_prompt_saves_the_number_only_after_the_code() {
	local n
	n=$(wc -l < "$SMS_RECORD")
	tf_round1 newbie pw-newbie
	tf_expect "asked for a number" "$R_MSG" "Enter your mobile number in international format (+44...) to get a code"
	tf_round2 newbie "0044 not a number" "$R_STATE"
	tf_expect "asked again" "$R_MSG" "That is no number in international format. Enter it as +44... (attempts left: 2)"
	tf_round2 newbie "+44 1234 567 899" "$R_STATE"
	tf_expect "code sent" "$R_MSG" "Enter the code sent by SMS to +44•••••7899"
	tf_expect "to the number" "$(tf_wait_records "$SMS_RECORD" $((n + 1)) && tf_sms_to $((n + 1)))" "+441234567899"
	tf_expect "not saved yet" "$(sqlite3 "file:$STORE?mode=ro" "SELECT count(*) FROM factors f JOIN users u ON u.id = f.user_id WHERE u.name = 'newbie'")" 0
	tf_round2 newbie 000000 "$R_STATE"
	tf_expect "wrong code" "$R_CODE" Access-Challenge
	tf_expect "still not saved" "$(sqlite3 "file:$STORE?mode=ro" "SELECT count(*) FROM factors f JOIN users u ON u.id = f.user_id WHERE u.name = 'newbie'")" 0
	tf_round2 newbie "$(tf_sms_code $((n + 1)))" "$R_STATE"
	tf_expect "accept" "$R_CODE" Access-Accept
	tf_expect "saved" "$(sqlite3 "file:$STORE?mode=ro" "SELECT f.kind || ' ' || f.address || ' ' || f.confirmed FROM factors f JOIN users u ON u.id = f.user_id WHERE u.name = 'newbie'")" "sms +441234567899 1"
	# From now on, a code by SMS to that number.
	tf_round1 newbie pw-newbie
	tf_expect "next login" "$R_MSG" "Enter the code sent by SMS to +44•••••7899"
}

# ---- a gateway answering 500, a short-lived code ----

gateway_500_is_a_clean_reject() {
	tf_round1 sam pw-sam
	tf_expect_reject "500"
	tf_expect "logged" "$(tf_admin log sam | grep -c send_failed)" 1
	tf_expect "status in radiusd's log" "$(grep -c 'sms code to +44•••••7890 not sent: HTTP 500' "$DIR/server/log/radius.log" | sed 's/^[1-9][0-9]*$/yes/')" yes
}

expired_code_is_refused() {
	local n
	n=$(wc -l < "$MAIL_RECORD")
	tf_round1 emma pw-emma
	tf_expect "challenge" "$R_CODE" Access-Challenge
	sleep 3		# email lifetime = 2
	tf_round2 emma "$(tf_mail_code $((n + 1)))" "$R_STATE"
	tf_expect_reject "expired"
	tf_expect "logged" "$(tf_admin log emma | grep -c expired)" 1
}

totp_keeps_working() {
	tf_wait_fresh_step
	login tina pw-tina "$(tf_code "$TINA_SECRET")"
	tf_expect "totp" "$R_CODE" Access-Accept
}

# ---- a gateway that never answers, a relay without STARTTLS, failmode another-method ----

# late_failure_logged USER: radius.log says, within 20 s, that USER's SMS failed after send_wait.
late_failure_logged() {
	local i
	for i in $(seq 1 40); do
		grep -q "SMS code to +44•••••[0-9]* for user \"$1\" not sent (it ended after send_wait): " \
			"$DIR/server/log/radius.log" && return 0
		sleep 0.5
	done
	return 1
}

gateway_that_never_answers_still_gets_a_challenge() {
	local i pids=()
	tf_round1 sam pw-sam
	tf_expect "challenge after send_wait" "$R_CODE" Access-Challenge
	tf_expect "the gateway has it" "$(tf_wait_records "$SMS_RECORD" 1 && echo yes)" yes
	# More sends hang at the gateway meanwhile; TOTP logins are answered all the same.
	for i in 1 2 3; do
		( tf_round1 "sam$i" "pw-sam$i" ) >/dev/null 2>&1 &
		pids+=($!)
	done
	# One TOTP login each (a code is good once per time step).
	tf_wait_fresh_step
	login tina pw-tina "$(tf_code "$TINA_SECRET")"
	tf_expect "totp login tina" "$R_CODE" Access-Accept
	login multi pw-multi "$(tf_code "$MULTI_SECRET")"
	tf_expect "totp login multi" "$R_CODE" Access-Accept
	wait "${pids[@]}"
	# sam's SMS times out at the gateway (timeout = 5) long after its login went on: logged.
	tf_expect "the late failure logged" "$(late_failure_logged sam && echo yes)" yes
}

starttls_not_offered_sends_nothing() {
	tf_round1 emma pw-emma
	tf_expect_reject "no STARTTLS, secure failmode for a user without another method"
	tf_expect "nothing received" "$(wc -l < "$MAIL_RECORD")" 0
	tf_expect "logged" "$(tf_admin log emma | grep -c send_failed)" 1
	# failmode = another-method: a user who holds TOTP is challenged for it.
	tf_round1 multi pw-multi
	tf_expect "TOTP instead" "$R_MSG" "Enter the 6-digit code from your authenticator app"
	tf_expect "still nothing" "$(wc -l < "$MAIL_RECORD")" 0
}

users() {
	MULTI_SECRET=$(tf_secret)
	TINA_SECRET=$(tf_secret)
	USERS_CSV="sam,pw-sam,
bob,pw-bob,
emma,pw-emma,
both,pw-both,
multi,pw-multi,$MULTI_SECRET
limit,pw-limit,
newbie,pw-newbie,
tina,pw-tina,$TINA_SECRET
resender,pw-resender,
replayer,pw-replayer,
asker,pw-asker,
sam1,pw-sam1,
sam2,pw-sam2,
sam3,pw-sam3,"
}

contacts() {
	printf 'pw-nasty\n' | tf_admin user add "$NASTY_NAME" >/dev/null
	tf_admin user set sam --phone "$PHONE_A" >/dev/null
	tf_admin user set bob --phone "$PHONE_B" >/dev/null
	tf_admin user set emma --email emma@example.org >/dev/null
	tf_admin user set both --email both@example.org --email2 both@home.example --email-to both >/dev/null
	tf_admin user set multi --phone +441234567892 --email multi@example.org >/dev/null
	tf_admin user set limit --phone +441234567893 >/dev/null
	tf_admin user set resender --phone +441234567895 >/dev/null
	tf_admin user set replayer --phone +441234567896 >/dev/null
	tf_admin user set "$NASTY_NAME" --phone +441234567894 --email "$NASTY_MAIL" >/dev/null
	for i in 1 2 3; do tf_admin user set "sam$i" --phone "+44123456780$i" >/dev/null; done
}

tf_make_ca "$CA"
trap 'tf_stop_sinks; tf_server_stop' EXIT
users

start_gateway ok --status 200
start_relay relay-ok
tf_server_setup main "$(conf "https://127.0.0.1:$SMS_PORT/send" "smtp://127.0.0.1:$MAIL_PORT" "sms_ask_number = yes")"
contacts
tf_run sms_login_is_accepted
tf_run reused_code_is_refused
tf_run another_users_code_is_refused
tf_run email_login_is_accepted
tf_run email_to_both_addresses
tf_run switching_method_and_resend_at_the_prompt
tf_run resend_limit_ends_the_login_and_its_state
tf_run resend_in_an_answered_state_sends_nothing
tf_run wrong_answer_in_an_answered_state_counts_nothing
tf_run number_in_an_answered_state_sends_nothing
tf_run send_limit_is_reached
tf_run values_change_neither_request_nor_headers
tf_run number_prompt_saves_the_number_only_after_the_code
tf_server_stop
tf_stop_sinks

start_gateway failing --status 500 --body "internal error"
start_relay short
MAIL_EXTRA="lifetime = 2"
tf_server_setup failing "$(conf "https://127.0.0.1:$SMS_PORT/send" "smtp://127.0.0.1:$MAIL_PORT")"
contacts
tf_run gateway_500_is_a_clean_reject
tf_run expired_code_is_refused
tf_run totp_keeps_working
tf_server_stop
tf_stop_sinks
MAIL_EXTRA=

start_gateway hanging --delay 3600
start_relay plain none
tf_server_setup hanging "$(conf "https://127.0.0.1:$SMS_PORT/send" "smtp://127.0.0.1:$MAIL_PORT" "send_wait = 1
failmode = another-method")"
contacts
tf_run gateway_that_never_answers_still_gets_a_challenge
tf_run starttls_not_offered_sends_nothing
tf_server_stop
tf_stop_sinks
