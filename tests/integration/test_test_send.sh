#!/usr/bin/env bash
#
# twofa-admin test-send NAME sms|email: a test message through the gateway
# settings of the module's file (its sms { } and email { } sections, read
# by tools/radconf.c) to the HTTP and SMTP sinks; a failing gateway's exit
# status; --verbose's curl trace with every secret masked.  No timed
# assertions.
#
set -u
source "$(dirname "$0")/lib.sh"

CA=$TF_WORK/ca
CONF=$TF_WORK/twofa.conf
STORE=$TF_WORK/store/twofa.db
KEY=$TF_WORK/store/twofa.key
TEXT="rlm_twofa test message"

# test_send ARGS: twofa-admin test-send on the test's store and $CONF;
# RC, OUT (stdout) and ERR (stderr).
test_send() {
	OUT=$(tf_admin test-send "$@" --config "$CONF" 2>"$TF_WORK/stderr")
	RC=$?
	ERR=$(cat "$TF_WORK/stderr")
}

# py EXPR: EXPR in python3 over the sink's records r; m(N) the Nth mail.
py() {
	/usr/bin/python3 -c '
import base64, email, email.policy, json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
m = lambda n: email.message_from_bytes(open(r[n - 1]["file"], "rb").read(), policy=email.policy.default)
print(eval(sys.argv[2]))' "$SINK_RECORD" "$1" 2>&1
}

# module_conf SECTION_TEXT: the module's file, as an admin would write it.
module_conf() {
	{
		printf '# rlm_twofa, as in raddb/mods-available/twofa\ntwofa {\n'
		printf '\tstore = %s\n\tpolicy_file = ${modconfdir}/${.:instance}/policy\n' "$STORE"
		printf '\tsend_limits {\n\t\tper_user = 5\n\t}\n'
		printf '%s\n}\n' "$1"
	} > "$CONF"
	chmod 0640 "$CONF"
}

# no_secret_in WHAT TEXT SECRET...: none of the secrets appears in TEXT.
no_secret_in() {
	local what=$1 text=$2 s
	shift 2
	for s in "$@"; do
		case $text in *"$s"*) tf_expect "$what" "shows a secret" "no secret" ;; esac
	done
}

sms_test_send_reaches_the_gateway() {
	tf_start_sink http webhook --cert "$CA/server.pem" --key "$CA/server.key" --status 202
	module_conf "	sms {
		url = \"https://127.0.0.1:$SINK_PORT/v1/sms\"
		content_type = \"application/json\"
		body = \"{\\\"to\\\":\\\"{phone}\\\",\\\"text\\\":\\\"{message}\\\",\\\"code\\\":\\\"{code}\\\"}\"
		message = \"Your code is {code}\"	# not used: the test text goes alone
		bearer_token = \"t0ken-secret\"
		ca_file = $CA/ca.pem
		success_status = \"200,202\"
		lifetime = 300
	}"
	test_send alice sms
	tf_expect "exit status" "$RC" 0
	tf_expect "output" "$OUT" "test SMS to +44•••••7890 sent (HTTP 202)"
	tf_expect "body" "$(py 'json.loads(r[0]["body"])')" \
		"{'to': '+441234567890', 'text': '$TEXT', 'code': '$TEXT'}"
	tf_expect "bearer" "$(py 'r[0]["headers"]["authorization"]')" "Bearer t0ken-secret"
	tf_expect "audit" "$(sqlite3 "file:$STORE?mode=ro" "SELECT action || ' ' || detail FROM audit ORDER BY id DESC LIMIT 1" 2>&1)" \
		"test-send sms sent"
	no_secret_in "quiet output" "$OUT$ERR" t0ken-secret
	tf_stop_sinks
}

start_relay() {
	printf 'relay-password\n' > "$TF_WORK/smtp-pw"
	tf_start_sink smtp "$1" --cert "$CA/server.pem" --key "$CA/server.key" --starttls require \
		--auth "twofa:$TF_WORK/smtp-pw"
}

email_conf() {
	module_conf "	email {
		url = \"smtp://127.0.0.1:$SINK_PORT\"
		require_starttls = yes
		username = twofa
		password = 'relay-password'
		ca_file = \"$CA/ca.pem\"
		from = \"twofa@example.org\"
		subject = \"Login code for {user}\"
		body = \"Hello {user},\\n\\nyour login code is {code}.\\n\"
	}"
}

email_test_send_reaches_both_addresses() {
	start_relay mail
	email_conf
	test_send alice email
	tf_expect "exit status" "$RC" 0
	tf_expect "output" "$OUT" "test mail to a•••@example.org and a•••@home.example sent (SMTP 250)"
	tf_expect "envelope to" "$(py 'r[0]["rcpt"]')" "['<alice@example.org>', '<alice@home.example>']"
	tf_expect "over TLS, authenticated" "$(py 'str(r[0]["tls"]) + " " + r[0]["auth"]')" "True twofa"
	tf_expect "body" "$(py 'repr(m(1).get_content())')" "'Hello alice,\\r\\n\\r\\nyour login code is $TEXT.\\r\\n'"
	tf_stop_sinks
}

gateway_answering_500_exits_2_with_its_status() {
	tf_start_sink http failing --status 500 --body "internal error"
	module_conf "	sms {
		url = \"http://127.0.0.1:$SINK_PORT/send?to={phone}&text={message}\"
	}"
	test_send alice sms
	tf_expect "exit status" "$RC" 2
	tf_expect "message" "$ERR" "twofa-admin: test SMS to +44•••••7890 failed: HTTP 500"
	tf_expect "received" "$(py 'len(r)')" 1
	tf_stop_sinks
}

relay_without_starttls_exits_2() {
	tf_start_sink smtp plain --starttls none
	email_conf
	test_send alice email
	tf_expect "exit status" "$RC" 2
	tf_expect "nothing received" "$(py 'len(r)')" 0
	tf_stop_sinks
}

verbose_trace_masks_every_secret() {
	local basic
	basic=$(printf 'AC123:auth-token' | base64)
	tf_start_sink http twilio --status 201
	module_conf "	sms {
		url = \"http://127.0.0.1:$SINK_PORT/2010-04-01/Accounts/AC123/Messages.json\"
		content_type = \"application/x-www-form-urlencoded\"
		body = \"To={phone}&From=%2B15005550006&Body={message}\"
		header = \"X-Api-Key: api-key-secret\"
		username = \"AC123\"
		password = \"auth-token\"
	}"
	test_send alice sms --verbose
	tf_expect "basic: exit status" "$RC" 0
	tf_expect "basic: the gateway got the credentials" \
		"$(py 'base64.b64decode(r[0]["headers"]["authorization"].split()[1]).decode() + " " + r[0]["headers"]["x-api-key"]')" \
		"AC123:auth-token api-key-secret"
	case $ERR in *"> POST /2010-04-01/Accounts/AC123/Messages.json"*) ;; *) tf_expect "trace" "$ERR" "> POST ..." ;; esac
	case $ERR in *"> Authorization: ****"*) ;; *) tf_expect "trace" "$ERR" "> Authorization: ****" ;; esac
	case $ERR in *"< HTTP/1."*" 201"*) ;; *) tf_expect "trace" "$ERR" "< HTTP/1.x 201" ;; esac
	no_secret_in "basic trace" "$OUT$ERR" auth-token "$basic" api-key-secret
	tf_stop_sinks

	tf_start_sink http bearer --status 200
	module_conf "	sms {
		url = \"http://127.0.0.1:$SINK_PORT/send?to={phone}&text={message}\"
		bearer_token = \"t0ken-secret\"
	}"
	test_send alice sms --verbose
	tf_expect "bearer: exit status" "$RC" 0
	no_secret_in "bearer trace" "$OUT$ERR" t0ken-secret
	tf_stop_sinks

	start_relay verbose
	email_conf
	test_send alice email --verbose
	tf_expect "smtp: exit status" "$RC" 0
	case $ERR in *"> AUTH "*" ****"*) ;; *) tf_expect "trace" "$ERR" "> AUTH ... ****" ;; esac
	no_secret_in "smtp trace" "$OUT$ERR" relay-password "$(printf '\0twofa\0relay-password' | base64)" \
		"$(printf 'relay-password' | base64)"
	tf_stop_sinks
}

refused_before_anything_is_sent() {
	tf_start_sink http never
	module_conf "	sms {
		url = \"http://127.0.0.1:$SINK_PORT/send?to={phone}\"
		password = \"\${secret}\"
		username = u
	}"
	test_send alice sms
	tf_expect "expansion: exit status" "$RC" 1
	case $ERR in *"sms { password } (line 10) holds a \${...} expansion"*) ;; *) tf_expect "expansion" "$ERR" "refused" ;; esac

	module_conf "	sms {
		url = \"http://127.0.0.1:$SINK_PORT/send?to={phone}\"
	}"
	test_send bob sms
	tf_expect "no number: exit status" "$RC" 1
	tf_expect "no number" "$ERR" "twofa-admin: user \"bob\" has no phone number (twofa-admin user set bob --phone E164)"
	test_send alice email
	tf_expect "no email section: exit status" "$RC" 1
	test_send nobody sms
	tf_expect "no such user: exit status" "$RC" 1

	printf 'twofa {\n\tsms {\n\t\turl = "open\n\t}\n}\n' > "$CONF"
	test_send alice sms
	tf_expect "malformed file: exit status" "$RC" 1
	tf_expect "malformed file" "$ERR" "twofa-admin: $CONF: line 3: a string without its closing quote"
	test_send alice fax
	tf_expect "method: exit status" "$RC" 1
	tf_expect "nothing received" "$(py 'len(r)')" 0
	tf_stop_sinks
}

tf_make_ca "$CA"
trap tf_stop_sinks EXIT
twofa_init_store "$TF_WORK/store"
tf_admin user add alice --no-password >/dev/null || die "user add failed"
tf_admin user add bob --no-password >/dev/null || die "user add failed"
tf_admin user set alice --phone +441234567890 --email alice@example.org --email2 alice@home.example \
	--email-to both >/dev/null || die "user set failed"
tf_run sms_test_send_reaches_the_gateway
tf_run email_test_send_reaches_both_addresses
tf_run gateway_answering_500_exits_2_with_its_status
tf_run relay_without_starttls_exits_2
tf_run verbose_trace_masks_every_secret
tf_run refused_before_anything_is_sent
