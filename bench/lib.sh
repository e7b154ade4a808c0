# bench/lib.sh: set-up shared by bench/run and bench/profile.  Source it
# after tools/lib/common.sh, with OUT, PAM_SERVICE and nobuild/quick set.

# ---------------------------------------------------------------- setup

bench_build() {
	local extra=()
	[ $quick -eq 0 ] && extra+=(libpam-google-authenticator)
	# rlm_ldap for (l0); slapd and the ldap-utils the tests install already.
	[[ " ${rows:-} " == *" l0 "* ]] && extra+=(freeradius-ldap)
	twofa_install_packages "${extra[@]}"
	# twofa_build also builds the unit tests; the bench needs only the
	# module and twofa-admin, so a failing test build is not fatal here.
	if [ $nobuild -eq 1 ]; then
		[ -f "$TWOFA_MODDIR/rlm_twofa.so" ] && [ -x "$TWOFA_ADMIN" ] || die "--no-build, but nothing is built"
	elif ! (twofa_build); then
		say "twofa_build failed; building the module and twofa-admin only"
		make -C "$TOP" -s -j2 all >/dev/null || die "build failed"
	fi
	cd "$TOP" || exit 1
	mkdir -p "$OUT"
	bench_reachable_out
	if [ -x "$TOP/tools/twofa-bench" ] && [ "$TOP/tools/twofa-bench" -nt "$TOP/tools/twofa-bench.c" ]; then
		cp "$TOP/tools/twofa-bench" "$BENCH_BIN"
	else
		gcc -std=gnu99 -O2 -Wall -Wextra -I"$TOP/rlm_twofa" "$TOP/tools/twofa-bench.c" "$TOP/tools/sink_record.c" \
			"$TOP/rlm_twofa/totp.c" "$TOP/rlm_twofa/base32.c" "$TOP/rlm_twofa/errors.c" \
			-o "$BENCH_BIN" -lcrypto -lpthread || die "could not build twofa-bench"
	fi
}

# bench_reachable_out: radiusd (user freerad) reads the stores and raddbs
# under $OUT.  In a checkout freerad cannot enter (/root is 0700), they go
# to a work folder under /var/tmp instead, removed when the run ends; the
# client binary stays in $BENCH_BIN.
bench_reachable_out() {
	local prev
	runuser -u freerad -- test -x "$OUT" 2>/dev/null && return 0
	OUT=$(twofa_workdir bench)
	prev=$(trap -p EXIT | sed -n "s/^trap -- '\(.*\)' EXIT\$/\1/p")
	# shellcheck disable=SC2064 # OUT is fixed now, and has no quotes
	trap "${prev:+$prev; }rm -rf '$OUT'" EXIT
	say "freerad cannot enter $TOP/bench/out: work files in $OUT (removed at the end)"
}

# gen_users N FILE: N users "u0000000,,BASE32" (20-byte secrets, no password).
gen_users() {
	head -c $(( $1 * 20 )) /dev/urandom | base32 -w 32 |
		awk '{ printf "u%07d,,%s\n", NR - 1, $0 }' > "$2"
}

# make_store N: bench/out/store-N/{twofa.db,twofa.key,users.csv} with N
# users without password (the first factor is the files module's).
make_store() {
	local n=$1 dir=$OUT/store-$1 t0
	rm -rf "$dir"
	twofa_init_store "$dir"
	gen_users "$n" "$dir/users.csv"
	t0=$(date +%s.%N)
	"$TWOFA_ADMIN" -s "$dir/twofa.db" -k "$dir/twofa.key" user import "$dir/users.csv" >/dev/null \
		|| die "import of $n users failed"
	say "  store of $n users imported in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
	chmod 600 "$dir/users.csv"
}

# sample N: SAMPLE users spread evenly over store-N, with the password the
# files module knows for them ("p" + name: not a secret, a bench fixture).
# Sample rows with i % 3 != 0 go to the throughput rows (users.b.csv),
# i % 3 == 0 to the half-rate row (users.half.csv): a (user, step) pair is
# never used twice in one run.
sample_users() {
	local n=$1 dir=$OUT/store-$1
	awk -F, -v n="$n" -v k="$SAMPLE" -v dir="$dir" '
		BEGIN { stride = n / k }
		{ row = NR - 1; i = int(row / stride); if (row != int(i * stride)) next
		  line = $1 ",p" $1 "," $3
		  if (i % 3) print line > (dir "/users.b.csv"); else print line > (dir "/users.half.csv") }' \
		"$dir/users.csv"
	chmod 600 "$dir/users.b.csv" "$dir/users.half.csv"
}

# files_authorize CSV... [totp]: a users file with the Cleartext-Password
# (and with "totp", the TOTP-Secret) of every user in the CSV files.
files_authorize() {
	local extra=
	if [ "${!#}" = totp ]; then extra=totp; set -- "${@:1:$#-1}"; fi
	awk -F, -v extra="$extra" '{
		printf "%s Cleartext-Password := \"%s\"", $1, $2
		if (extra == "totp") printf ", TOTP-Secret := \"%s\"", $3
		printf "\n" }' "$@"
}

# ---------------------------------------------------------------- sites

site_listen() {
	cat <<EOF
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $1
	}
EOF
}

# (a) the ceiling: files + PAP, one round.
site_pap() {
	echo "server bench {"; site_listen "$1"
	cat <<'EOF'
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
}
EOF
}

# site_unlang_challenge PORT ROUND2_AUTHORIZE ROUND2_AUTHENTICATE
# [ROUND1_MODULE]: the challenge round of the rows that use FreeRADIUS alone
# (b0, d1, d2, l0), after sites-available/challenge.  Round one is files +
# PAP (or ROUND1_MODULE, e.g. ldap, in authorize and in authenticate: a
# search, then a bind as the user), then a State and session-state.  Round
# two must bring session-state back for the same user (a forged or replayed
# State finds none and is rejected), then runs the row's own unlang.
site_unlang_challenge() {
	local find=${4:-files} check=${4:-pap}
	echo "server bench {"; site_listen "$1"
	cat <<EOF
	authorize {
		if (!&State) {
			$find
			update control {
				&Auth-Type := round1
			}
		}
		else {
			if (!&session-state:User-Name || (&session-state:User-Name != &User-Name)) {
				reject
			}
$2
		}
	}
	authenticate {
		Auth-Type round1 {
			$check
			update session-state {
				&User-Name := &User-Name
			}
			update reply {
				&Reply-Message := "Enter the 6-digit code from your authenticator app"
			}
			challenge
		}
$3
	}
}
EOF
}

# (b0) FreeRADIUS's challenge round with no second factor: round two only
# checks that session-state came back for the same user.  What any
# challenge-based module can reach at most on this machine.
site_challenge() {
	site_unlang_challenge "$1" '			update control {
				&Auth-Type := Accept
			}' ''
}

# (l0) FreeRADIUS's rlm_ldap as the first factor (its search in authorize,
# the user's bind in authenticate), then (b0)'s empty challenge round.
site_ldap_challenge() {
	site_unlang_challenge "$1" '			update control {
				&Auth-Type := Accept
			}' '' ldap
}

# rlm_ldap's config for (l0), from SLAPD_* (tests/integration/slapd.sh):
# the service account finds the user under ou=people by uid, the pool sized
# as Debian's mods-available/ldap sizes it (from the thread pool).
rlm_ldap_config() {
	cat <<EOF
ldap {
	server = '127.0.0.1'
	port = ${SLAPD_URI##*:}
	identity = '$SLAPD_READER_DN'
	password = '$(cat "$SLAPD_READER_PW_FILE")'
	base_dn = 'ou=people,$SLAPD_BASE'
	user {
		base_dn = "\${..base_dn}"
		filter = "(uid=%{%{Stripped-User-Name}:-%{User-Name}})"
	}
	options {
		chase_referrals = no
		res_timeout = 3
		srv_timelimit = 3
		net_timeout = 1
	}
	pool {
		start = \${thread[pool].start_servers}
		min = \${thread[pool].min_spare_servers}
		max = \${thread[pool].max_servers}
		spare = \${thread[pool].max_spare_servers}
		uses = 0
		retry_delay = 30
		lifetime = 0
		idle_timeout = 60
	}
}
EOF
}

# (b) files + PAP in round one, then rlm_twofa with password_source = none:
# PAP's Access-Accept is the first factor, rlm_twofa challenges in post-auth.
site_twofa_none() {
	echo "server bench {"; site_listen "$1"
	cat <<'EOF'
	authorize {
		if (!&State) {
			files
			pap
		}
		twofa
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
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
EOF
}

# (d1) rlm_totp in round two, files again for the user's TOTP-Secret.
site_totp() {
	site_unlang_challenge "$1" '			files
			if (&User-Password !~ /^[0-9]{6}$/) {
				reject
			}
			update request {
				&TOTP-Password := &User-Password
			}
			update control {
				&Auth-Type := totp-round2
			}' '		Auth-Type totp-round2 {
			totp
		}'
}

# (d2) pam_google_authenticator through rlm_pam in round two.
site_pam() {
	site_unlang_challenge "$1" '			update control {
				&Auth-Type := gauth-round2
			}' '		Auth-Type gauth-round2 {
			pam
		}'
}

# start_server NAME SITE STORE_DIR "FILES_CSV..." [totp] [module config lines]
# A private raddb under bench/out/NAME (tools/lib/common.sh), our site in
# place of sites-available/twofa, then radiusd.  Sets PORT and DIR.
start_server() {
	local name=$1 site=$2 store=$3 csv=$4 files_extra=${5:-} modconf=${6:-}
	DIR=$OUT/$name
	PORT=$(twofa_free_port)
	# BENCH_STORE_URL: the store elsewhere (PostgreSQL), with STORE_DIR's key.
	twofa_make_raddb "$DIR" "$PORT" "${BENCH_STORE_URL:-$store/twofa.db}" "$store/twofa.key" "$modconf"
	# One log line per login is the tests' choice, not the benchmark's:
	# measure the logins, not the log file.
	sed -i -E "s#^(\s*auth\s*=).*#\1 ${BENCH_AUTH_LOG:-no}#" "$DIR/raddb/radiusd.conf"
	if [ -n "${BENCH_MAX_REQUEST_TIME:-}" ]; then
		sed -i -E "s#^(\s*max_request_time\s*=).*#\1 $BENCH_MAX_REQUEST_TIME#" "$DIR/raddb/radiusd.conf"
	fi
	local raddb=$DIR/raddb
	rm -f "$raddb/sites-enabled/twofa"
	if [ "$site" != stock ]; then
		"site_$site" "$PORT" > "$raddb/sites-available/bench"
		ln -s ../sites-available/bench "$raddb/sites-enabled/bench"
	else
		ln -s ../sites-available/twofa "$raddb/sites-enabled/twofa"
	fi
	# shellcheck disable=SC2086 # csv is a list of files
	[ -n "$csv" ] && files_authorize $csv $files_extra > "$raddb/mods-config/files/authorize"
	case $site in
	totp) ln -s ../mods-available/totp "$raddb/mods-enabled/totp" ;;
	pam) printf 'pam {\n\tpam_auth = %s\n}\n' "$PAM_SERVICE" > "$raddb/mods-enabled/pam" ;;
	ldap_challenge) rlm_ldap_config > "$raddb/mods-enabled/ldap" ;;
	esac
	chown -R root:freerad "$DIR"
	chmod -R g+rX,o-w "$DIR"
	chmod 640 "$raddb/mods-config/files/authorize"
	twofa_start_radiusd "$DIR" || die "radiusd ($name) did not start: see $DIR/log/radius.log"
}

rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }


# cpu_ticks PID: user + system CPU time of a process so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# bench_slapd N: a slapd of the bench's own (tests/integration/slapd.sh: mdb,
# uid indexed, no TLS, no log line per operation) holding the N users of
# store-N under ou=people with the passwords the files module knows ("p" +
# name, {SSHA}); users.l.csv lists them with their secrets (name,password,
# secret).  Sets TWOFA_LDAP, the module's password_source and ldap { } lines
# for it (pool_size: TWOFA_LDAP_POOL, default 32).  The caller stops slapd
# (tf_slapd_stop).
bench_slapd() {
	local n=$1 s=$OUT/store-$1
	make_store "$n"
	awk -F, '{ print $1 ",p" $1 "," $3 }' "$s/users.csv" > "$s/users.l.csv"
	chmod 600 "$s/users.l.csv"
	source "$TOP/tests/integration/slapd.sh"
	SLAPD_TLS=0 SLAPD_LOGLEVEL=0 SLAPD_PPOLICY=0 tf_slapd_setup "$OUT/slapd"
	/usr/bin/python3 - "$s/users.l.csv" "ou=people,$SLAPD_BASE" > "$OUT/slapd/bench.ldif" <<'PY'
import base64, hashlib, os, sys
for line in open(sys.argv[1]):
    name, password, _ = line.rstrip("\n").split(",", 2)
    salt = os.urandom(8)
    ssha = base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()
    print("dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: Bench\n"
          "userPassword: {SSHA}%s\n" % (name, sys.argv[2], name, name, ssha))
PY
	ldapadd -x -H "$SLAPD_URI" -D "$SLAPD_ADMIN_DN" -y "$SLAPD_DIR/admin-pw" -f "$OUT/slapd/bench.ldif" \
		> "$OUT/slapd/bench-add.out" 2>&1 || die "loading the bench's users into slapd failed"
	TWOFA_LDAP="	password_source = ldap
	ldap {
		server = \"$SLAPD_URI\"
		start_tls = no
		base_dn = \"ou=people,$SLAPD_BASE\"
		filter = \"(uid={user})\"
		bind_dn = \"$SLAPD_READER_DN\"
		bind_password = \"$(cat "$SLAPD_READER_PW_FILE")\"
		pool_size = ${TWOFA_LDAP_POOL:-32}
	}"
}
