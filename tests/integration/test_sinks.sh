#!/usr/bin/env bash
#
# The gateway sinks the SMS and email tests use (tests/integration/sinks/):
# each records what it receives, answers as told, and its TLS is checked
# against a CA made at test time.  Driven with curl (libcurl), as the
# module's sender will be.
#
set -u
source "$(dirname "$0")/lib.sh"

CA=$TF_WORK/ca

# field N KEY: KEY of the Nth recorded request/message (1-based), as text.
field() { /usr/bin/python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; v=r[int(sys.argv[2])-1]
for k in sys.argv[3].split("."): v=v[k]
print(v if not isinstance(v, list) else " ".join(v))' "$SINK_RECORD" "$1" "$2" 2>/dev/null; }

https_sink_records_the_request_and_answers_as_told() {
	local out
	tf_start_sink http https --cert "$CA/server.pem" --key "$CA/server.key" --status 202 --body '{"sid":"SM1"}'
	out=$(curl -sS --cacert "$CA/ca.pem" -H 'Content-Type: application/json' \
		--data '{"to":"+441234567890","text":"Your code is 123456"}' "https://127.0.0.1:$SINK_PORT/send?x=1" \
		-w ' %{http_code}')
	tf_expect "answer" "$out" '{"sid":"SM1"} 202'
	tf_expect "recorded path" "$(field 1 path)" /send
	tf_expect "recorded query" "$(field 1 query)" x=1
	tf_expect "recorded body" "$(field 1 body)" '{"to":"+441234567890","text":"Your code is 123456"}'
	tf_expect "recorded header" "$(field 1 headers.content-type)" application/json
	curl -sS --cacert "$CA/other-ca.pem" "https://127.0.0.1:$SINK_PORT/" >/dev/null 2>&1
	tf_expect "a certificate of another CA is refused" "$?" 60
}

http_sink_can_fail_or_hang() {
	local out rc
	tf_start_sink http failing --status 500 --body 'gateway down'
	out=$(curl -s -o /dev/null -w '%{http_code}' --data 'a=1' "http://127.0.0.1:$SINK_PORT/")
	tf_expect "status" "$out" 500
	tf_start_sink http hanging --delay 30
	curl -s -o /dev/null --max-time 1 --data 'a=1' "http://127.0.0.1:$SINK_PORT/"
	rc=$?
	tf_expect "a hanging gateway times the client out" "$rc" 28
	tf_expect "but recorded the request" "$(wc -l < "$SINK_RECORD")" 1
}

# mail: a message file for curl --upload-file
mail_file() {
	printf 'From: rlm_twofa <twofa@example.org>\r\nTo: alice@example.org\r\nSubject: Your code\r\n\r\nYour code is 654321\r\n' > "$TF_WORK/mail.eml"
}

smtp_sink_takes_mail_over_starttls_with_auth() {
	mail_file
	printf 'relay-password\n' > "$TF_WORK/smtp-pw"
	tf_start_sink smtp starttls --cert "$CA/server.pem" --key "$CA/server.key" --starttls require \
		--auth "twofa:$TF_WORK/smtp-pw"
	printf 'user = "twofa:relay-password"\n' > "$TF_WORK/curl-auth"
	curl -sS --ssl-reqd --cacert "$CA/ca.pem" -K "$TF_WORK/curl-auth" "smtp://127.0.0.1:$SINK_PORT" \
		--mail-from twofa@example.org --mail-rcpt alice@example.org --mail-rcpt alice2@example.org \
		--upload-file "$TF_WORK/mail.eml"
	tf_expect "curl" "$?" 0
	tf_expect "envelope" "$(field 1 rcpt)" "<alice@example.org> <alice2@example.org>"
	tf_expect "over TLS" "$(field 1 tls)" True
	tf_expect "authenticated" "$(field 1 auth)" twofa
	tf_expect "message kept" "$(grep -c 'Your code is 654321' "$(field 1 file)")" 1
}

smtp_sink_without_starttls_lets_a_careful_client_send_nothing() {
	mail_file
	tf_start_sink smtp plain --starttls none
	curl -sS --ssl-reqd "smtp://127.0.0.1:$SINK_PORT" --mail-from twofa@example.org \
		--mail-rcpt alice@example.org --upload-file "$TF_WORK/mail.eml" 2>/dev/null
	tf_expect "curl --ssl-reqd refuses" "$?" 64
	tf_expect "nothing received" "$(wc -l < "$SINK_RECORD")" 0
}

smtps_sink_takes_mail_over_implicit_tls() {
	mail_file
	tf_start_sink smtp smtps --cert "$CA/server.pem" --key "$CA/server.key" --implicit-tls
	curl -sS --cacert "$CA/ca.pem" "smtps://127.0.0.1:$SINK_PORT" --mail-from twofa@example.org \
		--mail-rcpt alice@example.org --upload-file "$TF_WORK/mail.eml"
	tf_expect "curl" "$?" 0
	tf_expect "over TLS" "$(field 1 tls)" True
}

tf_make_ca "$CA"
trap tf_stop_sinks EXIT
tf_run https_sink_records_the_request_and_answers_as_told
tf_run http_sink_can_fail_or_hang
tf_run smtp_sink_takes_mail_over_starttls_with_auth
tf_run smtp_sink_without_starttls_lets_a_careful_client_send_nothing
tf_run smtps_sink_takes_mail_over_implicit_tls
