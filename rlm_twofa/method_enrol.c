/*
 * method_enrol.c	Enrolment at first login (enrol_at_login = yes): a user
 *			with the right password and no second factor is sent a
 *			new TOTP secret, and is enrolled once the next round
 *			brings a valid code for it.
 *
 *		Never held by a user: the login flow offers it itself when
 *		no method is held.  The secret is made in start(), sealed
 *		with the key (the user's name as AAD, as a stored one is)
 *		and carried only in the pending context; nothing is stored
 *		until the code checks.  The challenge's text is built once
 *		from the sealed secret (twofa_enrol_message); a re-challenge
 *		uses retry_message and never shows the secret again.  The
 *		consume enrols and records the confirming step in one
 *		statement, which refuses if a confirmed enrolment appeared
 *		meanwhile (another login's): of two racing enrolments one
 *		wins.  No looks_like(): an answer at another method's prompt
 *		is never tried as an enrolment.
 */
#include <string.h>
#include <openssl/crypto.h>

#include "method.h"
#include "base32.h"
#include "crypto.h"

/* What authenticator apps assume when only a key is typed in. */
static twofa_totp_params_t const enrol_params = { TWOFA_HASH_SHA1, 6, 30 };

static bool enrol_held(twofa_user_t const *user)
{
	return false;
}

static twofa_rcode_t enrol_start(twofa_method_ctx_t const *mctx, twofa_user_t const *user, twofa_pending_t *pending)
{
	uint8_t		raw[TWOFA_SECRET_LEN];
	uint8_t		*sealed = NULL;
	size_t		sealed_len = 0;
	twofa_rcode_t	rc;

	rc = twofa_crypto_random(raw, sizeof(raw));
	if (rc == TWOFA_OK) rc = twofa_crypto_seal(NULL, mctx->key, pending->name, raw, sizeof(raw),
						   &sealed, &sealed_len);
	OPENSSL_cleanse(raw, sizeof(raw));
	if (rc != TWOFA_OK) return rc;

	if (sealed_len > sizeof(pending->sealed)) {
		talloc_free(sealed);
		return TWOFA_ERR_CRYPTO;
	}
	memcpy(pending->sealed, sealed, sealed_len);	/* sealed: no need to wipe */
	pending->sealed_len = sealed_len;
	pending->totp = enrol_params;
	talloc_free(sealed);
	return TWOFA_OK;
}

/* The code is checked as the TOTP method checks one: the secret is in pending the same way. */
static twofa_rcode_t enrol_check(TALLOC_CTX *ctx, twofa_method_ctx_t const *mctx, twofa_pending_t const *pending,
				 char const *answer, size_t len, int64_t *proof)
{
	return twofa_method_totp.check(ctx, mctx, pending, answer, len, proof);
}

static twofa_rcode_t enrol_consume(twofa_method_ctx_t const *mctx, twofa_pending_t const *pending, int64_t step)
{
	twofa_factor_t factor = {
		.kind = TWOFA_FACTOR_TOTP, .confirmed = true, .totp = pending->totp,
		.sealed = (uint8_t *) pending->sealed, .sealed_len = pending->sealed_len,
	};

	return twofa_store_factor_enrol(mctx->store, pending->user_id, &factor, step, mctx->now, mctx->login);
}

twofa_method_t const twofa_method_enrol = {
	.name		= "enrol",
	.id		= TWOFA_METHOD_ENROL,
	.held		= enrol_held,
	.start		= enrol_start,
	.check		= enrol_check,
	.consume	= enrol_consume,
};

/* Append len bytes of s to out, or nothing if they do not fit. */
static bool append(char *out, size_t *used, size_t max, char const *s, size_t len)
{
	if (len > max - *used) return false;
	memcpy(out + *used, s, len);
	*used += len;
	return true;
}

size_t twofa_enrol_message_expand(char *out, size_t out_size, char const *template, char const *secret)
{
	size_t		used = 0, max, token_len = strlen(TWOFA_SECRET_TOKEN);
	char const	*p = template, *token;

	if (!out || (out_size == 0)) return 0;
	max = out_size - 1;
	out[0] = '\0';
	if (!strstr(template, TWOFA_SECRET_TOKEN)) return 0;

	while ((token = strstr(p, TWOFA_SECRET_TOKEN)) != NULL) {
		if (!append(out, &used, max, p, (size_t) (token - p)) ||
		    !append(out, &used, max, secret, strlen(secret))) goto too_long;
		p = token + token_len;
	}
	if (!append(out, &used, max, p, strlen(p))) goto too_long;
	out[used] = '\0';
	return used;

too_long:
	/* A cut secret is no use to anyone: nothing rather than part of it. */
	OPENSSL_cleanse(out, out_size);
	return 0;
}

/* base32 in groups of 4, separated by spaces: "ABCD EFGH ...". */
static void group_secret(char const *b32, char out[TWOFA_ENROL_SECRET_TEXT_MAX + 1])
{
	size_t i, j = 0;

	for (i = 0; b32[i]; i++) {
		if (i && ((i % 4) == 0)) out[j++] = ' ';
		out[j++] = b32[i];
	}
	out[j] = '\0';
}

twofa_rcode_t twofa_enrol_message(TALLOC_CTX *ctx, uint8_t const *key, twofa_pending_t const *pending,
				  char const *template, char *out, size_t out_size)
{
	twofa_secret_t	*secret = NULL;
	char		b32[TWOFA_BASE32_ENCODED_LEN(TWOFA_SECRET_LEN) + 1];
	char		grouped[TWOFA_ENROL_SECRET_TEXT_MAX + 1];
	twofa_rcode_t	rc;

	if (pending->method != TWOFA_METHOD_ENROL) return TWOFA_ERR_MALFORMED;
	rc = twofa_crypto_open(ctx, key, pending->name, pending->sealed, pending->sealed_len, &secret);
	if (rc != TWOFA_OK) return rc;
	if ((secret->len != TWOFA_SECRET_LEN) || (twofa_base32_encode(secret->data, secret->len, b32, sizeof(b32)) < 0)) {
		rc = TWOFA_ERR_CRYPTO;
	} else {
		group_secret(b32, grouped);
		if (!twofa_enrol_message_expand(out, out_size, template, grouped)) rc = TWOFA_ERR_MALFORMED;
	}
	talloc_free(secret);
	OPENSSL_cleanse(b32, sizeof(b32));
	OPENSSL_cleanse(grouped, sizeof(grouped));
	return rc;
}
