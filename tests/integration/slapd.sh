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
# bench/run sets SLAPD_TLS=0 (no certificates, ldap:// only, no
# SLAPD_LDAPS_URI) and SLAPD_LOGLEVEL=0 (no per-operation log line).

SLAPD_BASE="dc=example,dc=org"
SLAPD_PEOPLE="ou=people,$SLAPD_BASE"
SLAPD_GROUPS="ou=groups,$SLAPD_BASE"
SLAPD_ADMIN_DN="cn=admin,$SLAPD_BASE"
SLAPD_READER_DN="cn=reader,$SLAPD_BASE"

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

tf_slapd_config() {
	cat <<CONF
include		/etc/ldap/schema/core.schema
include		/etc/ldap/schema/cosine.schema
include		/etc/ldap/schema/inetorgperson.schema
modulepath	/usr/lib/ldap
moduleload	back_mdb
moduleload	memberof
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
