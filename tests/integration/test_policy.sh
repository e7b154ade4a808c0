#!/usr/bin/env bash
#
# Per-NAS rules (policy_file) through a real radiusd: a bypass matched and
# not matched for an IPv4 NAS (radclient from 127.0.0.1 and 127.0.0.2, a
# client entry per address) and an IPv6 one (::1); from= by
# Calling-Station-Id and Framed-IP-Address; action reject and require; a
# bad CIDR refused at start with its line; a HUP that applies a new rule
# in the same radiusd while a login in flight completes, and one whose bad
# file keeps the old rules; twofa-admin policy test and check.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse-policy
SECRET=$(tf_secret)
BOB_SECRET=$(tf_secret)	# bob's code is used once, after the HUP: alice's step may be used up by then
USERS_CSV="alice,$PW,$SECRET"$'\n'"nora,$PW,"$'\n'"bob,$PW,$BOB_SECRET"$'\n'	# nora: no second factor
CHALLENGE="Enter the 6-digit code from your authenticator app"
WIFI_PROMPT='Wi-Fi: the code from your \"phone\"'	# as radclient -x shows it

POLICY() { printf '%s\n' "$DIR/server/raddb/mods-config/twofa/policy"; }
LOG() { printf '%s\n' "$DIR/server/log/radius.log"; }

RULES='# test rules
office   nas=127.0.0.2 from=192.168.0.0/16,@office.list action=skip
wifi     nas=wlc2 action=require message="Wi-Fi: the code from your \"phone\""
v6lab    nas=::1 action=skip
blocked  nas=* from=10.66.0.0/16 action=reject'

# write_policy TEXT: the rule file, dated a minute back (radiusd compares
# modification times in whole seconds: a HUP must see the next write as new).
write_policy() {
	printf '%s\n' "$1" > "$(POLICY)"
	printf '# office networks\n172.30.0.0/16\n' > "$(dirname "$(POLICY)")/office.list"
	chgrp freerad "$(POLICY)" "$(dirname "$(POLICY)")/office.list"
	chmod 0640 "$(POLICY)" "$(dirname "$(POLICY)")/office.list"
	touch -d '-1 minute' "$(POLICY)"
}

# send SERVER ATTRS: one Access-Request to SERVER (host:port or [v6]:port);
# sets R_CODE, R_MSG, R_STATE as tf_send does.
send() {
	local out
	out=$(printf '%s\nMessage-Authenticator = 0x00\n' "$2" |
		radclient -x -r 1 -t 4 -S "$RADIUS_SECRET_FILE" "$1" auth 2>&1)
	R_CODE=$(printf '%s\n' "$out" | sed -n 's/^Received \(Access-[A-Za-z]*\).*/\1/p' | tail -n 1)
	R_MSG=$(printf '%s\n' "$out" | sed -n '/^Received/,$ s/^[[:space:]]*Reply-Message = "\(.*\)"$/\1/p' | tail -n 1)
	R_STATE=$(printf '%s\n' "$out" | sed -n '/^Received/,$ s/^[[:space:]]*State = \(0x[0-9a-fA-F]*\)$/\1/p' | tail -n 1)
	[ -n "$R_CODE" ] || R_CODE=none
}

# login NAS USER PASSWORD [EXTRA ATTRS]: round one from NAS (127.0.0.1,
# 127.0.0.2 or ::1): radclient binds its socket to Packet-Src-IP-Address.
login() {
	local nas=$1 user=$2 pw=$3 extra=${4:-} server src
	case $nas in
	*:*)	server="[::1]:$PORT"; src="Packet-Src-IPv6-Address = $nas" ;;
	*)	server="127.0.0.1:$PORT"; src="Packet-Src-IP-Address = $nas" ;;
	esac
	send "$server" "User-Name = $(tf_quote "$user")
User-Password = $(tf_quote "$pw")
$src${extra:+
$extra}"
}

# answer NAS USER CODE STATE: round two.
answer() { login "$1" "$2" "$3" "State = $4"; }

# last_logged: "result reason nas" of the newest row of the login log.
last_logged() {
	tf_admin log --json | python3 -c '
import json, sys
r = json.load(sys.stdin)[-1]
print(r["result"], r["reason"], r["nas"])'
}

logged() { grep -qE -- "$1" "$(LOG)" && echo yes || echo no; }

# --- IPv4 NAS -------------------------------------------------------------

ipv4_bypass_matches_only_its_nas_and_network() {
	login 127.0.0.2 alice "$PW" 'Calling-Station-Id = "192.168.4.5"'
	tf_expect "office network: no code" "$R_CODE" "Access-Accept"
	tf_expect "logged as a bypass" "$(last_logged)" "accept bypass:office 127.0.0.2"
	login 127.0.0.2 nora "$PW" 'Calling-Station-Id = "192.168.4.5"'
	tf_expect "no factor, enforce required, office network" "$R_CODE" "Access-Accept"
	login 127.0.0.2 alice "wrong-$PW" 'Calling-Station-Id = "192.168.4.5"'
	tf_expect_reject "the first factor is still checked"
	tf_expect "logged" "$(last_logged)" "reject bad_password 127.0.0.2"

	login 127.0.0.1 alice "$PW" 'Calling-Station-Id = "192.168.4.5"'
	tf_expect "another NAS, same network" "$R_CODE" "Access-Challenge"
	tf_expect "another NAS: the usual prompt" "$R_MSG" "$CHALLENGE"
	login 127.0.0.1 nora "$PW" 'Calling-Station-Id = "192.168.4.5"'
	tf_expect_reject "another NAS, no factor, enforce required"
}

# wifi matches 127.0.0.2 by its clients.conf shortname.
ipv4_require_rule_challenges_with_its_own_text() {
	tf_wait_fresh_step
	login 127.0.0.2 alice "$PW" 'Calling-Station-Id = "10.1.1.1"'
	tf_expect "outside the office" "$R_CODE" "Access-Challenge"
	tf_expect "the rule's prompt" "$R_MSG" "$WIFI_PROMPT"
	answer 127.0.0.2 alice "$(tf_code "$SECRET")" "$R_STATE"
	tf_expect "with the code" "$R_CODE" "Access-Accept"
	login 127.0.0.2 nora "$PW"
	tf_expect_reject "no factor, no Calling-Station-Id"
}

# --- from= ------------------------------------------------------------------

from_falls_back_to_framed_ip_address() {
	login 127.0.0.2 alice "$PW" 'Framed-IP-Address = 192.168.9.9'
	tf_expect "Framed-IP-Address in the network" "$R_CODE" "Access-Accept"
	login 127.0.0.2 alice "$PW" 'Calling-Station-Id = "02-00-5E-10-00-01"
Framed-IP-Address = 192.168.9.9'
	tf_expect "a MAC in Calling-Station-Id, Framed-IP-Address in the network" "$R_CODE" "Access-Accept"
	login 127.0.0.2 alice "$PW" 'Calling-Station-Id = "10.9.9.9"
Framed-IP-Address = 192.168.9.9'
	tf_expect "an address in Calling-Station-Id wins" "$R_CODE" "Access-Challenge"
	login 127.0.0.2 alice "$PW" 'Calling-Station-Id = "172.30.1.2"'
	tf_expect "a network from the @list file" "$R_CODE" "Access-Accept"
}

reject_rule_refuses_with_the_one_message() {
	login 127.0.0.1 alice "$PW" 'Calling-Station-Id = "10.66.1.1"'
	tf_expect_reject "blocked network"
	tf_expect "logged with the rule" "$(last_logged)" "reject policy:blocked 127.0.0.1"
	login 127.0.0.1 alice "wrong-$PW" 'Calling-Station-Id = "10.66.1.1"'
	tf_expect_reject "blocked network, wrong password"
	tf_expect "the password was checked first" "$(last_logged)" "reject bad_password 127.0.0.1"
}

# --- IPv6 NAS -------------------------------------------------------------

ipv6_nas_bypass() {
	login ::1 alice "$PW"
	tf_expect "::1: no code" "$R_CODE" "Access-Accept"
	tf_expect "logged" "$(last_logged)" "accept bypass:v6lab ::1"
	login ::1 alice "wrong-$PW"
	tf_expect_reject "::1, wrong password"
}

# --- twofa-admin policy -----------------------------------------------------

admin_policy_test_and_check() {
	local out
	out=$(tf_admin policy test --policy-file "$(POLICY)" --nas 127.0.0.2 --from 192.168.1.1 --user alice)
	tf_expect "test exit" "$?" 0
	tf_expect "test text" "$out" "rule office ($(POLICY):2): skip
  the second factor is not asked for: the first factor alone lets users in
user alice: accept (bypass:office)"
	out=$(tf_admin --json policy test --policy-file "$(POLICY)" --nas wlc2 --user nora)
	tf_expect "test json" "$out" "{\"rule\":{\"name\":\"wifi\",\"file\":\"$(POLICY)\",\"line\":3,\"message\":\"Wi-Fi: the code from your \\\"phone\\\"\"},\"action\":\"require\",\"user\":\"nora\",\"in_store\":true,\"result\":\"reject\",\"reason\":\"no second factor, and the rule requires one (or enrolment, with enrol_at_login = yes)\"}"
	out=$(tf_admin policy test --policy-file "$(POLICY)" --nas 127.0.0.9 --user alice)
	tf_expect "no rule" "$out" "  no rule matches: the module's enforce setting applies
user alice: challenge (totp)"
	out=$(tf_admin policy test --policy-file "$(POLICY)" --nas 127.0.0.1 --from 10.66.0.1 --user nobody)
	tf_expect "unknown user" "$(printf '%s\n' "$out" | tail -n 1)" "user nobody (not in the store): reject (policy:blocked)"
	tf_admin policy test --policy-file "$(POLICY)" --nas 127.0.0.1 --from not-an-ip >/dev/null 2>&1
	tf_expect "bad --from" "$?" 1
	tf_admin policy test --policy-file "$(POLICY)" >/dev/null 2>&1
	tf_expect "no --nas" "$?" 1

	out=$(tf_admin policy check --policy-file "$(POLICY)")
	tf_expect "check exit" "$?" 0
	tf_expect "check" "$out" "$(POLICY): 4 rules, 6 addresses and names"
	printf 'r nas=10.0.0.1 action=skip\nbad nas=10.1.2.3/16 action=skip\n' > "$DIR/bad-policy"
	out=$(tf_admin policy check --policy-file "$DIR/bad-policy" 2>&1)
	tf_expect "check bad exit" "$?" 1
	tf_expect "check bad" "$out" "twofa-admin: $DIR/bad-policy:2: nas: \"10.1.2.3/16\" has bits set past the /16 prefix: write 10.1.0.0/16 for the network, or the address alone"
	out=$(TWOFA_POLICY=$DIR/bad-policy tf_admin policy check 2>&1)
	tf_expect "TWOFA_POLICY" "$?" 1
}

# --- HUP ------------------------------------------------------------------

# hup: SIGHUP, then wait for radiusd to say how the module's reload went
# (a line more than before of: reloaded, failed, or nothing changed).
HUP_DONE='Reloaded module "twofa"|HUP failed for module "twofa"|HUP - No files changed'
# policy test shows what a matching rule sets besides its action.
admin_policy_test_shows_the_rule_options() {
	local out file=$DIR/options.policy
	printf 'kiosk nas=10.9.0.0/16 action=require append=yes remember=no eap_tls=skip reply="Filter-Id=kiosk, Class=k"\nplain nas=10.8.0.1 action=require\n' > "$file"
	out=$(tf_admin policy test --policy-file "$file" --nas 10.9.1.1)
	tf_expect "text" "$out" "rule kiosk ($file:1): require
  append mode: yes (the code may follow the password)
  remembered devices: no (none remembered or recognised here)
  EAP-TLS: skip
  reply: Filter-Id = kiosk, Class = k (unless the user, or their directory group, has reply attributes of its own)
$(printf '%s\n' "$out" | tail -n 1)"
	out=$(tf_admin --json policy test --policy-file "$file" --nas 10.9.1.1)
	tf_expect "json" "$out" "{\"rule\":{\"name\":\"kiosk\",\"file\":\"$file\",\"line\":1,\"message\":null,\"append\":true,\"remember\":false,\"eap_tls\":\"skip\",\"reply\":[{\"name\":\"Filter-Id\",\"value\":\"kiosk\"},{\"name\":\"Class\",\"value\":\"k\"}]},\"action\":\"require\"}"
	out=$(tf_admin policy test --policy-file "$file" --nas 10.8.0.1)
	tf_expect "a rule without options shows none" "$(printf '%s\n' "$out" | grep -c 'append\|remembered\|EAP-TLS\|reply')" 0
}

hup() {
	local before i
	before=$(grep -cE "$HUP_DONE" "$(LOG)")
	kill -HUP "$RADIUSD_PID"
	for i in $(seq 1 100); do
		[ "$(grep -cE "$HUP_DONE" "$(LOG)")" -gt "$before" ] && return 0
		sleep 0.1
	done
	return 1
}

# A rule added for 127.0.0.1 applies after a HUP, in the same radiusd; a
# challenge sent before it is answered after it.
hup_applies_a_new_rule_and_keeps_logins_in_flight() {
	local pid=$RADIUSD_PID
	tf_wait_fresh_step
	login 127.0.0.1 bob "$PW"
	tf_expect "before: challenged" "$R_CODE" "Access-Challenge"
	local state=$R_STATE

	printf 'local nas=127.0.0.1 action=skip\n%s\n' "$RULES" > "$(POLICY)"
	# radiusd ignores a HUP within 2 s of loading the module.
	while [ $(( $(date +%s) - START )) -lt 3 ]; do sleep 0.2; done
	hup || tf_expect "radiusd answered the HUP" no yes
	tf_expect "reloaded" "$(logged 'Reloaded module "twofa"')" yes
	tf_expect "same radiusd" "$(kill -0 "$pid" 2>/dev/null && echo alive)" alive
	tf_expect "started once" "$(grep -c 'Ready to process requests' "$(LOG)")" 1

	answer 127.0.0.1 bob "$(tf_code "$BOB_SECRET")" "$state"
	tf_expect "the login in flight completes" "$R_CODE" "Access-Accept"
	login 127.0.0.1 alice "$PW"
	tf_expect "after: the new rule skips" "$R_CODE" "Access-Accept"
	tf_expect "logged" "$(last_logged)" "accept bypass:local 127.0.0.1"
	HUP_AT=$(date +%s)
}

# The office rule's @office.list edited alone (the policy file unchanged):
# a HUP applies it, as it does an edit of the policy file.
hup_applies_an_edited_list_file() {
	local list
	list="$(dirname "$(POLICY)")/office.list"
	login 127.0.0.2 alice "$PW" 'Calling-Station-Id = "10.77.1.1"'
	tf_expect "before: not an office network" "$R_CODE" "Access-Challenge"
	printf '# office networks\n172.30.0.0/16\n10.77.0.0/16\n' > "$list"
	while [ $(( $(date +%s) - ${HUP_AT:-0} )) -lt 6 ]; do sleep 0.2; done
	hup || tf_expect "radiusd answered the HUP" no yes
	HUP_AT=$(date +%s)
	tf_expect "reloaded" "$(grep -c 'Reloaded module "twofa"' "$(LOG)")" 2
	login 127.0.0.2 alice "$PW" 'Calling-Station-Id = "10.77.1.1"'
	tf_expect "after: the list's new network skips" "$R_CODE" "Access-Accept"
	tf_expect "logged" "$(last_logged)" "accept bypass:office 127.0.0.2"
}

hup_with_a_bad_file_keeps_the_old_rules() {
	printf 'local nas=127.0.0.1 action=reject\nbroken nas=127.0.0.300 action=skip\n' > "$(POLICY)"
	# radiusd ignores a HUP less than 5 s after the last one.
	while [ $(( $(date +%s) - ${HUP_AT:-0} )) -lt 6 ]; do sleep 0.2; done
	hup || tf_expect "radiusd answered the HUP" no yes
	tf_expect "says why" "$(logged 'policy:2: nas: "127.0.0.300" is not an IPv4 or IPv6 address or CIDR')" yes
	tf_expect "keeps running" "$(kill -0 "$RADIUSD_PID" 2>/dev/null && echo alive)" alive
	login 127.0.0.1 alice "$PW"
	tf_expect "the old rule still skips" "$R_CODE" "Access-Accept"
}

# --- start-up -------------------------------------------------------------

bad_cidr_stops_radiusd_at_start_with_the_line() {
	tf_server_stop
	write_policy "$RULES
# a typo on line 7
typo nas=10.1.2.3/33 action=skip"
	if twofa_start_radiusd "$DIR/server" 2>/dev/null; then
		tf_expect "radiusd" started "refused to start"
		tf_server_stop
		return
	fi
	wait "$RADIUSD_PID" 2>/dev/null; RADIUSD_PID=
	tf_expect "file, line and why" \
		"$(logged "policy_file: $(POLICY):7: nas: \"10.1.2.3/33\": prefix /33 is longer than an IPv4 address")" yes
}

shipped_policy_has_no_rule() {
	tf_expect "rules" "$(tf_admin policy check --policy-file "$TOP/raddb/mods-config/twofa/policy")" \
		"$TOP/raddb/mods-config/twofa/policy: 0 rules, 0 addresses and names"
	# Each commented example parses.
	sed -n 's/^#\([a-z][a-z-]*[[:space:]]*nas=.*\)$/\1/p' "$TOP/raddb/mods-config/twofa/policy" |
		sed 's/@office-networks/10.0.0.0\/8/' > "$DIR/examples"
	tf_expect "examples" "$(tf_admin policy check --policy-file "$DIR/examples" 2>&1)" \
		"$DIR/examples: 6 rules, 10 addresses and names"
}

# --- set-up -----------------------------------------------------------------

tf_server_setup policy
trap tf_server_stop EXIT
tf_server_stop
# Clients: 127.0.0.2 by the shortname wlc2, ::1; a listener on ::1 too.
cat >> "$DIR/server/raddb/clients.conf" <<CLIENTS
client wlc2 {
	ipaddr = 127.0.0.2
	secret = $RADIUS_SECRET
	require_message_authenticator = yes
}
client v6nas {
	ipv6addr = ::1
	secret = $RADIUS_SECRET
	require_message_authenticator = yes
}
CLIENTS
awk -v port="$PORT" '{ print } /^server twofa \{/ { printf "\tlisten {\n\t\ttype = auth\n\t\tipv6addr = ::1\n\t\tport = %d\n\t}\n", port }' \
	"$DIR/server/raddb/sites-available/twofa" > "$DIR/site.new" && cat "$DIR/site.new" > "$DIR/server/raddb/sites-available/twofa"
write_policy "$RULES"
twofa_start_radiusd "$DIR/server" || die "radiusd failed to start"
START=$(date +%s)

tf_run ipv4_bypass_matches_only_its_nas_and_network
tf_run ipv4_require_rule_challenges_with_its_own_text
tf_run from_falls_back_to_framed_ip_address
tf_run reject_rule_refuses_with_the_one_message
tf_run ipv6_nas_bypass
tf_run admin_policy_test_and_check
tf_run admin_policy_test_shows_the_rule_options
tf_run shipped_policy_has_no_rule
tf_run hup_applies_a_new_rule_and_keeps_logins_in_flight
tf_run hup_applies_an_edited_list_file
tf_run hup_with_a_bad_file_keeps_the_old_rules
tf_run bad_cidr_stops_radiusd_at_start_with_the_line
