#!/usr/bin/env bash
#
# tools/twofa-bench, the load client of bench/run, against a real radiusd:
# every login of a run on a (user, time step) pair of its own, and every
# reject, unanswered request and unexpected reply counted, never hidden.
#
set -u
source "$(dirname "$0")/lib.sh"

BENCH=$TOP/tools/twofa-bench
PW=correct-horse
USERS_CSV=
for i in $(seq 1 20); do
	USERS_CSV+="load$i,$PW,$(tf_secret)"$'\n'
done
USERS_CSV+="wrongpw,$PW,$(tf_secret)"
for i in 1 2 3; do
	USERS_CSV+=$'\n'"sms$i,$PW,$(tf_secret)"
done
CSV=$TF_WORK/bench_client.csv

# bench ARGS: run the client on this test's server; sets B[key] from its
# last line (key=value pairs) and B_RC to its exit status.
declare -A B
bench() {
	local kv
	B=()
	"$BENCH" --server "127.0.0.1:$PORT" --secret "${BENCH_SECRET:-$RADIUS_SECRET}" --quiet "$@" \
		> "$CSV.out" 2>/dev/null
	B_RC=$?
	for kv in $(tail -n 1 "$CSV.out"); do B[${kv%%=*}]=${kv#*=}; done
}

# used_steps: the (user, step) records of the load users in the store.
used_steps() { sqlite3 "file:$STORE?mode=ro" "SELECT count(*) FROM factor_used JOIN factors f ON f.id = factor_id WHERE f.user_id IN (SELECT id FROM users WHERE name LIKE 'load%')"; }

# 20 users, 3 logins each: steps now-1, now and now+1 for every user, each
# consumed once, so the store holds 60 distinct used steps afterwards.
every_login_is_accepted_on_a_fresh_step() {
	grep '^load' <<< "$USERS_CSV" > "$CSV"
	tf_wait_fresh_step
	bench --users "$CSV" --logins 60 --inflight 8
	tf_expect "exit status" "$B_RC" 0
	tf_expect "mode" "${B[mode]:-}" twofa
	tf_expect "accepted" "${B[accepted]:-}" 60
	tf_expect "unexpected" "${B[unexpected]:-}" 0
	tf_expect "timeouts" "${B[timeouts]:-}" 0
	tf_expect "used steps in the store" "$(used_steps)" 60
}

# More logins than fresh (user, step) pairs: refused before a packet is sent.
too_few_users_for_the_logins_is_refused() {
	local before
	before=$(used_steps)
	"$BENCH" --server "127.0.0.1:$PORT" --users "$CSV" --logins 61 --quiet >/dev/null 2>"$CSV.err"
	tf_expect "exit status" "$?" 2
	tf_expect "message" "$(grep -c 'need at least 21 users' "$CSV.err")" 1
	tf_expect "used steps in the store" "$(used_steps)" "$before"
}

wrong_password_is_counted_as_a_reject() {
	grep '^wrongpw' <<< "$USERS_CSV" | sed 's/,correct-horse,/,not-the-password,/' > "$CSV"
	bench --users "$CSV" --logins 1
	tf_expect "exit status" "$B_RC" 1
	tf_expect "rejected" "${B[rejected]:-}" 1
	tf_expect "accepted" "${B[accepted]:-}" 0
}

# radiusd drops a request signed with another secret: the client retries,
# then counts a timeout.
unanswered_requests_are_counted_as_timeouts_and_retries() {
	BENCH_SECRET=not-the-secret bench --users "$CSV" --logins 2 --inflight 2 --timeout 200 --retries 1
	tf_expect "exit status" "$B_RC" 1
	tf_expect "timeouts" "${B[timeouts]:-}" 2
	tf_expect "retries" "${B[retries]:-}" 2
	tf_expect "accepted" "${B[accepted]:-}" 0
}

# One-round PAP against a server that challenges: a challenge is not a login.
challenge_in_pap_mode_is_counted_as_unexpected() {
	grep '^load' <<< "$USERS_CSV" > "$CSV"
	bench --mode pap --users "$CSV" --logins 3
	tf_expect "exit status" "$B_RC" 1
	tf_expect "unexpected" "${B[unexpected]:-}" 3
	tf_expect "accepted" "${B[accepted]:-}" 0
}

# Round ones only, as bench/run's pending-challenge row sends: challenged,
# never answered, so no step is used.
pending_only_answers_no_challenge() {
	local before
	before=$(used_steps)
	bench --users "$CSV" --logins 5 --pending-only
	tf_expect "exit status" "$B_RC" 0
	tf_expect "mode" "${B[mode]:-}" pending
	tf_expect "challenged" "${B[accepted]:-}" 5
	tf_expect "used steps in the store" "$(used_steps)" "$before"
}

# --mode sms: round one has rlm_twofa send a code through the HTTP sink
# (as bench/run's row s); the client reads it from the sink's record and
# answers with it.  3 users, 4 logins each: every login a new code, the
# one before it void, so a code filed for the wrong login is a reject.
sms_mode_answers_with_the_code_from_the_sink_record() {
	local before n codes leaked=0 c
	for i in 1 2 3; do
		tf_admin user set "sms$i" --phone "+4470000000$i" --method sms >/dev/null || return 1
	done
	grep '^sms' <<< "$USERS_CSV" | cut -d, -f1,2 | sed 's/$/,/' > "$CSV"
	before=$(wc -l < "$SINK_RECORD")
	bench --mode sms --codes-from "$SINK_RECORD" --users "$CSV" --logins 12 --inflight 3
	tf_expect "exit status" "$B_RC" 0
	tf_expect "mode" "${B[mode]:-}" sms
	tf_expect "accepted" "${B[accepted]:-}" 12
	tf_expect "rejected" "${B[rejected]:-}" 0
	tf_expect "unexpected" "${B[unexpected]:-}" 0
	n=$(wc -l < "$SINK_RECORD")
	tf_expect "SMS sent" "$(( n - before ))" 12
	# Which user a login goes to depends on which is free first: the
	# accepts add up to 12, each user with some.
	local a1 a2 a3
	a1=$(tf_admin log sms1 | grep -c 'accept.*sms'); a2=$(tf_admin log sms2 | grep -c 'accept.*sms')
	a3=$(tf_admin log sms3 | grep -c 'accept.*sms')
	tf_expect "logged accepts" "$(( a1 + a2 + a3 ))" 12
	tf_expect "every user logged in" "$(( a1 > 0 && a2 > 0 && a3 > 0 ))" 1
	# No code in what the client printed.
	codes=$(tail -n "+$(( before + 1 ))" "$SINK_RECORD" | grep -o 'code+is+[0-9]*' | sed 's/.*+//')
	tf_expect "codes in the record" "$(wc -w <<< "$codes")" 12
	for c in $codes; do grep -q "$c" "$CSV.out" && leaked=$(( leaked + 1 )); done
	tf_expect "codes in the output" "$leaked" 0
}

# The codes never come (another file): each challenged login waits for
# its code, then times out; counted, never answered with a guess.
sms_mode_without_its_code_times_out() {
	: > "$TF_WORK/empty.jsonl"
	bench --mode sms --codes-from "$TF_WORK/empty.jsonl" --users "$CSV" --logins 2 --inflight 2 --timeout 300
	tf_expect "exit status" "$B_RC" 1
	tf_expect "waited for a code" "${B[code_waits]:-}" 2
	tf_expect "timeouts" "${B[timeouts]:-}" 2
	tf_expect "accepted" "${B[accepted]:-}" 0
	tf_expect "rejected" "${B[rejected]:-}" 0
}

sms_mode_needs_codes_from() {
	"$BENCH" --server "127.0.0.1:$PORT" --mode sms --users "$CSV" --logins 1 --quiet >/dev/null 2>"$CSV.err"
	tf_expect "exit status" "$?" 2
	tf_expect "message" "$(grep -c 'go together' "$CSV.err")" 1
}

# The SMS gateway of the sms tests: the HTTP sink, answering at once.
tf_start_sink http bench_gateway
SMS_CONF="	send_limits {
		per_user = 0
	}
	sms {
		url = \"http://127.0.0.1:$SINK_PORT/send\"
		content_type = \"application/x-www-form-urlencoded\"
		body = \"to={phone}&user={user}&text={message}\"
	}"
tf_server_setup bench_client "$SMS_CONF"
trap 'tf_server_stop; tf_stop_sinks' EXIT
tf_run every_login_is_accepted_on_a_fresh_step
tf_run too_few_users_for_the_logins_is_refused
tf_run wrong_password_is_counted_as_a_reject
tf_run unanswered_requests_are_counted_as_timeouts_and_retries
tf_run challenge_in_pap_mode_is_counted_as_unexpected
tf_run pending_only_answers_no_challenge
tf_run sms_mode_answers_with_the_code_from_the_sink_record
tf_run sms_mode_without_its_code_times_out
tf_run sms_mode_needs_codes_from
