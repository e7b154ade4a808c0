#!/usr/bin/env bash
#
# The files twofa-admin writes as root: init's directory, store and key file
# (an account owning the directory's parent must not make root hand it
# another file through a symlink or a hard link), the QR code PNG, and the
# code of "totp confirm", which must never be on a command line.
#
set -u
source "$(dirname "$0")/lib.sh"

DIR=$TF_WORK/admin_files
rm -rf "$DIR"; mkdir -p "$DIR"
chmod 0755 "$DIR"

# A root-owned file and directory that a planted link points to.
VICTIM=$DIR/victim
VICTIM_DIR=$DIR/victim-dir

# owner_mode PATH: "owner mode" of PATH itself, or "missing".
owner_mode() { stat -c '%U %a' "$1" 2>/dev/null || echo missing; }

# plant NAME: a directory owned by freerad, as /var/lib/freeradius is, in
# which freerad could have put anything.
plant() {
	PARENT=$DIR/$1
	rm -rf "$PARENT"; mkdir -p "$PARENT"
	chown freerad:freerad "$PARENT"
	rm -rf "$VICTIM" "$VICTIM_DIR"
	echo "root's file" > "$VICTIM"; chmod 0644 "$VICTIM"
	mkdir "$VICTIM_DIR"; chmod 0700 "$VICTIM_DIR"
}

# init_refused WHAT STORE: init as root must fail, say why, and leave the
# victims as they were.
init_refused() {
	local out rc
	out=$("$TWOFA_ADMIN" -s "$2" init --owner freerad 2>&1 >/dev/null)
	rc=$?
	tf_expect "$1: exit status" "$rc" 2
	tf_expect "$1: message" "$(printf '%s' "$out" | grep -c -E 'symbolic link|hard links')" 1
	tf_expect "$1: victim file" "$(owner_mode "$VICTIM")" "root 644"
	tf_expect "$1: victim contents" "$(cat "$VICTIM")" "root's file"
	tf_expect "$1: victim directory" "$(owner_mode "$VICTIM_DIR")" "root 700"
	tf_expect "$1: nothing made in the victim directory" "$(ls -A "$VICTIM_DIR" | wc -l)" 0
}

init_refuses_a_symlink_in_place_of_the_directory() {
	plant dirlink
	ln -s "$VICTIM_DIR" "$PARENT/twofa"
	init_refused "directory" "$PARENT/twofa/twofa.db"
}

init_refuses_a_symlink_in_place_of_the_store() {
	plant storelink
	mkdir "$PARENT/twofa"; chown freerad:freerad "$PARENT/twofa"
	ln -s "$VICTIM" "$PARENT/twofa/twofa.db"
	init_refused "store" "$PARENT/twofa/twofa.db"
}

init_refuses_a_symlink_in_place_of_the_key_file() {
	plant keylink
	mkdir "$PARENT/twofa"; chown freerad:freerad "$PARENT/twofa"
	ln -s "$VICTIM" "$PARENT/twofa/twofa.key"
	init_refused "key file" "$PARENT/twofa/twofa.db"
}

# After a first init the directory is freerad's: a second run (to repair
# ownership) must not chown what freerad put there since.
init_run_again_refuses_links_planted_since() {
	local store
	plant again
	store=$PARENT/twofa/twofa.db
	"$TWOFA_ADMIN" -s "$store" init --owner freerad >/dev/null
	tf_expect "first init" "$?" 0
	tf_expect "store owner" "$(owner_mode "$store")" "freerad 640"
	tf_expect "key owner" "$(owner_mode "$PARENT/twofa/twofa.key")" "freerad 600"
	ln -s "$VICTIM" "$store-wal"
	init_refused "-wal symlink" "$store"
	rm -f "$store-wal"
	ln "$VICTIM" "$store-shm"
	init_refused "-shm hard link" "$store"
	rm -f "$store-shm"
	"$TWOFA_ADMIN" -s "$store" init --owner freerad >/dev/null
	tf_expect "init again once removed" "$?" 0
}

# A store with one user, for the enroll and confirm cases.
STORE=$DIR/store/twofa.db
KEY=$DIR/store/twofa.key
twofa_init_store "$DIR/store"
printf 'pw\n' | tf_admin user add pat >/dev/null || die "user add failed"

png_is_a_new_owner_only_file() {
	local png=$DIR/new.png
	rm -f "$png"
	( umask 000; tf_admin totp enroll pat --force --png "$png" >/dev/null )
	tf_expect "exit status" "$?" 0
	tf_expect "mode" "$(owner_mode "$png")" "root 600"
	tf_expect "a PNG" "$(head -c 4 "$png" | tail -c 3)" "PNG"
}

png_never_follows_a_symlink() {
	local png=$DIR/link.png
	rm -f "$VICTIM"; echo "root's file" > "$VICTIM"; chmod 0644 "$VICTIM"
	ln -sfn "$VICTIM" "$png"
	tf_admin totp enroll pat --force --png "$png" >/dev/null 2>&1
	tf_expect "exit status" "$?" 1
	tf_expect "victim" "$(owner_mode "$VICTIM") $(cat "$VICTIM")" "root 644 root's file"
	tf_expect "still a link" "$([ -L "$png" ] && echo link)" link
}

png_replaces_an_existing_file_only_with_force() {
	local png=$DIR/old.png out
	echo "old contents" > "$png"; chmod 0644 "$png"
	out=$(tf_admin totp enroll pat --png "$png" 2>&1 >/dev/null)
	tf_expect "without --force: exit status" "$?" 1
	tf_expect "without --force: message" "$(printf '%s' "$out" | grep -c 'exists')" 1
	tf_expect "without --force: untouched" "$(owner_mode "$png") $(cat "$png")" "root 644 old contents"
	tf_admin totp enroll pat --force --png "$png" >/dev/null
	tf_expect "with --force: exit status" "$?" 0
	tf_expect "with --force: mode" "$(owner_mode "$png")" "root 600"
	tf_expect "with --force: a PNG" "$(head -c 4 "$png" | tail -c 3)" "PNG"
}

confirm_refuses_a_code_on_the_command_line() {
	local secret out
	secret=$(tf_admin --json totp enroll pat --force | sed -n 's/.*"secret":"\([A-Z2-7]*\)".*/\1/p')
	out=$(tf_admin totp confirm pat "$(tf_code "$secret")" 2>&1 >/dev/null)
	tf_expect "exit status" "$?" 1
	tf_expect "message" "$(printf '%s' "$out" | grep -c 'standard input')" 1
	tf_expect "still pending" "$(tf_admin --json user show pat | grep -c '"totp":"pending"')" 1
}

confirm_reads_the_code_from_stdin() {
	local secret
	secret=$(tf_admin --json totp enroll pat --force | sed -n 's/.*"secret":"\([A-Z2-7]*\)".*/\1/p')
	echo 000000 | tf_admin totp confirm pat >/dev/null 2>&1
	tf_expect "wrong code" "$?" 1
	tf_admin totp confirm pat </dev/null >/dev/null 2>&1
	tf_expect "no code" "$?" 1
	tf_code "$secret" | tf_admin totp confirm pat >/dev/null
	tf_expect "right code" "$?" 0
	tf_expect "confirmed" "$(tf_admin --json user show pat | grep -c '"totp":"confirmed"')" 1
}

# A user reset, a new password and the 2FA switch forget the user's
# remembered devices even when the audit row of the change cannot be
# written: the change is made (exit status 2 says the audit failed), and a
# device remembered before it must not skip the second factor after it.
sql_as_owner() { runuser -u freerad -- sqlite3 "$STORE" "$@"; }
devices_of() { sqlite3 "file:$STORE?mode=ro" "SELECT count(*) FROM devices WHERE user_id = (SELECT id FROM users WHERE name = '$1')"; }

devices_forgotten_even_if_the_audit_fails() {
	local cmd
	printf 'pw\n' | tf_admin user add quinn >/dev/null || die "user add failed"
	for cmd in "user reset quinn" "user passwd quinn" "user 2fa quinn off"; do
		sql_as_owner "INSERT INTO devices (user_id, hash, created, last_used, expires) SELECT id, randomblob(32), 0, 0, 4102444800 FROM users WHERE name = 'quinn'; CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(FAIL, 'audit refused'); END;"
		tf_expect "$cmd: a device remembered" "$(devices_of quinn)" 1
		# shellcheck disable=SC2086
		printf 'pw2\n' | tf_admin $cmd >/dev/null 2>&1
		tf_expect "$cmd: exit status" "$?" 2
		sql_as_owner "DROP TRIGGER no_audit"
		tf_expect "$cmd: devices forgotten" "$(devices_of quinn)" 0
	done
}

tf_run init_refuses_a_symlink_in_place_of_the_directory
tf_run init_refuses_a_symlink_in_place_of_the_store
tf_run init_refuses_a_symlink_in_place_of_the_key_file
tf_run init_run_again_refuses_links_planted_since
tf_run png_is_a_new_owner_only_file
tf_run png_never_follows_a_symlink
tf_run png_replaces_an_existing_file_only_with_force
tf_run confirm_refuses_a_code_on_the_command_line
tf_run confirm_reads_the_code_from_stdin
tf_run devices_forgotten_even_if_the_audit_fails
