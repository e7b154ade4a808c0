#!/usr/bin/env bash
#
# Names and replies through a real radiusd: user@realm and DOMAIN\user
# looked up without the realm (suffix and ntdomain, Stripped-User-Name)
# with user_name = stripped, and as sent with user_name = full; UTF-8
# names and passwords (é, ß, Cyrillic, CJK) end to end; reply attributes
# on an Accept from reply { } and from a NAS rule's reply=, none on a
# challenge or a reject; an unknown attribute refused at start.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse-names
declare -A SECRET PASS
NAMES=(alice 'josé' 'straße' 'иван' '山田' 'bob@example.org')
PASS[alice]=$PW
PASS['josé']='pässwörd-é'
PASS['straße']='Fußgänger-ß'
PASS['иван']='пароль-Ёё'
PASS['山田']='密码かなカナ'
PASS['bob@example.org']=$PW
USERS_CSV=
for u in "${NAMES[@]}"; do SECRET[$u]=$(tf_secret); USERS_CSV+="$u,${PASS[$u]},${SECRET[$u]}"$'\n'; done

SITE() { printf '%s\n' "$DIR/server/raddb/sites-available/twofa"; }
MODULE() { printf '%s\n' "$DIR/server/raddb/mods-available/twofa"; }


# login AS STORED [NAS]: both rounds as the name AS, whose factor is STORED's;
# R_OUT keeps radclient's whole output of round two.
login() {
	local src="Packet-Src-IP-Address = ${3:-127.0.0.1}"
	tf_next_code "$2"
	tf_send "User-Name = $(tf_quote "$1")
User-Password = $(tf_quote "${PASS[$2]}")
$src"
	[ "$R_CODE" = "Access-Challenge" ] || return 0
	R_OUT=$(printf 'User-Name = %s\nUser-Password = %s\nState = %s\n%s\nMessage-Authenticator = 0x00\n' \
		"$(tf_quote "$1")" "$CODE" "$R_STATE" "$src" |
		radclient -x -r 1 -t 4 -S "$RADIUS_SECRET_FILE" "127.0.0.1:$PORT" auth 2>&1)
	R_CODE=$(printf '%s\n' "$R_OUT" | sed -n 's/^Received \(Access-[A-Za-z]*\).*/\1/p' | tail -n 1)
}

last_user() { tf_admin log --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[-1]["user"])'; }

# reply_attr NAME: the value of NAME in the last reply (R_OUT), or "-".
reply_attr() { printf '%s\n' "$R_OUT" | sed -n "/^Received/,\$ s/^[[:space:]]*$1 = \(.*\)\$/\1/p" | paste -sd ' ' | sed 's/^$/-/'; }

restart_with() {
	tf_server_stop
	sed -i -E "s#^(\s*user_name\s*=).*#\1 $1#" "$(MODULE)"
	twofa_start_radiusd "$DIR/server" || die "radiusd failed to start"
}

realm_is_stripped_before_the_lookup() {
	login alice@example.org alice
	tf_expect "user@realm" "$R_CODE" "Access-Accept"
	tf_expect "logged by the stripped name" "$(last_user)" "alice"
	login 'CORP\alice' alice
	tf_expect 'DOMAIN\user' "$R_CODE" "Access-Accept"
	login alice@elsewhere.example alice
	tf_expect_reject "a realm proxy.conf does not know is not stripped"
	login alice alice
	tf_expect "no realm" "$R_CODE" "Access-Accept"
}

full_name_is_looked_up_as_sent() {
	restart_with full
	login bob@example.org bob@example.org
	tf_expect "the full name" "$R_CODE" "Access-Accept"
	tf_expect "logged as sent" "$(last_user)" "bob@example.org"
	login alice@example.org alice
	tf_expect_reject "user@realm is another user"
	restart_with stripped
	login bob@example.org bob@example.org
	tf_expect_reject "stripped: bob is unknown"
}

utf8_names_and_passwords_end_to_end() {
	local u
	for u in 'josé' 'straße' 'иван' '山田'; do
		login "$u" "$u"
		tf_expect "$u" "$R_CODE" "Access-Accept"
		tf_expect "$u logged" "$(last_user)" "$u"
	done
	tf_send "User-Name = $(tf_quote 'josé')
User-Password = $(tf_quote 'passwörd-é')"
	tf_expect_reject "a wrong UTF-8 password"
	tf_send "User-Name = $(tf_quote 'JOSÉ')
User-Password = $(tf_quote 'pässwörd-é')"
	tf_expect_reject "names match in ASCII case only"
}

reply_attributes_on_accept() {
	login alice alice
	tf_expect "accept" "$R_CODE" "Access-Accept"
	tf_expect "Class from reply { }" "$(reply_attr Class)" "0x76706e2d7573657273"
	tf_expect "Filter-Id from reply { }" "$(reply_attr Filter-Id)" '"standard"'
	login alice alice 127.0.0.2
	tf_expect "accept through the rule" "$R_CODE" "Access-Accept"
	tf_expect "the rule's Filter-Id" "$(reply_attr Filter-Id)" '"vpn-only"'
	tf_expect "the rule's replaces the module's" "$(reply_attr Class)" "-"
	tf_expect "a vendor attribute" "$(reply_attr Cisco-AVPair)" '"shell:priv-lvl=1"'
	tf_send "User-Name = alice
User-Password = $(tf_quote "$PW")"
	tf_expect "challenge" "$R_CODE" "Access-Challenge"
	tf_send "User-Name = alice
User-Password = wrong"
	tf_expect_reject "a reject carries only the message"
}

# twofa-admin user set --reply: the user's own set replaces the rule's and
# the module's; a name the dictionary lacks is skipped at use (twofa-admin
# checks the syntax only); "none" gives the module's back.
user_reply_attributes_come_first() {
	tf_admin user set alice --reply "Class" >/dev/null 2>&1
	tf_expect "bad syntax refused" "$?" 1
	tf_admin user set alice --reply "Filter-Id=per-user, Bogus-Attr=1, Cisco-AVPair=shell:priv-lvl=15" >/dev/null
	tf_expect "set" "$?" 0
	tf_expect "shown" "$(tf_admin user show alice | sed -n 's/^reply: *//p')" \
		"Filter-Id=per-user, Bogus-Attr=1, Cisco-AVPair=shell:priv-lvl=15"
	login alice alice
	tf_expect "accept" "$R_CODE" "Access-Accept"
	tf_expect "the user's Filter-Id" "$(reply_attr Filter-Id)" '"per-user"'
	tf_expect "the user's vendor attribute" "$(reply_attr Cisco-AVPair)" '"shell:priv-lvl=15"'
	tf_expect "the module's Class left out" "$(reply_attr Class)" "-"
	tf_expect "the unknown one skipped" "$(reply_attr Bogus-Attr)" "-"
	login alice alice 127.0.0.2
	tf_expect "accept through the rule" "$R_CODE" "Access-Accept"
	tf_expect "the user's before the rule's" "$(reply_attr Filter-Id)" '"per-user"'
	tf_admin user set alice --reply none >/dev/null
	login alice alice
	tf_expect "cleared: the module's again" "$(reply_attr Filter-Id)" '"standard"'
}

unknown_attribute_is_refused_at_start() {
	tf_server_stop
	cp "$(MODULE)" "$DIR/module.good"
	sed -i -E 's#^(\s*)Filter-Id = "standard"#\1Not-A-Real-Attribute = "x"#' "$(MODULE)"
	if twofa_start_radiusd "$DIR/server" 2>/dev/null; then
		tf_expect "radiusd" started "refused to start"; tf_server_stop
	else
		wait "$RADIUSD_PID" 2>/dev/null; RADIUSD_PID=
		tf_expect "says which" "$(grep -c 'reply: unknown attribute "Not-A-Real-Attribute"' "$DIR/server/log/radius.log")" 1
	fi
	# A server-internal attribute (No-Such-Attribute is one) is refused too.
	sed -i -E 's#^(\s*)Not-A-Real-Attribute = "x"#\1Auth-Type = "Accept"#' "$(MODULE)"
	if twofa_start_radiusd "$DIR/server" 2>/dev/null; then
		tf_expect "radiusd" started "refused to start"; tf_server_stop
	else
		wait "$RADIUSD_PID" 2>/dev/null; RADIUSD_PID=
		tf_expect "internal" "$(grep -c 'reply: attribute "Auth-Type" may not be set here' "$DIR/server/log/radius.log")" 1
	fi
	cp "$DIR/module.good" "$(MODULE)"
	printf 'vpn nas=127.0.0.2 action=require reply="Filter-Id=a, Bogus-Attr=1"\n' > "$DIR/server/raddb/mods-config/twofa/policy"
	if twofa_start_radiusd "$DIR/server" 2>/dev/null; then
		tf_expect "radiusd" started "refused to start"; tf_server_stop
	else
		wait "$RADIUSD_PID" 2>/dev/null; RADIUSD_PID=
		tf_expect "says the file and line" \
			"$(grep -c 'policy:1: rule vpn: reply: unknown attribute "Bogus-Attr"' "$DIR/server/log/radius.log")" 1
	fi
}

tf_server_setup names "	reply {
		Class = \"vpn-users\"
		Filter-Id = \"standard\"
	}"
tf_server_stop
# The realm modules before twofa; two local realms, stripped.
awk '!done && /^\t\ttwofa$/ { print "\t\tsuffix"; print "\t\tntdomain"; done = 1 } { print }' "$(SITE)" > "$DIR/site.new" &&
	cat "$DIR/site.new" > "$(SITE)"
printf 'realm example.org {\n}\nrealm CORP {\n}\n' >> "$DIR/server/raddb/proxy.conf"
printf 'vpn nas=127.0.0.2 action=require reply="Filter-Id=vpn-only, Cisco-AVPair=shell:priv-lvl=1"\n' \
	> "$DIR/server/raddb/mods-config/twofa/policy"
cat >> "$DIR/server/raddb/clients.conf" <<CLIENTS
client vpn {
	ipaddr = 127.0.0.2
	secret = $RADIUS_SECRET
	require_message_authenticator = yes
}
CLIENTS
chgrp -R freerad "$DIR/server/raddb"
twofa_start_radiusd "$DIR/server" || die "radiusd failed to start"
trap tf_server_stop EXIT

tf_run realm_is_stripped_before_the_lookup
tf_run full_name_is_looked_up_as_sent
tf_run utf8_names_and_passwords_end_to_end
tf_run reply_attributes_on_accept
tf_run user_reply_attributes_come_first
tf_run unknown_attribute_is_refused_at_start
