#!/usr/bin/env bash
#
# Two-round TOTP logins through a real radiusd, with radclient as the NAS.
# Each test uses its own user, so that replay protection in one test does
# not get in the way of another.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse
declare -A SECRET
USERS_CSV=
for u in alice bob carol dave erin frank grace heidi ivan judy mallory olivia peggy quinn; do
	SECRET[$u]=$(tf_secret)
	USERS_CSV+="$u,$PW,${SECRET[$u]}"$'\n'
done
USERS_CSV+="noenrol,$PW,"$'\n'

# Users whose names are hostile to SQL, LDAP filters, format strings, xlat,
# shells and JSON, or simply long (128 bytes, the limit): each has a password
# and secret of its own.  No spaces: filter_username in the site rejects them.
HOSTILE=("o'brien" 'x";DROP/**/TABLE/**/users;--' 'back\slash\' '100%d%s%n%x' "'OR'1'='1'--"
	'*)(uid=*' '%{User-Password}' '$(id)`id`' 'Ünïcødé-用户-☃' "l$(printf 'o%.0s' $(seq 1 126))Z")
declare -A HPW HSECRET
for name in "${HOSTILE[@]}"; do
	HPW[$name]="pw-$RANDOM-$RANDOM"
	HSECRET[$name]=$(tf_secret)
	USERS_CSV+="$name,${HPW[$name]},${HSECRET[$name]}"$'\n'
done

# tf_user_field NAME FIELD: one field of "twofa-admin --json user show NAME".
tf_user_field() {
	tf_admin --json user show "$1" | sed -n "s/.*\"$2\":\(\"[^\"]*\"\|null\|[0-9][0-9]*\).*/\1/p"
}

right_password_then_right_code_is_accepted() {
	tf_wait_fresh_step
	tf_round1 alice "$PW"
	tf_expect "round 1" "$R_CODE" "Access-Challenge"
	tf_expect "challenge message" "$R_MSG" "Enter the 6-digit code from your authenticator app"
	[ -n "$R_STATE" ] || tf_expect "state" "(none)" "a State"
	tf_round2 alice "$(tf_code "${SECRET[alice]}")" "$R_STATE"
	tf_expect "round 2" "$R_CODE" "Access-Accept"
}

wrong_password_is_rejected_in_round_one() {
	tf_round1 bob "not-the-password"
	tf_expect_reject "round 1"
}

unknown_user_is_rejected_with_the_same_message() {
	tf_round1 nosuchuser "$PW"
	tf_expect_reject "round 1"
}

three_wrong_codes_reject() {
	local i
	tf_round1 carol "$PW"
	tf_expect "round 1" "$R_CODE" "Access-Challenge"
	for i in 1 2; do
		tf_round2 carol 000000 "$R_STATE"
		tf_expect "wrong code $i" "$R_CODE" "Access-Challenge"
	done
	tf_round2 carol 000000 "$R_STATE"
	tf_expect_reject "third wrong code"
}

# The State of the last attempt is good for one answer too: the reject
# that ends the login spends it, so the same State with the right code
# (or another guess) is refused, not counted as a new attempt.
last_state_is_dead_after_the_attempts_run_out() {
	local last
	tf_round1 judy "$PW"
	tf_round2 judy 000000 "$R_STATE"
	tf_round2 judy 000000 "$R_STATE"
	tf_expect "last attempt" "$R_CODE" "Access-Challenge"
	last=$R_STATE
	tf_round2 judy 000000 "$last"
	tf_expect_reject "third wrong code"
	tf_wait_fresh_step
	tf_round2 judy "$(tf_code "${SECRET[judy]}")" "$last"
	tf_expect_reject "the last State again, with the right code"
}

same_code_twice_is_refused_the_second_time() {
	local code
	tf_wait_fresh_step
	code=$(tf_code "${SECRET[dave]}")
	tf_round1 dave "$PW"; tf_round2 dave "$code" "$R_STATE"
	tf_expect "first use" "$R_CODE" "Access-Accept"
	tf_round1 dave "$PW"; tf_round2 dave "$code" "$R_STATE"
	tf_expect "second use" "$R_CODE" "Access-Challenge"
}

same_code_in_ten_parallel_rounds_is_accepted_once() {
	local states=() pids=() i code accepts out
	for i in $(seq 1 10); do
		tf_round1 erin "$PW"
		states+=("$R_STATE")
	done
	tf_wait_fresh_step
	code=$(tf_code "${SECRET[erin]}")
	out=$DIR/parallel; rm -rf "$out"; mkdir -p "$out"
	for i in $(seq 0 9); do
		( tf_round2 erin "$code" "${states[$i]}"; echo "$R_CODE" > "$out/$i" ) &
		pids+=($!)
	done
	wait "${pids[@]}"
	accepts=$(cat "$out"/* | grep -c '^Access-Accept$')
	tf_expect "accepts" "$accepts" 1
	tf_expect "answers" "$(cat "$out"/* | grep -c '^Access-')" 10
}

code_two_steps_old_is_refused() {
	tf_wait_fresh_step
	tf_round1 frank "$PW"
	tf_round2 frank "$(tf_code "${SECRET[frank]}" -60)" "$R_STATE"
	tf_expect "two steps old" "$R_CODE" "Access-Challenge"
	tf_round2 frank "$(tf_code "${SECRET[frank]}" -30)" "$R_STATE"
	tf_expect "one step old" "$R_CODE" "Access-Accept"
}

state_from_another_users_login_is_rejected() {
	local bobs_state
	tf_round1 grace "$PW"; bobs_state=$R_STATE
	tf_round2 heidi "$(tf_code "${SECRET[heidi]}")" "$bobs_state"
	tf_expect_reject "heidi with grace's State"
}

forged_state_is_rejected() {
	tf_round2 heidi "$(tf_code "${SECRET[heidi]}")" 0x0123456789abcdef0123456789abcdef
	tf_expect_reject "forged State"
}

consumed_state_is_rejected() {
	local state
	tf_wait_fresh_step
	tf_round1 heidi "$PW"; state=$R_STATE
	tf_round2 heidi "$(tf_code "${SECRET[heidi]}")" "$state"
	tf_expect "login" "$R_CODE" "Access-Accept"
	tf_round2 heidi "$(tf_code "${SECRET[heidi]}" 30)" "$state"
	tf_expect_reject "State used again"
}

user_without_second_factor_is_rejected_when_required() {
	tf_round1 noenrol "$PW"
	tf_expect_reject "round 1"
}

# The lock itself, not the attempts limit: the wrong code that reaches
# max_failures (10) is the first of its login, so only the lock can
# turn it into a reject.
repeated_wrong_codes_lock_the_user_until_unlock() {
	local i n pending
	# A challenge taken before the lock, answered after it.
	tf_round1 ivan "$PW"; pending=$R_STATE
	for i in 1 2 3; do
		tf_round1 ivan "$PW"
		tf_expect "login $i round 1" "$R_CODE" "Access-Challenge"
		for n in 1 2 3; do tf_round2 ivan 000000 "$R_STATE"; done
	done
	tf_expect "failures after 9 wrong codes" "$(tf_user_field ivan failures)" 9
	tf_expect "not locked after 9" "$(tf_user_field ivan locked_until)" null
	tf_round1 ivan "$PW"
	tf_expect "round 1 before the lock" "$R_CODE" "Access-Challenge"
	tf_round2 ivan 000000 "$R_STATE"
	tf_expect_reject "10th wrong code, the first of its login"
	tf_expect "locked after 10" "$(tf_user_field ivan locked_until | sed 's/^"[0-9].*Z"$/future/')" future
	tf_expect "lock in the store" "$(sqlite3 "file:$STORE?mode=ro" "SELECT locked_until > strftime('%s','now') FROM users WHERE name='ivan'")" 1
	tf_wait_fresh_step
	tf_round2 ivan "$(tf_code "${SECRET[ivan]}")" "$pending"
	tf_expect_reject "right code while locked"
	tf_round1 ivan "$PW"
	tf_expect_reject "right password while locked"
	tf_admin user unlock ivan >/dev/null
	tf_expect "unlock exit" "$?" 0
	tf_expect "unlocked" "$(tf_user_field ivan locked_until)" null
	tf_wait_fresh_step
	tf_round1 ivan "$PW"
	tf_round2 ivan "$(tf_code "${SECRET[ivan]}" 30)" "$R_STATE"
	tf_expect "after unlock" "$R_CODE" "Access-Accept"
}

# Round two reads nothing: the consume statement checks again what round
# one read.  An admin's change between the rounds must win.
enrolment_changed_between_rounds_is_rejected() {
	local removed replaced new
	tf_wait_fresh_step
	tf_round1 peggy "$PW"; removed=$R_STATE
	tf_round1 peggy "$PW"; replaced=$R_STATE
	tf_expect "round 1" "$R_CODE" "Access-Challenge"
	tf_admin totp remove peggy >/dev/null
	tf_round2 peggy "$(tf_code "${SECRET[peggy]}")" "$removed"
	tf_expect_reject "code of a removed enrolment"
	new=$(tf_admin --json totp enroll peggy | sed -n 's/.*"secret":"\([A-Z2-7]*\)".*/\1/p')
	tf_code "$new" | tf_admin totp confirm peggy >/dev/null
	tf_expect "re-enrolled" "$?" 0
	# A challenge sent for the old enrolment: its code no longer
	# consumes, and the new one is a wrong code there.
	tf_round2 peggy "$(tf_code "${SECRET[peggy]}" 30)" "$replaced"
	tf_expect_reject "old code on a challenge sent before the re-enrolment"
	tf_round1 peggy "$PW"
	tf_round2 peggy "$(tf_code "$new" 30)" "$R_STATE"
	tf_expect "new enrolment, new login" "$R_CODE" "Access-Accept"
}

# Each hostile name is a user of its own: it needs its own password and its
# own code, and nothing else (another user's password, a name one byte off)
# gets in.
hostile_user_names_need_their_own_password_and_code() {
	local name
	tf_wait_fresh_step
	for name in "${HOSTILE[@]}"; do
		tf_round1 "$name" "${HPW[$name]}"
		tf_expect "${name:0:20}: round 1" "$R_CODE" "Access-Challenge"
		tf_round2 "$name" "$(tf_code "${HSECRET[$name]}")" "$R_STATE"
		tf_expect "${name:0:20}: right code" "$R_CODE" "Access-Accept"
	done
}

hostile_user_names_are_rejected_and_store_unchanged() {
	local before after name long failures_before expected_failures
	before=$(tf_store_dump)
	failures_before=$(tf_password_failures)
	long=$(printf 'a%.0s' $(seq 1 253))
	for name in "o'brien" 'x"; DROP TABLE users; --' 'a;b' '*)(uid=*' "$long"; do
		tf_round1 "$name" "$PW"
		tf_expect_reject "name ${name:0:20}, another user's password"
	done
	for name in "${HOSTILE[@]}"; do
		tf_round1 "$name" "wrong-${HPW[$name]}"
		tf_expect_reject "${name:0:20}: wrong password"
		tf_round1 "${name}x" "${HPW[$name]}"
		tf_expect_reject "${name:0:20}x: a name one byte longer"
		tf_round1 "${name:1}" "${HPW[$name]}"
		tf_expect_reject "${name:1:20}: a name one character shorter"
	done
	# Binary bytes, no NUL: octal escapes in radclient's string syntax.
	tf_send "User-Name = \"bin\\001\\377\\300\\200x\"
User-Password = \"$PW\""
	tf_expect_reject "binary name"
	after=$(tf_store_dump)
	tf_expect "store unchanged" "$([ "$before" = "$after" ] && echo same || echo changed)" same
	# Only each hostile user's own wrong passwords were counted (o'brien and
	# '*)(uid=*' twice: the first loop sent them another user's), no one else's.
	expected_failures=$( { printf '%s\n' "$failures_before"
		for name in "${HOSTILE[@]}"; do
			case $name in
			"o'brien"|'*)(uid=*') echo "$name 2" ;;
			*) echo "$name 1" ;;
			esac
		done; } | sed '/^$/d' | sort)
	tf_expect "failures counted" "$(tf_password_failures | sort)" "$expected_failures"
	kill -0 "$RADIUSD_PID" 2>/dev/null
	tf_expect "radiusd alive" "$?" 0
}

locked_store_rejects_cleanly_then_recovers() {
	local locker code
	tf_wait_fresh_step
	tf_round1 judy "$PW"
	tf_expect "round 1" "$R_CODE" "Access-Challenge"
	# Another process holds the write lock for 3 s; busy_timeout is 200 ms.
	( echo "BEGIN EXCLUSIVE;"; sleep 3; echo "COMMIT;" ) | runuser -u freerad -- sqlite3 "$STORE" &
	locker=$!
	sleep 0.5
	tf_round2 judy "$(tf_code "${SECRET[judy]}")" "$R_STATE"
	tf_expect_reject "while locked"
	wait $locker
	tf_expect "logged" "$(grep -c 'database is locked' "$DIR/server/log/radius.log" | sed 's/^[1-9][0-9]*$/yes/')" yes
	tf_wait_fresh_step
	tf_round1 judy "$PW"
	tf_round2 judy "$(tf_code "${SECRET[judy]}" 30)" "$R_STATE"
	tf_expect "after release" "$R_CODE" "Access-Accept"
}

same_code_refused_after_restart() {
	local code
	tf_wait_fresh_step
	code=$(tf_code "${SECRET[mallory]}")
	tf_round1 mallory "$PW"; tf_round2 mallory "$code" "$R_STATE"
	tf_expect "before restart" "$R_CODE" "Access-Accept"
	tf_server_stop
	twofa_start_radiusd "$DIR/server" || die "radiusd failed to restart"
	tf_round1 mallory "$PW"; tf_round2 mallory "$code" "$R_STATE"
	tf_expect "after restart" "$R_CODE" "Access-Challenge"
}

read_only_store_rejects_cleanly() {
	tf_server_stop
	chmod 0440 "$STORE"
	twofa_start_radiusd "$DIR/server" || { tf_expect "radiusd starts on a read-only store" no yes; return; }
	tf_wait_fresh_step
	tf_round1 olivia "$PW"
	tf_expect "round 1" "$R_CODE" "Access-Challenge"
	tf_round2 olivia "$(tf_code "${SECRET[olivia]}")" "$R_STATE"
	tf_expect_reject "code on a read-only store"
	tf_expect "logged" "$(grep -c 'readonly database' "$DIR/server/log/radius.log" | sed 's/^[1-9][0-9]*$/yes/')" yes
	kill -0 "$RADIUSD_PID" 2>/dev/null
	tf_expect "radiusd alive" "$?" 0
	tf_expect "no step recorded as used" "$(sqlite3 "file:$STORE?mode=ro" "SELECT count(*) FROM factor_used JOIN factors f ON f.id = factor_id JOIN users u ON u.id = f.user_id WHERE name = 'olivia'")" 0
	# SQLite made -shm with the file's mode: restore both for the next test.
	chmod 0640 "$STORE" "$STORE"-*
}

# With suppress_secrets, radiusd -xx prints neither the code nor the
# pending challenge (the sealed secret) of a login it debugs.
debug_log_hides_code_and_sealed_secret() {
	local conf=$DIR/server/raddb/radiusd.conf code sealed log=$DIR/server/log/radius.log
	tf_server_stop
	sed -i -E 's/^#?\s*suppress_secrets\s*=.*/\tsuppress_secrets = yes/' "$conf"
	: > "$log"
	twofa_start_radiusd "$DIR/server" -xx || die "radiusd -xx failed to start"
	tf_wait_fresh_step
	code=$(tf_code "${SECRET[quinn]}")
	tf_round1 quinn "$PW"; tf_round2 quinn "$code" "$R_STATE"
	tf_expect "login" "$R_CODE" "Access-Accept"
	sealed=$(sqlite3 "file:$STORE?mode=ro" "SELECT hex(secret) FROM factors f JOIN users u ON u.id = f.user_id WHERE name = 'quinn' AND kind = 'totp'")
	# state = sealed (the default): the State carries the pending challenge, session-state nothing.
	tf_expect "nothing pending in session-state" "$(grep -c 'Twofa-Pending' "$log")" 0
	tf_expect "sealed secret not logged" "$(grep -ci "${sealed:0:32}" "$log")" 0
	tf_expect "password shown as secret" "$(grep -c 'User-Password = <<< secret >>>' "$log" | sed 's/^[1-9][0-9]*$/yes/')" yes
	tf_expect "code not logged" "$(grep -c "\"$code\"" "$log")" 0
	# Round one reads the user; round two's Accept does not read it again
	# (the State says whether the user has reply attributes of their own).
	tf_expect "one store read per login" "$(grep -c 'User "quinn": read from the store' "$log")" 1
	tf_server_stop
	sed -i -E 's/^\s*suppress_secrets\s*=.*/#\tsuppress_secrets = no/' "$conf"
	twofa_start_radiusd "$DIR/server" || die "radiusd failed to restart"
}

tf_server_setup login "sqlite { busy_timeout = 200 }"
trap tf_server_stop EXIT
tf_run right_password_then_right_code_is_accepted
tf_run wrong_password_is_rejected_in_round_one
tf_run unknown_user_is_rejected_with_the_same_message
tf_run three_wrong_codes_reject
tf_run last_state_is_dead_after_the_attempts_run_out
tf_run same_code_twice_is_refused_the_second_time
tf_run same_code_in_ten_parallel_rounds_is_accepted_once
tf_run code_two_steps_old_is_refused
tf_run state_from_another_users_login_is_rejected
tf_run forged_state_is_rejected
tf_run consumed_state_is_rejected
tf_run user_without_second_factor_is_rejected_when_required
tf_run repeated_wrong_codes_lock_the_user_until_unlock
tf_run enrolment_changed_between_rounds_is_rejected
tf_run hostile_user_names_need_their_own_password_and_code
tf_run hostile_user_names_are_rejected_and_store_unchanged
tf_run locked_store_rejects_cleanly_then_recovers
tf_run same_code_refused_after_restart
tf_run read_only_store_rejects_cleanly
tf_run debug_log_hides_code_and_sealed_secret
