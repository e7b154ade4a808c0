# slapd.sh: a real OpenLDAP slapd for the tests (Debian's slapd), sourced by
# lib.sh.  Its own slapd.conf and mdb database in a folder of the test's, on
# 127.0.0.1 at two free high ports: ldap:// (StartTLS offered) and ldaps://,
# with a CA and server certificate made by openssl now (tf_make_ca).  Loaded
# with the people and groups below; stopped by its PID.
#
#   tf_slapd_setup DIR     config, certificates, data; starts it
#   tf_slapd_start         start it again (same ports, same data)
#   tf_slapd_stop          stop it (SIGTERM, by PID)
#   tf_slapd_pause/resume  SIGSTOP/SIGCONT: a directory that takes
#                          connections and never answers
#   tf_slapd_binds DN      how many BINDs as DN slapd has logged so far
#
# Sets SLAPD_URI (ldap://), SLAPD_LDAPS_URI, SLAPD_CA (the CA file, readable
# by freerad), SLAPD_BASE, SLAPD_READER_DN and SLAPD_READER_PW_FILE (the
# service account), SLAPD_LOG (its -d stats output) and SLAPD_PID.
#
# The ppolicy overlay (slapo-ppolicy, password policy) is loaded, with a
# default policy that changes nothing (no expiry, no lockout) and, under
# ou=ppolicy, users whose own policy and state give each bind's password
# policy response: see tf_slapd_ppolicy_ldif.
#
# bench/run sets SLAPD_TLS=0 (no certificates, ldap:// only, no
# SLAPD_LDAPS_URI), SLAPD_LOGLEVEL=0 (no per-operation log line) and
# SLAPD_PPOLICY=0 (no ppolicy overlay, no policies, no ou=ppolicy).

SLAPD_BASE="dc=example,dc=org"
SLAPD_PEOPLE="ou=people,$SLAPD_BASE"
SLAPD_GROUPS="ou=groups,$SLAPD_BASE"
SLAPD_ADMIN_DN="cn=admin,$SLAPD_BASE"
SLAPD_READER_DN="cn=reader,$SLAPD_BASE"
SLAPD_POLICIES="ou=policies,$SLAPD_BASE"
SLAPD_PPOLICY_PEOPLE="ou=ppolicy,$SLAPD_BASE"

# The people: uid, password, mobile, mail, second mail (otherMailbox), groups.
# jürgen has a UTF-8 name and password; "admin" is the target of the
# filter-injection names.
SLAPD_PEOPLE_LIST=(
	"alice|alice-ldap-pw|+15550100|alice@example.org|alice.private@example.net|vpn"
	"bob|bob-ldap-pw|+15550101|bob@example.org||vpn 2fa-exempt"
	"carol|carol-ldap-pw||carol@example.org||"
	"dave|dave-ldap-pw|+15550103|||vpn 2fa-required"
	"jürgen|pässwörd-€-ü|+15550104|juergen@example.org||vpn"
	"admin|admin-ldap-pw|||| vpn"
)

# A free TCP port on 127.0.0.1 (twofa_free_port looks at UDP).
tf_free_tcp_port() {
	local port
	while :; do
		port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && continue
		echo "$port"; return 0
	done
}

# tf_slapd_hash PASSWORD: a {SSHA} hash, the password through a file (not argv).
tf_slapd_hash() {
	local f=$SLAPD_DIR/pw.tmp h
	( umask 077 && printf '%s' "$1" > "$f" )
	h=$(slappasswd -h '{SSHA}' -T "$f") || die "slappasswd failed"
	rm -f "$f"
	printf '%s\n' "$h"
}

# LDIF of the base, the people and the groups (groups last: the memberof
# overlay fills memberOf in the members' entries when a group is added).
tf_slapd_ldif() {
	local line uid pw mobile mail mail2 groups g
	printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n' "$SLAPD_BASE"
	printf 'dn: %s\nobjectClass: organizationalUnit\nou: people\n\n' "$SLAPD_PEOPLE"
	printf 'dn: %s\nobjectClass: organizationalUnit\nou: groups\n\n' "$SLAPD_GROUPS"
	printf 'dn: %s\nobjectClass: person\nobjectClass: simpleSecurityObject\ncn: reader\nsn: reader\nuserPassword: %s\n\n' \
		"$SLAPD_READER_DN" "$(tf_slapd_hash "$(cat "$SLAPD_READER_PW_FILE")")"
	for line in "${SLAPD_PEOPLE_LIST[@]}"; do
		IFS='|' read -r uid pw mobile mail mail2 groups <<< "$line"
		# Non-ASCII values go base64 (::), as LDIF wants.
		printf 'dn:: %s\n' "$(printf 'uid=%s,%s' "$uid" "$SLAPD_PEOPLE" | base64 -w0)"
		printf 'objectClass: inetOrgPerson\nobjectClass: extensibleObject\n'
		printf 'uid:: %s\ncn:: %s\nsn: Example\n' "$(printf '%s' "$uid" | base64 -w0)" \
			"$(printf '%s Example' "$uid" | base64 -w0)"
		printf 'userPassword: %s\n' "$(tf_slapd_hash "$pw")"
		[ -n "$mobile" ] && printf 'mobile: %s\n' "$mobile"
		[ -n "$mail" ] && printf 'mail: %s\n' "$mail"
		[ -n "$mail2" ] && printf 'otherMailbox: %s\n' "$mail2"
		printf '\n'
	done
	for g in vpn 2fa-exempt 2fa-required; do
		printf 'dn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\n' "$g" "$SLAPD_GROUPS" "$g"
		for line in "${SLAPD_PEOPLE_LIST[@]}"; do
			IFS='|' read -r uid pw mobile mail mail2 groups <<< "$line"
			[[ " $groups " == *" $g "* ]] || continue
			printf 'member:: %s\n' "$(printf 'uid=%s,%s' "$uid" "$SLAPD_PEOPLE" | base64 -w0)"
		done
		printf 'member: %s\n\n' "$SLAPD_ADMIN_DN"	# groupOfNames needs one member
	done
}

# The ppolicy side, loaded after the rest.  Its policies (pwdPolicy is an
# auxiliary class; 2.5 has no namedPolicy, so on an organizationalRole):
#   cn=default   (slapd.conf's ppolicy_default) pwdAttribute alone: no
#                expiry, no lockout, no forced change, so that every entry
#                outside ou=ppolicy binds as it would without the overlay
#   cn=lockout   pwdLockout TRUE (a lock takes effect), no pwdMaxFailure
#                (failures never lock)
#   cn=must-change  pwdMustChange TRUE: after an administrator's reset
#                (pwdReset) the bind succeeds, the session may only change
#                the password
#   cn=expiry    passwords last 30 days, warned of for 60 (so always)
#   cn=grace     passwords last 30 days, then 3 grace logins
# and under ou=ppolicy a user per state, each with its policy
# (pwdPolicySubentry) and the password UID-ldap-pw:
#   locked       pwdAccountLockedTime 000001010000Z: locked for good (how an
#                OpenLDAP admin disables an account)
#   expired      pwdChangedTime in 2000 (cn=expiry)
#   reset        pwdReset TRUE (cn=must-change)
#   expiring     pwdChangedTime now, set by slapd at its add (cn=expiry)
#   graced       pwdChangedTime in 2000 (cn=grace)
# pwdChangedTime is operational (no user modification: "Constraint
# violation" even for the rootdn), so this add carries the Relax Rules
# control (ldapadd -e relax), with which slapd lets the rootdn set it.
SLAPD_PPOLICY_LIST=(
	"locked|lockout|pwdAccountLockedTime: 000001010000Z"
	"expired|expiry|pwdChangedTime: 20000101000000Z"
	"reset|must-change|pwdReset: TRUE"
	"expiring|expiry|"
	"graced|grace|pwdChangedTime: 20000101000000Z"
)

# tf_slapd_policy NAME ["ATTRIBUTE: VALUE"]...: a policy entry under ou=policies.
tf_slapd_policy() {
	local name=$1; shift
	printf 'dn: cn=%s,%s\nobjectClass: organizationalRole\nobjectClass: pwdPolicy\ncn: %s\npwdAttribute: userPassword\n' \
		"$name" "$SLAPD_POLICIES" "$name"
	[ $# -gt 0 ] && printf '%s\n' "$@"
	printf '\n'
}

tf_slapd_ppolicy_ldif() {
	local line uid policy state
	printf 'dn: %s\nobjectClass: organizationalUnit\nou: policies\n\n' "$SLAPD_POLICIES"
	tf_slapd_policy default
	tf_slapd_policy lockout "pwdLockout: TRUE"
	tf_slapd_policy must-change "pwdMustChange: TRUE"
	tf_slapd_policy expiry "pwdMaxAge: 2592000" "pwdExpireWarning: 5184000"
	tf_slapd_policy grace "pwdMaxAge: 2592000" "pwdGraceAuthnLimit: 3"
	printf 'dn: %s\nobjectClass: organizationalUnit\nou: ppolicy\n\n' "$SLAPD_PPOLICY_PEOPLE"
	for line in "${SLAPD_PPOLICY_LIST[@]}"; do
		IFS='|' read -r uid policy state <<< "$line"
		printf 'dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: Example\n' \
			"$uid" "$SLAPD_PPOLICY_PEOPLE" "$uid" "$uid"
		printf 'userPassword: %s\npwdPolicySubentry: cn=%s,%s\n' "$(tf_slapd_hash "$uid-ldap-pw")" "$policy" "$SLAPD_POLICIES"
		[ -n "$state" ] && printf '%s\n' "$state"
		printf '\n'
	done
}

tf_slapd_config() {
	cat <<CONF
include		/etc/ldap/schema/core.schema
include		/etc/ldap/schema/cosine.schema
include		/etc/ldap/schema/inetorgperson.schema
modulepath	/usr/lib/ldap
moduleload	back_mdb
moduleload	memberof
$( [ "${SLAPD_PPOLICY:-1}" = 0 ] || printf 'moduleload\tppolicy\n' )
pidfile		$SLAPD_DIR/slapd.pid
argsfile	$SLAPD_DIR/slapd.args
$( [ "${SLAPD_TLS:-1}" = 1 ] && printf 'TLSCACertificateFile\t%s\nTLSCertificateFile\t%s\nTLSCertificateKeyFile\t%s\n' \
	"$SLAPD_DIR/tls/ca.pem" "$SLAPD_DIR/tls/server.pem" "$SLAPD_DIR/tls/server.key" )

database	mdb
suffix		"$SLAPD_BASE"
rootdn		"$SLAPD_ADMIN_DN"
rootpw		$(tf_slapd_hash "$(cat "$SLAPD_DIR/admin-pw")")
directory	$SLAPD_DIR/db
maxsize		67108864
index		objectClass,uid eq
overlay		memberof
$( [ "${SLAPD_PPOLICY:-1}" = 0 ] || printf 'overlay\t\tppolicy\nppolicy_default\t"cn=default,%s"\nppolicy_use_lockout\n' "$SLAPD_POLICIES" )

# The service account reads at most 5 entries per search, or per page of
# a paged search (RFC 2696), as Active Directory's MaxPageSize (1000) does
# for a large directory: twofa-admin user list --ldap must page.
limits dn.exact="$SLAPD_READER_DN" size.soft=5 size.hard=5 size.prtotal=unlimited

access to attrs=userPassword
	by self =x
	by anonymous auth
	by * none
access to dn.subtree="$SLAPD_GROUPS"
	by users read
	by * none
access to *
	by self read
	by dn.exact="$SLAPD_READER_DN" read
	by * none
CONF
}

# tf_slapd_setup DIR
tf_slapd_setup() {
	SLAPD_DIR=$1
	rm -rf "$SLAPD_DIR"
	mkdir -p "$SLAPD_DIR/db"
	chgrp freerad "$SLAPD_DIR" && chmod 0750 "$SLAPD_DIR"
	if [ "${SLAPD_TLS:-1}" = 1 ]; then
		tf_make_ca "$SLAPD_DIR/tls"
		chgrp freerad "$SLAPD_DIR/tls" && chmod 0750 "$SLAPD_DIR/tls"
	fi
	SLAPD_CA=$SLAPD_DIR/tls/ca.pem
	( umask 077 && head -c 12 /dev/urandom | base64 | tr -d '\n' > "$SLAPD_DIR/admin-pw" &&
	  head -c 12 /dev/urandom | base64 | tr -d '\n' > "$SLAPD_DIR/reader-pw" )
	SLAPD_READER_PW_FILE=$SLAPD_DIR/reader-pw
	SLAPD_PORT=$(tf_free_tcp_port)
	SLAPD_TLS_PORT=$(tf_free_tcp_port)
	SLAPD_URI=ldap://127.0.0.1:$SLAPD_PORT
	SLAPD_LDAPS_URI=ldaps://127.0.0.1:$SLAPD_TLS_PORT
	SLAPD_LOG=$SLAPD_DIR/slapd.log
	tf_slapd_config > "$SLAPD_DIR/slapd.conf"
	tf_slapd_start || die "slapd did not start"
	tf_slapd_ldif > "$SLAPD_DIR/data.ldif"
	LDAPTLS_CACERT=$SLAPD_CA ldapadd -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" -y "$SLAPD_DIR/admin-pw" \
		-f "$SLAPD_DIR/data.ldif" > "$SLAPD_DIR/ldapadd.out" 2>&1 \
		|| { cat "$SLAPD_DIR/ldapadd.out" >&2; die "loading the LDIF into slapd failed"; }
	[ "${SLAPD_PPOLICY:-1}" = 0 ] && return 0
	tf_slapd_ppolicy_ldif > "$SLAPD_DIR/ppolicy.ldif"
	LDAPTLS_CACERT=$SLAPD_CA ldapadd -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" -y "$SLAPD_DIR/admin-pw" \
		-e relax -f "$SLAPD_DIR/ppolicy.ldif" > "$SLAPD_DIR/ppolicy-add.out" 2>&1 \
		|| { cat "$SLAPD_DIR/ppolicy-add.out" >&2; die "loading the password policies into slapd failed"; }
}

# tf_slapd_start: in the foreground (-d: no fork, log to stderr) in the background.
tf_slapd_start() {
	local i
	local uris="$SLAPD_URI/ $SLAPD_LDAPS_URI/"
	[ "${SLAPD_TLS:-1}" = 1 ] || uris="$SLAPD_URI/"
	slapd -d "${SLAPD_LOGLEVEL:-stats}" -f "$SLAPD_DIR/slapd.conf" -h "$uris" >> "$SLAPD_LOG" 2>&1 &
	SLAPD_PID=$!
	for i in $(seq 1 100); do
		if LDAPTLS_CACERT=$SLAPD_CA ldapsearch -x -H "$SLAPD_URI" -b "" -s base -LLL namingContexts \
			>/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$SLAPD_PID" 2>/dev/null || { tail -20 "$SLAPD_LOG" >&2; SLAPD_PID=; return 1; }
		sleep 0.1
	done
	tail -20 "$SLAPD_LOG" >&2
	tf_slapd_stop
	return 1
}

tf_slapd_stop() {
	[ -n "${SLAPD_PID:-}" ] || return 0
	kill -CONT "$SLAPD_PID" 2>/dev/null
	kill "$SLAPD_PID" 2>/dev/null
	wait "$SLAPD_PID" 2>/dev/null
	SLAPD_PID=
}

tf_slapd_pause() { kill -STOP "$SLAPD_PID"; }
tf_slapd_resume() { kill -CONT "$SLAPD_PID"; }

# tf_slapd_binds DN: simple binds as DN in slapd's log so far.
tf_slapd_binds() {
	grep -cF "BIND dn=\"$1\" method=128" "$SLAPD_LOG"
}
