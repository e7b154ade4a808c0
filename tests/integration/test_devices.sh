#!/usr/bin/env bash
#
# Remembered devices through a real radiusd (remember_days = 30): after a
# second factor, the right password from the same Calling-Station-Id (a MAC
# in another spelling too) skips the challenge; another device, a wrong
# password, a NAS rule with remember=no do not; twofa-admin devices lists
# and forgets; user reset, passwd, 2fa and totp remove forget; the store holds no address.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse-devices
declare -A SECRET
for u in alice bob carol dave; do SECRET[$u]=$(tf_secret); done
USERS_CSV=
for u in alice bob carol dave; do USERS_CSV+="$u,$PW,${SECRET[$u]}"$'\n'; done
MAC=02-00-5E-10-00-01

# from USER PASSWORD CSID [NAS] [STATE]
from() {
	tf_send "User-Name = $(tf_quote "$1")
User-Password = $(tf_quote "$2")
Calling-Station-Id = $(tf_quote "$3")
Packet-Src-IP-Address = ${4:-127.0.0.1}${5:+
State = $5}"
}


# remember USER CSID [NAS]: a full login with the code, which remembers the device.
remember() {
	tf_next_code "$1"
	from "$1" "$PW" "$2" "${3:-}"
	tf_expect "$1 from $2: challenged" "$R_CODE" "Access-Challenge"
	from "$1" "$CODE" "$2" "${3:-}" "$R_STATE"
	tf_expect "$1 from $2: the code" "$R_CODE" "Access-Accept"
}

last_reason() {
	tf_admin log --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[-1]["reason"])'
}

device_count() { tf_admin --json devices "$1" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["devices"]))'; }

remembered_device_skips_the_challenge() {
	remember alice "$MAC"
	from alice "$PW" "02:00:5e:10:00:01"
	tf_expect "same MAC, another spelling: no challenge" "$R_CODE" "Access-Accept"
	tf_expect "logged" "$(last_reason)" "remembered"
	from alice "$PW" "0200.5e10.0001"
	tf_expect "Cisco spelling" "$R_CODE" "Access-Accept"
	from alice "wrong-$PW" "$MAC"
	tf_expect_reject "the password is still checked"
	from alice "$PW" "02-00-5E-10-00-02"
	tf_expect "another device" "$R_CODE" "Access-Challenge"
	from bob "$PW" "$MAC"
	tf_expect "another user on the device" "$R_CODE" "Access-Challenge"
	tf_expect "listed" "$(device_count alice)" 1
}

store_holds_no_address() {
	tf_expect "no MAC in the devices table" "$(sqlite3 "file:$STORE?mode=ro" '.dump devices' | grep -ciE '02:00:5e|02-00-5e|0200\.5e|020005e')" 0
	tf_expect "rows" "$(sqlite3 "file:$STORE?mode=ro" "SELECT count(*) FROM devices")" 1
	tf_expect "a 32-byte hash" "$(sqlite3 "file:$STORE?mode=ro" "SELECT DISTINCT length(hash) FROM devices")" 32
}

ip_address_is_a_device_too() {
	remember carol "192.0.2.7"
	from carol "$PW" "192.0.2.7"
	tf_expect "the same address" "$R_CODE" "Access-Accept"
	from carol "$PW" "kiosk"
	tf_expect "not an address: never remembered" "$R_CODE" "Access-Challenge"
}

forget_by_id_then_all() {
	local id
	id=$(tf_admin --json devices alice | python3 -c 'import json, sys; print(json.load(sys.stdin)["devices"][0]["id"])')
	tf_admin devices alice --forget 999999 >/dev/null 2>&1
	tf_expect "no such device" "$?" 1
	tf_admin devices alice --forget "$id" >/dev/null 2>&1
	tf_expect "forget exit" "$?" 0
	from alice "$PW" "$MAC"
	tf_expect "forgotten: the challenge again" "$R_CODE" "Access-Challenge"
	remember alice "$MAC"
	remember alice "192.0.2.8"
	tf_expect "two" "$(device_count alice)" 2
	tf_admin devices alice --all >/dev/null 2>&1
	tf_expect "--all" "$(device_count alice)" 0
	tf_admin devices nobody >/dev/null 2>&1
	tf_expect "unknown user" "$?" 1
	tf_expect "audited" "$(sqlite3 "file:$STORE?mode=ro" "SELECT count(*) FROM audit WHERE action = 'devices forget'")" 2
}

admin_changes_forget_devices() {
	local cmd
	for cmd in reset passwd 2fa totp-remove; do
		remember dave "$MAC"
		case $cmd in
		reset)	tf_admin user reset dave >/dev/null 2>&1 ;;
		totp-remove)	tf_admin totp remove dave >/dev/null 2>&1 ;;	# a lost phone
		passwd)	printf '%s\n' "$PW" | tf_admin user passwd dave >/dev/null 2>&1 ;;
		2fa)	tf_admin user 2fa dave off >/dev/null 2>&1; tf_admin user 2fa dave on >/dev/null 2>&1 ;;
		esac
		tf_expect "user $cmd forgets" "$(device_count dave)" 0
		if [ "$cmd" = reset ] || [ "$cmd" = totp-remove ]; then	# enrolled again, with a new secret
			SECRET[dave]=$(tf_secret); TF_USED_STEP[dave]=
			tf_admin user del dave >/dev/null 2>&1
			printf 'dave,%s,%s\n' "$PW" "${SECRET[dave]}" | tf_admin user import - >/dev/null 2>&1
		fi
	done
}

# 127.0.0.2 is a kiosk: "kiosk nas=127.0.0.2 action=require remember=no".
rule_with_remember_no_neither_remembers_nor_recognises() {
	remember bob "$MAC" 127.0.0.2
	tf_expect "nothing remembered from the kiosk" "$(device_count bob)" 0
	remember bob "$MAC"
	from bob "$PW" "$MAC" 127.0.0.2
	tf_expect "a device remembered elsewhere is not recognised at the kiosk" "$R_CODE" "Access-Challenge"
	from bob "$PW" "$MAC"
	tf_expect "but is elsewhere" "$R_CODE" "Access-Accept"
}

tf_server_setup devices
tf_server_stop
printf 'kiosk nas=127.0.0.2 action=require remember=no\n' > "$DIR/server/raddb/mods-config/twofa/policy"
cat >> "$DIR/server/raddb/clients.conf" <<CLIENTS
client kiosk {
	ipaddr = 127.0.0.2
	secret = $RADIUS_SECRET
	require_message_authenticator = yes
}
CLIENTS
chgrp -R freerad "$DIR/server/raddb"
twofa_start_radiusd "$DIR/server" || die "radiusd failed to start"
trap tf_server_stop EXIT

tf_run remembered_device_skips_the_challenge
tf_run store_holds_no_address
tf_run ip_address_is_a_device_too
tf_run forget_by_id_then_all
tf_run admin_changes_forget_devices
tf_run rule_with_remember_no_neither_remembers_nor_recognises
