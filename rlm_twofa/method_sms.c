/*
 * method_sms.c	A code by SMS (method_oob.c sends it): held with a
 *		confirmed SMS factor whose number is E.164.  Round one sends
 *		the code and keeps its hash as the factor's one code; round
 *		two checks the answer's shape in memory, then the store takes
 *		the code once (it matches, is unused, unexpired, the factor
 *		unchanged, the user not locked).
 *
 *		A directory user's mobile number (password_source = ldap) reaches
 *		here as such a factor: mod_ldap.c makes or refreshes it at round one.
 *
 *		sms_ask_number (twofa_method_sms_number, twofa_method_sms_new):
 *		a user with no number is asked for one; the answer is checked
 *		as E.164 and a code is sent to it, its hash and the number
 *		carried in the pending context (nothing stored); the number is
 *		saved as a confirmed SMS factor only once that code checks, by
 *		the enrolment statement, which refuses if a confirmed SMS
 *		factor appeared meanwhile.
 */
#include <string.h>
#include <openssl/crypto.h>

#include "method.h"
#include "contact.h"
#include "oob.h"

static twofa_factor_t const *sms_factor(twofa_user_t const *user)
{
	twofa_factor_t const *f = twofa_user_factor(user, TWOFA_FACTOR_SMS);

	return (f && f->confirmed && f->address && twofa_phone_valid(f->address)) ? f : NULL;
}

static bool sms_held(twofa_user_t const *user)
{
	return sms_factor(user) != NULL;
}

static twofa_rcode_t sms_start(twofa_method_ctx_t const *mctx, twofa_user_t const *user, twofa_pending_t *pending)
{
	twofa_factor_t const	*f = sms_factor(user);
	char const		*to[2] = { NULL, NULL };

	if (!f) return TWOFA_ERR_CRYPTO;
	to[0] = f->address;
	pending->sealed_len = 0;
	return twofa_oob_send(mctx, pending, TWOFA_FACTOR_SMS, f->id, to, user->name);
}

/* Append mode: the code an earlier request sent; nothing is sent now. */
static twofa_rcode_t sms_resume(twofa_method_ctx_t const *mctx, twofa_user_t const *user, twofa_pending_t *pending)
{
	twofa_factor_t const *f = sms_factor(user);

	if (!f) return TWOFA_ERR_CRYPTO;
	return twofa_oob_resume(mctx, pending, TWOFA_FACTOR_SMS, f->id);
}

/* Also email's: the store takes the factor's code once. */
twofa_rcode_t twofa_oob_consume(twofa_method_ctx_t const *mctx, twofa_pending_t const *pending, int64_t proof)
{
	char		code[TWOFA_OOB_DIGITS_MAX + 1];
	twofa_rcode_t	rc;

	if (!mctx->delivery || !twofa_oob_code_from_proof(proof, pending->totp.digits, code)) return TWOFA_ERR_MALFORMED;
	rc = twofa_store_oob_consume(mctx->store, pending->user_id, pending->factor_id, mctx->delivery->okey, code,
				     pending->totp.digits, mctx->now, mctx->login);
	OPENSSL_cleanse(code, sizeof(code));
	return rc;
}

twofa_method_t const twofa_method_sms = {
	.name		= "sms",
	.id		= TWOFA_METHOD_SMS,
	.held		= sms_held,
	.start		= sms_start,
	.check		= twofa_oob_check,
	.consume	= twofa_oob_consume,
	.resume		= sms_resume,
};

/*
 *	sms_ask_number: the prompt for a number.  Its "check" takes a number,
 *	not a code: the flow sees TWOFA_METHOD_SMS_NUMBER and calls
 *	twofa_sms_new_start instead of consuming anything.
 */
static bool never_held(twofa_user_t const *user)
{
	return false;
}

static twofa_rcode_t number_start(twofa_method_ctx_t const *mctx, twofa_user_t const *user, twofa_pending_t *pending)
{
	pending->sealed_len = 0;
	return TWOFA_OK;
}

static twofa_rcode_t number_check(TALLOC_CTX *ctx, twofa_method_ctx_t const *mctx, twofa_pending_t const *pending,
				  char const *answer, size_t len, int64_t *proof)
{
	char e164[TWOFA_PHONE_MAX + 1];

	if (!answer || (len > TWOFA_PHONE_INPUT_MAX) || !twofa_phone_normalise(answer, len, e164)) return TWOFA_ERR_MALFORMED;
	*proof = 0;
	return TWOFA_OK;
}

static twofa_rcode_t number_consume(twofa_method_ctx_t const *mctx, twofa_pending_t const *pending, int64_t proof)
{
	return TWOFA_ERR_MALFORMED;		/* a number is never a login: the flow sends it a code */
}

twofa_method_t const twofa_method_sms_number = {
	.name		= "sms_number",
	.id		= TWOFA_METHOD_SMS_NUMBER,
	.held		= never_held,
	.start		= number_start,
	.check		= number_check,
	.consume	= number_consume,
};

twofa_rcode_t twofa_sms_new_start(twofa_method_ctx_t const *mctx, char const *answer, size_t len,
				  twofa_pending_t *pending)
{
	char		e164[TWOFA_PHONE_MAX + 1];
	char const	*to[2] = { e164, NULL };
	size_t		n;
	twofa_rcode_t	rc;

	if (!answer || (len > TWOFA_PHONE_INPUT_MAX) || !twofa_phone_normalise(answer, len, e164)) return TWOFA_ERR_MALFORMED;
	pending->method = TWOFA_METHOD_SMS_NEW;
	rc = twofa_oob_send(mctx, pending, TWOFA_FACTOR_SMS, 0, to, pending->name);
	if (rc != TWOFA_OK) return rc;
	n = strlen(e164);
	if (pending->sealed_len + n > sizeof(pending->sealed)) return TWOFA_ERR_MALFORMED;
	memcpy(pending->sealed + pending->sealed_len, e164, n);
	pending->sealed_len += n;
	return TWOFA_OK;
}

/* The number the code went to, from pending's sealed part.  @return false if there is none. */
static bool new_number(twofa_pending_t const *pending, char out[TWOFA_PHONE_MAX + 1])
{
	size_t off = TWOFA_OOB_SALT_LEN + TWOFA_OOB_HASH_LEN, n;

	if (pending->sealed_len <= off) return false;
	n = pending->sealed_len - off;
	if (n > TWOFA_PHONE_MAX) return false;
	memcpy(out, pending->sealed + off, n);
	out[n] = '\0';
	return twofa_phone_valid(out);
}

/* Checked in memory against the hash in pending (constant time); the proof is the code's value. */
static twofa_rcode_t sms_new_check(TALLOC_CTX *ctx, twofa_method_ctx_t const *mctx, twofa_pending_t const *pending,
				   char const *answer, size_t len, int64_t *proof)
{
	twofa_oob_hash_t	h;
	twofa_rcode_t		rc = twofa_oob_check(ctx, mctx, pending, answer, len, proof);

	if (rc != TWOFA_OK) return rc;
	if (!mctx->delivery || (pending->sealed_len < sizeof(h.salt) + sizeof(h.hash))) return TWOFA_ERR_MALFORMED;
	memcpy(h.salt, pending->sealed, sizeof(h.salt));
	memcpy(h.hash, pending->sealed + sizeof(h.salt), sizeof(h.hash));
	return twofa_oob_code_matches(mctx->delivery->okey, &h, answer, len, pending->totp.digits) ?
	       TWOFA_OK : TWOFA_ERR_BAD_CODE;
}

/* The number becomes the user's SMS factor, confirmed, only now. */
static twofa_rcode_t sms_new_consume(twofa_method_ctx_t const *mctx, twofa_pending_t const *pending, int64_t proof)
{
	char		number[TWOFA_PHONE_MAX + 1];
	twofa_factor_t	factor = { .kind = TWOFA_FACTOR_SMS, .confirmed = true, .address = number };

	if (!new_number(pending, number)) return TWOFA_ERR_MALFORMED;
	return twofa_store_factor_enrol(mctx->store, pending->user_id, &factor, -1, mctx->now, mctx->login);
}

twofa_method_t const twofa_method_sms_new = {
	.name		= "sms",
	.id		= TWOFA_METHOD_SMS_NEW,
	.held		= never_held,
	.start		= number_start,
	.check		= sms_new_check,
	.consume	= sms_new_consume,
};
