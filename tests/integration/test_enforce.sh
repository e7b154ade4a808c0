#!/usr/bin/env bash
#
# enforce = required | optional through a real radiusd: who the password
# alone lets in, the reminder an optional user gets, the deprecated
# require that still works, the configurations radiusd refuses, and a
# re-challenge after a wrong code that says so (retry_message).
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse
REMINDER="Please set up a second factor: ask the help desk"
CHALLENGE="Enter the 6-digit code from your authenticator app"
# retry_message's default, with {attempts} replaced
retry() { printf 'Wrong code. Enter the 6-digit code from your authenticator app (attempts left: %s)' "$1"; }

declare -A SECRET
USERS_CSV="nora,$PW,"$'\n'	# no second factor
USERS_CSV+="sam,$PW,"$'\n'	# an SMS factor only (set below); this server has no sms { }
USERS_CSV+="niue,$PW,"$'\n'	# an SMS factor whose number this version refuses (set below)
USERS_CSV+="obrien,$PW,"$'\n'	# an email factor whose address this version refuses (set below)
for u in tom rita lena; do
	SECRET[$u]=$(tf_secret)
	USERS_CSV+="$u,$PW,${SECRET[$u]}"$'\n'
done

LOG() { printf '%s\n' "$DIR/server/log/radius.log"; }
MODCONF() { printf '%s\n' "$DIR/server/raddb/mods-available/twofa"; }

# logged PATTERN: "yes" if radiusd's log has a line matching PATTERN (ERE).
logged() { grep -qE -- "$1" "$(LOG)" && echo yes || echo no; }

# restart_with LINES: radiusd again, its module config's own enforce,
# require, optional_reminder, password_source and busy_timeout lines removed, LINES at
# the top of the twofa section instead.
# Returns radiusd's start-up status.
restart_with() {
	tf_server_stop
	# Always from the config as set up, so that no earlier call's lines stay.
	[ -f "$(MODCONF).orig" ] || cp -p "$(MODCONF)" "$(MODCONF).orig"
	awk -v extra="$1" '
		/^[ \t]*(enforce|require|optional_reminder|password_source|busy_timeout)[ \t]*=/ { next }
		!done && /^twofa \{/ { print; print extra; done = 1; next }
		{ print }' "$(MODCONF).orig" > "$(MODCONF)"
	twofa_start_radiusd "$DIR/server" 2>/dev/null
}

# refuses_to_start WHAT LINES: radiusd exits at start-up; the log is left to grep.
refuses_to_start() {
	if restart_with "$2"; then
		tf_expect "$1: radiusd" started "refused to start"
		tf_server_stop
		return 1
	fi
	wait "$RADIUSD_PID" 2>/dev/null; RADIUSD_PID=
	return 0
}

# --- enforce = optional --------------------------------------------------

optional_user_without_factor_gets_accept_with_reminder() {
	tf_round1 nora "$PW"
	tf_expect "password alone" "$R_CODE" "Access-Accept"
	tf_expect "reminder" "$R_MSG" "$REMINDER"
	tf_round1 nora "wrong"
	tf_expect_reject "wrong password"
}

optional_user_with_factor_is_still_challenged() {
	tf_round1 tom "$PW"
	tf_expect "round 1" "$R_CODE" "Access-Challenge"
	tf_expect "first prompt" "$R_MSG" "$CHALLENGE"
	tf_round2 tom "$PW" "$R_STATE"
	tf_expect "the password again instead of the code" "$R_CODE" "Access-Challenge"
	tf_round2 tom "x" "$R_STATE"
	tf_expect "no code" "$R_CODE" "Access-Challenge"
	tf_round2 tom "x" "$R_STATE"
	tf_expect_reject "no code, attempts used up"
	tf_wait_fresh_step
	tf_round1 tom "$PW"
	tf_round2 tom "$(tf_code "${SECRET[tom]}")" "$R_STATE"
	tf_expect "with the code" "$R_CODE" "Access-Accept"
	tf_expect "no reminder for a user with a factor" "$R_MSG" ""
}

# A confirmed factor this server cannot use (an SMS number, and no sms { }
# here: another server's config, or a gateway taken out) is a factor all
# the same: not "no second factor on file", so not the password alone.
optional_user_whose_factor_this_server_cannot_use_is_rejected() {
	tf_admin user set sam --phone +441234567890 >/dev/null || tf_expect "phone set" no yes
	tf_round1 sam "$PW"
	tf_expect_reject "password alone"
	tf_expect "says why" "$(logged 'sam.*holds .*sms.* this server cannot')" yes
}

# A confirmed factor whose address no method takes (stored by another
# version or tool: a 7-digit number, a quote in an address) is a factor
# all the same: the login is refused, never let in on the password alone.
optional_user_whose_stored_address_is_refused_is_rejected() {
	tf_admin user set niue --phone +441234567890 >/dev/null || tf_expect "phone set" no yes
	tf_admin user set obrien --email obrien@example.org >/dev/null || tf_expect "email set" no yes
	sqlite3 "$STORE" "UPDATE factors SET address = '+6831234' WHERE user_id = (SELECT id FROM users WHERE name = 'niue');
		UPDATE factors SET address = 'o''brien@example.org' WHERE user_id = (SELECT id FROM users WHERE name = 'obrien')"
	tf_round1 niue "$PW"
	tf_expect_reject "number refused: password alone"
	tf_expect "says why (sms)" "$(logged 'niue.*stored sms factor is malformed')" yes
	tf_round1 obrien "$PW"
	tf_expect_reject "address refused: password alone"
	tf_expect "says why (email)" "$(logged 'obrien.*stored email factor is malformed')" yes
}

# attempts = 3: the first prompt, then "2 left", then "1 left", then a reject.
wrong_code_is_rechallenged_with_the_retry_message() {
	tf_round1 rita "$PW"
	tf_expect "first prompt" "$R_MSG" "$CHALLENGE"
	tf_round2 rita 000000 "$R_STATE"
	tf_expect "first wrong code" "$R_CODE" "Access-Challenge"
	tf_expect "first retry prompt" "$R_MSG" "$(retry 2)"
	tf_round2 rita 000000 "$R_STATE"
	tf_expect "second wrong code" "$R_CODE" "Access-Challenge"
	tf_expect "second retry prompt" "$R_MSG" "$(retry 1)"
	tf_round2 rita 000000 "$R_STATE"
	tf_expect_reject "third wrong code"
}

# tools/twofa-login shows each challenge's Reply-Message on stderr.
twofa_login_shows_a_different_second_prompt() {
	local out
	printf '%s\n' "$RADIUS_SECRET" > "$DIR/secret"; chmod 0600 "$DIR/secret"
	tf_wait_fresh_step
	out=$(printf '%s\n%s\n%s\n' "$PW" 000000 "$(tf_code "${SECRET[lena]}")" |
		"$TOP/tools/twofa-login" -S "$DIR/secret" -s "127.0.0.1:$PORT" lena 2> "$DIR/login.err")
	tf_expect "result" "$out" "Access-Accept"
	tf_expect "prompts shown" "$(wc -l < "$DIR/login.err")" 2
	tf_expect "first prompt" "$(sed -n 1p "$DIR/login.err")" "$CHALLENGE"
	tf_expect "second prompt" "$(sed -n 2p "$DIR/login.err")" "$(retry 2)"
	out=$(printf '%s\n' "$PW" | "$TOP/tools/twofa-login" -S "$DIR/secret" -s "127.0.0.1:$PORT" nora 2>/dev/null)
	tf_expect "reminder shown" "$out" "Access-Accept: $REMINDER"
}

no_deprecation_warning_without_require() {
	tf_expect "warns" "$(logged 'require.*deprecated')" no
}

# --- enforce = required (the default) ------------------------------------

required_rejects_user_without_factor() {
	restart_with "optional_reminder = \"$REMINDER\"" || { tf_expect "radiusd starts" no yes; return; }
	tf_expect "says enforce" "$(logged 'enforce required')" yes
	tf_round1 nora "$PW"
	tf_expect_reject "password alone"
	tf_round1 tom "$PW"
	tf_expect "user with a factor" "$R_CODE" "Access-Challenge"
}

# --- require, deprecated ---------------------------------------------------

deprecated_require_no_behaves_as_optional() {
	restart_with "require = no
	optional_reminder = \"$REMINDER\"" || { tf_expect "radiusd starts" no yes; return; }
	tf_expect "deprecation warning" "$(logged 'require.*deprecated.*enforce = optional')" yes
	tf_expect "says enforce" "$(logged 'enforce optional')" yes
	tf_round1 nora "$PW"
	tf_expect "password alone" "$R_CODE" "Access-Accept"
	tf_expect "reminder" "$R_MSG" "$REMINDER"
	tf_round1 tom "$PW"
	tf_expect "user with a factor" "$R_CODE" "Access-Challenge"
}

deprecated_require_yes_behaves_as_required() {
	restart_with "require = yes" || { tf_expect "radiusd starts" no yes; return; }
	tf_expect "deprecation warning" "$(logged 'require.*deprecated.*enforce = required')" yes
	tf_round1 nora "$PW"
	tf_expect_reject "password alone"
}

# --- Debian's default site, password_source = none -------------------------

# default_site PORT: Debian's sites-available/default on stdin, with its own
# listen sections replaced by one on 127.0.0.1:PORT, eap left out, and
# twofa added as sites-available/twofa-default-merge says.
default_site() {
	awk -v port="$1" '
	/^listen \{/ { skip = 1; next }
	skip { if (/^\}/) skip = 0; next }
	/^server default \{/ { print; printf "listen {\n\ttype = auth\n\tipaddr = 127.0.0.1\n\tport = %d\n}\n", port; next }
	/^\teap \{/ { skip_eap = 1; next }
	skip_eap { if (/^\t\}/) skip_eap = 0; next }
	/^[ \t]*eap[ \t]*$/ { next }
	/^authorize \{/ { section = "authorize" }
	/^authenticate \{/ { print; print "\tAuth-Type twofa {\n\t\ttwofa\n\t}"; next }
	/^post-auth \{/ { section = "post-auth"; print; print "\ttwofa"; next }
	section == "post-auth" && /^\tPost-Auth-Type REJECT \{/ { print; print "\t\ttwofa"; next }
	/^\}/ { if (section == "authorize") print "\ttwofa"; section = "" }
	{ print }
	'
}

# pap checks the password; the default site's post-auth (session-state
# copy, exec, remove_reply_message_if_eap) keeps the reminder, for a user
# without a factor in the store and for one the store does not know.
default_site_keeps_the_reminder() {
	local raddb=$DIR/server/raddb u
	tf_server_stop
	rm -f "$raddb"/sites-enabled/*
	default_site "$PORT" < /etc/freeradius/3.0/sites-available/default > "$raddb/sites-enabled/default"
	for u in nora tom outsider; do
		printf '%s\tCleartext-Password := "%s"\n\n' "$u" "$PW"
	done > "$raddb/mods-config/files/authorize"
	chown -R root:freerad "$raddb"; chmod -R g+rX,o-w "$raddb"
	restart_with "enforce = optional
	password_source = none
	optional_reminder = \"$REMINDER\"" || { tf_expect "radiusd starts" no yes; return; }
	tf_round1 nora "$PW"
	tf_expect "no factor: reply" "$R_CODE" "Access-Accept"
	tf_expect "no factor: reminder" "$R_MSG" "$REMINDER"
	tf_round1 outsider "$PW"
	tf_expect "not in the store: reply" "$R_CODE" "Access-Accept"
	tf_expect "not in the store: reminder" "$R_MSG" "$REMINDER"
	tf_round1 nora "wrong"
	tf_expect_reject "wrong password"
	tf_round1 tom "$PW"
	tf_expect "user with a factor" "$R_CODE" "Access-Challenge"
	tf_expect "user with a factor: prompt" "$R_MSG" "$CHALLENGE"
}

# --- configurations radiusd refuses ---------------------------------------

require_and_enforce_together_refuse_to_start() {
	refuses_to_start "require and enforce" "require = no
	enforce = optional" || return
	tf_expect "says why" "$(logged 'require.*deprecated.*enforce.*both set')" yes
	refuses_to_start "require = yes and enforce = required" "require = yes
	enforce = required" || return
	tf_expect "says why, same values" "$(logged 'require.*deprecated.*enforce.*both set')" yes
}

unknown_enforce_value_refuses_to_start() {
	refuses_to_start "enforce = sometimes" "enforce = sometimes" || return
	tf_expect "names the value" "$(logged 'enforce must be "required" or "optional", not "sometimes"')" yes
	tf_expect "names the file and line" "$(logged 'twofa\[[0-9]+\]: enforce must')" yes
}

# --- the store's URL and the SQLite backend's own settings ---------------

store_url_names_the_backend() {
	restart_with "store = sqlite:$STORE
	enforce = optional" || { tf_expect "sqlite:PATH starts" no yes; return; }
	tf_round1 nora "$PW"
	tf_expect "sqlite:PATH: the same store" "$R_CODE" "Access-Accept"
	refuses_to_start "mysql:// (no such backend)" "store = mysql://db.example.org/twofa" || return
	tf_expect "says why" "$(logged 'mysql://db.example.org/twofa: no backend for this URL')" yes
	tf_expect "a clean refusal" "$(logged 'Instantiation failed for module "twofa"')" yes
	refuses_to_start "a password in a postgresql:// URL" "store = \"postgresql://twofa:pw@127.0.0.1:1/twofa\"" || return
	tf_expect "says where it goes instead" "$(logged 'password in it would be shown.*password_file')" yes
}

deprecated_busy_timeout_still_works() {
	restart_with "busy_timeout = 500
	enforce = optional" || { tf_expect "radiusd starts" no yes; return; }
	tf_expect "deprecation warning" "$(logged 'busy_timeout.*deprecated.*sqlite')" yes
	tf_round1 nora "$PW"
	tf_expect "logins work" "$R_CODE" "Access-Accept"
	refuses_to_start "both busy_timeouts" "busy_timeout = 500
	sqlite {
		busy_timeout = 700
	}" || return
	tf_expect "says why" "$(logged 'busy_timeout.*deprecated.*sqlite.*set too')" yes
}

tf_server_setup enforce "enforce = optional
	optional_reminder = \"$REMINDER\""
trap tf_server_stop EXIT
tf_run optional_user_without_factor_gets_accept_with_reminder
tf_run optional_user_with_factor_is_still_challenged
tf_run optional_user_whose_factor_this_server_cannot_use_is_rejected
tf_run optional_user_whose_stored_address_is_refused_is_rejected
tf_run wrong_code_is_rechallenged_with_the_retry_message
tf_run twofa_login_shows_a_different_second_prompt
tf_run no_deprecation_warning_without_require
tf_run required_rejects_user_without_factor
tf_run deprecated_require_no_behaves_as_optional
tf_run deprecated_require_yes_behaves_as_required
tf_run default_site_keeps_the_reminder
tf_run require_and_enforce_together_refuse_to_start
tf_run unknown_enforce_value_refuses_to_start
tf_run store_url_names_the_backend
tf_run deprecated_busy_timeout_still_works
