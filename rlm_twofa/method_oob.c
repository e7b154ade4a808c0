/*
 * method_oob.c	What the SMS and email methods share: send a new code,
 *		check an answer's shape, the code back from its proof.
 *
 *		A send: count it against the per-user and per-NAS limits
 *		(one store statement), make the code (RAND_bytes, oob.c), keep
 *		its salted keyed hash as the factor's one code (voiding the one
 *		before), then hand the transfer to the sender thread and wait
 *		at most send_wait.  A gateway slower than that gets its code
 *		sent all the same: the challenge goes out and the code may
 *		still arrive.  The code is wiped as soon as the job holds its
 *		copy; it is never logged, and failure texts never hold it.
 */
#include <stdio.h>
#include <string.h>
#include <inttypes.h>
#include <openssl/crypto.h>

#include "method.h"
#include "oob.h"
#include "contact.h"
#include "sender.h"
#include "sms_http.h"
#include "mail.h"

/* Where it went, masked, for the challenge text. */
static void report_to(twofa_delivery_report_t *report, twofa_factor_kind_t kind, char const *to[2])
{
	char	a[TWOFA_EMAIL_MASK_MAX], b[TWOFA_EMAIL_MASK_MAX];

	if (!report) return;
	report->to[0] = '\0';
	if (kind == TWOFA_FACTOR_SMS) {
		twofa_phone_mask(to[0], report->to, sizeof(report->to));
		return;
	}
	if (twofa_email_mask(to[0], a, sizeof(a)) < 0) return;
	if (to[1] && (twofa_email_mask(to[1], b, sizeof(b)) >= 0)) {
		snprintf(report->to, sizeof(report->to), "%s and %s", a, b);
	} else {
		snprintf(report->to, sizeof(report->to), "%s", a);
	}
}

static void report_why(twofa_delivery_report_t *report, char const *why)
{
	if (report) snprintf(report->why, sizeof(report->why), "%s", why);
}

/* For the sender's line if the transfer fails after the login stopped waiting: where, for whom. */
static void describe_job(twofa_send_job_t *job, twofa_factor_kind_t kind, char const *to[2], char const *user)
{
	twofa_delivery_report_t	masked;
	char			what[sizeof(masked.to) + TWOFA_USER_NAME_MAX + 48];

	report_to(&masked, kind, to);
	snprintf(what, sizeof(what), "%s code to %s for user \"%s\"", (kind == TWOFA_FACTOR_SMS) ? "SMS" : "email",
		 masked.to, user ? user : "?");
	twofa_send_job_describe(job, what);
}

/* A job for the code to to[] through the gateway or relay of kind. */
static twofa_rcode_t make_job(twofa_delivery_t const *d, twofa_factor_kind_t kind, char const *to[2], char const *code,
			      char const *user, twofa_send_job_t **job, char *err, size_t err_len)
{
	if (kind == TWOFA_FACTOR_SMS) {
		twofa_sms_values_t v = { .phone = to[0], .code = code, .user = user };

		return twofa_sms_http_job(d->sms, d->sender, &v, job, err, err_len);
	} else {
		twofa_mail_values_t v = { .to = { to[0], to[1] }, .code = code, .user = user };

		return twofa_mail_job(d->mail, d->sender, &v, job, err, err_len);
	}
}

/* Hand the job over; wait at most send_wait for the gateway's word. */
static twofa_rcode_t send_job(twofa_delivery_t const *d, twofa_factor_kind_t kind, twofa_send_job_t *job,
			      twofa_delivery_report_t *report)
{
	twofa_send_result_t	result;
	char			why[192];
	twofa_rcode_t		rc;

	memset(&result, 0, sizeof(result));
	rc = twofa_sender_send(d->sender, job, d->send_wait_ms, &result);
	switch (rc) {
	case TWOFA_OK:
		rc = (kind == TWOFA_FACTOR_SMS) ? twofa_sms_http_outcome(d->sms, &result, why, sizeof(why)) :
						  twofa_mail_outcome(d->mail, &result, why, sizeof(why));
		if (rc != TWOFA_OK) report_why(report, why);
		OPENSSL_cleanse(&result, sizeof(result));	/* a gateway may echo the message */
		return (rc == TWOFA_OK) ? TWOFA_OK : TWOFA_ERR_IO;

	case TWOFA_ERR_EXPIRED:
		if (report) report->pending = true;
		return TWOFA_OK;

	case TWOFA_ERR_BUSY:
		report_why(report, "the sender's queue is full (queue_max)");
		return TWOFA_ERR_IO;

	default:
		report_why(report, "the sender is stopping");
		return TWOFA_ERR_IO;
	}
}

twofa_rcode_t twofa_oob_send(twofa_method_ctx_t const *mctx, twofa_pending_t *pending, twofa_factor_kind_t kind,
			     int64_t factor_id, char const *to[2], char const *user)
{
	twofa_delivery_t const		*d = mctx->delivery;
	twofa_oob_code_config_t const	*cc;
	twofa_oob_hash_t		hash;
	twofa_send_job_t		*job = NULL;
	char				code[TWOFA_OOB_DIGITS_MAX + 1];
	char				err[128];
	twofa_rcode_t			rc;

	if (mctx->report) memset(mctx->report, 0, sizeof(*mctx->report));
	if (!d || !d->sender || ((kind == TWOFA_FACTOR_SMS) ? !d->sms : !d->mail)) return TWOFA_ERR_UNAVAILABLE;
	cc = (kind == TWOFA_FACTOR_SMS) ? &d->sms_code : &d->email_code;
	report_to(mctx->report, kind, to);

	rc = twofa_store_send_allow(mctx->store, pending->user_id, mctx->nas, mctx->now, d->per_user_hour,
				    d->per_nas_hour);
	if (rc != TWOFA_OK) return rc;

	rc = twofa_oob_code_generate(cc->digits, code);
	if (rc == TWOFA_OK) rc = twofa_oob_code_seal(d->okey, code, &hash);
	if ((rc == TWOFA_OK) && factor_id) {
		rc = twofa_store_oob_set(mctx->store, pending->user_id, factor_id, &hash, mctx->now + cc->lifetime);
	} else if (rc == TWOFA_OK) {
		/* A number typed at login: the code's hash rides in the pending context, nothing is stored yet. */
		memcpy(pending->sealed, hash.salt, sizeof(hash.salt));
		memcpy(pending->sealed + sizeof(hash.salt), hash.hash, sizeof(hash.hash));
		pending->sealed_len = sizeof(hash.salt) + sizeof(hash.hash);
	}
	if (rc == TWOFA_OK) {
		rc = make_job(d, kind, to, code, user, &job, err, sizeof(err));
		if (rc == TWOFA_ERR_MALFORMED) report_why(mctx->report, err);
	}
	OPENSSL_cleanse(code, sizeof(code));
	if (rc != TWOFA_OK) return (rc == TWOFA_ERR_MALFORMED) ? TWOFA_ERR_IO : rc;
	describe_job(job, kind, to, user);

	pending->factor_id = factor_id;
	pending->totp.digits = cc->digits;
	return send_job(d, kind, job, mctx->report);
}

twofa_rcode_t twofa_oob_resume(twofa_method_ctx_t const *mctx, twofa_pending_t *pending, twofa_factor_kind_t kind,
			       int64_t factor_id)
{
	twofa_delivery_t const *d = mctx->delivery;

	if (!d || ((kind == TWOFA_FACTOR_SMS) ? !d->sms : !d->mail)) return TWOFA_ERR_UNAVAILABLE;
	pending->factor_id = factor_id;
	pending->totp.digits = (kind == TWOFA_FACTOR_SMS) ? d->sms_code.digits : d->email_code.digits;
	pending->sealed_len = 0;
	return TWOFA_OK;
}

twofa_rcode_t twofa_oob_check(TALLOC_CTX *ctx, twofa_method_ctx_t const *mctx, twofa_pending_t const *pending,
			      char const *answer, size_t len, int64_t *proof)
{
	int64_t	value = 0;
	size_t	i;

	if (!answer || !twofa_oob_code_well_formed(answer, len, pending->totp.digits)) return TWOFA_ERR_MALFORMED;
	for (i = 0; i < len; i++) value = value * 10 + (answer[i] - '0');	/* at most 10 digits: fits */
	*proof = value;
	return TWOFA_OK;
}

bool twofa_oob_code_from_proof(int64_t proof, unsigned int digits, char out[TWOFA_OOB_DIGITS_MAX + 1])
{
	if ((proof < 0) || (digits < TWOFA_OOB_DIGITS_MIN) || (digits > TWOFA_OOB_DIGITS_MAX)) return false;
	return snprintf(out, TWOFA_OOB_DIGITS_MAX + 1, "%0*" PRId64, (int) digits, proof) == (int) digits;
}
