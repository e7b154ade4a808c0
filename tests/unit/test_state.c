/*
 * test_state.c	The sealed State (state.c): what round one seals, round two
 *		opens exactly, on any server with the key; anything else
 *		(another NAS, key or version, a changed or missing byte) does
 *		not open.
 */
#include <string.h>

#include "check.h"
#include "state.h"

static uint8_t const file_key[TWOFA_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static uint8_t const other_file_key[TWOFA_KEY_LEN] = { 9, 9, 9 };

static twofa_pending_t sample(void)
{
	twofa_pending_t p = {
		.expires = 2000000000u, .attempts_left = 3, .method = TWOFA_METHOD_TOTP,
		.totp = { .hash = TWOFA_HASH_SHA1, .digits = 6, .period = 30 },
		.user_id = 42, .factor_id = 7, .sealed_len = TWOFA_SEAL_OVERHEAD + 20,
	};
	size_t i;

	for (i = 0; i < p.sealed_len; i++) p.sealed[i] = (uint8_t) (i * 5 + 3);
	strcpy(p.name, "alice");
	return p;
}

static void seal_then_open_keeps_the_challenge(void)
{
	twofa_state_key_t	key;
	twofa_pending_t		in = sample(), out;
	uint8_t			state[TWOFA_STATE_MAX], nonce[TWOFA_STATE_NONCE_LEN], nonce2[TWOFA_STATE_NONCE_LEN];
	size_t			len;

	CHECK(twofa_state_key_derive(file_key, &key) == TWOFA_OK);
	CHECK(memcmp(key.key, file_key, sizeof(file_key)) != 0);	/* never the file's key raw */
	len = twofa_state_seal(&key, &in, "192.0.2.1", state, nonce);
	/* A short name's State: overhead 31, context 29 + 48 + 5. */
	CHECK(len == TWOFA_STATE_OVERHEAD + TWOFA_PENDING_HEADER_LEN + in.sealed_len + 5);
	CHECK(len < 120);
	CHECK(state[0] == TWOFA_STATE_VERSION && state[1] == key.id);
	CHECK(twofa_state_open(&key, 1, state, len, "192.0.2.1", &out, nonce2));
	CHECK(memcmp(nonce, nonce2, sizeof(nonce)) == 0);
	CHECK(out.user_id == 42 && out.factor_id == 7 && out.expires == in.expires && out.attempts_left == 3);
	CHECK(out.sealed_len == in.sealed_len && memcmp(out.sealed, in.sealed, in.sealed_len) == 0);
	CHECK_STR(out.name, "alice");
}

static void each_seal_has_its_own_nonce(void)
{
	twofa_state_key_t	key;
	twofa_pending_t		in = sample();
	uint8_t			a[TWOFA_STATE_MAX], b[TWOFA_STATE_MAX], na[TWOFA_STATE_NONCE_LEN], nb[TWOFA_STATE_NONCE_LEN];

	CHECK(twofa_state_key_derive(file_key, &key) == TWOFA_OK);
	CHECK(twofa_state_seal(&key, &in, "nas", a, na) > 0);
	CHECK(twofa_state_seal(&key, &in, "nas", b, nb) > 0);
	CHECK(memcmp(na, nb, sizeof(na)) != 0);
}

static void anything_else_does_not_open(void)
{
	twofa_state_key_t	keys[2];
	twofa_pending_t		in = sample(), out;
	uint8_t			state[TWOFA_STATE_MAX], nonce[TWOFA_STATE_NONCE_LEN];
	size_t			len, i;
	bool			opened = false;

	CHECK(twofa_state_key_derive(file_key, &keys[0]) == TWOFA_OK);
	CHECK(twofa_state_key_derive(other_file_key, &keys[1]) == TWOFA_OK);
	len = twofa_state_seal(&keys[0], &in, "192.0.2.1", state, nonce);
	CHECK(len > 0);
	CHECK(!twofa_state_open(&keys[0], 1, state, len, "192.0.2.2", &out, nonce));	/* another NAS */
	CHECK(!twofa_state_open(&keys[1], 1, state, len, "192.0.2.1", &out, nonce));	/* another key */
	CHECK(!twofa_state_open(&keys[0], 1, state, len - 1, "192.0.2.1", &out, nonce));	/* cut short */
	CHECK(!twofa_state_open(&keys[0], 1, state, 0, "192.0.2.1", &out, nonce));
	CHECK(!twofa_state_open(&keys[0], 1, NULL, len, "192.0.2.1", &out, nonce));
	for (i = 0; i < len; i++) {			/* any byte changed */
		state[i] ^= 0x40;
		opened |= twofa_state_open(&keys[0], 1, state, len, "192.0.2.1", &out, nonce);
		state[i] ^= 0x40;
	}
	CHECK(!opened);
	state[0] = TWOFA_STATE_VERSION + 1;		/* another version, even with a good seal after it */
	CHECK(!twofa_state_open(&keys[0], 1, state, len, "192.0.2.1", &out, nonce));
}

/* Rotation: a State sealed under the previous key opens while that key is listed. */
static void previous_key_still_opens(void)
{
	twofa_state_key_t	keys[2];
	twofa_pending_t		in = sample(), out;
	uint8_t			state[TWOFA_STATE_MAX], nonce[TWOFA_STATE_NONCE_LEN];
	size_t			len;

	CHECK(twofa_state_key_derive(other_file_key, &keys[0]) == TWOFA_OK);	/* new */
	CHECK(twofa_state_key_derive(file_key, &keys[1]) == TWOFA_OK);		/* previous */
	len = twofa_state_seal(&keys[1], &in, "nas", state, nonce);
	CHECK(twofa_state_open(keys, 2, state, len, "nas", &out, nonce));
	CHECK(!twofa_state_open(keys, 1, state, len, "nas", &out, nonce));
	/* Two keys with one id byte: each is tried. */
	keys[0].id = keys[1].id;
	CHECK(twofa_state_open(keys, 2, state, len, "nas", &out, nonce));
}

static void too_long_for_a_state_is_not_sealed(void)
{
	twofa_state_key_t	key;
	twofa_pending_t		in = sample();
	uint8_t			state[TWOFA_STATE_MAX], nonce[TWOFA_STATE_NONCE_LEN];

	CHECK(twofa_state_key_derive(file_key, &key) == TWOFA_OK);
	/* The longest name and secret: 31 + 29 + 93 + 128 bytes, more than an attribute holds. */
	in.sealed_len = TWOFA_SEALED_MAX;
	memset(in.name, 'x', TWOFA_USER_NAME_MAX);
	in.name[TWOFA_USER_NAME_MAX] = '\0';
	CHECK(twofa_state_seal(&key, &in, "nas", state, nonce) == 0);
	/* A name of up to 100 bytes fits, with a 20-byte secret. */
	in.sealed_len = TWOFA_SEAL_OVERHEAD + 20;
	in.name[100] = '\0';
	CHECK(twofa_state_seal(&key, &in, "nas", state, nonce) > 0);
}

int main(void)
{
	RUN(seal_then_open_keeps_the_challenge);
	RUN(each_seal_has_its_own_nonce);
	RUN(anything_else_does_not_open);
	RUN(previous_key_still_opens);
	RUN(too_long_for_a_state_is_not_sealed);
	CHECK_EXIT();
}
