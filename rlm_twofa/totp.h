/*
 * totp.h	RFC 4226 HOTP and RFC 6238 TOTP over a key, a time and parameters.
 *
 *		Pure logic: no FreeRADIUS or SQLite includes.  HMAC through
 *		OpenSSL 3's EVP_MAC.
 */
#ifndef TWOFA_TOTP_H
#define TWOFA_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "twofa.h"

typedef enum {
	TWOFA_HASH_SHA1 = 0,
	TWOFA_HASH_SHA256,
	TWOFA_HASH_SHA512,
} twofa_hash_t;

#define TWOFA_TOTP_MAX_DIGITS	8
#define TWOFA_TOTP_MAX_WINDOW	10

typedef struct {
	twofa_hash_t	hash;		//!< HMAC hash
	unsigned int	digits;		//!< 6 or 8
	unsigned int	period;		//!< seconds per time step, usually 30
} twofa_totp_params_t;

/** "SHA1", "SHA256" or "SHA512" (the spelling of otpauth:// URIs). */
char const *twofa_hash_name(twofa_hash_t hash);

/** Parse "SHA1"/"sha256"/... (case-insensitive).  @return 0, or -1 if unknown. */
int twofa_hash_from_name(char const *name, twofa_hash_t *out);

/** RFC 4226 HOTP value for counter, as digits decimal characters plus a NUL.
 *
 * @return TWOFA_OK, TWOFA_ERR_MALFORMED for digits other than 6..8, TWOFA_ERR_CRYPTO.
 */
twofa_rcode_t twofa_hotp_code(uint8_t const *key, size_t key_len, twofa_hash_t hash,
			      unsigned int digits, uint64_t counter,
			      char out[TWOFA_TOTP_MAX_DIGITS + 1]);

/** RFC 6238 time step number: floor(now / period).  now < 0 gives 0. */
int64_t twofa_totp_step(twofa_totp_params_t const *params, time_t now);

/** Check a code against steps (now - window) .. (now + window).
 *
 * Every step in the window is computed and compared with CRYPTO_memcmp, with
 * no early exit, so the time taken does not depend on where (or whether) the
 * code matched.  Steps <= last_step are already used (RFC 6238 section 5.2).
 *
 * @param last_step	last accepted step for this user, -1 if none.
 * @param matched_step	set on TWOFA_OK to the step to record as used.
 * @return TWOFA_OK; TWOFA_ERR_MALFORMED if code is not exactly params->digits
 *	decimal digits; TWOFA_ERR_REPLAYED if it matches only steps <= last_step;
 *	TWOFA_ERR_BAD_CODE otherwise; TWOFA_ERR_CRYPTO.
 */
twofa_rcode_t twofa_totp_verify_code(uint8_t const *key, size_t key_len,
				     twofa_totp_params_t const *params, unsigned int window,
				     time_t now, int64_t last_step, char const *code,
				     int64_t *matched_step);

#endif
