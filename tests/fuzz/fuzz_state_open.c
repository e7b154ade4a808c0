/*
 * fuzz_state_open.c	twofa_state_open (state.c) over any bytes: the State
 *			attribute a NAS sends back is network input.
 *
 *	Most inputs fail the tag check; the harness also seals a context
 *	made from the input and flips one byte of it, so that the open of a
 *	good State, and of one changed anywhere, is exercised too.  Never a
 *	read past len; a changed State never opens.
 *
 * sources: rlm_twofa/state.c rlm_twofa/pending.c rlm_twofa/crypto.c
 * max_len: 300
 */
#include <string.h>

#include "fuzz.h"
#include "state.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	static uint8_t const	file_key[TWOFA_KEY_LEN] = { 7 };
	twofa_state_key_t	key;
	twofa_pending_t		pending, out;
	uint8_t			state[TWOFA_STATE_MAX], nonce[TWOFA_STATE_NONCE_LEN];
	size_t			len, at;

	if (twofa_state_key_derive(file_key, &key) != TWOFA_OK) return 0;
	(void) twofa_state_open(&key, 1, data, size, "192.0.2.1", &out, nonce);

	/* A good State from the input's bytes: opens; with one byte changed: never. */
	memset(&pending, 0, sizeof(pending));
	pending.method = TWOFA_METHOD_BACKUP;
	pending.attempts_left = size ? data[0] : 1;
	len = size < 60 ? size : 60;
	memcpy(pending.name, "u", 2);
	if (len > 1) {
		memcpy(pending.name, data + 1, len - 1);
		pending.name[len - 1] = '\0';
		if (!pending.name[0]) pending.name[0] = 'u';
	}
	len = twofa_state_seal(&key, &pending, "192.0.2.1", state, nonce);
	if (!len) return 0;
	FUZZ_CHECK(twofa_state_open(&key, 1, state, len, "192.0.2.1", &out, nonce));
	at = size ? data[size - 1] % len : 0;
	state[at] ^= 0x01;
	FUZZ_CHECK(!twofa_state_open(&key, 1, state, len, "192.0.2.1", &out, nonce));
	return 0;
}
