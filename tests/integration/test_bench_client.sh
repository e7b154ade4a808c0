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

tf_server_setup bench_client
trap tf_server_stop EXIT
tf_run every_login_is_accepted_on_a_fresh_step
tf_run too_few_users_for_the_logins_is_refused
tf_run wrong_password_is_counted_as_a_reject
tf_run unanswered_requests_are_counted_as_timeouts_and_retries
tf_run challenge_in_pap_mode_is_counted_as_unexpected
tf_run pending_only_answers_no_challenge
