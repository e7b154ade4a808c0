/*
 * fuzz_crypto_open.c	twofa_crypto_open (crypto.c): a sealed TOTP secret,
 *			as the store or a pending challenge holds it, opened
 *			with a fixed key.
 *
 *	Input: one byte n, then n bytes of user name (the additional data),
 *	then the sealed blob.  The seeds were sealed with the key below for
 *	users "alice" and "bob".  A blob opens only whole and unchanged, and
 *	the secret it gives is as long as the blob says.
 *
 * sources: rlm_twofa/crypto.c
 * max_len: 256
 */
#include <string.h>

#include "fuzz.h"
#include "crypto.h"

/* 0x00, 0x01, ... 0x1f: the seeds in corpus/crypto_open were sealed with it. */
static uint8_t const fuzz_key[TWOFA_KEY_LEN] = {
	 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
};

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	char		aad[256];
	size_t		aad_len;
	uint8_t const	*sealed;
	size_t		sealed_len;
	twofa_secret_t	*secret = NULL;
	twofa_rcode_t	rc;

	if (size < 1) return 0;
	aad_len = data[0];
	if (aad_len > size - 1) return 0;
	memcpy(aad, data + 1, aad_len);
	aad[aad_len] = '\0';
	sealed = data + 1 + aad_len;
	sealed_len = size - 1 - aad_len;

	rc = twofa_crypto_open(NULL, fuzz_key, aad, sealed, sealed_len, &secret);
	FUZZ_CHECK((rc == TWOFA_OK) || (rc == TWOFA_ERR_CRYPTO));
	if (rc != TWOFA_OK) {
		FUZZ_CHECK(secret == NULL);
		return 0;
	}

	FUZZ_CHECK(sealed_len >= TWOFA_SEAL_OVERHEAD);
	FUZZ_CHECK(secret->len == sealed_len - TWOFA_SEAL_OVERHEAD);
	talloc_free(secret);

	/* One byte less is a changed blob: refused. */
	secret = NULL;
	FUZZ_CHECK(twofa_crypto_open(NULL, fuzz_key, aad, sealed, sealed_len - 1, &secret) == TWOFA_ERR_CRYPTO);
	FUZZ_CHECK(secret == NULL);

	return 0;
}
