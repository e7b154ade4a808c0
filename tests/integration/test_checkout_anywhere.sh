#!/usr/bin/env bash
#
# tools/test and tools/demo from a checkout radiusd's user cannot enter:
# root picks where to clone (/root is 0700 on Debian, so is a mktemp -d
# folder) and the path may hold spaces.  radiusd runs as freerad, so what
# it must read (store, raddb, module) cannot stay in the checkout.
#
# The working tree (tracked and new files, as git lists them) is copied
# into "$(mktemp -d)/with space", built there from scratch, and runs the
# login suite (not this one: no recursion) and the demo.
#
set -u
source "$(dirname "$0")/lib.sh"

# The copy's own run must not come back here.
if [ -n "${TWOFA_CHECKOUT_COPY:-}" ]; then
	echo "FAIL checkout_anywhere: started from within its own copy"
	exit 1
fi
export TWOFA_CHECKOUT_COPY=1

PARENT=$(mktemp -d)		# mode 0700, as mktemp makes it
COPY="$PARENT/with space"
DEMO_PID=
cleanup() {
	if [ -n "$DEMO_PID" ]; then kill "$DEMO_PID" 2>/dev/null; wait "$DEMO_PID" 2>/dev/null; fi
	rm -rf "$PARENT"
	rm -f "$(twofa_build_link "$COPY")"	# the copy was built through it
}
trap cleanup EXIT

# copy_checkout: the files git knows of (committed, changed or new), not
# the build; FreeRADIUS's headers too, to spare the apt-get source step.
copy_checkout() {
	mkdir -p "$COPY" || return 1
	(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf -) | tar -C "$COPY" -xf - || return 1
	if [ -d "$TOP/.fr-headers" ]; then cp -a "$TOP/.fr-headers" "$COPY/"; fi
}

login_suite_passes_from_a_checkout_freerad_cannot_enter() {
	local out rc
	tf_expect "parent folder mode" "$(stat -c %a "$PARENT")" 700
	out=$("$COPY/tools/test" login 2>&1)
	rc=$?
	tf_expect "tools/test login exit status" "$rc" 0
	# The suite really ran: some passed, none failed.
	tf_expect "summary" "$(tail -n 1 <<< "$out" | sed -E 's/^[1-9][0-9]* passed, 0 failed$/some passed, 0 failed/')" \
		"some passed, 0 failed"
	tf_expect "login suite ran" "$(grep -c '^== integration/test_login$' <<< "$out")" 1
	tf_expect "no work files left in the checkout" "$(ls -A "$COPY" | grep -c -E '^\.(test|demo)$')" 0
	[ $tf_failed -eq 0 ] || printf '%s\n' "$out" | tail -n 30 | sed 's/^/    /' >&2
}

# start_demo PORT STORE LOG: tools/demo from the copy, in the background,
# until it says it is ready (or exits).
start_demo() {
	local i
	TWOFA_PORT=$1 TWOFA_DEMO_STORE=$2 "$COPY/tools/demo" > "$3" 2>&1 < /dev/null &
	DEMO_PID=$!
	for i in $(seq 1 300); do
		grep -q "twofa demo: ready" "$3" && break
		kill -0 "$DEMO_PID" 2>/dev/null || break
		sleep 0.1
	done
}

stop_demo() { kill "$DEMO_PID" 2>/dev/null; wait "$DEMO_PID" 2>/dev/null; DEMO_PID=; }

demo_answers_a_two_round_login_from_a_checkout_freerad_cannot_enter() {
	local port log secret store work
	port=$(twofa_free_port)
	log=$PARENT/demo.out
	store=$TF_WORK/demo-store
	start_demo "$port" "$store" "$log"
	tf_expect "demo ready" "$(grep -c 'twofa demo: ready' "$log")" 1
	secret=$(sed -n 's/.*oathtool --totp -b \([A-Z2-7]*\).*/\1/p' "$log" | head -n 1)
	if [ -z "$secret" ]; then
		tf_expect "secret printed" "(none)" "a secret"
	else
		tf_wait_fresh_step
		printf '%s\n%s\n' "${TWOFA_DEMO_PASSWORD:-demo-password}" "$(tf_code "$secret")" |
			"$COPY/tools/twofa-login" -s "127.0.0.1:$port" demo > "$PARENT/login.out" 2>&1
		tf_expect "twofa-login exit status" "$?" 0
		tf_expect "twofa-login result" "$(tail -n 1 "$PARENT/login.out")" "Access-Accept"
	fi
	work=$(sed -n 's/^ *Server: *raddb and log in \(.*\), removed when the demo stops$/\1/p' "$log")
	stop_demo
	tf_expect "store kept after the demo" "$(test -f "$store/twofa.db" && echo yes)" yes
	tf_expect "work folder named" "$(test -n "$work" && echo yes)" yes
	tf_expect "work folder removed" "$(test -n "$work" && test ! -e "$work" && echo yes)" yes

	# A second run keeps the user and the secret the app holds.
	start_demo "$port" "$store" "$PARENT/demo2.out"
	tf_expect "second run ready" "$(grep -c 'twofa demo: ready' "$PARENT/demo2.out")" 1
	tf_expect "second run keeps user demo" "$(grep -c 'Keeping user demo' "$PARENT/demo2.out")" 1
	stop_demo
	[ $tf_failed -eq 0 ] || tail -n 20 "$log" "$PARENT/demo2.out" | sed 's/^/    /' >&2
}

if ! copy_checkout; then
	echo "FAIL login_suite_passes_from_a_checkout_freerad_cannot_enter: could not copy the checkout"
	exit 1
fi
tf_run login_suite_passes_from_a_checkout_freerad_cannot_enter
tf_run demo_answers_a_two_round_login_from_a_checkout_freerad_cannot_enter
