#!/usr/bin/env bash
#
# The SMS and mail building blocks (sms_http.c, mail.c, template.c,
# sender.c) against the sinks (tests/integration/sinks/): a real libcurl
# talking HTTP(S) and SMTP with STARTTLS to servers that record what they
# receive.  send_probe sends one SMS or mail as the methods will; its
# config file holds the secrets (never a command line).  No timed
# assertions: what is checked is what the sink saw and what was reported.
#
set -u
source "$(dirname "$0")/lib.sh"

CA=$TF_WORK/ca
PROBE=$TOP/tests/integration/send_probe
CODE=042917
# A value holding what could change a request's or a header's structure.
NASTY='a&b=c "d" 100%\r\nX-Injected: 1'
NASTY_RAW=$'a&b=c "d" 100%\r\nX-Injected: 1'

# probe sms|mail: run send_probe on $TF_WORK/probe.conf (written by the
# test); its output in OUT.
probe() { OUT=$("$PROBE" "$1" "$TF_WORK/probe.conf" 2>&1); }

# out_line STEP: the result of one step of the probe's output.
out_line() { printf '%s\n' "$OUT" | sed -n "s/^$1: //p"; }

# py EXPR: EXPR in python3 over the sink's records (tf_sink_py).
py() { tf_sink_py "$SINK_RECORD" "$1"; }

# no_code_in_output: the probe's report never shows the code.
no_code_in_output() {
	case $OUT in *"$CODE"*) tf_expect "probe output" "holds the code" "no code" ;; esac
}

sms_json_webhook_with_bearer_token() {
	tf_start_sink http webhook --cert "$CA/server.pem" --key "$CA/server.key" --status 202 --body '{"status":"queued"}'
	cat > "$TF_WORK/probe.conf" <<CONF
url https://127.0.0.1:$SINK_PORT/v1/sms
body {"to":"{phone}","text":"{message}"}
content_type application/json
message Your code is {code}
bearer_token t0ken-secret
success_body "queued"
ca_file $CA/ca.pem
phone +441234567890
code $CODE
user alice
CONF
	probe sms
	tf_expect "outcome" "$(out_line outcome)" ok
	tf_expect "status" "$(out_line status)" 202
	tf_expect "method" "$(py 'r[0]["method"]')" POST
	tf_expect "path" "$(py 'r[0]["path"]')" /v1/sms
	tf_expect "body" "$(py 'json.loads(r[0]["body"])')" "{'to': '+441234567890', 'text': 'Your code is $CODE'}"
	tf_expect "content type" "$(py 'r[0]["headers"]["content-type"]')" application/json
	tf_expect "bearer auth" "$(py 'r[0]["headers"]["authorization"]')" "Bearer t0ken-secret"
	tf_stop_sinks
}

sms_form_post_with_basic_auth() {
	tf_start_sink http twilio --status 201 --body '{"sid":"SM1","status":"queued"}'
	cat > "$TF_WORK/probe.conf" <<CONF
url http://127.0.0.1:$SINK_PORT/2010-04-01/Accounts/AC123/Messages.json
method POST
body To={phone}&From=%2B15005550006&Body={message}
content_type application/x-www-form-urlencoded
message Your code is {code}
username AC123
password auth-token
success_status 200,201
phone +441234567890
code $CODE
user alice
CONF
	probe sms
	tf_expect "outcome" "$(out_line outcome)" ok
	tf_expect "form" "$(py 'up.parse_qs(r[0]["body"], strict_parsing=True)')" \
		"{'To': ['+441234567890'], 'From': ['+15005550006'], 'Body': ['Your code is $CODE']}"
	tf_expect "content type" "$(py 'r[0]["headers"]["content-type"]')" application/x-www-form-urlencoded
	tf_expect "basic auth" "$(py 'base64.b64decode(r[0]["headers"]["authorization"].split()[1]).decode()')" \
		"AC123:auth-token"
	tf_stop_sinks
}

sms_get_with_the_values_in_the_query() {
	tf_start_sink http get --status 200 --body OK
	cat > "$TF_WORK/probe.conf" <<CONF
url http://127.0.0.1:$SINK_PORT/send?to={phone}&text={message}&key=k1
header X-Api-Key: literal-key
message Code {code} for {user}
phone +441234567890
code $CODE
user Zoé
CONF
	probe sms
	tf_expect "outcome" "$(out_line outcome)" ok
	tf_expect "method" "$(py 'r[0]["method"]')" GET
	tf_expect "query" "$(py 'up.parse_qs(r[0]["query"], strict_parsing=True)')" \
		"{'to': ['+441234567890'], 'text': ['Code $CODE for Zoé'], 'key': ['k1']}"
	tf_expect "extra header" "$(py 'r[0]["headers"]["x-api-key"]')" literal-key
	tf_stop_sinks
}

# & = " % CR LF in a value: escaped for the URL, the form and the JSON; the
# request keeps its fields, and no header appears.
values_do_not_change_the_request() {
	tf_start_sink http json
	cat > "$TF_WORK/probe.conf" <<CONF
url http://127.0.0.1:$SINK_PORT/send?user={user}&to={phone}
body {"to":"{phone}","user":"{user}","text":"{message}"}
content_type application/json
phone +441234567890
code $CODE
user $NASTY
CONF
	probe sms
	tf_expect "json outcome" "$(out_line outcome)" ok
	tf_expect "json user" "$(py 'json.loads(r[0]["body"])["user"]')" "$NASTY_RAW"
	tf_expect "json keys" "$(py 'sorted(json.loads(r[0]["body"]))')" "['text', 'to', 'user']"
	tf_expect "query" "$(py 'sorted(up.parse_qs(r[0]["query"], strict_parsing=True).items())')" \
		"[('to', ['+441234567890']), ('user', ['a&b=c \"d\" 100%\r\nX-Injected: 1'])]"
	tf_expect "no injected header" "$(py '"x-injected" in r[0]["headers"]')" False
	tf_stop_sinks

	tf_start_sink http form
	cat > "$TF_WORK/probe.conf" <<CONF
url http://127.0.0.1:$SINK_PORT/send
body To={phone}&Name={user}&Body={message}
content_type application/x-www-form-urlencoded
phone +441234567890
code $CODE
user $NASTY
CONF
	probe sms
	tf_expect "form outcome" "$(out_line outcome)" ok
	tf_expect "form" "$(py 'sorted(up.parse_qs(r[0]["body"], strict_parsing=True).items())')" \
		"[('Body', ['$CODE']), ('Name', ['a&b=c \"d\" 100%\r\nX-Injected: 1']), ('To', ['+441234567890'])]"
	tf_stop_sinks
}

gateway_answering_500_is_a_failure_with_its_status() {
	tf_start_sink http failing --status 500 --body "internal error, message Your code is $CODE not sent"
	cat > "$TF_WORK/probe.conf" <<CONF
url http://127.0.0.1:$SINK_PORT/send
body {"to":"{phone}","text":"Your code is {code}"}
content_type application/json
phone +441234567890
code $CODE
CONF
	probe sms
	tf_expect "send" "$(out_line send)" ok
	tf_expect "outcome" "$(out_line outcome)" "refused HTTP 500"
	tf_expect "received" "$(py 'len(r)')" 1
	no_code_in_output
	tf_stop_sinks
}

success_text_missing_is_a_failure() {
	tf_start_sink http nobody --status 200 --body '{"status":"rejected"}'
	cat > "$TF_WORK/probe.conf" <<CONF
url http://127.0.0.1:$SINK_PORT/send?to={phone}&text={code}
success_body "queued"
phone +441234567890
code $CODE
CONF
	probe sms
	tf_expect "outcome" "$(out_line outcome)" "refused HTTP 200 without the success text"
	tf_stop_sinks
}

gateway_with_a_certificate_of_another_ca_is_refused() {
	tf_start_sink http otherca --cert "$CA/server.pem" --key "$CA/server.key"
	cat > "$TF_WORK/probe.conf" <<CONF
url https://127.0.0.1:$SINK_PORT/send?to={phone}&text={code}
ca_file $CA/other-ca.pem
phone +441234567890
code $CODE
CONF
	probe sms
	case $(out_line outcome) in
	"refused "*) ;;
	*) tf_expect "outcome" "$(out_line outcome)" "refused (certificate)" ;;
	esac
	tf_expect "nothing received" "$(py 'len(r)')" 0
	no_code_in_output
	tf_stop_sinks
}

# The waiter gives up after send_wait; the transfer goes on alone and ends at
# its hard timeout, long before the sink would answer.
gateway_that_never_answers_times_out() {
	tf_start_sink http hanging --delay 3600
	cat > "$TF_WORK/probe.conf" <<CONF
url http://127.0.0.1:$SINK_PORT/send
body {"to":"{phone}","text":"{code}"}
content_type application/json
phone +441234567890
code $CODE
wait_ms 300
timeout_ms 1500
sender_timeout_ms 60000
drain yes
CONF
	probe sms
	tf_expect "send" "$(out_line send)" expired
	tf_expect "ended by its timeout" "$(out_line drained)" yes
	tf_expect "received" "$(py 'len(r)')" 1
	tf_stop_sinks
}

# mail_conf TO [TO2] [USER]: a relay config for the sink just started.
mail_conf() {
	cat > "$TF_WORK/probe.conf" <<CONF
url smtp://127.0.0.1:$SINK_PORT
username twofa
password relay-password
ca_file $CA/ca.pem
from twofa@example.org
subject Votre code, {user}
body Bonjour {user},\n\nvotre code : {code}\n
code $CODE
user ${3:-Zoé}
to $1
CONF
	[ -n "${2:-}" ] && printf 'to2 %s\n' "$2" >> "$TF_WORK/probe.conf"
}

start_relay() {
	printf 'relay-password\n' > "$TF_WORK/smtp-pw"
	tf_start_sink smtp "$1" --cert "$CA/server.pem" --key "$CA/server.key" --starttls require \
		--auth "twofa:$TF_WORK/smtp-pw"
}

mail_to_one_address_over_starttls() {
	start_relay one
	mail_conf alice@example.org
	probe mail
	tf_expect "outcome" "$(out_line outcome)" ok
	tf_expect "envelope from" "$(py 'r[0]["mail_from"]')" "<twofa@example.org>"
	tf_expect "envelope to" "$(py 'r[0]["rcpt"]')" "['<alice@example.org>']"
	tf_expect "over TLS" "$(py 'r[0]["tls"]')" True
	tf_expect "authenticated" "$(py 'r[0]["auth"]')" twofa
	tf_expect "To" "$(py 'm(1)["To"]')" alice@example.org
	tf_expect "From" "$(py 'm(1)["From"]')" twofa@example.org
	tf_expect "Subject (RFC 2047)" "$(py 'm(1)["Subject"]')" "Votre code, Zoé"
	tf_expect "Subject raw is ASCII" "$(py 'all(b < 128 for b in raw(1).split(b"\r\n\r\n")[0])')" True
	tf_expect "charset" "$(py 'm(1).get_content_type() + " " + m(1).get_content_charset()')" "text/plain utf-8"
	tf_expect "body" "$(py 'repr(m(1).get_content())')" "'Bonjour Zoé,\\r\\n\\r\\nvotre code : $CODE\\r\\n'"
	tf_expect "Date parses" "$(py 'email.utils.parsedate_to_datetime(m(1)["Date"]).tzname()')" UTC
	tf_expect "Message-ID" "$(py 'm(1)["Message-ID"].endswith("@example.org>")')" True
	tf_expect "CRLF only" "$(py 'raw(1).replace(b"\r\n", b"").count(b"\n") + raw(1).replace(b"\r\n", b"").count(b"\r")')" 0
	tf_stop_sinks
}

mail_to_two_addresses() {
	start_relay two
	mail_conf alice@example.org alice@home.example alice
	probe mail
	tf_expect "outcome" "$(out_line outcome)" ok
	tf_expect "envelope to" "$(py 'r[0]["rcpt"]')" "['<alice@example.org>', '<alice@home.example>']"
	tf_expect "To" "$(py 'm(1)["To"]')" "alice@example.org, alice@home.example"
	tf_expect "one message" "$(py 'len(r)')" 1
	tf_stop_sinks
}

mail_over_smtps() {
	tf_start_sink smtp smtps --cert "$CA/server.pem" --key "$CA/server.key" --implicit-tls
	mail_conf alice@example.org
	sed -i -e "s#^url .*#url smtps://127.0.0.1:$SINK_PORT#" -e '/^username /d' -e '/^password /d' "$TF_WORK/probe.conf"
	probe mail
	tf_expect "outcome" "$(out_line outcome)" ok
	tf_expect "over TLS" "$(py 'r[0]["tls"]')" True
	tf_stop_sinks
}

starttls_required_but_not_offered_sends_nothing() {
	tf_start_sink smtp plain --starttls none
	mail_conf alice@example.org
	probe mail
	tf_expect "send" "$(out_line send)" ok
	case $(out_line outcome) in
	"refused "*STARTTLS*|"refused "*SSL*|"refused "*TLS*) ;;
	*) tf_expect "outcome" "$(out_line outcome)" "refused (no STARTTLS)" ;;
	esac
	tf_expect "nothing received" "$(py 'len(r)')" 0
	no_code_in_output
	tf_stop_sinks
}

header_injection_is_refused_before_sending() {
	start_relay inject
	mail_conf 'alice@example.org\r\nBcc: eve@evil.example'
	probe mail
	tf_expect "CRLF in an address" "$(out_line job)" "malformed address 1 is not a plain address"
	mail_conf alice@example.org 'Eve <eve@evil.example>'
	probe mail
	tf_expect "a display name as address" "$(out_line job)" "malformed address 2 is not a plain address"
	mail_conf alice@example.org '' "$NASTY"
	probe mail
	tf_expect "CRLF in the user (subject)" "$(out_line job)" "malformed the value of {user} cannot go there"
	tf_expect "nothing received" "$(py 'len(r)')" 0
	no_code_in_output
	tf_stop_sinks
}

tf_make_ca "$CA"
trap tf_stop_sinks EXIT
tf_run sms_json_webhook_with_bearer_token
tf_run sms_form_post_with_basic_auth
tf_run sms_get_with_the_values_in_the_query
tf_run values_do_not_change_the_request
tf_run gateway_answering_500_is_a_failure_with_its_status
tf_run success_text_missing_is_a_failure
tf_run gateway_with_a_certificate_of_another_ca_is_refused
tf_run gateway_that_never_answers_times_out
tf_run mail_to_one_address_over_starttls
tf_run mail_to_two_addresses
tf_run mail_over_smtps
tf_run starttls_required_but_not_offered_sends_nothing
tf_run header_injection_is_refused_before_sending
