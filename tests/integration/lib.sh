# lib.sh: helpers for the integration tests.  A real radiusd on a free
# loopback port, radclient as the NAS, real SQLite files, oathtool codes.
#
# Each test is a function; tf_run NAME runs it and prints "ok NAME" or
# "FAIL NAME: why", which tools/test counts.

source "$(dirname "${BASH_SOURCE[0]}")/../../tools/lib/common.sh"

# Work files (stores, raddb copies, logs, the module's copy) go where
# radiusd's user can reach them, never into the checkout: a folder per
# suite in $TWOFA_WORK, which tools/test makes and removes.  A suite run on
# its own makes one, runs itself again inside it, and removes it after.
if [ -z "${TWOFA_WORK:-}" ]; then
	TWOFA_WORK=$(twofa_workdir test)
	export TWOFA_WORK
	bash "$0" "$@"
	tf_status=$?
	rm -rf "$TWOFA_WORK"
	exit $tf_status
fi
TF_WORK=$TWOFA_WORK/$(basename "$0" .sh)
rm -rf "$TF_WORK"
mkdir -p "$TF_WORK" && chgrp freerad "$TF_WORK" && chmod 0750 "$TF_WORK" || die "cannot make $TF_WORK"

RADIUS_SECRET=testing123
# radclient reads it from a file (-S): no secret on a command line, tests included.
RADIUS_SECRET_FILE=$TF_WORK/radius-secret
( umask 077 && printf '%s\n' "$RADIUS_SECRET" > "$RADIUS_SECRET_FILE" ) || die "cannot write $RADIUS_SECRET_FILE"
REJECT_MESSAGE="Authentication failed"

tf_failed=0
tf_why=

# tf_expect WHAT ACTUAL EXPECTED: note a mismatch for the current test.
tf_expect() {
	if [ "$2" != "$3" ]; then
		tf_why+="${tf_why:+; }$1: got '$2', want '$3'"
		tf_failed=1
	fi
}

tf_run() {
	tf_failed=0; tf_why=
	"$1"
	if [ $tf_failed -eq 0 ]; then echo "ok $1"; else echo "FAIL $1: $tf_why"; fi
}

# tf_secret: a random base32 TOTP secret (20 bytes) for test users.
tf_secret() { head -c 20 /dev/urandom | base32 | tr -d '=\n'; }

# tf_code SECRET [SECONDS]: the TOTP code SECONDS from now (default 0).
tf_code() { oathtool --totp -b -N "@$(( $(date +%s) + ${2:-0} ))" "$1"; }

# tf_wait_fresh_step: wait until at least 3 s remain in the current step, so
# that a code computed now is still in the same step when it arrives.
tf_wait_fresh_step() { while [ $(( 30 - $(date +%s) % 30 )) -lt 4 ]; do sleep 0.5; done; }

# tf_next_code USER: CODE, a code of USER's (SECRET[USER]) for a step later
# than the last this suite sent for USER (a step is used once); the window
# (1) allows the step before and after now.
declare -A TF_USED_STEP
tf_next_code() {
	local cur step
	tf_wait_fresh_step
	cur=$(( $(date +%s) / 30 )); step=$(( cur - 1 ))
	[ -n "${TF_USED_STEP[$1]:-}" ] && [ "$step" -le "${TF_USED_STEP[$1]}" ] && step=$(( TF_USED_STEP[$1] + 1 ))
	while [ "$step" -gt $(( cur + 1 )) ]; do sleep 1; tf_wait_fresh_step; cur=$(( $(date +%s) / 30 )); done
	TF_USED_STEP[$1]=$step
	CODE=$(oathtool --totp -b -N "@$(( step * 30 ))" "${SECRET[$1]}")
}

# tf_quote VALUE: a RADIUS string literal.
tf_quote() {
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

# tf_send ATTRS: send one Access-Request; sets R_CODE, R_MSG, R_STATE, and R_OUT
# (radclient's whole output).
tf_send() {
	local out
	out=$(printf '%s\nMessage-Authenticator = 0x00\n' "$1" |
		radclient -x -r 1 -t 4 -S "$RADIUS_SECRET_FILE" "127.0.0.1:$PORT" auth 2>&1)
	R_OUT=$out
	R_CODE=$(printf '%s\n' "$out" | sed -n 's/^Received \(Access-[A-Za-z]*\).*/\1/p' | tail -n 1)
	R_MSG=$(printf '%s\n' "$out" | sed -n '/^Received/,$ s/^[[:space:]]*Reply-Message = "\(.*\)"$/\1/p' | tail -n 1)
	R_STATE=$(printf '%s\n' "$out" | sed -n '/^Received/,$ s/^[[:space:]]*State = \(0x[0-9a-fA-F]*\)$/\1/p' | tail -n 1)
	[ -n "$R_CODE" ] || R_CODE=none
}

# tf_round1 USER PASSWORD
tf_round1() { tf_send "User-Name = $(tf_quote "$1")
User-Password = $(tf_quote "$2")"; }

# tf_round2 USER CODE STATE
tf_round2() { tf_send "User-Name = $(tf_quote "$1")
User-Password = $(tf_quote "$2")
State = $3"; }

# tf_expect_reject: the reply is a reject with the generic message.
tf_expect_reject() {
	tf_expect "$1 reply" "$R_CODE" "Access-Reject"
	tf_expect "$1 message" "$R_MSG" "$REJECT_MESSAGE"
}

# tf_server_setup NAME [extra module config]: store, users, raddb, radiusd.
# Users come from $USERS_CSV (name,password,secret lines).
tf_server_setup() {
	DIR=$TF_WORK/$1
	rm -rf "$DIR"; mkdir -p "$DIR"
	STORE=$DIR/store/twofa.db
	KEY=$DIR/store/twofa.key
	twofa_init_store "$DIR/store"
	printf '%s\n' "$USERS_CSV" | "$TWOFA_ADMIN" -s "$STORE" -k "$KEY" user import - >/dev/null \
		|| die "user import failed"
	PORT=$(twofa_free_port)
	twofa_make_raddb "$DIR/server" "$PORT" "$STORE" "$KEY" "${2:-}"
	twofa_start_radiusd "$DIR/server" || die "radiusd failed to start"
}

tf_server_stop() { twofa_stop_radiusd; }

# tf_admin ARGS: twofa-admin on this test's store.
tf_admin() { "$TWOFA_ADMIN" -s "$STORE" -k "$KEY" "$@"; }

# tf_store_dump: every row of the store, to compare before and after; all
# but the first-factor failure counts, which a wrong password is meant to
# change (tf_password_failures shows those).
tf_store_dump() {
	sqlite3 "file:$STORE?mode=ro" "SELECT id, name, password_hash, created, fail_count, lock_count, locked_until FROM users ORDER BY id; SELECT id, user_id, kind, hex(secret), hash, digits, period, address, confirmed, last_step FROM factors ORDER BY id; SELECT * FROM factor_used ORDER BY factor_id, step;"
}

# tf_password_failures: "name count" of each user with failed first factors.
tf_password_failures() {
	sqlite3 -separator ' ' "file:$STORE?mode=ro" "SELECT name, password_failures FROM users WHERE password_failures > 0 ORDER BY name"
}

# --- TLS material and sinks for the gateways (SMS over HTTP, mail over SMTP) ---

# tf_make_ca DIR: a test CA (DIR/ca.pem) and a server certificate for
# 127.0.0.1, ::1 and localhost signed by it (DIR/server.pem, DIR/server.key),
# made now with openssl; and DIR/other-ca.pem, a CA that signed nothing here
# (for "untrusted certificate" cases).
tf_make_ca() {
	local dir=$1
	mkdir -p "$dir"
	(
		cd "$dir" || exit 1
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=rlm_twofa test CA" -keyout ca.key -out ca.pem 2>/dev/null &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=rlm_twofa other CA" -keyout other-ca.key -out other-ca.pem 2>/dev/null &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null &&
		printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext &&
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
			-extfile server.ext -out server.pem 2>/dev/null
	) || die "could not make the test CA in $dir"
	chmod 0644 "$dir"/*.pem
	chmod 0640 "$dir"/*.key
	chgrp freerad "$dir"/*.key
}

TF_SINK_PIDS=()

# tf_start_sink http|smtp NAME [sink options]: start tests/integration/sinks/
# KIND_sink.py on a free loopback port; it records into $TF_WORK/sink-NAME/.
# Sets SINK_PORT and SINK_RECORD; the sink is stopped by tf_stop_sinks.
tf_start_sink() {
	local kind=$1 name=$2 dir=$TF_WORK/sink-$2 i
	shift 2
	rm -rf "$dir"; mkdir -p "$dir"
	/usr/bin/python3 "$TOP/tests/integration/sinks/${kind}_sink.py" --port-file "$dir/port" \
		--record "$dir/record.jsonl" "$@" 2>"$dir/stderr" &
	TF_SINK_PIDS+=($!)
	for i in $(seq 1 50); do
		[ -s "$dir/port" ] && break
		kill -0 "$!" 2>/dev/null || { cat "$dir/stderr" >&2; die "the $kind sink $name did not start"; }
		sleep 0.1
	done
	[ -s "$dir/port" ] || die "the $kind sink $name did not say its port"
	SINK_PORT=$(cat "$dir/port")
	SINK_RECORD=$dir/record.jsonl
}

tf_stop_sinks() {
	local pid
	for pid in "${TF_SINK_PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
	TF_SINK_PIDS=()
}

# tf_sink_py FILE EXPR: EXPR in python3, r the records of the sink's FILE,
# raw(N) the Nth mail's bytes and m(N) the Nth mail parsed.
tf_sink_py() {
	/usr/bin/python3 -c '
import base64, email, email.policy, json, re, sys, urllib.parse as up
r = [json.loads(l) for l in open(sys.argv[1])]
raw = lambda n: open(r[n - 1]["file"], "rb").read()
m = lambda n: email.message_from_bytes(raw(n), policy=email.policy.default)
print(eval(sys.argv[2]))' "$1" "$2" 2>&1
}

# tf_sink_records FILE: how many records the sink has written to FILE.
tf_sink_records() { wc -l < "$1"; }

# tf_wait_records FILE N: until FILE holds N records (the sink writes as it receives).
tf_wait_records() {
	local i
	for i in $(seq 1 100); do
		[ "$(tf_sink_records "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# tf_sms_code N, tf_sms_to N: the code in the Nth SMS the HTTP sink at
# $SMS_RECORD received (a JSON body with "to" and "text"), and where to.
tf_sms_code() {
	tf_wait_records "$SMS_RECORD" "$1" || { echo none; return; }
	tf_sink_py "$SMS_RECORD" 're.search(r"[0-9]{6,10}", json.loads(r['"$1"' - 1]["body"])["text"]).group(0)'
}
tf_sms_to() { tf_sink_py "$SMS_RECORD" 'json.loads(r['"$1"' - 1]["body"])["to"]'; }

# tf_mail_code N: the code in the Nth mail the SMTP sink at $MAIL_RECORD received.
tf_mail_code() {
	tf_wait_records "$MAIL_RECORD" "$1" || { echo none; return; }
	tf_sink_py "$MAIL_RECORD" 're.search(r"code is ([0-9]{6,10})", m('"$1"').get_content()).group(1)'
}

# A real slapd (tf_slapd_setup and the rest): tests/integration/slapd.sh.
source "$(dirname "${BASH_SOURCE[0]}")/slapd.sh"

# A real PostgreSQL (tf_pg_setup and the rest): tests/integration/pg.sh.
source "$(dirname "${BASH_SOURCE[0]}")/pg.sh"
