/*
 * oob.h	Out-of-band one-time codes: the numeric codes sent by SMS or
 *		email, and their salted, keyed hash.
 *
 *		A code is 6 to 10 decimal digits from RAND_bytes (rejection
 *		sampling: no modulo bias).  The store keeps only a per-code
 *		random salt and HMAC-SHA256(oob key, salt || code), the oob
 *		key being HKDF-SHA256 of the key file's key with a label of
 *		its own, as backup.h does for backup codes: 6 digits are
 *		within reach of a plain hash's search in microseconds, with
 *		the key (in another file) they are not.  An answer is
 *		compared in constant time (CRYPTO_memcmp).
 *
 *		No FreeRADIUS, SQLite or libcurl includes.
 */
#ifndef TWOFA_OOB_H
#define TWOFA_OOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "twofa.h"

#define TWOFA_OOB_DIGITS_MIN		6
#define TWOFA_OOB_DIGITS_MAX		10
#define TWOFA_OOB_DIGITS_DEFAULT	6
#define TWOFA_OOB_SALT_LEN		16
#define TWOFA_OOB_HASH_LEN		32	//!< HMAC-SHA256
#define TWOFA_OOB_KEY_LEN		32

/** One stored code: its salt and keyed hash. */
typedef struct {
	uint8_t		salt[TWOFA_OOB_SALT_LEN];
	uint8_t		hash[TWOFA_OOB_HASH_LEN];
} twofa_oob_hash_t;

/** A new code of digits digits (TWOFA_OOB_DIGITS_MIN..MAX) and a NUL.
 *  @return TWOFA_OK, TWOFA_ERR_MALFORMED (digits out of range), TWOFA_ERR_CRYPTO. */
twofa_rcode_t twofa_oob_code_generate(unsigned int digits, char out[TWOFA_OOB_DIGITS_MAX + 1]);

/** Is in (len bytes, need not be NUL-terminated) a code of digits digits (0: of
 *  any length from TWOFA_OOB_DIGITS_MIN to MAX), and nothing else?  An answer
 *  that is not is refused before any hashing. */
bool twofa_oob_code_well_formed(char const *in, size_t len, unsigned int digits);

/** The oob-code key: HKDF-SHA256 of the key file's key, its own label.
 *  @return TWOFA_OK or TWOFA_ERR_CRYPTO. */
twofa_rcode_t twofa_oob_key_derive(uint8_t const key[32], uint8_t out[TWOFA_OOB_KEY_LEN]);

/** A fresh salt and HMAC-SHA256(okey, salt || code) of a well-formed code.
 *  @return TWOFA_OK, TWOFA_ERR_MALFORMED, TWOFA_ERR_CRYPTO. */
twofa_rcode_t twofa_oob_code_seal(uint8_t const okey[TWOFA_OOB_KEY_LEN], char const *code, twofa_oob_hash_t *out);

/** Does the answer (len bytes) hash to stored under okey?  false for an answer
 *  that is not digits digits long (digits 0: any length in range), and on
 *  any OpenSSL failure.  Compared with CRYPTO_memcmp. */
bool twofa_oob_code_matches(uint8_t const okey[TWOFA_OOB_KEY_LEN], twofa_oob_hash_t const *stored,
			    char const *answer, size_t len, unsigned int digits);

#endif
