#!/usr/bin/env bash
#
# state = sealed (the default) through two real radiusd sharing one SQLite
# store and key: the State carries the pending challenge, so round two may
# come to the other server or after a restart; each State is answered
# once, anywhere; forged, truncated, other-version, other-NAS States are
# refused with the one reject; the State key rotates without dropping a
# login in flight; state = session still works.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse
declare -A SECRET
USERS_CSV=
for u in alice bob carol dave erin frank; do
	SECRET[$u]=$(tf_secret)
	USERS_CSV+="$u,$PW,${SECRET[$u]}"$'\n'
done

# on A|B: send the next rounds to that radiusd.
on() { if [ "$1" = A ]; then PORT=$PORT_A; else PORT=$PORT_B; fi; }

# start_b [extra module lines]: the second radiusd, on the same store and key.
start_b() {
	twofa_make_raddb "$DIR/server-b" "$PORT_B" "$STORE" "$KEY" "${1:-}"
	add_second_client "$DIR/server-b"
	twofa_start_radiusd "$DIR/server-b" || return 1
	PID_B=$RADIUSD_PID
}

# restart_a [extra module lines]: radiusd A again, with its config remade.
restart_a() {
	RADIUSD_PID=$PID_A; twofa_stop_radiusd
	twofa_make_raddb "$DIR/server" "$PORT_A" "$STORE" "$KEY" "${1:-}"
	add_second_client "$DIR/server"
	twofa_start_radiusd "$DIR/server" || return 1
	PID_A=$RADIUSD_PID
}

stop_all() {
	RADIUSD_PID=${PID_A:-}; twofa_stop_radiusd
	RADIUSD_PID=${PID_B:-}; twofa_stop_radiusd
}

# A NAS at 127.0.0.2 too (radclient binds to Packet-Src-IP-Address).
add_second_client() {
	cat >> "$1/raddb/clients.conf" <<CLIENT
client other_nas {
	ipaddr = 127.0.0.2
	secret = testing123
	require_message_authenticator = yes
}
CLIENT
}

# round2_from NAS USER CODE STATE: round two sent from another source address.
round2_from() {
	tf_send "User-Name = $(tf_quote "$2")
User-Password = $(tf_quote "$3")
State = $4
Packet-Src-IP-Address = $1"
}

code_of() { tf_code "${SECRET[$1]}" "${2:-0}"; }

setup() {
	tf_server_setup state
	PORT_A=$PORT; PID_A=$RADIUSD_PID
	PORT_B=$(twofa_free_port)
	add_second_client "$DIR/server"
	restart_a || die "radiusd A failed to restart"
	start_b || die "radiusd B failed to start"
}

round_one_on_a_round_two_on_b() {
	local state
	tf_wait_fresh_step
	on A; tf_round1 alice "$PW"
	tf_expect "challenge from A" "$R_CODE" "Access-Challenge"
	state=$R_STATE
	# A sealed State, not FreeRADIUS's 16 bytes: about 110 for a short name.
	tf_expect "State is sealed, under 150 bytes" "$(( ${#state} / 2 - 1 > 16 && ${#state} / 2 - 1 < 150 ))" 1
	on B; tf_round2 alice "$(code_of alice)" "$state"
	tf_expect "answered on B" "$R_CODE" "Access-Accept"
	on A; tf_round2 alice "$(code_of alice 30)" "$state"
	tf_expect_reject "the same State again on A"
	on B; tf_round2 alice "$(code_of alice 30)" "$state"
	tf_expect_reject "the same State again on B"
}

answered_after_a_restart() {
	local state
	tf_wait_fresh_step
	on A; tf_round1 bob "$PW"; state=$R_STATE
	restart_a || { tf_expect "radiusd A restarts" no yes; return; }
	tf_round2 bob "$(code_of bob)" "$state"
	tf_expect "round two after the restart" "$R_CODE" "Access-Accept"
}

wrong_answer_gets_a_new_state_the_old_is_dead() {
	local first second
	tf_wait_fresh_step
	on A; tf_round1 carol "$PW"; first=$R_STATE
	tf_round2 carol 000000 "$first"
	tf_expect "wrong code: asked again" "$R_CODE" "Access-Challenge"
	second=$R_STATE
	tf_expect "a new State" "$([ "$first" != "$second" ] && echo yes)" yes
	on B; tf_round2 carol "$(code_of carol)" "$first"
	tf_expect_reject "the first State, right code"
	on A; tf_round2 carol "$(code_of carol)" "$second"
	tf_expect "the second State, right code" "$R_CODE" "Access-Accept"
	tf_round2 carol "$(code_of carol 30)" "$second"
	tf_expect_reject "the second State again"
}

refused_states() {
	local state bad
	tf_wait_fresh_step
	on A; tf_round1 dave "$PW"; state=$R_STATE
	# Another NAS presents it: the State is bound to the NAS it was sent to.
	round2_from 127.0.0.2 dave "$(code_of dave)" "$state"
	tf_expect_reject "from another NAS"
	for bad in "${state:0:$(( ${#state} - 2 ))}" "0x02${state:4}" \
		"${state:0:20}$(printf '%02x' $(( (0x${state:20:2} + 1) % 256 )))${state:22}" "0x0101"; do
		tf_round1 dave "$PW"
		tf_round2 dave "$(code_of dave)" "$bad"
		tf_expect_reject "forged State ${bad:0:12}"
	done
	tf_round1 dave "$PW"
	tf_round2 erin "$(code_of erin)" "$R_STATE"
	tf_expect_reject "another user's State"
}

state_key_rotates_without_dropping_a_login() {
	local state new=$DIR/store/state-2.key
	head -c 32 /dev/urandom | base64 > "$new"
	chown freerad:freerad "$new"; chmod 0600 "$new"
	tf_wait_fresh_step
	on A; tf_round1 frank "$PW"; state=$R_STATE
	restart_a "state_key_file = \"$new\"
	state_previous_key_file = \"$KEY\"" || { tf_expect "radiusd A restarts" no yes; return; }
	tf_round2 frank "$(code_of frank)" "$state"
	tf_expect "sealed under the old key, answered under the new" "$R_CODE" "Access-Accept"
	tf_round1 frank "$PW"; state=$R_STATE
	restart_a "state_key_file = \"$new\"" || { tf_expect "radiusd A restarts" no yes; return; }
	tf_round2 frank "$(code_of frank 30)" "$state"
	tf_expect "sealed under the new key" "$R_CODE" "Access-Accept"
	tf_round1 frank "$PW"; state=$R_STATE
	restart_a || { tf_expect "radiusd A restarts" no yes; return; }
	tf_round2 frank "$(code_of frank 30)" "$state"
	tf_expect_reject "a key no longer configured"
}

session_state_still_works() {
	local state
	restart_a "state = session" || { tf_expect "radiusd A restarts" no yes; return; }
	tf_wait_fresh_step
	on A; tf_round1 erin "$PW"; state=$R_STATE
	tf_expect "FreeRADIUS's 16-byte State" "${#state}" 34
	tf_round2 erin "$(code_of erin)" "$state"
	tf_expect "state = session" "$R_CODE" "Access-Accept"
	# Bound to the NAS as a sealed State is: another NAS presenting it is refused.
	tf_wait_fresh_step
	on A; tf_round1 erin "$PW"; state=$R_STATE
	round2_from 127.0.0.2 erin "$(code_of erin)" "$state"
	tf_expect_reject "state = session, from another NAS"
}

setup
trap stop_all EXIT
tf_run round_one_on_a_round_two_on_b
tf_run answered_after_a_restart
tf_run wrong_answer_gets_a_new_state_the_old_is_dead
tf_run refused_states
tf_run state_key_rotates_without_dropping_a_login
tf_run session_state_still_works
