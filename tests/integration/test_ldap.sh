#!/usr/bin/env bash
#
# password_source = ldap through a real radiusd and a real slapd
# (slapd.sh): the directory's password then the store's TOTP code; wrong
# passwords, unknown users and injected names rejected alike; no bind for
# an empty password; TLS that must check; failover to the second server;
# a directory stopped, hung and started again under a running radiusd;
# the group rules and the reply attributes of a group; a UTF-8 name and
# password; the attributes read; twofa-admin user list --ldap, paged;
# OpenLDAP's password policy (locked, expired, reset, near expiry, grace
# logins) and a directory without it.
#
set -u
source "$(dirname "$0")/lib.sh"

tf_slapd_setup "$TF_WORK/slapd"
trap 'tf_server_stop; tf_stop_sinks; tf_slapd_stop' EXIT

PEOPLE="ou=people,$SLAPD_BASE"
LDAP_GROUPS="ou=groups,$SLAPD_BASE"
CHALLENGE="Enter the 6-digit code from your authenticator app"
# Nothing listens there: the first server of the list is down.
CLOSED_URI="ldap://127.0.0.1:$(tf_free_tcp_port)"

# alice and dave hold a TOTP factor in the store (no password there: the
# directory has it); the other directory users have no row at all.
ALICE_SECRET=$(tf_secret)
DAVE_SECRET=$(tf_secret)
USERS_CSV="alice,,$ALICE_SECRET
dave,,$DAVE_SECRET"

LOG() { printf '%s\n' "$DIR/server/log/radius.log"; }
MODCONF() { printf '%s\n' "$DIR/server/raddb/mods-available/twofa"; }
logged() { grep -qF -- "$1" "$(LOG)" && echo yes || echo no; }

# ldap_config ENFORCE LDAP-SECTION-LINES: the module's password_source,
# enforce and ldap { } section replaced.
ldap_config() {
	awk -v enforce="$1" -v section="$2" '
		/^\tldap \{$/ { skip = 1; next }
		skip && /^\t\}$/ { skip = 0; next }
		skip { next }
		/^[ \t]*password_source[ \t]*=/ { print "\tpassword_source = ldap"; next }
		/^[ \t]*enforce[ \t]*=/ { print "\tenforce = " enforce; next }
		/^\}$/ { print "\tldap {"; n = split(section, lines, "\n"); for (i = 1; i <= n; i++) print "\t" lines[i]; print "\t}" }
		{ print }' "$(MODCONF)" > "$(MODCONF).new"
	cat "$(MODCONF).new" > "$(MODCONF)" && rm -f "$(MODCONF).new"
}

# search_lines: the search way as a service account, against the slapd
# running now (its port, CA and service account).
search_lines() {
	printf '%s\n' "
	server = \"$SLAPD_URI\"
	start_tls = yes
	ca_file = \"$SLAPD_CA\"
	base_dn = \"$PEOPLE\"
	filter = \"(uid={user})\"
	bind_dn = \"$SLAPD_READER_DN\"
	bind_password = \"$(cat "$SLAPD_READER_PW_FILE")\""
}

# The search way; the first server down.
SEARCH_SECTION="
	server = \"$CLOSED_URI\"$(search_lines)
	net_timeout = 1
	timeout = 1
	pool_size = 2
	mail2_attribute = otherMailbox
	groups {
		allow = \"cn=vpn,$LDAP_GROUPS\"
		require_2fa = \"cn=2fa-required,$LDAP_GROUPS\"
		skip_2fa = \"cn=2fa-exempt,$LDAP_GROUPS\"
	}"

# The template way, over ldaps://; groups asked of the group (compare).
TEMPLATE_SECTION="
	server = \"$SLAPD_LDAPS_URI\"
	ca_file = \"$SLAPD_CA\"
	dn_template = \"uid={user},$PEOPLE\"
	timeout = 1
	net_timeout = 1
	groups {
		membership_attribute = \"\"
		allow = \"cn=vpn,$LDAP_GROUPS\"
	}"

# start_radiusd ENFORCE SECTION: radiusd again with that config, -xx so
# that the debug lines (never a value) reach the log.
start_radiusd() {
	tf_server_stop
	ldap_config "$1" "$2"
	twofa_start_radiusd "$DIR/server" -xx
}

setup() {
	DIR=$TF_WORK/ldap
	rm -rf "$DIR"; mkdir -p "$DIR"
	STORE=$DIR/store/twofa.db
	KEY=$DIR/store/twofa.key
	twofa_init_store "$DIR/store"
	printf '%s\n' "$USERS_CSV" | tf_admin user import - >/dev/null || die "user import failed"
	PORT=$(twofa_free_port)
	twofa_make_raddb "$DIR/server" "$PORT" "$STORE" "$KEY"
	# radiusd -xx prints User-Password; this shows the module's own lines never do.
	sed -i -E 's/^#[[:space:]]*suppress_secrets = no/\tsuppress_secrets = yes/' "$DIR/server/raddb/radiusd.conf"
	start_radiusd optional "$SEARCH_SECTION" || die "radiusd failed to start with password_source = ldap"
}

# --- more logins at once than connections ------------------------------------

# Every login takes a search connection, then a bind connection.  With
# one of each and many logins at once, each waits its turn for each pool
# and none waits out the timeout (a connection given back wakes a login
# waiting for one of its own pool).
logins_outnumbering_the_pools_are_all_answered() {
	local i requests=$DIR/burst.txt n=48 challenged busy
	start_radiusd optional "$(printf '%s\n' "$SEARCH_SECTION" | sed -e "\#$CLOSED_URI#d" -e 's/pool_size = 2/pool_size = 1/')" ||
		die "radiusd failed to start"
	: > "$requests"
	for i in $(seq 1 "$n"); do
		printf 'User-Name = "alice"\nUser-Password = "alice-ldap-pw"\nMessage-Authenticator = 0x00\n\n' >> "$requests"
	done
	# stdout only: its lines and stderr's, buffered apart, would split each other.
	challenged=$(radclient -p "$n" -r 1 -t 8 -f "$requests" -S "$RADIUS_SECRET_FILE" "127.0.0.1:$PORT" auth \
		2>/dev/null | grep -c "^Received Access-Challenge")
	busy=$(grep -c 'connection busy for' "$(LOG)")
	tf_expect "every login challenged" "$challenged" "$n"
	tf_expect "no login waited out a free connection" "$busy" "0"
	start_radiusd optional "$SEARCH_SECTION" || die "radiusd failed to start again"
}

# --- the search way (the first server down throughout) -------------------

ldap_password_then_totp_is_accepted() {
	local binds
	binds=$(tf_slapd_binds "uid=alice,$PEOPLE")
	tf_round1 alice alice-ldap-pw
	tf_expect "round 1" "$R_CODE" "Access-Challenge"
	tf_expect "prompt" "$R_MSG" "$CHALLENGE"
	tf_expect "alice bound" "$(tf_slapd_binds "uid=alice,$PEOPLE")" "$((binds + 1))"
	tf_wait_fresh_step
	tf_round1 alice alice-ldap-pw
	tf_round2 alice "$(tf_code "$ALICE_SECRET")" "$R_STATE"
	tf_expect "round 2" "$R_CODE" "Access-Accept"
	tf_round1 alice alice-ldap-pw
	tf_round2 alice 000000 "$R_STATE"
	tf_expect "a wrong code" "$R_CODE" "Access-Challenge"
}

first_server_down_the_second_is_used() {
	tf_expect "failover logged" "$(logged "LDAP: using server $SLAPD_URI")" yes
	tf_expect "first one tried" "$(logged "LDAP server $CLOSED_URI: cannot connect: Can't contact LDAP server")" yes
}

wrong_ldap_password_is_rejected() {
	tf_round1 alice wrong-pw
	tf_expect_reject "wrong password"
	tf_round1 alice ALICE-LDAP-PW
	tf_expect_reject "password in another case"
	tf_expect "counted in the store" "$(tf_password_failures)" "alice 2"
	tf_round1 alice alice-ldap-pw
	tf_expect "right again" "$R_CODE" "Access-Challenge"
	tf_expect "count cleared" "$(tf_password_failures)" ""
}

unknown_user_is_rejected_with_the_same_message() {
	tf_round1 nobody alice-ldap-pw
	tf_expect_reject "unknown user"
	tf_expect "said why" "$(logged 'LDAP: no entry matches (uid=nobody)')" yes
}

# Each would match admin (whose password is sent, and who needs no second
# factor under enforce = optional) if the name reached the filter as is.
filter_injection_names_match_nobody() {
	local name
	for name in '*' '*)(uid=*' 'admin)(|(uid=*' 'ad*' 'admin)(uid=admin' '*)(objectClass=*'; do
		tf_round1 "$name" admin-ldap-pw
		tf_expect_reject "name $name"
	done
	tf_expect "escaped on the wire" "$(grep -cF 'filter="(uid=admin\29\28|\28uid=\2A)"' "$SLAPD_LOG")" 1
	tf_expect "admin never bound" "$(tf_slapd_binds "uid=admin,$PEOPLE")" 0
	tf_round1 admin admin-ldap-pw
	tf_expect "admin itself" "$R_CODE" "Access-Accept"
}

# The directory finds uid=alice by other spellings too (Unicode width and
# case, insignificant spaces); the store knows her row, and her TOTP, by
# her name, ASCII case aside.  Under enforce = optional another spelling
# would find no row there and let her password alone in.
other_spellings_of_a_name_are_refused() {
	local name binds
	tf_round1 ALICE alice-ldap-pw
	tf_expect "ASCII case: her TOTP asked" "$R_CODE" "Access-Challenge"
	binds=$(tf_slapd_binds "uid=alice,$PEOPLE")
	for name in 'ａｌｉｃｅ' 'ALİCE' 'Alice ' ' alice'; do
		tf_round1 "$name" alice-ldap-pw
		tf_expect_reject "name '$name'"
	done
	# The two with spaces never reach the directory's match (refused before, as before).
	tf_expect "the other two found her entry, and the log says why they were refused" \
		"$(grep -c "uid=alice,$PEOPLE is not the entry of the name .* another spelling" "$(LOG)")" 2
	tf_expect "no bind as alice" "$(tf_slapd_binds "uid=alice,$PEOPLE")" "$binds"
}

empty_password_is_rejected_without_a_bind() {
	local binds searches
	binds=$(tf_slapd_binds "uid=alice,$PEOPLE")
	searches=$(grep -c 'filter="(uid=alice)"' "$SLAPD_LOG")
	tf_send 'User-Name = "alice"
User-Password = ""'
	tf_expect_reject "empty password"
	tf_send 'User-Name = "alice"'
	tf_expect_reject "no password at all"
	tf_expect "binds as alice" "$(tf_slapd_binds "uid=alice,$PEOPLE")" "$binds"
	tf_expect "searches for alice" "$(grep -c 'filter="(uid=alice)"' "$SLAPD_LOG")" "$searches"
	tf_expect "said why" "$(logged 'LDAP: empty password, no bind sent')" yes
}

group_rules_hold() {
	tf_round1 bob bob-ldap-pw
	tf_expect "skip_2fa member, no factor" "$R_CODE" "Access-Accept"
	tf_round1 dave dave-ldap-pw
	tf_expect "require_2fa member with a factor" "$R_CODE" "Access-Challenge"
	tf_admin user reset dave >/dev/null
	tf_round1 dave dave-ldap-pw
	tf_expect_reject "require_2fa member without a factor, enforce = optional"
	tf_round1 carol carol-ldap-pw
	tf_expect_reject "not in allow"
	tf_expect "carol bound all the same" "$(tf_slapd_binds "uid=carol,$PEOPLE")" 1
	tf_round1 carol wrong
	tf_expect_reject "not in allow, wrong password"
}

utf8_name_and_password_bind() {
	tf_round1 "jürgen" "pässwörd-€-ü"
	tf_expect "no factor, enforce = optional" "$R_CODE" "Access-Accept"
	tf_expect "bound as jürgen" "$(tf_slapd_binds "uid=jürgen,$PEOPLE")" 1
	tf_round1 "jürgen" "passwort"
	tf_expect_reject "wrong UTF-8 password"
}

attributes_are_read_never_logged() {
	tf_expect "alice's" "$(logged "LDAP: uid=alice,$PEOPLE: phone found, mail found, second mail found, in allow_group, second factor as enforce says")" yes
	tf_expect "bob's" "$(logged "LDAP: uid=bob,$PEOPLE: phone found, mail found, in allow_group, second factor skipped by group")" yes
	tf_expect "a phone number in the log" "$(grep -cE '\+1555010|example\.(org|net)>' "$(LOG)")" 0
	tf_expect "a password in the log" "$(grep -cE 'alice-ldap-pw|bob-ldap-pw' "$(LOG)")" 0
}

# --- the directory stopped, hung, started again ---------------------------

directory_stopped_gives_a_clean_reject() {
	tf_slapd_stop
	tf_round1 alice alice-ldap-pw
	tf_expect_reject "directory down"
	tf_expect "logged" "$(logged 'LDAP: no server answered (2 tried)')" yes
	tf_expect "radiusd still there" "$(kill -0 "$RADIUSD_PID" 2>/dev/null && echo yes)" yes
}

directory_started_again_works_without_restart() {
	tf_slapd_start || { tf_expect "slapd restarts" no yes; return; }
	tf_round1 alice alice-ldap-pw
	tf_expect "after the restart" "$R_CODE" "Access-Challenge"
}

# Takes connections, never answers: the pooled connections time out.
hung_directory_gives_a_clean_reject() {
	tf_round1 bob bob-ldap-pw	# a pooled connection to this slapd first
	tf_slapd_pause
	tf_round1 bob bob-ldap-pw
	tf_expect_reject "directory hung"
	tf_round1 alice alice-ldap-pw
	tf_expect_reject "directory still hung"
	tf_slapd_resume
	tf_expect "timeout logged" "$(logged 'LDAP: search failed: Timed out')" yes
	tf_round1 bob bob-ldap-pw
	tf_expect "answering again" "$R_CODE" "Access-Accept"
}

# --- the template way, ldaps://, enforce = required -----------------------

template_over_ldaps() {
	start_radiusd required "$TEMPLATE_SECTION" || { tf_expect "radiusd starts" no yes; return; }
	# The next step's code (window = 1): this step's may be used already.
	tf_wait_fresh_step
	tf_round1 alice alice-ldap-pw
	tf_round2 alice "$(tf_code "$ALICE_SECRET" 30)" "$R_STATE"
	tf_expect "alice" "$R_CODE" "Access-Accept"
	tf_round1 alice wrong-pw
	tf_expect_reject "wrong password"
	tf_round1 nobody nobody-pw
	tf_expect_reject "unknown user"
	tf_round1 bob bob-ldap-pw
	tf_expect_reject "no factor on file, enforce = required"
	tf_expect "why" "$(logged 'no second factor on file (no row in the store), enforce = required')" yes
	tf_round1 carol carol-ldap-pw
	tf_expect_reject "not in allow (a compare on the group)"
}

# With a template the bind's DN matches her entry loosely too; her own entry,
# read as her after the bind, names her.
other_spellings_are_refused_the_template_way() {
	start_radiusd optional "$TEMPLATE_SECTION" || { tf_expect "radiusd starts" no yes; return; }
	tf_round1 ALICE alice-ldap-pw
	tf_expect "ASCII case: her TOTP asked" "$R_CODE" "Access-Challenge"
	tf_round1 'ａｌｉｃｅ' alice-ldap-pw
	tf_expect_reject "full-width name"
	tf_expect "the log says why" "$(grep -c 'is not the entry of the name .* another spelling' "$(LOG)")" 1
}

# enrol_at_login: a directory user with no row gets one, empty, and enrols.
directory_user_without_a_row_enrols_at_login() {
	local secret
	sed -i -E 's/^([[:space:]]*)enrol_at_login = no$/\1enrol_at_login = yes/' "$(MODCONF)"
	start_radiusd required "$TEMPLATE_SECTION" || { tf_expect "radiusd starts" no yes; return; }
	tf_expect "no row before" "$(tf_admin user show admin >/dev/null 2>&1; echo $?)" 1
	tf_round1 admin admin-ldap-pw
	tf_expect "a new secret" "$R_CODE" "Access-Challenge"
	secret=$(printf '%s\n' "$R_MSG" | sed -n 's/.* the key \([A-Z2-7 ]*\) then .*/\1/p' | tr -d ' ')
	tf_expect "secret shown" "$([ ${#secret} -ge 16 ] && echo yes)" yes
	tf_round2 admin "$(tf_code "$secret")" "$R_STATE"
	tf_expect "enrolled" "$R_CODE" "Access-Accept"
	tf_expect "a row, no password, TOTP" "$(tf_admin --json user show admin | grep -c '"password":false,.*"totp":"confirmed"')" 1
	tf_round1 admin wrong-pw
	tf_expect_reject "the directory still checks the password"
	sed -i -E 's/^([[:space:]]*)enrol_at_login = yes$/\1enrol_at_login = no/' "$(MODCONF)"
	start_radiusd required "$TEMPLATE_SECTION" || tf_expect "radiusd starts again" no yes
}

# (Names with spaces never get here: the site's filter_username refuses them.)
dn_injection_names_are_escaped() {
	local name
	for name in 'admin,ou=people' 'admin+cn=admin' 'uid=admin' '#admin' 'x\,y' 'a"b<c>d;e'; do
		tf_round1 "$name" admin-ldap-pw
		tf_expect_reject "name $name"
	done
	# slapd logs the DN in its own spelling: hex escapes in upper case.
	tf_expect "bind DN escaped" \
		"$(grep -cF "BIND dn=\"uid=admin\\2Cou\\3Dpeople,$PEOPLE\" method=128" "$SLAPD_LOG")" 1
	tf_expect "multi-valued RDN escaped" \
		"$(grep -cF "BIND dn=\"uid=admin\\2Bcn\\3Dadmin,$PEOPLE\" method=128" "$SLAPD_LOG")" 1
	tf_expect "admin never bound" "$(tf_slapd_binds "uid=admin,$PEOPLE")" 1	# the one of the search way
}

starttls_with_an_untrusted_ca_is_refused() {
	local binds
	start_radiusd optional "$(printf '%s\n' "$SEARCH_SECTION" | sed "s#$SLAPD_CA#${SLAPD_CA%/*}/other-ca.pem#")" 2>/dev/null ||
		{ tf_expect "radiusd starts" no yes; return; }
	binds=$(tf_slapd_binds "$SLAPD_READER_DN")
	tf_round1 bob bob-ldap-pw
	tf_expect_reject "untrusted server certificate"
	tf_expect "StartTLS refused" "$(logged "LDAP server $SLAPD_URI: StartTLS failed")" yes
	tf_expect "nothing bound" "$(tf_slapd_binds "$SLAPD_READER_DN")" "$binds"
}

radiusd_refuses_an_ldap_section_that_cannot_work() {
	if start_radiusd optional "server = \"$SLAPD_URI\"" 2>/dev/null; then
		tf_expect "no DN template or filter" started refused
	fi
	tf_expect "says why" "$(logged 'set either dn_template, or base_dn and filter')" yes
	RADIUSD_PID=
}

# --- the directory's mobile and mail feed the SMS and email methods -------

# sms_record N KEY: KEY of the Nth SMS the gateway sink received ("code": the code in its text).
sms_record() {
	local i
	for i in $(seq 1 100); do
		[ "$(wc -l < "$SMS_RECORD")" -ge "$1" ] && break
		sleep 0.1
	done
	/usr/bin/python3 -c '
import json, re, sys
r = [json.loads(l) for l in open(sys.argv[1])]
b = json.loads(r[int(sys.argv[2]) - 1]["body"])
print(re.search(r"[0-9]{6,10}", b["text"]).group(0) if sys.argv[3] == "code" else b[sys.argv[3]])' \
		"$SMS_RECORD" "$1" "$2" 2>&1
}

# set_mobile UID NUMBER: the directory's mobile of UID replaced, as its admin.
set_mobile() {
	printf 'dn:: %s\nchangetype: modify\nreplace: mobile\nmobile: %s\n' \
		"$(printf 'uid=%s,%s' "$1" "$PEOPLE" | base64 -w0)" "$2" |
		ldapmodify -x -H "$SLAPD_URI" -D "cn=admin,$SLAPD_BASE" -y "$SLAPD_DIR/admin-pw" >/dev/null
}

factor_ids() { sqlite3 "file:$STORE?mode=ro" "SELECT id FROM factors ORDER BY id" | tr '\n' ' ' ; }

# radiusd again with an SMS gateway (the HTTP sink) and a mail relay that
# is never reached (SMS comes first); the search way, enforce = optional.
# with_a_gateway [LINES]: LINES more of the module's config.
with_a_gateway() {
	local tls=$SLAPD_DIR/tls extra=${1:-}
	tf_server_stop
	tf_start_sink http ldap-sms --cert "$tls/server.pem" --key "$tls/server.key" --status 200
	SMS_RECORD=$SINK_RECORD
	twofa_make_raddb "$DIR/server" "$PORT" "$STORE" "$KEY" "sms {
	url = \"https://127.0.0.1:$SINK_PORT/send\"
	content_type = \"application/json\"
	body = '{\"to\":\"{phone}\",\"text\":\"{message}\"}'
	message = \"Your code is {code}\"
	ca_file = \"$tls/ca.pem\"
}
email {
	url = \"smtp://127.0.0.1:$(tf_free_tcp_port)\"
	from = \"twofa@example.org\"
}
$extra"
	sed -i -E 's/^#[[:space:]]*suppress_secrets = no/\tsuppress_secrets = yes/' "$DIR/server/raddb/radiusd.conf"
	start_radiusd optional "$SEARCH_SECTION"
}

directory_mobile_gets_a_code_by_sms() {
	local ids
	with_a_gateway || { tf_expect "radiusd starts" no yes; return; }
	tf_expect "no row before" "$(tf_admin user show jürgen >/dev/null 2>&1; echo $?)" 1
	tf_round1 "jürgen" "pässwörd-€-ü"
	tf_expect "challenge" "$R_CODE" "Access-Challenge"
	tf_expect "by SMS" "$(printf '%s' "$R_MSG" | grep -c 'sent by SMS')" 1
	tf_expect "to the directory's number" "$(sms_record 1 to)" "+15550104"
	tf_round2 "jürgen" "$(sms_record 1 code)" "$R_STATE"
	tf_expect "accept" "$R_CODE" "Access-Accept"
	tf_expect "stored: the directory's number and mail" \
		"$(sqlite3 "file:$STORE?mode=ro" "SELECT kind, address, confirmed FROM factors JOIN users ON users.id = user_id WHERE name = 'jürgen' ORDER BY kind" | tr '\n' ' ')" \
		"email|juergen@example.org|1 sms|+15550104|1 "
	ids=$(factor_ids)
	tf_round1 "jürgen" "pässwörd-€-ü"
	tf_expect "same values, nothing written" "$(factor_ids)" "$ids"
	# The directory is the source of truth: its new number wins at the next login.
	set_mobile "jürgen" "+15550199" || { tf_expect "ldapmodify" failed ok; return; }
	tf_round1 "jürgen" "pässwörd-€-ü"
	tf_expect "to the new number" "$(sms_record 3 to)" "+15550199"
	tf_round2 "jürgen" "$(sms_record 2 code)" "$R_STATE"
	tf_expect "the old number's code" "$R_CODE" "Access-Challenge"
	tf_round2 "jürgen" "$(sms_record 3 code)" "$R_STATE"
	tf_expect "the new number's code" "$R_CODE" "Access-Accept"
	tf_round1 bob bob-ldap-pw
	tf_expect "skip_2fa member" "$R_CODE" "Access-Accept"
	tf_expect "no row made for him" "$(tf_admin user show bob >/dev/null 2>&1; echo $?)" 1
	tf_expect "no number in the log" "$(grep -cE '\+1555010|\+15550199' "$(LOG)")" 0
	tf_stop_sinks
}

# Append mode with the directory's password: "password,sms" asks for a
# code (a Reject that says where it went), "password,CODE" logs in, once.
directory_user_appends_sms_then_the_code() {
	local code
	with_a_gateway "append = yes
append_separator = \",\"" || { tf_expect "radiusd starts" no yes; return; }
	tf_send "User-Name = \"jürgen\", User-Password = \"pässwörd-€-ü,sms\""
	tf_expect "a reject" "$R_CODE" "Access-Reject"
	tf_expect "that says a code was sent" "$(printf '%s' "$R_MSG" | grep -c 'by SMS to +1')" 1
	tf_expect "to the directory's number" "$(sms_record 1 to)" "+15550199"
	code=$(sms_record 1 code)
	tf_send "User-Name = \"jürgen\", User-Password = \"pässwörd-€-ü,$code\""
	tf_expect "password and code: accept" "$R_CODE" "Access-Accept"
	tf_send "User-Name = \"jürgen\", User-Password = \"pässwörd-€-ü,$code\""
	tf_expect "the same code again: reject" "$R_CODE" "Access-Reject"
	tf_send "User-Name = \"jürgen\", User-Password = \"wrong-password,sms\""
	tf_expect "wrong password and the word: reject" "$R_CODE" "Access-Reject"
	tf_expect "and nothing sent" "$(wc -l < "$SMS_RECORD")" 1
	tf_expect "no code in the log" "$(grep -c "$code" "$(LOG)")" 0
	tf_stop_sinks
}

# --- realms: DOMAIN\user and user@domain (suffix, ntdomain) ---------------

SITE() { printf '%s\n' "$DIR/server/raddb/sites-available/twofa"; }

realm_names_bind_as_the_stripped_user() {
	local binds
	awk '!done && /^\t\ttwofa$/ { print "\t\tsuffix"; print "\t\tntdomain"; done = 1 } { print }' "$(SITE)" > "$DIR/site.new" &&
		cat "$DIR/site.new" > "$(SITE)"
	printf 'realm example.org {\n}\nrealm CORP {\n}\n' >> "$DIR/server/raddb/proxy.conf"
	start_radiusd optional "$SEARCH_SECTION" || { tf_expect "radiusd starts" no yes; return; }
	binds=$(tf_slapd_binds "uid=alice,$PEOPLE")
	tf_round1 'CORP\alice' alice-ldap-pw
	tf_expect 'DOMAIN\user: her TOTP asked' "$R_CODE" "Access-Challenge"
	tf_round1 alice@example.org alice-ldap-pw
	tf_expect "user@domain: her TOTP asked" "$R_CODE" "Access-Challenge"
	tf_expect "both bound as alice" "$(tf_slapd_binds "uid=alice,$PEOPLE")" "$((binds + 2))"
	tf_round1 alice@example.org wrong-pw
	tf_expect_reject "user@domain, wrong password"
	tf_round1 alice@elsewhere.example alice-ldap-pw
	tf_expect_reject "a realm proxy.conf does not know is not stripped"
	tf_expect "searched as sent" "$(logged 'LDAP: no entry matches (uid=alice@elsewhere.example)')" yes
}

# user_name = full: the name as sent reaches the filter (a userPrincipalName-like search).
full_realm_name_reaches_the_filter() {
	local binds
	sed -i -E "s#^(\s*user_name\s*=).*#\1 full#" "$(MODCONF)"
	start_radiusd optional "$(printf '%s\n' "$SEARCH_SECTION" | sed 's#(uid={user})#(mail={user})#')" ||
		{ tf_expect "radiusd starts" no yes; return; }
	binds=$(tf_slapd_binds "uid=alice,$PEOPLE")
	tf_round1 alice@example.org alice-ldap-pw
	tf_expect "user@domain as sent: no row under that name, enforce = optional" "$R_CODE" "Access-Accept"
	tf_expect "bound as alice" "$(tf_slapd_binds "uid=alice,$PEOPLE")" "$((binds + 1))"
	tf_round1 'CORP\alice' alice-ldap-pw
	tf_expect_reject 'DOMAIN\user as sent matches no mail'
	tf_expect "the backslash escaped" "$(logged 'LDAP: no entry matches (mail=CORP\5calice)')" yes
	sed -i -E "s#^(\s*user_name\s*=).*#\1 stripped#" "$(MODCONF)"
}

# --- twofa-admin user list --ldap: the directory's users and their 2FA ----

# By now: alice and admin hold TOTP, jürgen the directory's SMS and mail,
# dave a row with no factor left (reset), bob and carol no row.
admin_lists_the_directory_users() {
	tf_expect "text" "$(tf_admin user list --ldap --config "$(MODCONF)" 2>/dev/null | awk '{ print $1, $2, $3 }' | paste -sd ';')" \
		"NAME IN STORE;admin yes yes;alice yes yes;bob no no;carol no no;dave yes no;jürgen yes yes"
	tf_expect "without 2FA" "$(tf_admin user list --ldap --without-2fa --config "$(MODCONF)" 2>/dev/null | awk 'NR > 1 { print $1 }' | paste -sd ' ')" \
		"bob carol dave"
	tf_expect "json" "$(tf_admin --json user list --ldap --without-2fa --config "$(MODCONF)" 2>/dev/null | python3 -c '
import json, sys
print(" ".join("%s:%s:%s" % (u["name"], u["in_store"], u["second_factor"]) for u in json.load(sys.stdin)))')" \
		"bob:False:no carol:False:no dave:True:no"
	tf_expect "searched as the service account" "$(grep -c "filter=\"(uid=\*)\"" "$SLAPD_LOG")" 3
	# The template way: one level under its parent (the service account to read).
	printf 'twofa {\n\tldap {\n%s\n\t\tbind_dn = "%s"\n\t\tbind_password = "%s"\n\t}\n}\n' \
		"$TEMPLATE_SECTION" "$SLAPD_READER_DN" "$(cat "$SLAPD_READER_PW_FILE")" > "$DIR/template.conf"
	tf_expect "template way" "$(tf_admin user list --ldap --config "$DIR/template.conf" | awk 'NR > 1 { print $1 }' | paste -sd ' ')" \
		"admin alice bob carol dave jürgen"
	tf_expect "the shipped ldap { }: no server" \
		"$(tf_admin user list --ldap --config "$TOP/raddb/mods-available/twofa" 2>&1 >/dev/null | grep -c 'server')" 1
	printf 'twofa {\n}\n' > "$DIR/no-ldap.conf"
	tf_expect "no ldap { }" "$(tf_admin user list --ldap --config "$DIR/no-ldap.conf" 2>&1 | grep -c 'no ldap { } section')" 1
	tf_expect "--config alone" "$(tf_admin user list --config "$(MODCONF)" >/dev/null 2>&1; echo $?)" 1
	tf_slapd_stop
	tf_expect "directory down: an error" "$(tf_admin user list --ldap --config "$(MODCONF)" 2>&1 >/dev/null | grep -c 'no server answered')" 1
	tf_slapd_start
}

# --- ldap.groups.reply: a directory group's reply attributes --------------

# reply_attr NAME: NAME's value in the last reply (R_OUT), or "-".
reply_attr() { printf '%s\n' "$R_OUT" | sed -n "/^Received/,\$ s/^[[:space:]]*$1 = \(.*\)\$/\1/p" | paste -sd ' ' | sed 's/^$/-/'; }

# The search way without allow (carol, in no group, may log in), and two
# reply groups: bob is in both, alice in the second only.
REPLY_GROUPS="
		reply {
			\"cn=2fa-exempt,$LDAP_GROUPS\" = \"Class = exempt, Filter-Id = no-2fa\"
			\"cn=vpn,$LDAP_GROUPS\" = \"Filter-Id = vpn-users\"
		}"
REPLY_SECTION="$(printf '%s\n' "${SEARCH_SECTION%$'\n\t}'}" | sed '/allow = /d')$REPLY_GROUPS
	}"
CLASS_EXEMPT=0x$(printf exempt | od -An -tx1 | tr -d ' \n')

# radiusd with REPLY_SECTION (or $1), the module's own reply { }, and a
# NAS 127.0.0.2 whose rule lets the password alone in, with its reply=; a
# fresh raddb the first time (no gateway: carol's directory mail is no method).
start_with_reply_groups() {
	if ! grep -q 'Filter-Id = "module-default"' "$(MODCONF)"; then
		tf_server_stop
		twofa_make_raddb "$DIR/server" "$PORT" "$STORE" "$KEY"
		sed -i -E 's/^#[[:space:]]*suppress_secrets = no/\tsuppress_secrets = yes/' "$DIR/server/raddb/radiusd.conf"
		tf_admin user reset carol >/dev/null 2>&1
		awk '/^\}$/ { print "\treply {\n\t\tFilter-Id = \"module-default\"\n\t}" } { print }' "$(MODCONF)" > "$(MODCONF).new" &&
			cat "$(MODCONF).new" > "$(MODCONF)" && rm -f "$(MODCONF).new"
		printf 'client nas2 {\n\tipaddr = 127.0.0.2\n\tsecret = %s\n}\n' "$RADIUS_SECRET" >> "$DIR/server/raddb/clients.conf"
	fi
	printf 'nas2 nas=127.0.0.2 action=skip reply="Filter-Id=nas-rule"\n' > "$DIR/server/raddb/mods-config/twofa/policy"
	start_radiusd optional "${1:-$REPLY_SECTION}"
}

# From NAS 127.0.0.2 (its rule: skip, reply=).
round1_nas2() { tf_send "User-Name = $(tf_quote "$1")
User-Password = $(tf_quote "$2")
Packet-Src-IP-Address = 127.0.0.2"; }

group_member_gets_the_groups_reply_attributes() {
	local codes
	start_with_reply_groups || { tf_expect "radiusd starts" no yes; return; }
	tf_round1 bob bob-ldap-pw
	tf_expect "bob, skip_2fa" "$R_CODE" "Access-Accept"
	tf_expect "the first group of the list he is in: its Class" "$(reply_attr Class)" "$CLASS_EXEMPT"
	tf_expect "and its Filter-Id, not the second group's" "$(reply_attr Filter-Id)" '"no-2fa"'
	# alice: the group found in round one, the Accept in round two.
	mapfile -t codes < <(tf_admin backup generate alice --count 2 2>/dev/null)
	tf_round1 alice alice-ldap-pw
	tf_expect "alice's challenge" "$R_CODE" "Access-Challenge"
	tf_expect "no group attribute on a challenge" "$(reply_attr Filter-Id)" "-"
	tf_round2 alice 000000 "$R_STATE"
	tf_expect "a wrong code: asked again" "$R_CODE" "Access-Challenge"
	tf_round2 alice "${codes[0]}" "$R_STATE"
	tf_expect "alice's accept" "$R_CODE" "Access-Accept"
	tf_expect "her group's Filter-Id, carried through two challenges" "$(reply_attr Filter-Id)" '"vpn-users"'
	tf_expect "nothing of the other group" "$(reply_attr Class)" "-"
	tf_round1 bob wrong-pw
	tf_expect_reject "a wrong password"
	tf_expect "no group attribute on a reject" "$(reply_attr Filter-Id)" "-"
	tf_expect "said why" "$(logged "Member of cn=2fa-exempt,$LDAP_GROUPS: its reply attributes on Accept")" yes
}

non_member_gets_the_rules_or_the_modules() {
	tf_round1 carol carol-ldap-pw
	tf_expect "carol, in no group" "$R_CODE" "Access-Accept"
	tf_expect "the module's reply { }" "$(reply_attr Filter-Id)" '"module-default"'
	round1_nas2 carol carol-ldap-pw
	tf_expect "carol through the NAS rule" "$R_CODE" "Access-Accept"
	tf_expect "the rule's before the module's" "$(reply_attr Filter-Id)" '"nas-rule"'
}

reply_precedence_user_group_rule() {
	local codes
	round1_nas2 bob bob-ldap-pw
	tf_expect "bob through the NAS rule" "$(reply_attr Filter-Id)" '"no-2fa"'
	round1_nas2 alice alice-ldap-pw
	tf_expect "alice through the NAS rule (skip)" "$R_CODE" "Access-Accept"
	tf_expect "the group's before the rule's" "$(reply_attr Filter-Id)" '"vpn-users"'
	tf_admin user set alice --reply "Filter-Id=alice-own" >/dev/null
	round1_nas2 alice alice-ldap-pw
	tf_expect "the user's own before the group's" "$(reply_attr Filter-Id)" '"alice-own"'
	mapfile -t codes < <(tf_admin backup generate alice --count 1 2>/dev/null)
	tf_round1 alice alice-ldap-pw
	tf_round2 alice "${codes[0]}" "$R_STATE"
	tf_expect "in round two too" "$(reply_attr Filter-Id)" '"alice-own"'
	tf_admin user set alice --reply none >/dev/null
}

# The template way asks each group (an LDAP compare), as its group rules do.
reply_group_by_compare() {
	local section cmps
	section="$(printf '%s\n' "${TEMPLATE_SECTION%$'\n\t}'}" | sed '/allow = /d')$REPLY_GROUPS
	}"
	start_with_reply_groups "$section" || { tf_expect "radiusd starts" no yes; return; }
	cmps=$(grep -c "CMP dn=\"cn=2fa-exempt,$LDAP_GROUPS\" attr=\"member\"" "$SLAPD_LOG")
	tf_round1 carol carol-ldap-pw
	tf_expect "carol" "$(reply_attr Filter-Id)" '"module-default"'
	tf_round1 bob bob-ldap-pw
	tf_expect "bob: the first group's" "$(reply_attr Filter-Id)" '"no-2fa"'
	tf_expect "asked of the group" "$(grep -c "CMP dn=\"cn=2fa-exempt,$LDAP_GROUPS\" attr=\"member\"" "$SLAPD_LOG")" "$((cmps + 2))"
}

bad_reply_group_list_stops_radiusd() {
	local list
	for list in "Class = x, Bogus-Attr = 1|unknown attribute \"Bogus-Attr\"" \
		    "Class|\"Class\" is not Attribute=value" \
		    "State = 0x01|attribute \"State\" may not be set here"; do
		if start_with_reply_groups "$(printf '%s\n' "$REPLY_SECTION" | sed "s#\"Filter-Id = vpn-users\"#\"${list%%|*}\"#")" 2>/dev/null; then
			tf_expect "radiusd with \"${list%%|*}\"" started refused
		fi
		tf_expect "says which: ${list#*|}" "$(logged "ldap.groups.reply: group \"cn=vpn,$LDAP_GROUPS\": reply: ${list#*|}")" yes
		RADIUSD_PID=
	done
}

# --- user list --ldap pages (RFC 2696): the service account may read at
# most 5 entries per search (slapd.sh's limits, as AD's MaxPageSize) -----

add_bulk_users() {
	local i
	for i in $(seq -w 1 "$1"); do
		printf 'dn: uid=bulk%s,%s\nobjectClass: inetOrgPerson\nuid: bulk%s\ncn: bulk%s\nsn: Bulk\n\n' "$i" "$PEOPLE" "$i" "$i"
	done | ldapadd -x -H "$SLAPD_URI" -D "cn=admin,$SLAPD_BASE" -y "$SLAPD_DIR/admin-pw" >/dev/null
}

searches() { grep -c "filter=\"(uid=\*)\"" "$SLAPD_LOG"; }

admin_list_pages_past_the_size_limit() {
	local before
	add_bulk_users 12 || { tf_expect "ldapadd" failed ok; return; }
	tf_expect "more users than the limit" "$(LDAPTLS_CACERT=$SLAPD_CA ldapsearch -x -H "$SLAPD_URI" -D "$SLAPD_READER_DN" \
		-y "$SLAPD_READER_PW_FILE" -b "$PEOPLE" '(uid=*)' uid 2>&1 | grep -c 'Size limit exceeded')" 1
	before=$(searches)
	tf_expect "every user, default page size" \
		"$(tf_admin user list --ldap --config "$(MODCONF)" 2>/dev/null | awk 'NR > 1 { print $1 }' | paste -sd ' ')" \
		"admin alice bob bulk01 bulk02 bulk03 bulk04 bulk05 bulk06 bulk07 bulk08 bulk09 bulk10 bulk11 bulk12 carol dave jürgen"
	tf_expect "in one page" "$(( $(searches) - before ))" 1
	before=$(searches)
	tf_expect "pages of 5" "$(tf_admin --json user list --ldap --page-size 5 --config "$(MODCONF)" 2>/dev/null |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" 18
	tf_expect "in 4 searches" "$(( $(searches) - before ))" 4
	tf_expect "--page-size 0" "$(tf_admin user list --ldap --page-size 0 --config "$(MODCONF)" >/dev/null 2>&1; echo $?)" 1
	tf_expect "--page-size without --ldap" "$(tf_admin user list --page-size 5 2>&1 | grep -c 'goes with --ldap')" 1
}

# --- OpenLDAP's password policy (slapd.sh: the ppolicy overlay, and
# under ou=ppolicy a user per state, each with a TOTP factor here, so that
# a bind let through shows as a challenge) ---------------------------------

PPOLICY_PEOPLE="ou=ppolicy,$SLAPD_BASE"
# The search way under ou=ppolicy, its one server up, no allow group.
PPOLICY_SECTION="$(printf '%s\n' "$SEARCH_SECTION" | sed -e "\#$CLOSED_URI#d" -e '/allow = /d' \
	-e "s#base_dn = \"$PEOPLE\"#base_dn = \"$PPOLICY_PEOPLE\"#")"
# The template way (over ldaps://) under ou=ppolicy: the user's entry read as the user.
PPOLICY_TEMPLATE_SECTION="$(printf '%s\n' "$TEMPLATE_SECTION" | sed -e '/allow = /d' \
	-e "s#dn_template = \"uid={user},$PEOPLE\"#dn_template = \"uid={user},$PPOLICY_PEOPLE\"#")"
declare -A PP_SECRET

# The reply without its Authenticator and id: what a client could tell apart.
reply_shape() { printf '%s\n' "$R_OUT" | sed -n '/^Received/,$ p' | sed -e 's/^\(Received Access-[A-Za-z]*\) .*/\1/' -e '/Authenticator/d'; }

with_password_policy() {
	local u
	for u in locked expired reset expiring graced; do PP_SECRET[$u]=$(tf_secret); done
	for u in "${!PP_SECRET[@]}"; do printf '%s,,%s\n' "$u" "${PP_SECRET[$u]}"; done |
		tf_admin user import - >/dev/null || { tf_expect "user import" failed ok; return 1; }
	start_radiusd optional "$PPOLICY_SECTION"
}

# pwdAccountLockedTime 000001010000Z, as an OpenLDAP admin disables an account.
locked_account_is_rejected_as_a_wrong_password() {
	local wrong
	with_password_policy || { tf_expect "radiusd starts" no yes; return; }
	tf_round1 expiring wrong-pw
	tf_expect_reject "a wrong password"
	wrong=$(reply_shape)
	tf_round1 locked locked-ldap-pw
	tf_expect_reject "locked, the right password"
	tf_expect "the reply of a wrong password" "$(reply_shape)" "$wrong"
	tf_expect "named" "$(logged "LDAP: bind as uid=locked,$PPOLICY_PEOPLE refused: password policy says account locked")" yes
	tf_round1 locked wrong-pw
	tf_expect_reject "locked, a wrong password"
	tf_expect "counted as a failure" "$(tf_password_failures | grep -c '^locked 2$')" 1
}

expired_password_is_rejected() {
	tf_round1 expired expired-ldap-pw
	tf_expect_reject "expired"
	tf_expect "named" "$(logged "LDAP: bind as uid=expired,$PPOLICY_PEOPLE refused: password policy says password expired")" yes
}

# pwdReset with pwdMustChange: slapd accepts the bind, for a password change
# only.  Without the control the user went on to the second factor.
password_reset_by_an_admin_is_rejected() {
	local binds
	binds=$(tf_slapd_binds "uid=reset,$PPOLICY_PEOPLE")
	tf_round1 reset reset-ldap-pw
	tf_expect_reject "must change after reset"
	tf_expect "bound" "$(tf_slapd_binds "uid=reset,$PPOLICY_PEOPLE")" "$((binds + 1))"
	tf_expect "named" "$(logged "LDAP: bind as uid=reset,$PPOLICY_PEOPLE refused: password policy says password must be changed after reset (the directory accepted the password for a password change only)")" yes
}

near_expiry_is_challenged_with_a_warning() {
	tf_wait_fresh_step
	tf_round1 expiring expiring-ldap-pw
	tf_expect "challenged" "$R_CODE" "Access-Challenge"
	tf_round2 expiring "$(tf_code "${PP_SECRET[expiring]}")" "$R_STATE"
	tf_expect "accepted" "$R_CODE" "Access-Accept"
	# cn=expiry: 30 days from its add, a few seconds ago.
	tf_expect "warned" "$(grep -cE "LDAP: bind as uid=expiring,$PPOLICY_PEOPLE accepted: password expires in (29|30) days \(password policy\)" "$(LOG)")" 1
}

grace_login_is_challenged_with_a_warning() {
	tf_round1 graced graced-ldap-pw
	tf_expect "challenged" "$R_CODE" "Access-Challenge"
	tf_expect "warned" "$(logged "LDAP: bind as uid=graced,$PPOLICY_PEOPLE accepted: the password has expired, 2 grace logins left (password policy)")" yes
	tf_expect "no password in the log" "$(grep -cE '(locked|expired|reset|expiring|graced)-ldap-pw' "$(LOG)")" 0
}

# With a dn_template the entry is read as the user after the bind: a
# session slapd allows only a password change got that far too.
password_reset_is_rejected_the_template_way() {
	start_radiusd optional "$PPOLICY_TEMPLATE_SECTION" || { tf_expect "radiusd starts" no yes; return; }
	tf_round1 reset reset-ldap-pw
	tf_expect_reject "must change after reset"
	tf_expect "named" "$(logged "LDAP: bind as uid=reset,$PPOLICY_PEOPLE refused: password policy says password must be changed after reset")" yes
	tf_round1 locked locked-ldap-pw
	tf_expect_reject "locked"
}

# Last: slapd replaced by one without the ppolicy overlay (as bench/run's),
# which ignores the request control and answers none.
directory_without_password_policy_works_as_before() {
	tf_server_stop
	tf_slapd_stop
	SLAPD_PPOLICY=0 tf_slapd_setup "$TF_WORK/slapd-plain"
	tf_expect "no overlay" "$(grep -c ppolicy "$SLAPD_DIR/slapd.conf")" 0
	start_radiusd optional "$(search_lines)" || { tf_expect "radiusd starts" no yes; return; }
	tf_round1 alice alice-ldap-pw
	tf_expect "alice" "$R_CODE" "Access-Challenge"
	tf_round1 alice wrong-pw
	tf_expect_reject "a wrong password"
	tf_round1 carol carol-ldap-pw
	tf_expect "carol, no factor" "$R_CODE" "Access-Accept"
	tf_expect "no password policy said anything" "$(grep -c 'password policy' "$(LOG)")" 0
}

setup
tf_run ldap_password_then_totp_is_accepted
tf_run first_server_down_the_second_is_used
tf_run wrong_ldap_password_is_rejected
tf_run unknown_user_is_rejected_with_the_same_message
tf_run filter_injection_names_match_nobody
tf_run other_spellings_of_a_name_are_refused
tf_run empty_password_is_rejected_without_a_bind
tf_run group_rules_hold
tf_run utf8_name_and_password_bind
tf_run attributes_are_read_never_logged
tf_run directory_stopped_gives_a_clean_reject
tf_run directory_started_again_works_without_restart
tf_run hung_directory_gives_a_clean_reject
tf_run template_over_ldaps
tf_run other_spellings_are_refused_the_template_way
tf_run dn_injection_names_are_escaped
tf_run starttls_with_an_untrusted_ca_is_refused
tf_run directory_user_without_a_row_enrols_at_login	# after dn_injection: it counts admin's binds
tf_run radiusd_refuses_an_ldap_section_that_cannot_work
tf_run realm_names_bind_as_the_stripped_user
tf_run full_realm_name_reaches_the_filter
tf_run directory_mobile_gets_a_code_by_sms
tf_run directory_user_appends_sms_then_the_code
tf_run admin_lists_the_directory_users
tf_run group_member_gets_the_groups_reply_attributes
tf_run non_member_gets_the_rules_or_the_modules
tf_run reply_precedence_user_group_rule
tf_run reply_group_by_compare
tf_run bad_reply_group_list_stops_radiusd
tf_run admin_list_pages_past_the_size_limit
tf_run logins_outnumbering_the_pools_are_all_answered
tf_run locked_account_is_rejected_as_a_wrong_password
tf_run expired_password_is_rejected
tf_run password_reset_by_an_admin_is_rejected
tf_run near_expiry_is_challenged_with_a_warning
tf_run grace_login_is_challenged_with_a_warning
tf_run password_reset_is_rejected_the_template_way
tf_run directory_without_password_policy_works_as_before
