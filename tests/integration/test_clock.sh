#!/usr/bin/env bash
#
# A used code stays refused whatever radiusd's clock does (issue 13's
# black-box case): the clock runs 10 minutes ahead while 80 other users
# log in (their logins sweep out used steps that look old by then), then
# is stepped back, as NTP would: the code used before must still be
# refused.  radiusd's clock is moved with libfaketime, which reaches the
# module through the test-only dlopen shim (tests/shim/deepbind_off.c:
# without it RTLD_DEEPBIND binds the module's time() to libc's).
#
set -u
source "$(dirname "$0")/lib.sh"

PW=correct-horse
OTHERS=80
declare -A SECRET
USERS_CSV=
for u in alice $(seq -f 'u%02g' 1 $OTHERS); do
	SECRET[$u]=$(tf_secret)
	USERS_CSV+="$u,$PW,${SECRET[$u]}"$'\n'
done

FAKETIME_LIB=$(dpkg -L libfaketime 2>/dev/null | grep -m 1 '/libfaketimeMT\.so\.1$')

# set_clock SPEC: radiusd's clock from now on ("+600", "+0"); libfaketime
# reads the file at every call (FAKETIME_NO_CACHE).
set_clock() { echo "$1" > "$CLOCK_FILE"; }

used_code_is_refused_after_the_clock_ran_ahead_and_was_stepped_back() {
	local code u accepted=0
	tf_wait_fresh_step
	code=$(tf_code "${SECRET[alice]}")
	tf_round1 alice "$PW"; tf_round2 alice "$code" "$R_STATE"
	tf_expect "alice, first use" "$R_CODE" "Access-Accept"

	set_clock "+600"
	for u in $(seq -f 'u%02g' 1 $OTHERS); do
		tf_round1 "$u" "$PW"
		tf_round2 "$u" "$(tf_code "${SECRET[$u]}" 600)" "$R_STATE"
		[ "$R_CODE" = "Access-Accept" ] && accepted=$((accepted + 1))
	done
	tf_expect "logins 10 minutes ahead" "$accepted" "$OTHERS"

	set_clock "+0"
	tf_round1 alice "$PW"
	tf_expect "alice, round 1 after the step back" "$R_CODE" "Access-Challenge"
	tf_round2 alice "$code" "$R_STATE"
	tf_expect "alice's used code after the step back" "$R_CODE" "Access-Challenge"
	tf_expect "not counted as a failure" \
		"$(sqlite3 "file:$STORE?mode=ro" "SELECT fail_count FROM users WHERE name = 'alice'")" 0
}

[ -n "$FAKETIME_LIB" ] || die "libfaketime is not installed (apt-get install libfaketime)"
SHIM=$TF_WORK/deepbind_off.so
gcc -shared -fPIC -O2 -o "$SHIM" "$TOP/tests/shim/deepbind_off.c" -ldl || die "could not build the dlopen shim"
chmod 0755 "$SHIM"
CLOCK_FILE=$TF_WORK/faketime
echo "+0" > "$CLOCK_FILE"
chmod 0644 "$CLOCK_FILE"
# Not under tools/test --sanitize: libfaketime and ASan's runtime do not start together.
export TWOFA_RADIUSD_PREFIX="env LD_PRELOAD=$SHIM:$FAKETIME_LIB FAKETIME_TIMESTAMP_FILE=$CLOCK_FILE FAKETIME_NO_CACHE=1 DONT_FAKE_MONOTONIC=1"
tf_server_setup clock
trap tf_server_stop EXIT
tf_run used_code_is_refused_after_the_clock_ran_ahead_and_was_stepped_back
