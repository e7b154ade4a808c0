/*
 * crypto.h	Secrets at rest, randomness, password hashes.
 *
 *		AES-256-GCM seal/open of TOTP secrets (random nonce, user name as
 *		additional data), key-file handling, RAND_bytes, crypt(3) hashes
 *		and constant-time compares.  Every secret buffer is wiped with
 *		OPENSSL_cleanse before it is freed.
 */
#ifndef TWOFA_CRYPTO_H
#define TWOFA_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <talloc.h>
#include "twofa.h"

#define TWOFA_KEY_LEN		32	//!< AES-256 key
#define TWOFA_SECRET_LEN	20	//!< default TOTP secret length (160 bits, RFC 4226 section 4)
#define TWOFA_SECRET_MAX	64
#define TWOFA_SEAL_VERSION	1
#define TWOFA_NONCE_LEN		12
#define TWOFA_TAG_LEN		16
#define TWOFA_SEAL_OVERHEAD	(1 + TWOFA_NONCE_LEN + TWOFA_TAG_LEN)

/** A secret with one owner: its destructor wipes data before talloc frees it. */
typedef struct {
	uint8_t		*data;
	size_t		len;
} twofa_secret_t;

/** Allocate a zeroed secret of len bytes under ctx, with the wiping destructor. */
twofa_secret_t *twofa_secret_alloc(TALLOC_CTX *ctx, size_t len);

/** Fill buf with len bytes from RAND_bytes.  @return TWOFA_OK or TWOFA_ERR_CRYPTO. */
twofa_rcode_t twofa_crypto_random(uint8_t *buf, size_t len);

/** n characters drawn uniformly from alphabet (at most 256 distinct characters)
 *  with RAND_bytes, by rejection sampling (no modulo bias), and a NUL: out holds
 *  n + 1 bytes.  For backup codes and delivered codes.  @return TWOFA_OK or TWOFA_ERR_CRYPTO. */
twofa_rcode_t twofa_crypto_random_chars(char const *alphabet, size_t n, char *out);

/** A key of its own for one use of the key file's key: HKDF-SHA256 with label
 *  as its info (never the key used raw; a new use or format gets a new label).
 *  @return TWOFA_OK or TWOFA_ERR_CRYPTO (out wiped). */
twofa_rcode_t twofa_crypto_derive_key(uint8_t const key[TWOFA_KEY_LEN], char const *label, uint8_t *out, size_t out_len);

#define TWOFA_HMAC_LEN		32	//!< HMAC-SHA256

/** HMAC-SHA256(key, salt || data): the keyed, salted hash of a stored code.
 *  @return TWOFA_OK or TWOFA_ERR_CRYPTO (out wiped). */
twofa_rcode_t twofa_crypto_hmac(uint8_t const *key, size_t key_len, uint8_t const *salt, size_t salt_len,
				uint8_t const *data, size_t data_len, uint8_t out[TWOFA_HMAC_LEN]);

/** Write a new random key to path: one line of base64 (32 bytes), mode 0600,
 *  created with O_EXCL so an existing key is never overwritten.
 *  @return TWOFA_OK, TWOFA_ERR_EXISTS, TWOFA_ERR_IO (err says why), TWOFA_ERR_CRYPTO.
 */
twofa_rcode_t twofa_crypto_create_key_file(char const *path, char *err, size_t err_len);

/** Read the key file.  Refuses a file that group or others may read or write,
 *  or owned by anyone but the reading process's euid or root (as ssh does for
 *  private keys), or that does not hold exactly 32 bytes.
 *  @return TWOFA_OK, TWOFA_ERR_IO or TWOFA_ERR_MALFORMED (err says why).
 */
twofa_rcode_t twofa_crypto_load_key(char const *path, uint8_t key[TWOFA_KEY_LEN], char *err, size_t err_len);

/** The key file's contents, as twofa_crypto_load_key reads them: one line of
 *  base64 of 32 bytes, optionally ending in LF or CR LF, under 128 bytes in all.
 *  No I/O (tests/fuzz/fuzz_key_file.c feeds it).  text need not be NUL-terminated.
 *  @return TWOFA_OK or TWOFA_ERR_MALFORMED.
 */
twofa_rcode_t twofa_crypto_parse_key(char const *text, size_t len, uint8_t key[TWOFA_KEY_LEN]);

/** AES-256-GCM: out = version(1) | nonce(12) | ciphertext | tag(16), a talloc
 *  array under ctx.  aad (the user name) is bound as additional data.
 */
twofa_rcode_t twofa_crypto_seal(TALLOC_CTX *ctx, uint8_t const key[TWOFA_KEY_LEN], char const *aad,
				uint8_t const *plain, size_t plain_len, uint8_t **out, size_t *out_len);

/** Reverse of seal.  A wrong key, a changed byte or another aad gives TWOFA_ERR_CRYPTO.
 *  *out is a twofa_secret_t under ctx.
 */
twofa_rcode_t twofa_crypto_open(TALLOC_CTX *ctx, uint8_t const key[TWOFA_KEY_LEN], char const *aad,
				uint8_t const *sealed, size_t sealed_len, twofa_secret_t **out);

/** crypt(3) hash of password with a fresh salt (crypt_gensalt_rn fed from
 *  RAND_bytes).  prefix is "$y$" (yescrypt, the default when NULL) or "$6$"
 *  (SHA-512-crypt).  *out is a talloc string under ctx.
 */
twofa_rcode_t twofa_crypto_hash_password(TALLOC_CTX *ctx, char const *password, char const *prefix, char **out);

/** Check password against a crypt(3) hash; thread safe (crypt_rn), result
 *  compared with CRYPTO_memcmp.  @return TWOFA_OK or TWOFA_ERR_BAD_PASSWORD
 *  (also for an unparseable hash).
 */
twofa_rcode_t twofa_crypto_verify_password(char const *password, char const *hash);

/** Constant-time equality of two strings of the same length.  1 if equal. */
int twofa_crypto_equal(char const *a, char const *b, size_t len);

#endif
