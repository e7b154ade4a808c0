#!/usr/bin/env bash
#
# The tools against a running radiusd: logins keep working while
# "twofa-admin user import" hashes passwords, and tools/twofa-login never
# puts the shared secret on radclient's command line.
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse
IMPORT_USERS=200		# with passwords: about 30 ms of yescrypt each
declare -A SECRET
USERS_CSV=
for u in in1 in2 in3 in4 in5 cli1 cli2; do
	SECRET[$u]=$(tf_secret)
	USERS_CSV+="$u,$PW,${SECRET[$u]}"$'\n'
done

# tf_user_count: users in the store now.
tf_user_count() { sqlite3 "file:$STORE?mode=ro" "SELECT count(*) FROM users"; }

# Round two needs the store's write lock (busy_timeout 1000 ms by default):
# an import must not hold it while it hashes.
logins_keep_working_during_an_import_with_passwords() {
	local csv=$DIR/import.csv before import i u accepted=0
	before=$(tf_user_count)
	for i in $(seq 1 "$IMPORT_USERS"); do echo "imported$i,password-$i,$(tf_secret)"; done > "$csv"
	chmod 0600 "$csv"
	tf_admin user import --progress "$csv" > "$DIR/import.out" 2> "$DIR/import.err" &
	import=$!
	# Start once the import has committed a first batch, or after 3 s.
	for i in $(seq 1 30); do
		[ "$(tf_user_count)" -gt "$before" ] && break
		sleep 0.1
	done
	# Each login answered, and answered while the import still runs (it
	# takes seconds; a login, milliseconds when nothing holds the lock).
	for u in in1 in2 in3 in4 in5; do
		tf_round1 "$u" "$PW"
		tf_expect "$u round 1" "$R_CODE" "Access-Challenge"
		tf_round2 "$u" "$(tf_code "${SECRET[$u]}")" "$R_STATE"
		tf_expect "$u round 2" "$R_CODE" "Access-Accept"
		tf_expect "$u answered while the import runs" "$(kill -0 "$import" 2>/dev/null && echo yes)" yes
	done
	wait "$import"
	tf_expect "import exit status" "$?" 0
	tf_expect "import summary" "$(cat "$DIR/import.out")" \
		"imported $IMPORT_USERS users ($IMPORT_USERS with a password, $IMPORT_USERS with TOTP), skipped 0"
	tf_expect "users imported" "$(tf_user_count)" $((before + IMPORT_USERS))
}

# A stand-in radclient first in PATH records its arguments, then runs the real one.
make_radclient_spy() {
	SPY=$DIR/spy
	mkdir -p "$SPY"
	: > "$SPY/argv"
	cat > "$SPY/radclient" <<SPY
#!/bin/sh
printf '%s\n' "\$*" >> "$SPY/argv"
exec $(command -v radclient) "\$@"
SPY
	chmod 0755 "$SPY/radclient"
}

# login_with USER [twofa-login options]: a whole login, password and code on stdin.
login_with() {
	local user=$1; shift
	printf '%s\n%s\n' "$PW" "$(tf_code "${SECRET[$user]}")" |
		PATH="$SPY:$PATH" "$TOP/tools/twofa-login" -s "127.0.0.1:$PORT" "$@" "$user" 2>/dev/null
}

twofa_login_keeps_the_secret_off_radclient_argv() {
	local out file
	make_radclient_spy
	out=$(TWOFA_RADIUS_SECRET=$RADIUS_SECRET login_with cli1)
	tf_expect "secret from the environment" "$out" "Access-Accept"
	tf_expect "radclient runs" "$(grep -c . "$SPY/argv")" 2
	tf_expect "secret on argv" "$(grep -c -- "$RADIUS_SECRET" "$SPY/argv")" 0
	file=$(sed -n 's/.* -S \([^ ]*\) .*/\1/p' "$SPY/argv" | head -n 1)
	tf_expect "temporary secret file removed" "$([ -n "$file" ] && [ ! -e "$file" ] && echo removed)" removed

	: > "$SPY/argv"
	printf '%s\n' "$RADIUS_SECRET" > "$DIR/secret"; chmod 0600 "$DIR/secret"
	out=$(TWOFA_RADIUS_SECRET=wrong-secret login_with cli2 -S "$DIR/secret")
	tf_expect "secret from -S FILE" "$out" "Access-Accept"
	tf_expect "secret on argv with -S" "$(grep -c -- "$RADIUS_SECRET" "$SPY/argv")" 0
	tf_expect "the file given to radclient" "$(grep -c -- "-S $DIR/secret " "$SPY/argv")" 2
}

tf_server_setup tools
trap tf_server_stop EXIT
tf_run logins_keep_working_during_an_import_with_passwords
tf_run twofa_login_keeps_the_secret_off_radclient_argv
