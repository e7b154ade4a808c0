#!/usr/bin/env bash
#
# Hardening through a real radiusd: the password throttle, one deadline
# per login, replays that do not lock anyone out, a store file replaced
# or corrupt while radiusd runs.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse
declare -A SECRET
XSECRET=$(tf_secret)	# xavier's, in the store that replaces the first
USERS_CSV=
for u in tina uma vic wes; do
	SECRET[$u]=$(tf_secret)
	USERS_CSV+="$u,$PW,${SECRET[$u]}"$'\n'
done

# store_value SQL: one value from the store, read-only.
store_value() { sqlite3 "file:$STORE?mode=ro" "$1"; }

# logged PATTERN: "yes" if radiusd's log has a line matching PATTERN.
logged() { grep -qE "$1" "$DIR/server/log/radius.log" && echo yes || echo no; }

# Three wrong passwords in a row (free_failures = 2): the next password,
# right or wrong, is not checked for delay = 3 s; the reject looks the same.
wrong_passwords_throttle_the_next_password() {
	local i
	for i in 1 2 3; do
		tf_round1 tina "guess-$i"
		tf_expect_reject "wrong password $i"
	done
	tf_expect "failures counted" "$(store_value "SELECT password_failures FROM users WHERE name = 'tina'")" 3
	tf_round1 tina "$PW"
	tf_expect_reject "right password while throttled"
	tf_expect "logged as throttled" "$(logged 'password throttled')" yes
	tf_expect "throttled try not counted" "$(store_value "SELECT password_failures FROM users WHERE name = 'tina'")" 3
	tf_expect "user show --json" "$(tf_admin --json user show tina | grep -o '"password_failures":3,"password_wait_until":"[^"]*"' | wc -l)" 1
	sleep 3.2
	tf_round1 tina "$PW"
	tf_expect "right password after the wait" "$R_CODE" "Access-Challenge"
	tf_expect "failures cleared" "$(store_value "SELECT password_failures FROM users WHERE name = 'tina'")" 0
}

# challenge_timeout = 10: a wrong code asks again, but the login still
# ends 10 s after round one.
login_ends_within_challenge_timeout_of_round_one() {
	tf_round1 uma "$PW"
	tf_expect "round 1" "$R_CODE" "Access-Challenge"
	sleep 6
	tf_round2 uma 000000 "$R_STATE"
	tf_expect "wrong code asks again" "$R_CODE" "Access-Challenge"
	sleep 5
	tf_round2 uma "$(tf_code "${SECRET[uma]}")" "$R_STATE"
	tf_expect_reject "right code 11 s after round one"
	tf_expect "logged as expired" "$(logged 'challenge expired')" yes
}

# lockout.max_failures = 3: four logins answered with an already used
# code (as after a clock stepped back) lock nobody out.
replayed_codes_do_not_count_toward_the_lockout() {
	local code i
	tf_wait_fresh_step
	code=$(tf_code "${SECRET[vic]}")
	tf_round1 vic "$PW"; tf_round2 vic "$code" "$R_STATE"
	tf_expect "first use" "$R_CODE" "Access-Accept"
	for i in 1 2 3 4; do
		tf_round1 vic "$PW"
		tf_expect "round 1 of replay $i" "$R_CODE" "Access-Challenge"
		tf_round2 vic "$code" "$R_STATE"
		tf_expect "replay $i refused" "$R_CODE" "Access-Challenge"
	done
	tf_expect "no failure counted" "$(store_value "SELECT fail_count + lock_count + locked_until FROM users WHERE name = 'vic'")" 0
	tf_round1 vic "$PW"
	tf_round2 vic "$(tf_code "${SECRET[vic]}" 30)" "$R_STATE"
	tf_expect "next step's code" "$R_CODE" "Access-Accept"
}

# A store restored from another file (mv over it): the next login reads
# the new file, so a user missing from it is refused.
replaced_store_is_used_at_the_next_login() {
	local new=$DIR/store/restored.db
	tf_round1 wes "$PW"
	tf_expect "round 1 on the old store" "$R_CODE" "Access-Challenge"
	"$TWOFA_ADMIN" -s "$new" -k "$KEY" init --owner freerad >/dev/null
	printf 'xavier,%s,%s\n' "$PW" "$XSECRET" | "$TWOFA_ADMIN" -s "$new" -k "$KEY" user import - >/dev/null
	mv "$new" "$STORE"
	tf_round1 wes "$PW"
	tf_expect_reject "user missing from the restored store"
	tf_wait_fresh_step
	tf_round1 xavier "$PW"
	tf_round2 xavier "$(tf_code "$XSECRET")" "$R_STATE"
	tf_expect "user of the restored store" "$R_CODE" "Access-Accept"
}

# A corrupt store at start-up: radiusd starts, says why, rejects every
# login cleanly, and uses a good store as soon as it is back.
corrupt_store_at_start_up_rejects_until_restored() {
	local good=$DIR/store/good.db
	tf_server_stop
	mv "$STORE" "$good"
	rm -f "$STORE"-wal "$STORE"-shm
	head -c 8192 /dev/urandom > "$STORE"
	chown freerad:freerad "$STORE"
	: > "$DIR/server/log/radius.log"
	twofa_start_radiusd "$DIR/server" || { tf_expect "radiusd starts on a corrupt store" no yes; return; }
	tf_expect "says why" "$(logged 'cannot use store')" yes
	tf_round1 xavier "$PW"
	tf_expect_reject "login on a corrupt store"
	kill -0 "$RADIUSD_PID" 2>/dev/null
	tf_expect "radiusd alive" "$?" 0
	mv "$good" "$STORE"
	sleep 1.1	# a failed open is retried at most once a second
	tf_round1 xavier "$PW"
	tf_expect "round 1 once restored" "$R_CODE" "Access-Challenge"
}

# password_source = none: the site's pap checks the password (users file),
# rlm_twofa challenges from post-auth.  pap's rejects count toward the
# throttle, and a throttled user is refused even with the right password.
none_site() {
	cat <<'SITE'
server twofa {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = PORT
	}
	authorize {
		if (!&State) {
			files
			pap
		}
		twofa
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
		Auth-Type twofa {
			twofa
		}
	}
	post-auth {
		twofa
		Post-Auth-Type REJECT {
			twofa
		}
	}
}
SITE
}

site_passwords_are_throttled_with_password_source_none() {
	local raddb=$DIR/server/raddb i
	tf_server_stop
	none_site | sed "s/PORT/$PORT/" > "$raddb/sites-available/twofa"
	sed -i -E 's/^(\s*password_source\s*=).*/\1 none/' "$raddb/mods-available/twofa"
	# The store is the one restored above: xavier's.
	printf 'xavier Cleartext-Password := "%s"\n' "$PW" > "$raddb/mods-config/files/authorize"
	twofa_start_radiusd "$DIR/server" || { tf_expect "radiusd starts" no yes; return; }
	tf_wait_fresh_step
	tf_round1 xavier "$PW"
	tf_expect "pap's accept is answered with the challenge" "$R_CODE" "Access-Challenge"
	tf_round2 xavier "$(tf_code "$XSECRET" 30)" "$R_STATE"
	tf_expect "then the code" "$R_CODE" "Access-Accept"
	for i in 1 2 3; do
		tf_round1 xavier "guess-$i"
		tf_expect_reject "wrong password $i"
	done
	tf_expect "pap's rejects counted" "$(store_value "SELECT password_failures FROM users WHERE name = 'xavier'")" 3
	tf_round1 xavier "$PW"
	tf_expect_reject "right password while throttled"
}

tf_server_setup hardening "challenge_timeout = 10
	password_throttle {
		free_failures = 2
		delay = 3
		max_delay = 3
	}
	lockout {
		max_failures = 3
	}"
trap tf_server_stop EXIT
tf_run wrong_passwords_throttle_the_next_password
tf_run login_ends_within_challenge_timeout_of_round_one
tf_run replayed_codes_do_not_count_toward_the_lockout
tf_run replaced_store_is_used_at_the_next_login
tf_run corrupt_store_at_start_up_rejects_until_restored
tf_run site_passwords_are_throttled_with_password_source_none
