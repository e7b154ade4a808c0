/*
 * method_totp.c	The TOTP method (RFC 6238): a code from an authenticator app.
 *
 *		Round one copies the confirmed factor (its id, parameters and
 *		the secret, still sealed) into the pending context, so that
 *		round two checks the code without reading the store.  The
 *		consume is one statement that records the step only if it is
 *		later than any used, the factor is still the one round one read
 *		(its id: a replaced factor has a new one) and the user is not
 *		locked.
 */
#include <string.h>

#include "method.h"
#include "crypto.h"
#include "policy.h"
#include "totp.h"

static bool totp_held(twofa_user_t const *user)
{
	twofa_factor_t const *f = twofa_user_factor(user, TWOFA_FACTOR_TOTP);

	return f && f->confirmed;
}

static twofa_rcode_t totp_start(twofa_method_ctx_t const *mctx, twofa_user_t const *user, twofa_pending_t *pending)
{
	twofa_factor_t const *f = twofa_user_factor(user, TWOFA_FACTOR_TOTP);

	if (!f || !f->sealed || !f->sealed_len || (f->sealed_len > sizeof(pending->sealed))) return TWOFA_ERR_CRYPTO;
	pending->factor_id = f->id;
	pending->totp = f->totp;
	memcpy(pending->sealed, f->sealed, f->sealed_len);
	pending->sealed_len = f->sealed_len;
	return TWOFA_OK;
}

static twofa_rcode_t totp_check(TALLOC_CTX *ctx, twofa_method_ctx_t const *mctx, twofa_pending_t const *pending,
				char const *answer, size_t len, int64_t *proof)
{
	twofa_secret_t	*secret = NULL;
	twofa_rcode_t	rc;

	if (!answer || !twofa_code_well_formed(answer, len, pending->totp.digits)) return TWOFA_ERR_MALFORMED;

	/* The user's name is the secret's AAD: a sealed secret moved to another user does not open. */
	rc = twofa_crypto_open(ctx, mctx->key, pending->name, pending->sealed, pending->sealed_len, &secret);
	if (rc != TWOFA_OK) return rc;

	/* No last step here: the store holds it, and the consume refuses a step that is not later. */
	rc = twofa_totp_verify_code(secret->data, secret->len, &pending->totp, mctx->window, mctx->now,
				    -1, answer, proof);
	talloc_free(secret);
	return rc;
}

static twofa_rcode_t totp_consume(twofa_method_ctx_t const *mctx, twofa_pending_t const *pending, int64_t step)
{
	return twofa_store_factor_consume_step(mctx->store, pending->user_id, pending->factor_id, step, mctx->now,
					       mctx->login);
}

twofa_method_t const twofa_method_totp = {
	.name		= "totp",
	.id		= TWOFA_METHOD_TOTP,
	.held		= totp_held,
	.start		= totp_start,
	.check		= totp_check,
	.consume	= totp_consume,
};
