#!/usr/bin/env bash
#
# Backup codes through a real radiusd: at the TOTP prompt, alone, once
# each, in a race, toward the lockout, running low; and the admin commands
# that make and void them, taking effect at the next login.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse
declare -A SECRET
USERS_CSV=
for u in alice bob dave erin frank grace; do
	SECRET[$u]=$(tf_secret)
	USERS_CSV+="$u,$PW,${SECRET[$u]}"$'\n'
done
USERS_CSV+="carol,$PW,"$'\n'		# no TOTP: backup codes only

CODE_RE='^[2-9a-hjkmnp-z]{5}-[2-9a-hjkmnp-z]{5}$'

# tf_user_field NAME FIELD: one field of "twofa-admin --json user show NAME".
tf_user_field() {
	tf_admin --json user show "$1" | sed -n "s/.*\"$2\":\(\"[^\"]*\"\|null\|[0-9][0-9]*\).*/\1/p"
}

# new_codes NAME [COUNT]: a new set; sets CODES (an array) from the text output.
new_codes() {
	mapfile -t CODES < <(tf_admin backup generate "$1" --count "${2:-5}" 2>/dev/null)
}

# login_with NAME ANSWER: round one, then ANSWER to the challenge.
login_with() {
	tf_round1 "$1" "$PW"
	tf_expect "$1 round 1" "$R_CODE" "Access-Challenge"
	tf_round2 "$1" "$2" "$R_STATE"
}

backup_code_at_the_totp_prompt_is_accepted_once() {
	local upper
	new_codes alice
	tf_expect "codes printed" "${#CODES[@]}" 5
	tf_expect "code form" "$(printf '%s\n' "${CODES[@]}" | grep -Ec "$CODE_RE")" 5
	login_with alice "${CODES[0]}"
	tf_expect "backup code at the TOTP prompt" "$R_CODE" "Access-Accept"
	login_with alice "${CODES[0]}"
	tf_expect "same code again" "$R_CODE" "Access-Challenge"
	# As typed from paper: capitals, no dash.
	upper=$(printf '%s' "${CODES[1]}" | tr -d '-' | tr 'a-z' 'A-Z')
	tf_round2 alice "$upper" "$R_STATE"
	tf_expect "another code, capitals, no dash" "$R_CODE" "Access-Accept"
	tf_expect "left" "$(tf_user_field alice backup_codes)" 3
	# The TOTP code still works beside them.
	tf_wait_fresh_step
	login_with alice "$(tf_code "${SECRET[alice]}")"
	tf_expect "TOTP code" "$R_CODE" "Access-Accept"
}

same_backup_code_in_parallel_logins_is_accepted_once() {
	local states=() pids=() i out
	new_codes dave 3
	for i in $(seq 1 6); do
		tf_round1 dave "$PW"
		states+=("$R_STATE")
	done
	out=$DIR/parallel; rm -rf "$out"; mkdir -p "$out"
	for i in $(seq 0 5); do
		( tf_round2 dave "${CODES[0]}" "${states[$i]}"; echo "$R_CODE" > "$out/$i" ) &
		pids+=($!)
	done
	wait "${pids[@]}"
	tf_expect "accepts" "$(cat "$out"/* | grep -c '^Access-Accept$')" 1
	tf_expect "answers" "$(cat "$out"/* | grep -c '^Access-')" 6
	tf_expect "left" "$(tf_user_field dave backup_codes)" 2
}

wrong_backup_codes_count_toward_the_lockout() {
	new_codes erin 2
	login_with erin "22222-22222"
	tf_expect "first wrong backup code" "$R_CODE" "Access-Challenge"
	tf_expect "counted" "$(tf_user_field erin failures)" 1
	tf_round2 erin "33333-33333" "$R_STATE"
	tf_round2 erin "44444-44444" "$R_STATE"
	tf_expect_reject "third wrong backup code"
	tf_expect "locked" "$(tf_user_field erin locked_until | sed 's/^"[0-9].*Z"$/future/')" future
	tf_round1 erin "$PW"
	tf_expect_reject "locked, round 1"
	tf_admin user unlock erin >/dev/null
	login_with erin "${CODES[0]}"
	tf_expect "after unlock" "$R_CODE" "Access-Accept"
	tf_expect "not used up while refused" "$(tf_user_field erin backup_codes)" 1
}

user_with_only_backup_codes_is_challenged_for_one() {
	tf_round1 carol "$PW"
	tf_expect_reject "no second factor yet"
	new_codes carol 2
	# The next login sees them, no restart; the prompt asks for a backup code, not an app's.
	tf_round1 carol "$PW"
	tf_expect "backup prompt" "$R_CODE/$R_MSG" "Access-Challenge/Enter one of your backup codes"
	tf_round2 carol "${CODES[1]}" "$R_STATE"
	tf_expect "backup code alone" "$R_CODE" "Access-Accept"
	login_with carol "000000"
	tf_expect "a TOTP-shaped answer" "$R_CODE/$R_MSG" \
		"Access-Challenge/Wrong code. Enter one of your backup codes (attempts left: 2)"
	tf_round2 carol "${CODES[0]}" "$R_STATE"
	tf_expect "last code" "$R_CODE" "Access-Accept"
	tf_round1 carol "$PW"
	tf_expect_reject "all used: no second factor"
}

new_set_voids_the_old_one() {
	local old
	new_codes grace 3; old=("${CODES[@]}")
	new_codes grace 4
	login_with grace "${old[0]}"
	tf_expect "old code" "$R_CODE" "Access-Challenge"
	tf_round2 grace "${CODES[3]}" "$R_STATE"
	tf_expect "new code" "$R_CODE" "Access-Accept"
	tf_expect "left" "$(tf_user_field grace backup_codes)" 3
	tf_admin backup remove grace >/dev/null
	login_with grace "${CODES[0]}"
	tf_expect "removed code" "$R_CODE" "Access-Challenge"
}

few_codes_left_are_announced_in_the_accept() {
	new_codes frank 4
	login_with frank "${CODES[0]}"
	tf_expect "3 left" "$R_CODE/$R_MSG" "Access-Accept/"
	login_with frank "${CODES[1]}"
	tf_expect "2 left" "$R_CODE/$R_MSG" "Access-Accept/2 backup codes left"
	login_with frank "${CODES[2]}"
	tf_expect "1 left" "$R_CODE/$R_MSG" "Access-Accept/1 backup code left"
	tf_wait_fresh_step
	login_with frank "$(tf_code "${SECRET[frank]}")"
	tf_expect "TOTP login says nothing" "$R_CODE/$R_MSG" "Access-Accept/"
}

admin_commands_exit_codes_json_and_audit() {
	local json status
	json=$(tf_admin --json backup generate bob --count 20); status=$?
	tf_expect "generate status" "$status" 0
	tf_expect "json codes" "$(printf '%s' "$json" | grep -Eo '"[2-9a-z]{5}-[2-9a-z]{5}"' | wc -l)" 20
	tf_expect "json user" "$(printf '%s' "$json" | grep -c '^{"user":"bob","codes":\[')" 1
	tf_expect "show --json" "$(tf_user_field bob backup_codes)" 20
	tf_expect "show text" "$(tf_admin user show bob | sed -n 's/^backup codes: *//p')" "20 left"
	tf_admin backup generate bob --count 21 >/dev/null 2>&1; tf_expect "count 21" $? 1
	tf_admin backup generate bob --count 0 >/dev/null 2>&1; tf_expect "count 0" $? 1
	tf_admin backup generate nosuchuser >/dev/null 2>&1; tf_expect "no such user" $? 1
	tf_admin backup generate >/dev/null 2>&1; tf_expect "no name" $? 1
	tf_expect "refused ones changed nothing" "$(tf_user_field bob backup_codes)" 20
	json=$(tf_admin --json backup remove bob); status=$?
	tf_expect "remove" "$status/$json" '0/{"user":"bob","result":"backup codes removed"}'
	tf_admin backup remove bob >/dev/null 2>&1; tf_expect "remove again" $? 1
	tf_expect "audited" "$(sqlite3 "file:$STORE?mode=ro" "SELECT group_concat(action, ',') FROM audit WHERE user = 'bob' AND action LIKE 'backup%'")" \
		"backup generate,backup remove"
	# No code anywhere in the store, in any form.
	new_codes bob 3
	tf_expect "codes in the store" "$(sqlite3 "file:$STORE?mode=ro" .dump | grep -Eic "${CODES[0]}|$(printf '%s' "${CODES[0]}" | tr -d -)")" 0
}

tf_server_setup backup "lockout {
		max_failures = 3
	}
	backup {
		backup_codes_low = 2
	}"
trap tf_server_stop EXIT
tf_run backup_code_at_the_totp_prompt_is_accepted_once
tf_run same_backup_code_in_parallel_logins_is_accepted_once
tf_run wrong_backup_codes_count_toward_the_lockout
tf_run user_with_only_backup_codes_is_challenged_for_one
tf_run new_set_voids_the_old_one
tf_run few_codes_left_are_announced_in_the_accept
tf_run admin_commands_exit_codes_json_and_audit
