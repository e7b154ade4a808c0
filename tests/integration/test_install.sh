#!/usr/bin/env bash
#
# The install path, end to end, as README.md tells an admin: `make install`
# into the system FreeRADIUS, the module enabled and merged into Debian's
# default site (sites-available/twofa-default-merge), a NAS client that
# requires Message-Authenticator, radiusd started from /etc/freeradius/3.0
# on test ports, a two-round login, `make uninstall`.
#
# radiusd's -i/-p would leave the listen sections alone, but its listener
# then belongs to no virtual server in Debian's layout (it looks for one
# named "radiusd"), so nothing would answer.  Instead the test moves the
# default and inner-tunnel sites' listeners to loopback test ports and the
# pid file into its work folder: edits of its own, beside the README's.
#
# /etc/freeradius/3.0 and whatever `make install` writes are restored
# exactly as they were, on failure too.  Other test runs copy
# /etc/freeradius/3.0 for their private raddbs, so the system is changed
# only from `make install` until radiusd has read its configuration; the
# logins then run against the started server.
#
set -u
source "$(dirname "$0")/lib.sh"

RADDB=/etc/freeradius/3.0
BUILD=$(twofa_build_top) || die "no build folder"
W=$TF_WORK
PW=correct-horse
SECRET_ALICE=$(tf_secret)
USERS_CSV="alice,$PW,$SECRET_ALICE"
CHALLENGE="Enter the 6-digit code from your authenticator app"

# manifest PATH...: one line per file, folder or link: type, mode, owner,
# size, mtime, link target and, for files, a SHA-256 of the contents.
manifest() {
	local p
	find "$@" -printf '%p\t%y\t%m\t%U:%G\t%s\t%T@\t%l\n' 2>/dev/null | sort |
		while IFS=$'\t' read -r p rest; do
			if [ -f "$p" ] && [ ! -L "$p" ]; then
				printf '%s\t%s\t%s\n' "$p" "$rest" "$(sha256sum < "$p" | cut -d ' ' -f 1)"
			else
				printf '%s\t%s\n' "$p" "$rest"
			fi
		done
}

# What `make install` writes, learnt from an install into a staging folder.
INSTALLED=()
learn_installed_files() {
	local f
	make -C "$BUILD" -s install DESTDIR="$W/stage" > "$W/stage.log" 2>&1 || return 1
	while IFS= read -r -d '' f; do INSTALLED+=("/${f#"$W"/stage/}"); done \
		< <(find "$W/stage" \( -type f -o -type l \) -print0)
}

# restore: the system as it was.  Paths that were not there are removed,
# changed ones extracted from the backup (folders last: removing and
# extracting entries changes their mtime).  Runs on every exit.
RESTORED=0
restore() {
	[ $RESTORED -eq 0 ] || return 0
	RESTORED=1
	local p
	manifest "$RADDB" "${INSTALLED[@]}" > "$W/after"
	diff <(cut -f 1 "$W/before") <(cut -f 1 "$W/after") | sed -n 's/^> //p' | sort -r |
		while IFS= read -r p; do rm -rf "$p"; done
	diff "$W/before" <(manifest "$RADDB" "${INSTALLED[@]}") | sed -n 's/^< //p' | sort -u > "$W/changed"
	# In place (--overwrite: no unlink, so the folder is not touched),
	# then every mtime as it was, folders last.
	cut -f 1 "$W/changed" | sed 's#^/##' |
		tar -xpf "$W/backup.tar" -C / --overwrite --no-recursion -T - 2>> "$W/restore.log"
	sort -t $'\t' -k 2,2r -k 1,1r "$W/changed" | cut -f 1,6 |
		while IFS=$'\t' read -r p mtime; do touch -h -m -d "@$mtime" "$p"; done
	# Folders make install created (none on a system with freeradius).
	for p in "${NEW_DIRS[@]}"; do rmdir "$p" 2>/dev/null; done
}

cleanup() {
	twofa_stop_radiusd
	restore
}

# merge_default FILE: the edits of sites-available/twofa-default-merge.
merge_default() {
	awk '
		/^authorize \{/		{ sect = "authorize" }
		/^authenticate \{/	{ sect = "authenticate" }
		/^post-auth \{/		{ print; print "\ttwofa"; sect = "post-auth"; next }
		sect == "post-auth" && /^\tPost-Auth-Type REJECT \{/ { print; print "\t\ttwofa"; next }
		/^\}/ && sect == "authorize"	{ print "\ttwofa" }
		/^\}/ && sect == "authenticate"	{ print "\tAuth-Type twofa {\n\t\ttwofa\n\t}" }
		/^\}/			{ sect = "" }
		{ print }' "$1"
}

# listen_on_test_ports FILE: the default site's listen sections on
# 127.0.0.1 and ::1, auth on PORT, acct on PORT + 1.
listen_on_test_ports() {
	awk -v auth="$PORT" -v acct="$((PORT + 1))" '
		/^listen \{/ { n = 0; inl = 1; type = "auth" }
		!inl { print; next }
		{ buf[++n] = $0 }
		/^[[:space:]]*type[[:space:]]*=[[:space:]]*acct/ { type = "acct" }
		/^\}/ {
			for (i = 1; i <= n; i++) {
				l = buf[i]
				sub(/^[[:space:]]*ipaddr[[:space:]]*=[[:space:]]*\*.*/, "\tipaddr = 127.0.0.1", l)
				sub(/^[[:space:]]*ipv6addr[[:space:]]*=[[:space:]]*::([[:space:]].*)?$/, "\tipv6addr = ::1", l)
				if (l ~ /^[[:space:]]*port[[:space:]]*=[[:space:]]*0/) l = "\tport = " (type == "acct" ? acct : auth)
				print l
			}
			inl = 0
		}' "$1"
}

# rewrite FILE: FILE gets standard input as contents, in place (same inode,
# owner and mode; no temporary file beside it).
rewrite() { local t; t=$(cat) && printf '%s\n' "$t" > "$1"; }

install_enable_and_start() {
	local default conf
	PORT=$(twofa_free_port)
	while ss -Hlnu "sport = :$((PORT + 2))" | grep -q . || ss -Hlnt "sport = :$((PORT + 2))" | grep -q .; do
		PORT=$(twofa_free_port)
	done
	mkdir -p "$W/server/log" "$W/server/run"
	: > "$W/server/log/radius.log"
	chown -R freerad:freerad "$W/server"
	make -C "$BUILD" -s install > "$W/install.log" 2>&1 || { say "make install failed:"; cat "$W/install.log" >&2; return 1; }
	# The installed module config, pointed at this test's store.
	conf=$RADDB/mods-available/twofa
	sed -E -e "s#^(\s*store\s*=).*#\1 $W/store/twofa.db#" -e "s#^(\s*key_file\s*=).*#\1 $W/store/twofa.key#" \
		"$conf" | rewrite "$conf"
	# As README.md says.
	ln -s ../mods-available/twofa "$RADDB/mods-enabled/twofa" || return 1
	default=$(readlink -f "$RADDB/sites-enabled/default")
	merge_default "$default" | rewrite "$default"
	awk '/^client localhost \{/ { c = 1 }
		c && /^[[:space:]]*require_message_authenticator[[:space:]]*=/ { sub(/=.*/, "= yes") }
		/^\}/ { c = 0 }
		{ print }' "$RADDB/clients.conf" | rewrite "$RADDB/clients.conf"

	# The test's own edits: loopback test ports, the pid file.
	listen_on_test_ports "$default" | rewrite "$default"
	conf=$(readlink -f "$RADDB/sites-enabled/inner-tunnel")
	sed -E "s#^(\s*port\s*=\s*)18120\b#\1$((PORT + 2))#" "$conf" | rewrite "$conf"
	sed -E "s#^(pidfile\s*=).*#\1 $W/server/run/radiusd.pid#" "$RADDB/radiusd.conf" | rewrite "$RADDB/radiusd.conf"

	freeradius -f ${TWOFA_INSTALL_DEBUG:+-xx} -d "$RADDB" -l "$W/server/log/radius.log" &
	RADIUSD_PID=$!
	local i
	for i in $(seq 1 100); do
		grep -q "Ready to process requests" "$W/server/log/radius.log" && return 0
		kill -0 "$RADIUSD_PID" 2>/dev/null || break
		sleep 0.1
	done
	say "radiusd did not start:"; tail -n ${TWOFA_INSTALL_DEBUG:+400}${TWOFA_INSTALL_DEBUG:-20} "$W/server/log/radius.log" >&2
	return 1
}

installed_module_logs_in_in_two_rounds_through_the_default_site() {
	tf_expect "radiusd started from $RADDB" "$STARTED" yes
	tf_expect "make uninstall" "$UNINSTALLED" yes
	tf_expect "installed files left after make uninstall" "$LEFT" ""
	[ "$STARTED" = yes ] || return
	# Its listeners on the test ports, loopback only (the proxy socket,
	# on an ephemeral port, only takes replies from home servers).
	ss -Hlnup | grep "pid=$RADIUSD_PID," | awk '{ print $4 }' |
		grep -E ":($PORT|$((PORT + 1))|$((PORT + 2)))\$" | sort > "$W/listeners"
	tf_expect "listeners" "$(tr '\n' ' ' < "$W/listeners")" \
		"127.0.0.1:$PORT 127.0.0.1:$((PORT + 1)) 127.0.0.1:$((PORT + 2)) [::1]:$PORT [::1]:$((PORT + 1)) "

	tf_wait_fresh_step
	tf_round1 alice "$PW"
	tf_expect "round 1" "$R_CODE" "Access-Challenge"
	tf_expect "challenge message (twofa in the default site)" "$R_MSG" "$CHALLENGE"
	tf_round2 alice "$(tf_code "$SECRET_ALICE")" "$R_STATE"
	tf_expect "round 2" "$R_CODE" "Access-Accept"
	[ $tf_failed -eq 0 ] || tail -n ${TWOFA_INSTALL_DEBUG:+400}${TWOFA_INSTALL_DEBUG:-20} "$W/server/log/radius.log" | sed 's/^/    /' >&2
}

request_without_message_authenticator_is_dropped() {
	local out
	out=$(printf 'User-Name = "alice"\nUser-Password = "%s"\n' "$PW" |
		radclient -x -r 1 -t 1 -S "$RADIUS_SECRET_FILE" "127.0.0.1:$PORT" auth 2>&1)
	tf_expect "reply" "$(grep -c '^Received' <<< "$out")" 0
}

system_raddb_is_restored_exactly() {
	twofa_stop_radiusd
	restore
	diff "$W/before" <(manifest "$RADDB" "${INSTALLED[@]}") > "$W/restore.diff"
	tf_expect "differences from before the test" "$(head -c 600 "$W/restore.diff")" ""
}

for tool in freeradius radclient make; do
	command -v "$tool" >/dev/null || { echo "FAIL install: $tool not found"; exit 1; }
done
for f in sites-enabled/default sites-enabled/inner-tunnel clients.conf radiusd.conf; do
	[ -f "$RADDB/$f" ] || { echo "FAIL install: needs Debian's stock $RADDB/$f"; exit 1; }
done
[ -f "$BUILD/Makefile" ] || { echo "FAIL install: $BUILD is not configured (run tools/test)"; exit 1; }

# One install test at a time on this machine, whichever checkout it runs from.
exec 9> /run/twofa-install-test.lock	# in /run, root's alone (unlike /run/lock)
flock -w 300 9 || { echo "FAIL install: another install test holds the lock"; exit 1; }

if ! learn_installed_files; then
	echo "FAIL install: make install DESTDIR= failed: $(tail -n 3 "$W/stage.log")"; exit 1
fi
for want in /usr/lib/freeradius/rlm_twofa.so "$RADDB/mods-available/twofa" /usr/sbin/twofa-admin; do
	if ! printf '%s\n' "${INSTALLED[@]}" | grep -qxF "$want"; then
		echo "FAIL install: make install does not write $want (configured with another prefix?)"; exit 1
	fi
done
NEW_DIRS=()
for f in "${INSTALLED[@]}"; do
	d=${f%/*}
	while [ ! -d "$d" ]; do NEW_DIRS+=("$d"); d=${d%/*}; done
done

twofa_init_store "$W/store"
printf '%s\n' "$USERS_CSV" | "$TWOFA_ADMIN" -s "$W/store/twofa.db" -k "$W/store/twofa.key" user import - >/dev/null \
	|| die "user import failed"

# The backup: the raddb and what make install would overwrite.
manifest "$RADDB" "${INSTALLED[@]}" > "$W/before"
cut -f 1 "$W/before" | sort -u | sed 's#^/##' | tar --format=posix -cpf "$W/backup.tar" -C / --no-recursion -T - \
	|| die "cannot back up $RADDB"

trap cleanup EXIT
STARTED=no
UNINSTALLED=no
t0=$(date +%s.%N)
install_enable_and_start && STARTED=yes
make -C "$BUILD" -s uninstall > "$W/uninstall.log" 2>&1 && UNINSTALLED=yes
LEFT=$(for f in "${INSTALLED[@]}"; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s ' "$f"; fi; done)
restore
say "$RADDB changed for $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
tf_run installed_module_logs_in_in_two_rounds_through_the_default_site
[ "$STARTED" = yes ] && tf_run request_without_message_authenticator_is_dropped
tf_run system_raddb_is_restored_exactly
