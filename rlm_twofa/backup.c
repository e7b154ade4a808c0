/*
 * backup.c	Backup codes (backup.h): generate, normalise, hash.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "backup.h"
#include "crypto.h"

#define ALPHABET_LEN	(sizeof(TWOFA_BACKUP_ALPHABET) - 1)	/* 31 */

/* Distinct from every other use of the key file's key; a new format gets a new label. */
#define KEY_LABEL	"rlm_twofa backup codes v1"

static int alphabet_index(char c)
{
	char const *p;

	if (c == '\0') return -1;
	p = strchr(TWOFA_BACKUP_ALPHABET, c);
	return p ? (int) (p - TWOFA_BACKUP_ALPHABET) : -1;
}

twofa_rcode_t twofa_backup_code_generate(char out[TWOFA_BACKUP_SHOWN_LEN + 1])
{
	char		raw[TWOFA_BACKUP_CODE_LEN + 1];
	twofa_rcode_t	rc = twofa_crypto_random_chars(TWOFA_BACKUP_ALPHABET, TWOFA_BACKUP_CODE_LEN, raw);

	if (rc != TWOFA_OK) return rc;
	memcpy(out, raw, TWOFA_BACKUP_GROUP_LEN);
	out[TWOFA_BACKUP_GROUP_LEN] = '-';
	memcpy(out + TWOFA_BACKUP_GROUP_LEN + 1, raw + TWOFA_BACKUP_GROUP_LEN, TWOFA_BACKUP_CODE_LEN - TWOFA_BACKUP_GROUP_LEN);
	out[TWOFA_BACKUP_SHOWN_LEN] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return TWOFA_OK;
}

bool twofa_backup_code_normalise(char const *in, size_t len, char out[TWOFA_BACKUP_CODE_LEN + 1])
{
	size_t	i, n = 0;

	if (!in || (len > TWOFA_BACKUP_INPUT_MAX)) return false;
	for (i = 0; i < len; i++) {
		char c = in[i];

		if ((c == '-') || (c == ' ')) continue;
		if ((c >= 'A') && (c <= 'Z')) c = (char) (c - 'A' + 'a');
		if ((alphabet_index(c) < 0) || (n == TWOFA_BACKUP_CODE_LEN)) {
			OPENSSL_cleanse(out, TWOFA_BACKUP_CODE_LEN + 1);
			return false;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	if (n == TWOFA_BACKUP_CODE_LEN) return true;
	OPENSSL_cleanse(out, TWOFA_BACKUP_CODE_LEN + 1);
	return false;
}

int64_t twofa_backup_code_to_number(char const *code)
{
	int64_t	v = 0;
	size_t	i;

	for (i = 0; i < TWOFA_BACKUP_CODE_LEN; i++) {
		int d = alphabet_index(code[i]);

		if (d < 0) return -1;
		v = v * (int64_t) ALPHABET_LEN + d;
	}
	return code[i] ? -1 : v;
}

bool twofa_backup_code_from_number(int64_t n, char out[TWOFA_BACKUP_CODE_LEN + 1])
{
	int i;

	if (n < 0) return false;
	for (i = TWOFA_BACKUP_CODE_LEN - 1; i >= 0; i--) {
		out[i] = TWOFA_BACKUP_ALPHABET[n % (int64_t) ALPHABET_LEN];
		n /= (int64_t) ALPHABET_LEN;
	}
	out[TWOFA_BACKUP_CODE_LEN] = '\0';
	if (n == 0) return true;		/* else: 31^10 or more */
	OPENSSL_cleanse(out, TWOFA_BACKUP_CODE_LEN + 1);
	return false;
}

twofa_rcode_t twofa_backup_key_derive(uint8_t const key[32], uint8_t out[TWOFA_BACKUP_KEY_LEN])
{
	return twofa_crypto_derive_key(key, KEY_LABEL, out, TWOFA_BACKUP_KEY_LEN);
}

twofa_rcode_t twofa_backup_code_hash(uint8_t const bkey[TWOFA_BACKUP_KEY_LEN], uint8_t const *salt, size_t salt_len,
				     char const *code, uint8_t out[TWOFA_BACKUP_HASH_LEN])
{
	return twofa_crypto_hmac(bkey, TWOFA_BACKUP_KEY_LEN, salt, salt_len, (uint8_t const *) code, strlen(code), out);
}

twofa_rcode_t twofa_backup_code_seal(uint8_t const bkey[TWOFA_BACKUP_KEY_LEN], char const *code,
				     twofa_backup_hash_t *out)
{
	char canonical[TWOFA_BACKUP_CODE_LEN + 1];
	twofa_rcode_t rc;

	if (!twofa_backup_code_normalise(code, strlen(code), canonical)) return TWOFA_ERR_MALFORMED;
	if (RAND_bytes(out->salt, sizeof(out->salt)) != 1) {
		rc = TWOFA_ERR_CRYPTO;
	} else {
		rc = twofa_backup_code_hash(bkey, out->salt, sizeof(out->salt), canonical, out->hash);
	}
	OPENSSL_cleanse(canonical, sizeof(canonical));
	return rc;
}

bool twofa_backup_code_matches(uint8_t const bkey[TWOFA_BACKUP_KEY_LEN], uint8_t const *salt, size_t salt_len,
			       uint8_t const *hash, size_t hash_len, char const *code)
{
	uint8_t	candidate[TWOFA_BACKUP_HASH_LEN];
	bool	match;

	if (!hash || (hash_len != TWOFA_BACKUP_HASH_LEN)) return false;
	if (twofa_backup_code_hash(bkey, salt, salt_len, code, candidate) != TWOFA_OK) return false;
	match = CRYPTO_memcmp(candidate, hash, TWOFA_BACKUP_HASH_LEN) == 0;
	OPENSSL_cleanse(candidate, sizeof(candidate));
	return match;
}
