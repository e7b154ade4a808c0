#!/usr/bin/env bash
#
# Real RADIUS clients against the module, besides radclient:
# pam_radius_auth driven by pamtester (a challenge answered on stdin, and
# the retry text after a wrong code), python3-pyrad doing a challenge
# login, and eapol_test doing EAP-TTLS/PAP through the shipped inner-tunnel
# snippet in append mode (a CA and a server certificate made now), and
# EAP-TLS, whose certificate skips the second factor where a rule says
# eap_tls=skip and does not elsewhere (eap_tls = require).
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse-clients
declare -A SECRET
for u in alice bob carol dave; do SECRET[$u]=$(tf_secret); done
USERS_CSV=
for u in alice bob carol dave; do USERS_CSV+="$u,$PW,${SECRET[$u]}"$'\n'; done
CHALLENGE="Enter the 6-digit code from your authenticator app"
RETRY="Wrong code. Enter the 6-digit code from your authenticator app (attempts left: 2)"


# --- pam_radius_auth + pamtester ---------------------------------------------

PAM_SERVICE=
pam_setup() {
	PAM_SERVICE=twofa-test-$$-$RANDOM
	( umask 077; printf '127.0.0.1:%s %s 5\n' "$PORT" "$RADIUS_SECRET" > "$DIR/pam_radius.conf" )
	printf 'auth required pam_radius_auth.so conf=%s prompt_attribute\naccount required pam_permit.so\n' \
		"$DIR/pam_radius.conf" > "$DIR/pam-service"
	# PAM reads services from /etc/pam.d only: a link there to the file here, gone at exit.
	ln -s "$DIR/pam-service" "/etc/pam.d/$PAM_SERVICE"
}
pam_cleanup() { [ -n "$PAM_SERVICE" ] && rm -f "/etc/pam.d/$PAM_SERVICE"; PAM_SERVICE=; }

# pam_login USER ANSWERS...: pamtester with one answer per line on stdin; sets P_OUT, P_RC.
pam_login() {
	local user=$1; shift
	P_OUT=$(printf '%s\n' "$@" | pamtester -v "$PAM_SERVICE" "$user" authenticate 2>&1)
	P_RC=$?
}

pam_radius_answers_the_challenge() {
	tf_next_code alice
	pam_login alice "$PW" "$CODE"
	tf_expect "pamtester exit" "$P_RC" 0
	tf_expect "authenticated" "$(printf '%s\n' "$P_OUT" | grep -c 'successfully authenticated')" 1
	tf_expect "the challenge was its prompt" "$(printf '%s\n' "$P_OUT" | grep -cF "$CHALLENGE")" 1
	pam_login alice "wrong-$PW"
	tf_expect "a wrong password" "$P_RC" 1
}

pam_radius_shows_the_retry_text_after_a_wrong_code() {
	tf_next_code bob
	pam_login bob "$PW" "$(printf '%06d' $(( (10#$CODE + 1) % 1000000 )))" "$CODE"
	tf_expect "pamtester exit" "$P_RC" 0
	tf_expect "the retry text as the next prompt" "$(printf '%s\n' "$P_OUT" | grep -cF "$RETRY")" 1
}

# --- python3-pyrad -------------------------------------------------------------

pyrad_does_a_challenge_login() {
	local out
	tf_next_code carol
	# The secret and the answers on stdin, never on a command line.
	out=$(printf '%s\n%s\n%s\n' "$RADIUS_SECRET" "$PW" "$CODE" |
		/usr/bin/python3 "$TOP/tests/integration/pyrad_login.py" 127.0.0.1 "$PORT" carol 2>&1)
	tf_expect "pyrad" "$out" "round 1: Access-Challenge: $CHALLENGE
round 2: Access-Accept"
}

# --- eapol_test: EAP-TTLS/PAP, append mode, through the inner tunnel -------------

eap_setup() {
	local raddb=$DIR/server/raddb
	tf_make_ca "$DIR/certs"
	chgrp -R freerad "$DIR/certs"; chmod 0750 "$DIR/certs"
	EAP_PORT=$(twofa_free_port)
	EAP_SECRET=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
	cat > "$raddb/mods-enabled/eap" <<EAP
eap {
	default_eap_type = ttls
	timer_expire = 60
	max_sessions = \${max_requests}
	tls-config tls-common {
		private_key_file = $DIR/certs/server.key
		certificate_file = $DIR/certs/server.pem
		ca_file = $DIR/certs/ca.pem
		cipher_list = "DEFAULT"
		tls_min_version = "1.2"
		tls_max_version = "1.2"
	}
	md5 {
	}
	tls {
		tls = tls-common
	}
	ttls {
		tls = tls-common
		default_eap_type = md5
		virtual_server = "twofa-inner-tunnel"
	}
}
EAP
	cat > "$raddb/sites-enabled/outer" <<OUTER
server outer {
	client eap-nas {
		ipaddr = 127.0.0.1
		secret = $EAP_SECRET
	}
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $EAP_PORT
	}
	authorize {
		eap {
			ok = return
		}
	}
	authenticate {
		Auth-Type eap {
			eap
		}
	}
	post-auth {
		Post-Auth-Type REJECT {
			eap
		}
	}
}
OUTER
	# EAP-TLS: a server that gates with twofa in post-auth; 127.0.0.2's rule says eap_tls=skip.
	EAP_TLS_PORT=$(twofa_free_port)
	cat > "$raddb/sites-enabled/outer-tls" <<OUTER
server outer-tls {
	client tls-nas {
		ipaddr = 127.0.0.1
		secret = $EAP_SECRET
	}
	client tls-nas-2 {
		ipaddr = 127.0.0.2
		secret = $EAP_SECRET
	}
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $EAP_TLS_PORT
	}
	authorize {
		eap {
			ok = return
		}
	}
	authenticate {
		Auth-Type eap {
			eap
		}
	}
	post-auth {
		twofa
		Post-Auth-Type REJECT {
			eap
		}
	}
}
OUTER
	printf 'certs nas=tls-nas-2 action=require eap_tls=skip\ntrusted nas=* from=192.0.2.0/24 action=skip\n' \
		> "$raddb/mods-config/twofa/policy"
	( cd "$DIR/certs" &&
	  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=erin" \
		-keyout client.key -out client.csr 2>/dev/null &&
	  printf 'extendedKeyUsage=clientAuth\n' > client.ext &&
	  openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile client.ext -out client.pem 2>/dev/null ) || die "could not make the client certificate"
	# The shipped snippet, its lines uncommented.
	sed -e '/^##/d' -e 's/^#//' "$TOP/raddb/sites-available/twofa-inner-tunnel" > "$raddb/sites-enabled/twofa-inner-tunnel"
	# mallory's supplicant tunnels a Calling-Station-Id of the trusted network: the
	# inner request then holds it as the client wrote it, as this update does.
	sed -i '0,/authorize {/s//authorize {\n\t\tif (User-Name == "mallory") {\n\t\t\tupdate request {\n\t\t\t\tCalling-Station-Id := "192.0.2.7"\n\t\t\t}\n\t\t}/' \
		"$raddb/sites-enabled/twofa-inner-tunnel"
	grep -q '192.0.2.7' "$raddb/sites-enabled/twofa-inner-tunnel" || die "could not edit the inner tunnel"
}

# eapol USER PASSWORD [EAPOL_TEST_OPTION...]: EAP-TTLS/PAP; sets E_RC and E_OUT.
eapol() {
	( umask 077; cat > "$DIR/eapol.conf" <<CONF
network={
	key_mgmt=WPA-EAP
	eap=TTLS
	identity="$1"
	anonymous_identity="anonymous"
	password="$2"
	phase2="auth=PAP"
	ca_cert="$DIR/certs/ca.pem"
}
CONF
	)
	# eapol_test takes the RADIUS secret only as -s: a random one made for this run.
	E_OUT=$(eapol_test -c "$DIR/eapol.conf" -a 127.0.0.1 -p "$EAP_PORT" -s "$EAP_SECRET" -t 10 -r 0 "${@:3}" 2>&1)
	E_RC=$?
}

# eapol_failed: "Access-Reject FAILURE" when the server said no (not a timeout).
eapol_failed() {
	printf '%s %s\n' "$(printf '%s\n' "$E_OUT" | grep -o 'Access-Reject' | tail -n 1)" \
		"$(printf '%s\n' "$E_OUT" | tail -n 1)"
}

eapol_test_ttls_pap_with_the_code_appended() {
	tf_next_code dave
	eapol dave "$PW$CODE"
	tf_expect "password and code in the tunnel" "$E_RC" 0
	tf_expect "SUCCESS" "$(printf '%s\n' "$E_OUT" | tail -n 1)" "SUCCESS"
	eapol dave "$PW$CODE"
	tf_expect "the same code again" "$(eapol_failed)" "Access-Reject FAILURE"
	tf_next_code dave
	eapol dave "wrong-$PW$CODE"
	tf_expect "a wrong password" "$(eapol_failed)" "Access-Reject FAILURE"
	# The supplicant's MAC (the NAS's Calling-Station-Id) was remembered by the first login.
	eapol dave "$PW"
	tf_expect "a remembered device: the password is enough" "$(printf '%s\n' "$E_OUT" | tail -n 1)" "SUCCESS"
	tf_admin devices dave --all >/dev/null
	eapol dave "$PW"
	# The challenge reaches the supplicant inside the tunnel, which cannot answer it.
	tf_expect "no code: the challenge's text in the tunnel" \
		"$(printf '%s\n' "$E_OUT" | grep -c 'EAP-TTLS: AVP - Reply-Message')" 1
	tf_expect "and the supplicant gives up" "$(printf '%s\n' "$E_OUT" | tail -n 1)" "FAILURE"
}

# The policy's "trusted" rule skips the second factor for users from 192.0.2.0/24.
calling_station_id_tunnelled_by_the_client_matches_no_rule() {
	eapol mallory "$PW"
	tf_expect "the password alone, a trusted address only in the tunnel" "$(printf '%s\n' "$E_OUT" | tail -n 1)" "FAILURE"
	tf_expect "no Access-Accept" "$(printf '%s\n' "$E_OUT" | grep -c 'Access-Accept')" 0
}

calling_station_id_of_the_nas_matches_a_rule_in_the_tunnel() {
	# The NAS's own Calling-Station-Id (eapol_test sends it in the outer packet).
	eapol dave "$PW" -N31:s:192.0.2.8
	tf_expect "a user on the trusted network: the password is enough" "$(printf '%s\n' "$E_OUT" | tail -n 1)" "SUCCESS"
	tf_expect "logged with the NAS's Calling-Station-Id" \
		"$(tf_admin log --json | python3 -c 'import json, sys; r = json.load(sys.stdin)[-1]; print(r["user"], r["result"], r.get("calling_station_id"))')" \
		"dave accept 192.0.2.8"
}

# eapol_tls NAS: EAP-TLS as erin from NAS (127.0.0.1 or 127.0.0.2); sets E_RC and E_OUT.
eapol_tls() {
	( umask 077; cat > "$DIR/eapol-tls.conf" <<CONF
network={
	key_mgmt=WPA-EAP
	eap=TLS
	identity="erin"
	ca_cert="$DIR/certs/ca.pem"
	client_cert="$DIR/certs/client.pem"
	private_key="$DIR/certs/client.key"
}
CONF
	)
	E_OUT=$(eapol_test -c "$DIR/eapol-tls.conf" -a 127.0.0.1 -p "$EAP_TLS_PORT" -A "$1" -s "$EAP_SECRET" -t 10 -r 0 2>&1)
	E_RC=$?
}

last_logged() {
	tf_admin log --json | python3 -c 'import json, sys; r = json.load(sys.stdin)[-1]; print(r["user"], r["result"], r["reason"])'
}

eap_tls_certificate_skips_the_second_factor_where_a_rule_says_so() {
	eapol_tls 127.0.0.2
	tf_expect "eap_tls=skip: the certificate is enough" "$(printf '%s\n' "$E_OUT" | tail -n 1)" "SUCCESS"
	tf_expect "logged" "$(last_logged)" "erin accept certificate"
	eapol_tls 127.0.0.1
	tf_expect "eap_tls = require: no Accept on the certificate alone" "$(printf '%s\n' "$E_OUT" | tail -n 1)" "FAILURE"
	tf_expect "no Access-Accept" "$(printf '%s\n' "$E_OUT" | grep -c 'Access-Accept')" 0
}

USERS_CSV+="erin,$PW,$(tf_secret)"$'\n'"mallory,$PW,$(tf_secret)"$'\n'
tf_server_setup clients "	append = yes"
tf_server_stop
# pam_radius_auth and pyrad 2.1 send no Message-Authenticator.
sed -i 's/require_message_authenticator = yes/require_message_authenticator = no/' "$DIR/server/raddb/clients.conf"
eap_setup
chgrp -R freerad "$DIR/server/raddb"
twofa_start_radiusd "$DIR/server" || die "radiusd failed to start"
pam_setup
trap 'pam_cleanup; tf_server_stop' EXIT

tf_run pam_radius_answers_the_challenge
tf_run pam_radius_shows_the_retry_text_after_a_wrong_code
tf_run pyrad_does_a_challenge_login
tf_run eapol_test_ttls_pap_with_the_code_appended
tf_run eap_tls_certificate_skips_the_second_factor_where_a_rule_says_so
tf_run calling_station_id_tunnelled_by_the_client_matches_no_rule
tf_run calling_station_id_of_the_nas_matches_a_rule_in_the_tunnel
