/*
 * oob.c	Out-of-band one-time codes (oob.h): generate, hash, check.
 *		The randomness, key derivation and HMAC are crypto.c's, shared
 *		with the backup codes; only the label and the format are ours.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "crypto.h"
#include "oob.h"
#include "policy.h"

/* Distinct from every other use of the key file's key; a new format gets a new label. */
#define KEY_LABEL	"rlm_twofa out-of-band codes v1"

static bool digits_in_range(unsigned int digits)
{
	return (digits >= TWOFA_OOB_DIGITS_MIN) && (digits <= TWOFA_OOB_DIGITS_MAX);
}

twofa_rcode_t twofa_oob_code_generate(unsigned int digits, char out[TWOFA_OOB_DIGITS_MAX + 1])
{
	if (!digits_in_range(digits)) return TWOFA_ERR_MALFORMED;
	return twofa_crypto_random_chars("0123456789", digits, out);
}

bool twofa_oob_code_well_formed(char const *in, size_t len, unsigned int digits)
{
	if ((len < TWOFA_OOB_DIGITS_MIN) || (len > TWOFA_OOB_DIGITS_MAX)) return false;
	return twofa_code_well_formed(in, len, digits ? digits : (unsigned int) len);
}

twofa_rcode_t twofa_oob_key_derive(uint8_t const key[32], uint8_t out[TWOFA_OOB_KEY_LEN])
{
	return twofa_crypto_derive_key(key, KEY_LABEL, out, TWOFA_OOB_KEY_LEN);
}

static twofa_rcode_t code_hash(uint8_t const okey[TWOFA_OOB_KEY_LEN], uint8_t const salt[TWOFA_OOB_SALT_LEN],
			       char const *code, size_t len, uint8_t out[TWOFA_OOB_HASH_LEN])
{
	return twofa_crypto_hmac(okey, TWOFA_OOB_KEY_LEN, salt, TWOFA_OOB_SALT_LEN, (uint8_t const *) code, len, out);
}

twofa_rcode_t twofa_oob_code_seal(uint8_t const okey[TWOFA_OOB_KEY_LEN], char const *code, twofa_oob_hash_t *out)
{
	size_t len = code ? strlen(code) : 0;

	if (!twofa_oob_code_well_formed(code, len, 0)) return TWOFA_ERR_MALFORMED;
	if (RAND_bytes(out->salt, sizeof(out->salt)) != 1) return TWOFA_ERR_CRYPTO;
	return code_hash(okey, out->salt, code, len, out->hash);
}

bool twofa_oob_code_matches(uint8_t const okey[TWOFA_OOB_KEY_LEN], twofa_oob_hash_t const *stored,
			    char const *answer, size_t len, unsigned int digits)
{
	uint8_t	candidate[TWOFA_OOB_HASH_LEN];
	bool	match;

	if (!stored || !twofa_oob_code_well_formed(answer, len, digits)) return false;
	if (code_hash(okey, stored->salt, answer, len, candidate) != TWOFA_OK) return false;
	match = CRYPTO_memcmp(candidate, stored->hash, sizeof(candidate)) == 0;
	OPENSSL_cleanse(candidate, sizeof(candidate));
	return match;
}
