#!/usr/bin/env bash
#
# Run by tools/test --sanitize only (from its sanitized copy of the tree):
# a module with a heap overflow planted in round one's name check
# (plant_overflow.c, linked in with -Wl,--wrap) runs in Debian's radiusd the
# way every sanitized integration test runs it.  ASan must report the
# overflow from inside radiusd, or the sanitized suites prove nothing.
#
set -u
source "$(dirname "$0")/../integration/lib.sh"

[ -n "${TWOFA_SANITIZER_LOG:-}" ] && [ -n "${TWOFA_SANITIZE_CC:-}" ] \
	|| die "run by tools/test --sanitize, which sets up the sanitizers"

PW=correct-horse
SECRET_ALICE=$(tf_secret)
USERS_CSV="alice,$PW,$SECRET_ALICE"
PLANTED=$TF_WORK/planted-module

# The sanitized module's objects (rlm_twofa.c and its mod_*.c), the planted
# wrapper, linked as rlm_twofa.so.
build_planted_module() {
	rm -rf "$PLANTED"; mkdir -p "$PLANTED"
	# shellcheck disable=SC2086
	$TWOFA_SANITIZE_CC $TWOFA_SANITIZE_CFLAGS -fPIC -c "$TOP/tests/shim/plant_overflow.c" -o "$PLANTED/plant_overflow.o" &&
	$TWOFA_SANITIZE_CC -shared $TWOFA_SANITIZE_CFLAGS -o "$PLANTED/rlm_twofa.so" "$TOP"/rlm_twofa/.libs/la-*.o \
		-Wl,--whole-archive "$TOP/.libs/libtwofa_ldap.a" "$TOP/.libs/libtwofa.a" -Wl,--no-whole-archive \
		"$PLANTED/plant_overflow.o" -Wl,--wrap=twofa_user_name_valid \
		$(pkg-config --libs libcrypto sqlite3 talloc libxcrypt libcurl libpq) -lldap -llber -lpthread
}

# reports_with WORD: the sanitizer reports that mention WORD.
reports_with() { grep -l -- "$1" "$TWOFA_SANITIZER_LOG"/report.* 2>/dev/null; }

sanitizer_reports_planted_overflow_in_radiusd() {
	local report
	tf_wait_fresh_step
	tf_round1 alice "$PW"
	tf_expect "alice's round 1 on the planted module" "$R_CODE" "Access-Challenge"
	tf_round2 alice "$(tf_code "$SECRET_ALICE")" "$R_STATE"
	tf_expect "alice's round 2 on the planted module" "$R_CODE" "Access-Accept"

	tf_round1 plant-overflow "$PW"
	tf_expect "reply to the planted overflow" "$R_CODE" "none"
	sleep 0.5
	kill -0 "$RADIUSD_PID" 2>/dev/null && tf_expect "radiusd" "still running" "stopped by ASan"

	report=$(reports_with heap-buffer-overflow | head -n 1)
	if [ -z "$report" ]; then
		tf_expect "ASan report" "(none in $TWOFA_SANITIZER_LOG)" "heap-buffer-overflow"
		return
	fi
	grep -q "WRITE of size 1" "$report" || tf_expect "report" "no 'WRITE of size 1'" "a one-byte write"
	grep -q "__wrap_twofa_user_name_valid" "$report" || tf_expect "report" "no planted frame" "__wrap_twofa_user_name_valid"
	grep -q "mod_authorize\|mod_authenticate\|rlm_twofa" "$report" || tf_expect "report" "no module frame" "rlm_twofa's hooks"
	# Expected: keep it beside the test's logs, out of the folder tools/test checks.
	mv "$report" "$DIR/asan-planted-overflow.txt"
}

build_planted_module || die "could not build the planted module"
TWOFA_MODDIR=$PLANTED
tf_server_setup planted_overflow
trap tf_server_stop EXIT
tf_run sanitizer_reports_planted_overflow_in_radiusd
