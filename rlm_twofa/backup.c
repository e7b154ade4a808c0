/*
 * backup.c	Backup codes (backup.h): generate, normalise, hash.
 */
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "backup.h"

#define ALPHABET_LEN	(sizeof(TWOFA_BACKUP_ALPHABET) - 1)	/* 31 */
/* The largest multiple of 31 a byte holds: bytes at or above it are drawn again. */
#define UNBIASED_LIMIT	(256 - (256 % ALPHABET_LEN))

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
	uint8_t	pool[64];
	size_t	used = sizeof(pool), n = 0, o = 0;

	while (n < TWOFA_BACKUP_CODE_LEN) {
		if (used == sizeof(pool)) {
			if (RAND_bytes(pool, sizeof(pool)) != 1) {
				OPENSSL_cleanse(pool, sizeof(pool));
				return TWOFA_ERR_CRYPTO;
			}
			used = 0;
		}
		if (pool[used] >= UNBIASED_LIMIT) {
			used++;
			continue;
		}
		if (n == TWOFA_BACKUP_GROUP_LEN) out[o++] = '-';
		out[o++] = TWOFA_BACKUP_ALPHABET[pool[used++] % ALPHABET_LEN];
		n++;
	}
	out[o] = '\0';
	OPENSSL_cleanse(pool, sizeof(pool));
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
	EVP_KDF		*kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX	*kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM	params[4];
	int		ok;

	EVP_KDF_free(kdf);
	if (!kctx) return TWOFA_ERR_CRYPTO;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *) "SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *) key, 32);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *) KEY_LABEL, strlen(KEY_LABEL));
	params[3] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, TWOFA_BACKUP_KEY_LEN, params);
	EVP_KDF_CTX_free(kctx);
	if (ok == 1) return TWOFA_OK;
	OPENSSL_cleanse(out, TWOFA_BACKUP_KEY_LEN);
	return TWOFA_ERR_CRYPTO;
}

twofa_rcode_t twofa_backup_code_hash(uint8_t const bkey[TWOFA_BACKUP_KEY_LEN], uint8_t const *salt, size_t salt_len,
				     char const *code, uint8_t out[TWOFA_BACKUP_HASH_LEN])
{
	EVP_MAC		*mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX	*mctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM	params[2];
	size_t		out_len = 0;
	int		ok;

	EVP_MAC_free(mac);
	if (!mctx) return TWOFA_ERR_CRYPTO;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(mctx, bkey, TWOFA_BACKUP_KEY_LEN, params) &&
	     EVP_MAC_update(mctx, salt, salt_len) &&
	     EVP_MAC_update(mctx, (uint8_t const *) code, strlen(code)) &&
	     EVP_MAC_final(mctx, out, &out_len, TWOFA_BACKUP_HASH_LEN);
	EVP_MAC_CTX_free(mctx);
	if (ok && (out_len == TWOFA_BACKUP_HASH_LEN)) return TWOFA_OK;
	OPENSSL_cleanse(out, TWOFA_BACKUP_HASH_LEN);
	return TWOFA_ERR_CRYPTO;
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
