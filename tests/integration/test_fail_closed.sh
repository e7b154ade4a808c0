#!/usr/bin/env bash
#
# Fail closed.  rlm_twofa merged into Debian's stock default site, as an
# admin would: no Access-Accept leaves without the second factor, whichever
# Auth-Type checked the first (pap, chap, mschap).  With password_source =
# none, a site that forgets the password check lets nobody in.  radiusd
# refuses a server that calls twofa but leaves it out of post-auth.  Every
# Access-Accept, -Reject and -Challenge carries a Message-Authenticator.
#
set -u
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3		# Debian's, which has python3-pyrad
MSCHAPV2_CLIENT=$TOP/tests/integration/mschapv2_client.py
PW=correct-horse

# Users with a confirmed TOTP, one per first-factor path, so that replay
# protection in one test does not get in the way of another.  Each also
# has a Cleartext-Password in the users file.  noenrol is in the store
# with no second factor; outsider is in the users file only.
declare -A SECRET
TOTP_USERS="papuser chapuser msuser wire acceptall codeonly anypass shipped casey ruled proxied"
USERS_CSV=
for u in $TOTP_USERS; do
	SECRET[$u]=$(tf_secret)
	USERS_CSV+="$u,$PW,${SECRET[$u]}"$'\n'
done
USERS_CSV+="noenrol,$PW,"$'\n'
SECRET[forced]=$(tf_secret)			# in the store only: Auth-Type twofa checks the password
USERS_CSV+="forced,$PW,${SECRET[forced]}"$'\n'
FILES_USERS="$TOTP_USERS noenrol outsider"

# Every reply any test received: "CODE yes|no" (Message-Authenticator).
REPLIES=$TF_WORK/fail_closed_replies
: > "$REPLIES"

# The python client needs Debian's pyrad and pycryptodome.
fc_install_python_packages() {
	local packages="python3-pyrad python3-pycryptodome"
	dpkg -s $packages >/dev/null 2>&1 && return 0
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq $packages >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get install -y -qq $packages >/dev/null 2>&1; } ||
		die "cannot install $packages"
}

# fc_merge_default_site PORT [GATE [REJECT]] < stock default > merged: the
# merge the README asks of an admin.  twofa last in authorize (after pap),
# its Auth-Type in authenticate, first in post-auth (unless GATE is no) and
# in Post-Auth-Type REJECT (unless REJECT is no).  The listeners are
# replaced with 127.0.0.1 auth on PORT and acct on PORT+1; eap is left out
# (it needs certificates the copy does not have).
fc_merge_default_site() {
	awk -v port="$1" -v gate="${2:-yes}" -v reject="${3:-yes}" '
	/^listen \{/ { skip = 1; next }
	skip { if (/^\}/) skip = 0; next }
	/^server default \{/ {
		print
		printf "listen {\n\ttype = auth\n\tipaddr = 127.0.0.1\n\tport = %d\n}\n", port
		printf "listen {\n\ttype = acct\n\tipaddr = 127.0.0.1\n\tport = %d\n}\n", port + 1
		next
	}
	/^\teap \{/ { skip_eap = 1; next }
	skip_eap { if (/^\t\}/) skip_eap = 0; next }
	/^[ \t]*eap[ \t]*$/ { next }
	/^authorize \{/ { section = "authorize" }
	/^authenticate \{/ { print; print "\tAuth-Type twofa {\n\t\ttwofa\n\t}"; next }
	/^post-auth \{/ { section = "post-auth"; print; if (gate == "yes") print "\ttwofa"; next }
	section == "post-auth" && /^\tPost-Auth-Type REJECT \{/ { in_reject = 1 }
	in_reject && /^\t\}/ { if (reject == "yes") print "\t\ttwofa"; in_reject = 0 }
	/^\}/ { if (section == "authorize") print "\ttwofa"; section = "" }
	{ print }
	'
}

# fc_users_file USER...: users-file entries with the known-good password;
# acceptall's entry accepts without checking any.
fc_users_file() {
	local u
	for u in "$@"; do
		if [ "$u" = acceptall ]; then
			printf '%s\tAuth-Type := Accept\n\n' "$u"
		else
			printf '%s\tCleartext-Password := "%s"\n\n' "$u" "$PW"
		fi
	done
}

# fc_station_rule: the site's own access rule, checked before any user's
# entry: a station it refuses is refused whoever logs in, in any round.
BLOCKED_STATION=02-00-00-00-00-66
fc_station_rule() {
	printf 'DEFAULT\tCalling-Station-Id == "%s", Auth-Type := Reject\n\n' "$BLOCKED_STATION"
}

# fc_setup NAME PASSWORD_SOURCE: the store, a raddb with only sites-enabled
# replaced by the caller (fc_site_*), the users file.  Sets DIR, STORE,
# KEY, PORT, RADDB.
fc_setup() {
	DIR=$TF_WORK/fail_closed_$1
	rm -rf "$DIR"; mkdir -p "$DIR"
	STORE=$DIR/store/twofa.db
	KEY=$DIR/store/twofa.key
	twofa_init_store "$DIR/store"
	printf '%s' "$USERS_CSV" | "$TWOFA_ADMIN" -s "$STORE" -k "$KEY" user import - >/dev/null ||
		die "user import failed"
	PORT=$(twofa_free_port)
	twofa_make_raddb "$DIR/server" "$PORT" "$STORE" "$KEY" "password_source = $2"
	RADDB=$DIR/server/raddb
	rm -f "$RADDB"/sites-enabled/*
	# The log is at debug level: no password or code in it.
	sed -i -E 's/^#?\s*suppress_secrets\s*=.*/\tsuppress_secrets = yes/' "$RADDB/radiusd.conf"
	{ fc_station_rule; fc_users_file $FILES_USERS; cat "$RADDB/mods-config/files/authorize"; } > "$DIR/users"
	mv "$DIR/users" "$RADDB/mods-config/files/authorize"
}

# fc_fix_perms: radiusd reads the raddb as freerad.
fc_fix_perms() {
	chown -R root:freerad "$RADDB"
	chmod -R g+rX,o-w "$RADDB"
}

# fc_start [radiusd args]: start radiusd with debug output (the log shows
# which Auth-Type ran), or die.
fc_start() {
	fc_fix_perms
	twofa_start_radiusd "$DIR/server" -xx "$@" || die "radiusd failed to start"
}

LOG_MARK=0
# fc_mark: remember where the log ends; fc_log_since prints what came after.
fc_mark() { LOG_MARK=$(stat -c %s "$DIR/server/log/radius.log"); }
fc_log_since() { tail -c +"$((LOG_MARK + 1))" "$DIR/server/log/radius.log"; }

# fc_logged WHAT PATTERN: the log since fc_mark has a line matching PATTERN.
fc_logged() {
	local n
	n=$(fc_log_since | grep -cE -- "$2")
	tf_expect "$1" "$([ "$n" -gt 0 ] && echo logged || echo "not logged")" logged
}

# fc_send ATTRS: tf_send, that also notes whether the reply carried a
# Message-Authenticator (R_MA), records that for the last test, and sets
# R_ATTRS to the names of the reply's attributes, sorted.
fc_send() {
	local out received
	out=$(printf '%s\nMessage-Authenticator = 0x00\n' "$1" |
		radclient -x -r 1 -t 4 -S "$RADIUS_SECRET_FILE" "127.0.0.1:$PORT" auth 2>&1)
	received=$(printf '%s\n' "$out" | sed -n '/^Received/,$p')
	R_CODE=$(printf '%s\n' "$received" | sed -n 's/^Received \(Access-[A-Za-z]*\).*/\1/p' | tail -n 1)
	R_STATE=$(printf '%s\n' "$received" | sed -n 's/^[[:space:]]*State = \(0x[0-9a-fA-F]*\)$/\1/p' | tail -n 1)
	R_MSG=$(printf '%s\n' "$received" | sed -n 's/^[[:space:]]*Reply-Message = "\(.*\)"$/\1/p' | tail -n 1)
	R_ATTRS=$(printf '%s\n' "$received" | sed -n 's/^[[:space:]]*\([A-Za-z0-9-]*\) = .*/\1/p' | sort | tr '\n' ' ')
	R_MA=no
	printf '%s\n' "$received" | grep -qE '^[[:space:]]*Message-Authenticator = 0x[0-9a-fA-F]{32}$' && R_MA=yes
	[ -n "$R_CODE" ] || R_CODE=none
	[ "$R_CODE" = none ] || echo "$R_CODE $R_MA" >> "$REPLIES"
}

fc_pap() { fc_send "User-Name = $(tf_quote "$1")
User-Password = $(tf_quote "$2")"; }

# fc_code_answer USER CODE STATE: the code as User-Password, with the State.
fc_code_answer() { fc_send "User-Name = $(tf_quote "$1")
User-Password = $(tf_quote "$2")
State = $3"; }

# radclient turns a cleartext CHAP-Password into a CHAP response.
fc_chap() { fc_send "User-Name = $(tf_quote "$1")
CHAP-Password = $(tf_quote "$2")"; }

# fc_mschapv2 USER PASSWORD: an MS-CHAPv2 request; sets R_CODE, R_STATE.
fc_mschapv2() {
	local out ma
	out=$(printf '%s\n%s\n' "$RADIUS_SECRET" "$2" | "$PYTHON" "$MSCHAPV2_CLIENT" 127.0.0.1 "$PORT" "$1" 2>&1)
	R_CODE=$(printf '%s\n' "$out" | sed -n 's/^code=//p')
	R_STATE=$(printf '%s\n' "$out" | sed -n 's/^state=//p')
	ma=$(printf '%s\n' "$out" | sed -n 's/^message_authenticator=//p')
	[ -n "$R_CODE" ] || { R_CODE=none; tf_expect "mschapv2 client" "$out" "a reply"; }
	R_MA=no; [ "$ma" = valid ] && R_MA=yes
	[ "$R_CODE" = none ] || echo "$R_CODE $R_MA" >> "$REPLIES"
}

# fc_not_accept WHAT: the reply is anything but an Access-Accept.
fc_not_accept() {
	[ "$R_CODE" != Access-Accept ] || tf_expect "$1" "$R_CODE" "no Access-Accept"
}

# fc_code_round USER: answer the challenge in R_STATE with the user's code.
fc_code_round() {
	tf_wait_fresh_step
	fc_code_answer "$1" "$(tf_code "${SECRET[$1]}")" "$R_STATE"
}

# --- 1. the stock default site, merged ------------------------------------

# fc_site_default [GATE [REJECT]]
fc_site_default() {
	fc_merge_default_site "$PORT" "$@" < /etc/freeradius/3.0/sites-available/default \
		> "$RADDB/sites-enabled/default"
}

pap_password_alone_is_challenged_and_only_the_right_code_accepts() {
	fc_mark
	fc_pap papuser "$PW"
	tf_expect "right password" "$R_CODE" Access-Challenge
	fc_logged "Auth-Type PAP ran" "Found Auth-Type = PAP"
	fc_logged "pap accepted the password" "\[pap\] = ok"
	fc_code_answer papuser 000000 "$R_STATE"
	tf_expect "wrong code" "$R_CODE" Access-Challenge
	fc_code_round papuser
	tf_expect "right code" "$R_CODE" Access-Accept

	fc_pap papuser "not-the-password"
	tf_expect_reject "wrong password"
}

chap_password_alone_is_challenged_and_only_the_right_code_accepts() {
	fc_mark
	fc_chap chapuser "$PW"
	tf_expect "right CHAP password" "$R_CODE" Access-Challenge
	fc_logged "Auth-Type CHAP ran" "Found Auth-Type = CHAP"
	fc_logged "chap accepted the password" "\[chap\] = ok"
	fc_code_round chapuser
	tf_expect "code" "$R_CODE" Access-Accept

	fc_mark
	fc_chap chapuser "not-the-password"
	tf_expect_reject "wrong CHAP password"
	fc_logged "chap rejected the password" "\[chap\] = reject"
}

mschapv2_password_alone_is_challenged_and_only_the_right_code_accepts() {
	# A wrong password first: the client's responses are checked for real.
	fc_mark
	fc_mschapv2 msuser "not-the-password"
	tf_expect "wrong MS-CHAPv2 password" "$R_CODE" Access-Reject
	fc_logged "mschap rejected the response" "MS-CHAP2-Response is incorrect"

	fc_mark
	fc_mschapv2 msuser "$PW"
	tf_expect "right MS-CHAPv2 password" "$R_CODE" Access-Challenge
	fc_logged "Auth-Type MS-CHAP ran" "Found Auth-Type = (MS-CHAP|mschap)$"
	fc_logged "mschap accepted the response" "\[mschap\] = ok"
	[ -n "$R_STATE" ] || { tf_expect "challenge State" none "a State"; return; }
	fc_code_round msuser
	tf_expect "code" "$R_CODE" Access-Accept
}

first_factor_alone_is_rejected_when_a_second_is_required() {
	local u
	for u in noenrol outsider; do
		fc_mark
		fc_pap "$u" "$PW"
		tf_expect_reject "$u by pap"
		fc_logged "$u: pap accepted the password" "\[pap\] = ok"
		fc_chap "$u" "$PW"
		tf_expect_reject "$u by chap"
		fc_mschapv2 "$u" "$PW"
		tf_expect "$u by mschapv2" "$R_CODE" Access-Reject
	done
}

# The pending challenge (the sealed secret) lives in session-state, and
# the stock post-auth copies session-state into the reply: it must never
# reach the wire, in the challenge or in the Access-Accept.
no_reply_carries_the_pending_challenge() {
	fc_pap wire "$PW"
	tf_expect "challenge" "$R_CODE" Access-Challenge
	tf_expect "challenge attributes" "$R_ATTRS" "Message-Authenticator Prompt Reply-Message State "
	fc_code_round wire
	tf_expect "accept" "$R_CODE" Access-Accept
	tf_expect "accept attributes" "$R_ATTRS" "Message-Authenticator "
}

# A users file that says Auth-Type := Accept checked no first factor.
auth_type_accept_is_no_first_factor() {
	fc_pap acceptall "anything"
	tf_expect_reject "any password"
	fc_pap acceptall "$(tf_code "${SECRET[acceptall]}")"
	tf_expect_reject "the code as password"
}

# The site's Auth-Type := Reject holds in round two as in round one: the
# answer to our challenge is no reason to override it.
site_reject_holds_in_round_two() {
	fc_send "User-Name = \"ruled\"
User-Password = \"$PW\"
Calling-Station-Id = \"$BLOCKED_STATION\""
	tf_expect_reject "round one from the refused station"
	fc_pap ruled "$PW"
	tf_expect "round one" "$R_CODE" Access-Challenge
	tf_wait_fresh_step
	fc_send "User-Name = \"ruled\"
User-Password = \"$(tf_code "${SECRET[ruled]}")\"
State = $R_STATE
Calling-Station-Id = \"$BLOCKED_STATION\""
	tf_expect_reject "round two from the refused station, right code"
}

# RFC 2865 5.33: every reply carries the request's Proxy-State, unmodified
# (a proxy in front matches its replies by it): rejects and challenges too.
proxy_state_comes_back_in_every_reply() {
	local ps="Proxy-State = 0x74776f6661"
	fc_send "User-Name = \"proxied\"
User-Password = \"not-the-password\"
$ps"
	tf_expect "wrong password" "$R_CODE" Access-Reject
	tf_expect "wrong password: Proxy-State" "$(tr " " "\n" <<< "$R_ATTRS" | grep -cx Proxy-State)" 1
	fc_send "User-Name = \"proxied\"
User-Password = \"$PW\"
$ps"
	tf_expect "right password" "$R_CODE" Access-Challenge
	tf_expect "challenge: Proxy-State" "$(tr " " "\n" <<< "$R_ATTRS" | grep -cx Proxy-State)" 1
	fc_send "User-Name = \"proxied\"
User-Password = \"000000\"
State = $R_STATE
$ps"
	tf_expect "wrong code" "$R_CODE" Access-Challenge
	tf_expect "second challenge: Proxy-State" "$(tr " " "\n" <<< "$R_ATTRS" | grep -cx Proxy-State)" 1
	tf_wait_fresh_step
	fc_send "User-Name = \"proxied\"
User-Password = \"$(tf_code "${SECRET[proxied]}")\"
State = $R_STATE
$ps"
	tf_expect "right code" "$R_CODE" Access-Accept
	tf_expect "accept: Proxy-State" "$(tr " " "\n" <<< "$R_ATTRS" | grep -cx Proxy-State)" 1
}

fc_default_site_run() {
	local source=$1 t
	fc_setup "default_$source" "$source"
	fc_site_default
	fc_start
	for t in pap_password_alone_is_challenged_and_only_the_right_code_accepts \
		chap_password_alone_is_challenged_and_only_the_right_code_accepts \
		mschapv2_password_alone_is_challenged_and_only_the_right_code_accepts \
		first_factor_alone_is_rejected_when_a_second_is_required \
		no_reply_carries_the_pending_challenge \
		auth_type_accept_is_no_first_factor \
		site_reject_holds_in_round_two \
		proxy_state_comes_back_in_every_reply; do
		fc_run "$t" "default site, password_source = $source"
	done
	twofa_stop_radiusd
}

# --- 2. password_source = none: a site without the password check ---------

# The old pattern: nothing checks the password in round one.
fc_site_forgot_password_check() {
	cat > "$RADDB/sites-enabled/forgot" <<SITE
server forgot {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $PORT
	}
	authorize {
		files
		twofa
	}
	authenticate {
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

# The shipped site with what its comments ask for password_source = none:
# files and pap before twofa in authorize, Auth-Type PAP in authenticate.
fc_site_shipped_none() {
	sed -E -e "s#^(\s*port\s*=).*#\1 $SHIPPED_PORT#" -e "s#^(\s*ipaddr\s*=\s*)\*#\1127.0.0.1#" \
		"$TOP/raddb/sites-available/twofa" |
	awk '
	/^\tauthorize \{/ { section = "authorize" }
	/^\tauthenticate \{/ { print; print "\t\tAuth-Type PAP {\n\t\t\tpap\n\t\t}"; next }
	section == "authorize" && /^\t\ttwofa$/ { print "\t\tfiles\n\t\tpap" }
	/^\t\}/ { section = "" }
	{ print }
	' > "$RADDB/sites-enabled/twofa"
}

# fc_try_with_code USER PASSWORD: round one, then the right code for
# every challenge: no Access-Accept, ever.
fc_try_with_code() {
	local what=$1 user=$2 password=$3 round
	fc_pap "$user" "$password"
	fc_not_accept "$what: round one"
	for round in 1 2 3; do
		[ "$R_CODE" = Access-Challenge ] || break
		fc_code_answer "$user" "$(tf_code "${SECRET[$user]}" $(( (round - 1) * 30 )))" "$R_STATE"
		fc_not_accept "$what: code answer $round"
	done
}

code_or_any_password_alone_never_gets_in_when_no_module_checks_the_password() {
	local PORT=$FORGOT_PORT
	tf_wait_fresh_step
	fc_try_with_code "the code as password" codeonly "$(tf_code "${SECRET[codeonly]}")"
	tf_expect "the code as password: reply" "$R_CODE" Access-Reject
	fc_try_with_code "any password" anypass "whatever"
	tf_expect "any password: reply" "$R_CODE" Access-Reject
	fc_try_with_code "the right password" anypass "$PW"
	tf_expect "right password: reply" "$R_CODE" Access-Reject
}

shipped_site_with_pap_challenges_only_after_the_right_password() {
	local PORT=$SHIPPED_PORT
	fc_mark
	fc_pap shipped "not-the-password"
	tf_expect "wrong password" "$R_CODE" Access-Reject
	fc_logged "pap rejected the password" "\[pap\] = reject"
	fc_pap shipped "$PW"
	tf_expect "right password" "$R_CODE" Access-Challenge
	fc_code_round shipped
	tf_expect "code" "$R_CODE" Access-Accept
}

fc_password_none_sites_run() {
	local t
	fc_setup none_sites none
	FORGOT_PORT=$PORT
	SHIPPED_PORT=$(twofa_free_port)
	while [ "$SHIPPED_PORT" -eq "$FORGOT_PORT" ]; do SHIPPED_PORT=$(twofa_free_port); done
	fc_site_forgot_password_check
	fc_site_shipped_none
	fc_start
	for t in code_or_any_password_alone_never_gets_in_when_no_module_checks_the_password \
		shipped_site_with_pap_challenges_only_after_the_right_password; do
		fc_run "$t" "password_source = none"
	done
	twofa_stop_radiusd
}

# --- 2b. enforce = optional, a first factor that ignores case (LDAP, AD) ---

# casey is enrolled in the store; the users file knows her as CASEY, as a
# directory that matches names in any case would.  Another spelling of an
# enrolled name must not read as a user with no second factor.
other_spelling_of_an_enrolled_name_is_still_challenged() {
	fc_pap CASEY "$PW"
	tf_expect "CASEY, right password" "$R_CODE" Access-Challenge
	tf_wait_fresh_step
	fc_code_answer CASEY "$(tf_code "${SECRET[casey]}")" "$R_STATE"
	tf_expect "CASEY, her code" "$R_CODE" Access-Accept
	fc_pap CaSeY "wrong"
	tf_expect_reject "CaSeY, wrong password"
}

fc_optional_case_run() {
	fc_setup optional_case none
	sed -i -E 's/^(\s*enforce\s*=).*/\1 optional/' "$RADDB/mods-available/twofa"
	printf 'CASEY\tCleartext-Password := "%s"\n\n' "$PW" > "$DIR/users"
	cat "$RADDB/mods-config/files/authorize" >> "$DIR/users"
	mv "$DIR/users" "$RADDB/mods-config/files/authorize"
	fc_site_default
	fc_start
	fc_run other_spelling_of_an_enrolled_name_is_still_challenged "enforce = optional"
	twofa_stop_radiusd
}

# --- 2c. a site that makes every reply an Access-Accept --------------------

# control:Response-Packet-Type := Access-Accept turns the reply to an
# Access-Accept before post-auth, whatever rejected the request: a wrong
# password rejected by this module is still a reject, and counts as one.
# (One that pap rejected reaches post-auth as pap's Accept: the site's
# override hides it from every module.)
reply_type_forced_to_accept_is_still_a_reject() {
	fc_pap forced "not-the-password"
	tf_expect_reject "wrong password, reply type forced"
	tf_expect "the failure counted" "$(tf_admin --json user show forced | sed -n 's/.*"password_failures":\([0-9]*\).*/\1/p')" 1
	tf_expect "no code sent, no challenge" "$(fc_log_since | grep -c 'second factor not yet verified')" 0
}

fc_forced_accept_run() {
	fc_setup forced_accept local
	fc_site_default
	awk '/^authorize \{/ { print; print "\tupdate control {\n\t\tResponse-Packet-Type := Access-Accept\n\t}"; next } { print }' \
		"$RADDB/sites-enabled/default" > "$DIR/default.new"
	mv "$DIR/default.new" "$RADDB/sites-enabled/default"
	fc_start
	fc_mark
	fc_run reply_type_forced_to_accept_is_still_a_reject "Response-Packet-Type := Access-Accept"
	twofa_stop_radiusd
}

# --- 3. a server without twofa in post-auth -------------------------------

# fc_refuses_to_start WHAT SERVER: radiusd exits at start-up, and says why.
fc_refuses_to_start() {
	local log=$DIR/server/log/radius.log
	fc_fix_perms
	if twofa_start_radiusd "$DIR/server" 2>/dev/null; then
		tf_expect "$1: radiusd" started "refused to start"
		twofa_stop_radiusd
		return
	fi
	wait "$RADIUSD_PID" 2>/dev/null; RADIUSD_PID=
	tf_expect "$1: names the server" "$(grep -c "Virtual server \"$2\" calls twofa" "$log" | sed 's/^[1-9][0-9]*$/yes/')" yes
	tf_expect "$1: says to add twofa to post-auth" \
		"$(grep -c 'Add "twofa" as the first line of post-auth' "$log" | sed 's/^[1-9][0-9]*$/yes/')" yes
}

radiusd_refuses_a_server_without_twofa_in_post_auth() {
	fc_setup wiring local
	fc_site_default no no
	fc_refuses_to_start "no twofa in post-auth" default

	# twofa only in Post-Auth-Type REJECT: an Access-Accept never reaches it.
	fc_site_default no yes
	fc_refuses_to_start "twofa only in Post-Auth-Type REJECT" default

	# twofa in post-auth, but under a condition: not the gate either.
	fc_site_default
	awk '/^post-auth \{/ { p = 1 } p && /^\ttwofa$/ { print "\tif (&User-Name) {\n\t\ttwofa\n\t}"; p = 0; next } { print }' \
		"$RADDB/sites-enabled/default" > "$DIR/default.new"
	mv "$DIR/default.new" "$RADDB/sites-enabled/default"
	fc_refuses_to_start "twofa under an if in post-auth" default

	# twofa in post-auth, but after a module that may end the section
	# ("ok = return"): an Access-Accept would leave before the gate.
	fc_site_default
	awk '/^post-auth \{/ { print; print "\tok {\n\t\tok = return\n\t}"; next } { print }' \
		"$RADDB/sites-enabled/default" > "$DIR/default.new"
	mv "$DIR/default.new" "$RADDB/sites-enabled/default"
	fc_refuses_to_start "twofa after an ok = return in post-auth" default

	# The control: the same raddb with the gate starts.
	fc_site_default
	fc_fix_perms
	if twofa_start_radiusd "$DIR/server" 2>/dev/null; then
		twofa_stop_radiusd
	else
		tf_expect "with twofa in post-auth: radiusd" "refused to start" started
	fi
}

# --- 4. Message-Authenticator ----------------------------------------------

every_reply_carries_a_message_authenticator() {
	local code
	for code in Access-Accept Access-Reject Access-Challenge; do
		tf_expect "$code replies seen" "$(grep -c "^$code " "$REPLIES" | sed 's/^[1-9][0-9]*$/some/')" some
		tf_expect "$code replies without one" "$(grep -c "^$code no$" "$REPLIES")" 0
	done
}

# fc_run NAME CONTEXT: tf_run, with the context in the result line.
fc_run() {
	tf_failed=0; tf_why=
	"$1"
	if [ $tf_failed -eq 0 ]; then echo "ok $1 ($2)"; else echo "FAIL $1 ($2): $tf_why"; fi
}

fc_install_python_packages
trap twofa_stop_radiusd EXIT
fc_default_site_run local
fc_default_site_run none
fc_password_none_sites_run
fc_optional_case_run
fc_forced_accept_run
tf_run radiusd_refuses_a_server_without_twofa_in_post_auth
tf_run every_reply_carries_a_message_authenticator
