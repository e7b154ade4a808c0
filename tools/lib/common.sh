# common.sh: shared by tools/demo, tools/test and bench/run.  Source it.
#
# Set-up on a fresh Debian 12 machine (packages, FreeRADIUS headers, build),
# a private raddb with the repo's overlay, and a private radiusd started and
# stopped by its PID.
#
# The checkout may be anywhere root can clone to: /root (0700), a mktemp -d
# folder, a path with spaces.  radiusd runs as freerad, who may not be able
# to enter it, so what radiusd reads (raddb copy, store, a copy of the
# module) goes to a work folder under /var/tmp (twofa_workdir), never into
# the checkout.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Debian packages the build, the demo and the tests need.
TWOFA_PACKAGES="build-essential autoconf automake libtool pkg-config dpkg-dev
	freeradius freeradius-utils libfreeradius-dev libtalloc-dev libpcre3-dev
	libssl-dev libsqlite3-dev sqlite3 libldap2-dev libcurl4-openssl-dev
	libqrencode-dev libpng-dev libcrypt-dev oathtool python3-pyrad python3-pycryptodome
	libfaketime slapd ldap-utils libpam-radius-auth pamtester eapoltest postgresql libpq-dev"

say() { printf '%s\n' "$*" >&2; }
die() { say "${0##*/}: $*"; exit 1; }

# Install whatever is missing: apt-get update once, then apt-get install -y.
twofa_install_packages() {
	local missing=() p
	for p in $TWOFA_PACKAGES "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them"
	say "Installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || die "apt-get update failed"
	apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get install failed"
	# Debian starts the stock freeradius service on install; we run our own.
	if [ -d /run/systemd/system ]; then systemctl disable --now freeradius >/dev/null 2>&1 || true; fi
}

# twofa_build_top: the folder to build in.  Libtool and the Makefile's -I
# flags break on whitespace in the path, so a checkout whose path holds some
# is built through a symlink without any, in a folder only its user can
# write to.  The Makefiles record that path: the link is made again on
# every build (/run is emptied at boot).
twofa_build_top() {
	case $TOP in
	*[[:space:]]*) ;;
	*) printf '%s\n' "$TOP"; return 0 ;;
	esac
	local link base
	link=$(twofa_build_link "$TOP")
	base=${link%/*}
	mkdir -p -m 0700 "$base" || return 1
	if [ -L "$base" ] || [ ! -O "$base" ]; then say "$base: not a folder of ours"; return 1; fi
	chmod 0700 "$base" || return 1
	ln -sfn "$TOP" "$link" || return 1
	printf '%s\n' "$link"
}

# twofa_build_link CHECKOUT: where twofa_build_top puts that checkout's link.
twofa_build_link() {
	local base=/run/twofa-build
	[ "$(id -u)" -eq 0 ] || base=${TMPDIR:-/tmp}/twofa-build-$(id -u)
	printf '%s/%s\n' "$base" "$(printf '%s' "$1" | sha256sum | cut -c 1-16)"
}

# Headers, configure, make: each step only when needed.
twofa_build() {
	local top
	top=$(twofa_build_top) || die "cannot build in $TOP"
	cd "$top" || exit 1
	"$TOP/tools/fetch-freeradius-headers" >&2 || die "could not fetch the FreeRADIUS headers"
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
		say "Running autoreconf..."
		autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; die "autoreconf failed"; }
	fi
	if [ ! -f Makefile ] || [ configure -nt config.status ]; then
		say "Running configure..."
		./configure -q >/dev/null || die "configure failed (see config.log)"
	fi
	say "Building..."
	make -s -j2 all >/dev/null || { make all 2>&1 | grep -E 'error|Error' | head -20 >&2; die "build failed"; }
	make -s -j2 check TESTS= >/dev/null || die "building the unit tests failed"
}

TWOFA_ADMIN="$TOP/tools/twofa-admin"
TWOFA_MODDIR="$TOP/.libs"

# twofa_workdir NAME: a new folder for one run's files that radiusd (user
# freerad) must reach: /var/tmp/twofa-NAME.XXXXXX, root:freerad, 0750.
# Unique, so that several checkouts can run at once; the caller removes it.
twofa_workdir() {
	local dir
	dir=$(mktemp -d "/var/tmp/twofa-$1.XXXXXX") || die "cannot make a work folder in /var/tmp"
	chgrp freerad "$dir" && chmod 0750 "$dir" || { rm -rf "$dir"; die "cannot hand $dir to group freerad"; }
	printf '%s\n' "$dir"
}

# A free TCP/UDP port on 127.0.0.1 in the high range.
twofa_free_port() {
	local port
	while :; do
		port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
		ss -Hlnu "sport = :$port" 2>/dev/null | grep -q . && continue
		ss -Hlnu "sport = :$((port + 1))" 2>/dev/null | grep -q . && continue
		echo "$port"; return 0
	done
}

# twofa_make_raddb DIR PORT STORE KEY [extra module config lines]
# A copy of the system raddb with only our site enabled, listening on
# 127.0.0.1:PORT, and a copy of the built module in DIR/lib.  DIR must be
# in a work folder (twofa_workdir): everything in it is made readable by
# freerad, as radiusd drops to that user before loading modules.
twofa_make_raddb() {
	local dir=$1 port=$2 store=$3 key=$4 extra=${5:-}
	rm -rf "$dir"
	mkdir -p "$dir"
	cp -a /etc/freeradius/3.0/. "$dir/raddb"
	mkdir -p "$dir/log" "$dir/run" "$dir/lib"
	cp "$TWOFA_MODDIR/rlm_twofa.so" "$dir/lib/rlm_twofa.so" || die "the module is not built"
	local raddb=$dir/raddb
	rm -f "$raddb"/sites-enabled/* "$raddb"/mods-enabled/eap
	cp "$TOP/raddb/mods-available/twofa" "$raddb/mods-available/twofa"
	cp "$TOP/raddb/sites-available/twofa" "$raddb/sites-available/twofa"
	mkdir -p "$raddb/mods-config/twofa"
	cp "$TOP/raddb/mods-config/twofa/policy" "$raddb/mods-config/twofa/policy"
	# -f: the system raddb may have the module enabled already.
	ln -sf ../mods-available/twofa "$raddb/mods-enabled/twofa"
	ln -sf ../sites-available/twofa "$raddb/sites-enabled/twofa"

	# Paths: nothing may be read from /etc/freeradius.
	sed -i -E \
		-e "s#^(\s*raddbdir\s*=).*#\1 $raddb#" \
		-e "s#^(\s*logdir\s*=).*#\1 $dir/log#" \
		-e "s#^(\s*run_dir\s*=).*#\1 $dir/run#" \
		-e "s#^(\s*libdir\s*=).*#\1 $dir/lib:/usr/lib/freeradius#" \
		-e "s#^(\s*reject_delay\s*=).*#\1 0#" \
		-e "s#^(\s*max_requests\s*=).*#\1 ${TWOFA_MAX_REQUESTS:-16384}#" \
		-e "s#^(\s*max_servers\s*=).*#\1 ${TWOFA_MAX_SERVERS:-32}#" \
		-e "s#^(\s*auth\s*=).*#\1 yes#" \
		"$raddb/radiusd.conf"
	sed -i -E -e "s#^(\s*port\s*=).*#\1 $port#" -e "s#^(\s*ipaddr\s*=\s*)\*#\1127.0.0.1#" \
		"$raddb/sites-available/twofa"
	# A URL may hold '&': sed's "the matched text" in a replacement.
	local store_sed=${store//\\/\\\\} key_sed=${key//\\/\\\\}
	store_sed=${store_sed//&/\\&}; key_sed=${key_sed//&/\\&}
	sed -i -E -e "s#^(\s*store\s*=).*#\1 $store_sed#" -e "s#^(\s*key_file\s*=).*#\1 $key_sed#" \
		"$raddb/mods-available/twofa"
	if [ -n "$extra" ]; then
		# Extra "name = value" lines go at the top of the twofa section.
		awk -v extra="$extra" '!done && /^twofa \{/ { print; print extra; done = 1; next } { print }' \
			"$raddb/mods-available/twofa" > "$raddb/mods-available/twofa.new"
		mv "$raddb/mods-available/twofa.new" "$raddb/mods-available/twofa"
	fi
	cat > "$raddb/clients.conf" <<CLIENTS
client localhost {
	ipaddr = 127.0.0.1
	secret = testing123
	require_message_authenticator = yes
}
CLIENTS
	chown -R root:freerad "$dir"
	chmod -R g+rX,o-w "$dir"
	chmod g+w "$dir/log" "$dir/run"
}

# twofa_init_store DIR: make the store directory, owned by freerad.
twofa_init_store() {
	local dir=$1
	mkdir -p "$dir"
	"$TWOFA_ADMIN" -s "$dir/twofa.db" -k "$dir/twofa.key" init --owner freerad >/dev/null \
		|| die "twofa-admin init failed"
}

# twofa_start_radiusd DIR [extra radiusd args]: start in the foreground in the
# background, wait until it answers, set RADIUSD_PID.
twofa_start_radiusd() {
	local dir=$1; shift
	: > "$dir/log/radius.log"
	chown freerad:freerad "$dir/log/radius.log"
	# TWOFA_RADIUSD_PREFIX: words run before freeradius, split on blanks, e.g.
	# "env LD_PRELOAD=..." from tools/test --sanitize.  It must exec radiusd.
	# shellcheck disable=SC2086
	${TWOFA_RADIUSD_PREFIX:-} freeradius -f -d "$dir/raddb" -l "$dir/log/radius.log" "$@" &
	RADIUSD_PID=$!
	local i
	for i in $(seq 1 100); do
		if grep -q "Ready to process requests" "$dir/log/radius.log" 2>/dev/null; then return 0; fi
		if ! kill -0 "$RADIUSD_PID" 2>/dev/null; then
			say "radiusd did not start:"; tail -20 "$dir/log/radius.log" >&2; return 1
		fi
		sleep 0.1
	done
	say "radiusd did not become ready:"; tail -20 "$dir/log/radius.log" >&2
	# Not left behind: stopped by its PID, hung or not.
	kill -9 "$RADIUSD_PID" 2>/dev/null; wait "$RADIUSD_PID" 2>/dev/null; RADIUSD_PID=
	return 1
}

twofa_stop_radiusd() {
	[ -n "${RADIUSD_PID:-}" ] || return 0
	kill "$RADIUSD_PID" 2>/dev/null
	wait "$RADIUSD_PID" 2>/dev/null
	RADIUSD_PID=
}
