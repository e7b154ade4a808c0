/*
 * totp.c	RFC 4226 HOTP and RFC 6238 TOTP.
 *
 *		HMAC through OpenSSL 3's EVP_MAC: one keyless context per hash,
 *		made once per process and read-only after, which each call
 *		duplicates and keys (radiusd's worker threads share them).
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>

#include "totp.h"

static char const *hash_names[] = {
	[TWOFA_HASH_SHA1]	= "SHA1",
	[TWOFA_HASH_SHA256]	= "SHA256",
	[TWOFA_HASH_SHA512]	= "SHA512",
};

#define NUM_HASHES	(sizeof(hash_names) / sizeof(hash_names[0]))

/*
 *	One HMAC context per hash, its digest already fetched, made once per
 *	process; each HMAC duplicates one and keys the copy.  Setting the
 *	digest by name on every call made OpenSSL 3 look it up again, under
 *	its global lock, from every worker thread.
 */
static EVP_MAC_CTX *hmac_templates[NUM_HASHES];
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

char const *twofa_hash_name(twofa_hash_t hash)
{
	if ((unsigned int) hash >= NUM_HASHES) return "?";
	return hash_names[hash];
}

int twofa_hash_from_name(char const *name, twofa_hash_t *out)
{
	size_t i;

	if (!name) return -1;
	for (i = 0; i < NUM_HASHES; i++) {
		if (strcasecmp(name, hash_names[i]) == 0) {
			*out = (twofa_hash_t) i;
			return 0;
		}
	}
	return -1;
}

static void hmac_templates_make(void)
{
	EVP_MAC	*hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	size_t	i;

	if (!hmac) return;
	for (i = 0; i < NUM_HASHES; i++) {
		OSSL_PARAM params[2];

		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) hash_names[i], 0);
		params[1] = OSSL_PARAM_construct_end();
		hmac_templates[i] = EVP_MAC_CTX_new(hmac);
		if (hmac_templates[i] && !EVP_MAC_CTX_set_params(hmac_templates[i], params)) {
			EVP_MAC_CTX_free(hmac_templates[i]);
			hmac_templates[i] = NULL;
		}
	}
	EVP_MAC_free(hmac);	/* each context keeps its own reference */
}

/* HMAC of msg under key; out must hold EVP_MAX_MD_SIZE bytes.  @return 0 or -1. */
static int hmac_compute(uint8_t const *key, size_t key_len, twofa_hash_t hash,
			uint8_t const *msg, size_t msg_len, uint8_t *out, size_t *out_len, size_t out_max)
{
	EVP_MAC_CTX	*ctx;
	int		ok;

	if ((unsigned int) hash >= NUM_HASHES) return -1;
	if (pthread_once(&hmac_once, hmac_templates_make) != 0) return -1;
	if (!hmac_templates[hash]) return -1;

	ctx = EVP_MAC_CTX_dup(hmac_templates[hash]);
	if (!ctx) return -1;
	ok = EVP_MAC_init(ctx, key, key_len, NULL) &&
	     EVP_MAC_update(ctx, msg, msg_len) &&
	     EVP_MAC_final(ctx, out, out_len, out_max);
	EVP_MAC_CTX_free(ctx);

	return ok ? 0 : -1;
}

twofa_rcode_t twofa_hotp_code(uint8_t const *key, size_t key_len, twofa_hash_t hash,
			      unsigned int digits, uint64_t counter,
			      char out[TWOFA_TOTP_MAX_DIGITS + 1])
{
	static uint32_t const	power[] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000 };
	uint8_t			msg[8], mac[EVP_MAX_MD_SIZE];
	size_t			mac_len = 0, offset;
	uint32_t		binary;
	int			i;

	if ((digits < 6) || (digits > TWOFA_TOTP_MAX_DIGITS)) return TWOFA_ERR_MALFORMED;
	if (!key && key_len) return TWOFA_ERR_MALFORMED;

	for (i = 7; i >= 0; i--) {
		msg[i] = counter & 0xff;
		counter >>= 8;
	}
	if ((hmac_compute(key, key_len, hash, msg, sizeof(msg), mac, &mac_len, sizeof(mac)) < 0) || (mac_len < 20)) {
		OPENSSL_cleanse(mac, sizeof(mac));
		return TWOFA_ERR_CRYPTO;
	}

	/* RFC 4226 section 5.3: dynamic truncation. */
	offset = mac[mac_len - 1] & 0x0f;
	binary = ((uint32_t) (mac[offset] & 0x7f) << 24) | ((uint32_t) mac[offset + 1] << 16) |
		 ((uint32_t) mac[offset + 2] << 8) | (uint32_t) mac[offset + 3];
	OPENSSL_cleanse(mac, sizeof(mac));

	binary %= power[digits];
	for (i = (int) digits - 1; i >= 0; i--) {
		out[i] = '0' + (binary % 10);
		binary /= 10;
	}
	out[digits] = '\0';
	binary = 0;

	return TWOFA_OK;
}

int64_t twofa_totp_step(twofa_totp_params_t const *params, time_t now)
{
	if ((now < 0) || (params->period == 0)) return 0;
	return (int64_t) now / params->period;
}

/* Exactly digits decimal digits, then the NUL.  Never reads past the NUL. */
static bool code_format_ok(char const *code, unsigned int digits)
{
	unsigned int i;

	if (!code) return false;
	for (i = 0; i < digits; i++) if ((code[i] < '0') || (code[i] > '9')) return false;
	return code[digits] == '\0';
}

twofa_rcode_t twofa_totp_verify_code(uint8_t const *key, size_t key_len,
				     twofa_totp_params_t const *params, unsigned int window,
				     time_t now, int64_t last_step, char const *code,
				     int64_t *matched_step)
{
	char		expected[TWOFA_TOTP_MAX_DIGITS + 1];
	int64_t		now_step, step, fresh = -1;
	bool		stale = false;
	twofa_rcode_t	rc = TWOFA_OK;

	if ((params->digits < 6) || (params->digits > TWOFA_TOTP_MAX_DIGITS) || (params->period == 0)) {
		return TWOFA_ERR_MALFORMED;
	}
	if (!code_format_ok(code, params->digits)) return TWOFA_ERR_MALFORMED;
	if (window > TWOFA_TOTP_MAX_WINDOW) window = TWOFA_TOTP_MAX_WINDOW;	/* bounds the work per attempt */

	/*
	 *	Every step in the window is computed and compared, with no
	 *	early exit, so timing does not tell where the code matched.
	 */
	now_step = twofa_totp_step(params, now);
	for (step = now_step - (int64_t) window; step <= now_step + (int64_t) window; step++) {
		bool match;

		if (step < 0) continue;
		if (twofa_hotp_code(key, key_len, params->hash, params->digits, (uint64_t) step, expected) != TWOFA_OK) {
			rc = TWOFA_ERR_CRYPTO;
			continue;
		}
		match = (CRYPTO_memcmp(expected, code, params->digits) == 0);
		if (match && (step > last_step)) fresh = step;	/* the latest fresh step wins */
		if (match && (step <= last_step)) stale = true;
	}
	OPENSSL_cleanse(expected, sizeof(expected));

	if (rc != TWOFA_OK) return rc;
	if (fresh >= 0) {
		if (matched_step) *matched_step = fresh;
		return TWOFA_OK;
	}
	return stale ? TWOFA_ERR_REPLAYED : TWOFA_ERR_BAD_CODE;
}
