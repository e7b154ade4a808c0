#!/usr/bin/env bash
#
# enrol_at_login = yes through a real radiusd: a user with the right
# password and no second factor gets a new TOTP secret in the challenge,
# and is enrolled only once the next round brings a valid code for it.  A
# wrong code asks again without the secret; no confirmation stores
# nothing; the secret never reaches radiusd's log; enrol_at_login = no
# (the default) rejects as before; an enrol_message that cannot hold the
# secret stops radiusd at start.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse
CHALLENGE="Enter the 6-digit code from your authenticator app"
retry() { printf 'Wrong code. Enter the 6-digit code from your authenticator app (attempts left: %s)' "$1"; }
# enrol_message's default, the secret (8 groups of 4 base32 characters) in the middle
ENROL_RE='^Set up your authenticator app: add a time-based account with the key ([A-Z2-7]{4} ){7}[A-Z2-7]{4} then enter the 6-digit code it shows$'

USERS_CSV=
for u in ann ben cat dan eve; do USERS_CSV+="$u,$PW,"$'\n'; done	# no second factor
USERS_CSV+="sam,$PW,"$'\n'	# an SMS factor only (set below); this server has no sms { }
TOM_SECRET=$(tf_secret)
USERS_CSV+="tom,$PW,$TOM_SECRET"$'\n'

SHOWN=()	# every secret shown, for the log check
LOG() { printf '%s\n' "$DIR/server/log/radius.log"; }
MODCONF() { printf '%s\n' "$DIR/server/raddb/mods-available/twofa"; }

# secret_of MESSAGE: the base32 secret in an enrolment challenge's text, spaces removed.
secret_of() { printf '%s\n' "$1" | sed -n 's/.* the key \([A-Z2-7 ]*\) then .*/\1/p' | tr -d ' '; }
is_enrol_message() { [[ $1 =~ $ENROL_RE ]] && echo yes || echo no; }
totp_state() { tf_user_field "$1" totp; }
# tf_user_field NAME FIELD: one field of "twofa-admin --json user show NAME".
tf_user_field() {
	tf_admin --json user show "$1" | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"
}

enrols_at_first_login_and_the_code_is_used() {
	local secret code
	tf_wait_fresh_step
	tf_round1 ann "$PW"
	tf_expect "round 1" "$R_CODE" "Access-Challenge"
	tf_expect "the secret and how to add it" "$(is_enrol_message "$R_MSG")" yes
	secret=$(secret_of "$R_MSG"); SHOWN+=("$secret")
	tf_expect "160-bit secret" "${#secret}" 32
	tf_expect "nothing stored before the code" "$(totp_state ann)" none
	code=$(tf_code "$secret")
	tf_round2 ann "$code" "$R_STATE"
	tf_expect "round 2" "$R_CODE" "Access-Accept"
	tf_expect "enrolled" "$(totp_state ann)" confirmed
	# The next login is an ordinary one, and the confirming code is used up.
	tf_round1 ann "$PW"
	tf_expect "next login" "$R_CODE" "Access-Challenge"
	tf_expect "next login: ordinary prompt" "$R_MSG" "$CHALLENGE"
	tf_round2 ann "$code" "$R_STATE"
	tf_expect "same code again" "$R_CODE" "Access-Challenge"
	tf_expect "same code again: retry" "$R_MSG" "$(retry 2)"
}

wrong_code_asks_again_without_the_secret() {
	local secret
	tf_wait_fresh_step
	tf_round1 ben "$PW"
	secret=$(secret_of "$R_MSG"); SHOWN+=("$secret")
	tf_expect "round 1 shows a secret" "${#secret}" 32
	tf_round2 ben 000000 "$R_STATE"
	tf_expect "wrong code" "$R_CODE" "Access-Challenge"
	tf_expect "retry without the secret" "$R_MSG" "$(retry 2)"
	tf_expect "nothing stored after a wrong code" "$(totp_state ben)" none
	tf_round2 ben "$(tf_code "$secret")" "$R_STATE"
	tf_expect "right code after a wrong one" "$R_CODE" "Access-Accept"
	tf_expect "enrolled" "$(totp_state ben)" confirmed
}

# Each login gets a secret of its own; one never confirmed leaves nothing.
no_confirmation_stores_nothing() {
	local first second
	tf_round1 cat "$PW"
	first=$(secret_of "$R_MSG"); SHOWN+=("$first")
	tf_round1 cat "$PW"
	second=$(secret_of "$R_MSG"); SHOWN+=("$second")
	tf_expect "a new secret per login" "$([ -n "$first" ] && [ "$first" != "$second" ] && echo yes)" yes
	tf_round2 cat 000000 "$R_STATE"
	tf_round2 cat 000000 "$R_STATE"
	tf_round2 cat 000000 "$R_STATE"
	tf_expect_reject "three wrong codes"
	tf_expect "nothing stored" "$(totp_state cat)" none
}

# tools/twofa-login, as a VPN user would run it: the secret is shown once.
twofa_login_shows_the_secret() {
	local out
	printf '%s\n' "$RADIUS_SECRET" > "$DIR/secret"; chmod 0600 "$DIR/secret"
	out=$(printf '%s\n%s\n%s\n%s\n' "$PW" 000000 000000 000000 |
		"$TOP/tools/twofa-login" -S "$DIR/secret" -s "127.0.0.1:$PORT" dan 2> "$DIR/login.err")
	tf_expect "result" "$out" "Access-Reject: $REJECT_MESSAGE"
	tf_expect "first prompt: the secret" "$(is_enrol_message "$(sed -n 1p "$DIR/login.err")")" yes
	SHOWN+=("$(secret_of "$(sed -n 1p "$DIR/login.err")")")
	tf_expect "second prompt" "$(sed -n 2p "$DIR/login.err")" "$(retry 2)"
	tf_expect "third prompt" "$(sed -n 3p "$DIR/login.err")" "$(retry 1)"
	tf_expect "nothing stored" "$(totp_state dan)" none
}

a_user_with_a_factor_is_challenged_as_before() {
	tf_round1 tom "$PW"
	tf_expect "prompt" "$R_MSG" "$CHALLENGE"
	tf_round1 tom wrong
	tf_expect_reject "wrong password: no secret"
}

# A confirmed factor this server cannot use (an SMS number, no sms { } here)
# is no reason to enrol another: whoever has the password would hold it.
a_user_whose_factor_this_server_cannot_use_is_not_offered_a_secret() {
	tf_admin user set sam --phone +441234567890 >/dev/null || tf_expect "phone set" no yes
	tf_round1 sam "$PW"
	tf_expect "no secret offered" "$(is_enrol_message "$R_MSG")" no
	tf_expect_reject "password alone"
	tf_expect "nothing enrolled" "$(totp_state sam)" none
}

secret_is_never_logged() {
	local s grouped found=no
	tf_expect "secrets collected" "$([ "${#SHOWN[@]}" -ge 5 ] && echo yes)" yes
	for s in "${SHOWN[@]}"; do
		[ -n "$s" ] || continue
		grouped=$(printf '%s' "$s" | sed 's/..../& /g; s/ $//')
		if grep -qF -e "$s" -e "$grouped" "$(LOG)"; then found=yes; fi
	done
	tf_expect "a secret in radius.log" "$found" no
}

# restart_with LINES: radiusd again, enrol_* lines replaced by LINES.
restart_with() {
	tf_server_stop
	awk -v extra="$1" '
		/^[ \t]*enrol_(at_login|message)[ \t]*=/ { next }
		!done && /^twofa \{/ { print; print extra; done = 1; next }
		{ print }' "$(MODCONF)" > "$(MODCONF).new"
	cat "$(MODCONF).new" > "$(MODCONF)" && rm -f "$(MODCONF).new"
	twofa_start_radiusd "$DIR/server" 2>/dev/null
}

enrol_at_login_no_rejects_as_before() {
	restart_with "" || { tf_expect "radiusd starts" no yes; return; }
	tf_round1 eve "$PW"
	tf_expect_reject "no factor, enrol_at_login = no"
	tf_expect "nothing stored" "$(totp_state eve)" none
}

message_that_cannot_hold_the_secret_refuses_to_start() {
	local long
	long=$(printf 'x%.0s' $(seq 1 220))
	for conf in "enrol_message = \"Scan the QR code\"" "enrol_message = \"$long {secret}\""; do
		if restart_with "enrol_at_login = yes
	$conf"; then
			tf_expect "radiusd with $conf" started "refused to start"
			tf_server_stop
			continue
		fi
		wait "$RADIUSD_PID" 2>/dev/null; RADIUSD_PID=
		tf_expect "says why" "$(grep -c 'enrol_message must hold' "$(LOG)")" 1
	done
}

tf_server_setup enrol "enrol_at_login = yes"
trap tf_server_stop EXIT
tf_run enrols_at_first_login_and_the_code_is_used
tf_run wrong_code_asks_again_without_the_secret
tf_run no_confirmation_stores_nothing
tf_run twofa_login_shows_the_secret
tf_run a_user_with_a_factor_is_challenged_as_before
tf_run a_user_whose_factor_this_server_cannot_use_is_not_offered_a_secret
tf_run secret_is_never_logged
tf_run enrol_at_login_no_rejects_as_before
tf_run message_that_cannot_hold_the_secret_refuses_to_start
