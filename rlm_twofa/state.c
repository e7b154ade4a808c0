/*
 * state.c	Seal and open a pending challenge as the RADIUS State (state.h).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <talloc.h>

#include "state.h"

#define STATE_KEY_LABEL	"rlm_twofa state key v1"
#define STATE_ID_LABEL	"rlm_twofa state key id v1"

/* What the seal binds besides the plaintext: the format, the key, the NAS. */
static void state_aad(char *aad, size_t len, uint8_t key_id, char const *nas)
{
	snprintf(aad, len, "rlm_twofa state %u %u %s", TWOFA_STATE_VERSION, key_id, nas);
}

twofa_rcode_t twofa_state_key_derive(uint8_t const file_key[TWOFA_KEY_LEN], twofa_state_key_t *out)
{
	uint8_t		id[1];
	twofa_rcode_t	rc;

	rc = twofa_crypto_derive_key(file_key, STATE_KEY_LABEL, out->key, sizeof(out->key));
	if (rc == TWOFA_OK) rc = twofa_crypto_derive_key(file_key, STATE_ID_LABEL, id, sizeof(id));
	out->id = id[0];
	return rc;
}

size_t twofa_state_seal(twofa_state_key_t const *key, twofa_pending_t const *pending, char const *nas,
			uint8_t out[TWOFA_STATE_MAX], uint8_t nonce[TWOFA_STATE_NONCE_LEN])
{
	uint8_t		plain[TWOFA_PENDING_MAX], *sealed = NULL;
	size_t		plain_len, sealed_len = 0;
	char		aad[300];
	twofa_rcode_t	rc;

	plain_len = twofa_pending_pack(pending, plain);
	if (!plain_len || (2 + TWOFA_SEAL_OVERHEAD + plain_len > TWOFA_STATE_MAX)) {
		OPENSSL_cleanse(plain, sizeof(plain));
		return 0;
	}
	state_aad(aad, sizeof(aad), key->id, nas);
	rc = twofa_crypto_seal(NULL, key->key, aad, plain, plain_len, &sealed, &sealed_len);
	OPENSSL_cleanse(plain, sizeof(plain));
	if (rc != TWOFA_OK) return 0;

	out[0] = TWOFA_STATE_VERSION;
	out[1] = key->id;
	memcpy(out + 2, sealed, sealed_len);
	memcpy(nonce, sealed + 1, TWOFA_STATE_NONCE_LEN);	/* after the seal's version byte */
	talloc_free(sealed);
	return 2 + sealed_len;
}

bool twofa_state_open(twofa_state_key_t const *keys, size_t n, uint8_t const *in, size_t len, char const *nas,
		      twofa_pending_t *pending, uint8_t nonce[TWOFA_STATE_NONCE_LEN])
{
	twofa_secret_t	*plain = NULL;
	char		aad[300];
	size_t		i;
	bool		ok;

	if (!in || (len < TWOFA_STATE_OVERHEAD) || (len > TWOFA_STATE_MAX) || (in[0] != TWOFA_STATE_VERSION)) {
		return false;
	}
	state_aad(aad, sizeof(aad), in[1], nas);
	/* Two keys may share an id byte (1 in 256): each with it is tried. */
	for (i = 0; i < n; i++) {
		if ((keys[i].id == in[1]) &&
		    (twofa_crypto_open(NULL, keys[i].key, aad, in + 2, len - 2, &plain) == TWOFA_OK)) break;
	}
	if (i == n) return false;
	ok = twofa_pending_unpack(plain->data, plain->len, pending);
	talloc_free(plain);				/* its destructor wipes it */
	if (ok) memcpy(nonce, in + 3, TWOFA_STATE_NONCE_LEN);
	return ok;
}
