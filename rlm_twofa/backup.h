/*
 * backup.h	Backup codes: their format, their generation and their
 *		salted, keyed hash.
 *
 *		A code is TWOFA_BACKUP_CODE_LEN characters from an alphabet
 *		without look-alikes (no 0/O, 1/l/I), shown in two groups
 *		("4k7mq-x9ft2"): 31^10, about 49.5 bits.  The store keeps
 *		only a per-code random salt and HMAC-SHA256(backup key,
 *		salt || normalised code), the backup key being HKDF-SHA256 of
 *		the key file's key with a label of its own: never the TOTP
 *		key used raw.  Why keyed: 50 bits are within reach of an
 *		offline search of a stolen store file with a plain hash; with
 *		the key (which lives in another file) they are not.  Why not
 *		slow (yescrypt): the store checks every unused code of a user
 *		(up to 20) in one login, and the key already carries the
 *		weight a slow hash would.
 *
 *		No FreeRADIUS or SQLite includes: the store, the method and
 *		twofa-admin share it.
 */
#ifndef TWOFA_BACKUP_H
#define TWOFA_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "twofa.h"

#define TWOFA_BACKUP_CODE_LEN		10				//!< characters, separators not counted
#define TWOFA_BACKUP_GROUP_LEN		5				//!< shown as two groups of five
#define TWOFA_BACKUP_SHOWN_LEN		(TWOFA_BACKUP_CODE_LEN + 1)	//!< with the '-'
#define TWOFA_BACKUP_INPUT_MAX		32				//!< longest answer worth normalising
#define TWOFA_BACKUP_SALT_LEN		16
#define TWOFA_BACKUP_HASH_LEN		32				//!< HMAC-SHA256
#define TWOFA_BACKUP_KEY_LEN		32
#define TWOFA_BACKUP_COUNT_MAX		20				//!< codes in one set at most
#define TWOFA_BACKUP_ALPHABET		"23456789abcdefghjkmnpqrstuvwxyz"

/** One stored code: its salt and keyed hash. */
typedef struct {
	uint8_t		salt[TWOFA_BACKUP_SALT_LEN];
	uint8_t		hash[TWOFA_BACKUP_HASH_LEN];
} twofa_backup_hash_t;

/** A new code from RAND_bytes (rejection sampling: no modulo bias), as shown:
 *  "xxxxx-xxxxx" and a NUL.  @return TWOFA_OK or TWOFA_ERR_CRYPTO. */
twofa_rcode_t twofa_backup_code_generate(char out[TWOFA_BACKUP_SHOWN_LEN + 1]);

/** An answer as a user may type it (any case, '-' and spaces anywhere) into the
 *  canonical form: TWOFA_BACKUP_CODE_LEN lower-case alphabet characters and a NUL.
 *  in need not be NUL-terminated.  @return false if it is no backup code. */
bool twofa_backup_code_normalise(char const *in, size_t len, char out[TWOFA_BACKUP_CODE_LEN + 1]);

/** A canonical code as a number (0 .. 31^10 - 1), and back: how the method
 *  carries it from its check to its consume (method.h's proof).  -1 / false
 *  for anything that is not a canonical code or such a number. */
int64_t twofa_backup_code_to_number(char const *code);
bool twofa_backup_code_from_number(int64_t n, char out[TWOFA_BACKUP_CODE_LEN + 1]);

/** The backup-code key: HKDF-SHA256 of the key file's key, its own label.
 *  @return TWOFA_OK or TWOFA_ERR_CRYPTO. */
twofa_rcode_t twofa_backup_key_derive(uint8_t const key[32], uint8_t out[TWOFA_BACKUP_KEY_LEN]);

/** HMAC-SHA256(bkey, salt || code), code canonical.  @return TWOFA_OK or TWOFA_ERR_CRYPTO. */
twofa_rcode_t twofa_backup_code_hash(uint8_t const bkey[TWOFA_BACKUP_KEY_LEN], uint8_t const *salt, size_t salt_len,
				     char const *code, uint8_t out[TWOFA_BACKUP_HASH_LEN]);

/** A fresh salt and the hash of code under bkey.  @return TWOFA_OK or TWOFA_ERR_CRYPTO. */
twofa_rcode_t twofa_backup_code_seal(uint8_t const bkey[TWOFA_BACKUP_KEY_LEN], char const *code,
				     twofa_backup_hash_t *out);

/** Does code hash to hash under bkey and salt?  Compared with CRYPTO_memcmp;
 *  a hash of another length never matches. */
bool twofa_backup_code_matches(uint8_t const bkey[TWOFA_BACKUP_KEY_LEN], uint8_t const *salt, size_t salt_len,
			       uint8_t const *hash, size_t hash_len, char const *code);

#endif
