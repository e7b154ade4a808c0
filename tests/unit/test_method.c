/*
 * test_method.c	The method table (method.h) and the TOTP method, without
 *			radiusd: who holds what, round one's start, round two's
 *			check in memory.  The consume is the store's (test_store).
 */
#include <string.h>

#include "check.h"
#include "crypto.h"
#include "method.h"
#include "totp.h"
#include "base32.h"
#include "policy.h"

static uint8_t const key[TWOFA_KEY_LEN] = { 7, 7, 7, 7, 1, 2, 3, 4 };
static uint8_t const raw[20] = "12345678901234567890";	/* RFC 6238's SHA1 secret */
#define NOW	((time_t) 59)				/* RFC 6238 Appendix B: step 1, code 94287082 (8 digits) */

/* alice, with a confirmed SHA1/8-digit/30 s TOTP factor (id 7) sealed under key. */
static twofa_user_t *alice(TALLOC_CTX *ctx)
{
	twofa_user_t	*u = talloc_zero(ctx, twofa_user_t);
	twofa_factor_t	*f;

	u->id = 42;
	u->name = talloc_strdup(u, "alice");
	u->factors = f = talloc_zero(u, twofa_factor_t);
	u->num_factors = 1;
	f->id = 7;
	f->kind = TWOFA_FACTOR_TOTP;
	f->confirmed = true;
	f->totp = (twofa_totp_params_t) { TWOFA_HASH_SHA1, 8, 30 };
	if (twofa_crypto_seal(u, key, "alice", raw, sizeof(raw), &f->sealed, &f->sealed_len) != TWOFA_OK) return NULL;
	return u;
}

static twofa_method_ctx_t const mctx = { .key = key, .window = 1, .now = NOW };

static void ids_name_their_method_and_unknown_ids_none(void)
{
	CHECK(twofa_method_by_id(TWOFA_METHOD_TOTP) == &twofa_method_totp);
	CHECK_STR(twofa_method_by_id(TWOFA_METHOD_TOTP)->name, "totp");
	CHECK(twofa_method_by_id(0) == NULL);
	CHECK(twofa_method_by_id(TWOFA_METHOD_LAST + 1) == NULL);
	CHECK(twofa_method_by_id(255) == NULL);
}

static void only_a_confirmed_enrolment_is_held(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_user_t	*u = alice(ctx);

	CHECK(u && twofa_method_for_user(u) == &twofa_method_totp);
	if (u) u->factors[0].confirmed = false;
	CHECK(u && twofa_method_for_user(u) == NULL);
	if (u) u->num_factors = 0;
	CHECK(u && twofa_method_for_user(u) == NULL);
	talloc_free(ctx);
}

/* Round one's start, then round two's check: the RFC's code is taken as its step. */
static void started_challenge_checks_the_right_code(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_user_t	*u = alice(ctx);
	twofa_pending_t	pending;
	int64_t		step = -1;

	memset(&pending, 0, sizeof(pending));
	strcpy(pending.name, "alice");
	CHECK(u && twofa_method_totp.start(&mctx, u, &pending) == TWOFA_OK);
	CHECK(pending.totp.digits == 8 && pending.sealed_len == u->factors[0].sealed_len);
	CHECK(pending.factor_id == 7);
	CHECK(twofa_method_totp.check(ctx, &mctx, &pending, "94287082", 8, &step) == TWOFA_OK);
	CHECK(step == 1);
	CHECK(twofa_method_totp.check(ctx, &mctx, &pending, "94287083", 8, &step) == TWOFA_ERR_BAD_CODE);
	CHECK(twofa_method_totp.check(ctx, &mctx, &pending, "942870", 6, &step) == TWOFA_ERR_MALFORMED);
	CHECK(twofa_method_totp.check(ctx, &mctx, &pending, "9428708x", 8, &step) == TWOFA_ERR_MALFORMED);
	CHECK(twofa_method_totp.check(ctx, &mctx, &pending, NULL, 0, &step) == TWOFA_ERR_MALFORMED);
	talloc_free(ctx);
}

/* The sealed secret is bound to its user: moved to another name it does not open. */
static void secret_of_another_user_does_not_open(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_user_t	*u = alice(ctx);
	twofa_pending_t	pending;
	int64_t		step = -1;

	memset(&pending, 0, sizeof(pending));
	strcpy(pending.name, "mallory");
	CHECK(u && twofa_method_totp.start(&mctx, u, &pending) == TWOFA_OK);
	CHECK(twofa_method_totp.check(ctx, &mctx, &pending, "94287082", 8, &step) == TWOFA_ERR_CRYPTO);
	talloc_free(ctx);
}

static void malformed_stored_factor_is_refused_at_start(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_user_t	*u = alice(ctx);
	twofa_pending_t	pending;

	memset(&pending, 0, sizeof(pending));
	if (u) u->factors[0].sealed_len = sizeof(pending.sealed) + 1;
	CHECK(u && twofa_method_totp.start(&mctx, u, &pending) == TWOFA_ERR_CRYPTO);
	if (u) u->factors[0].sealed = NULL;
	CHECK(u && twofa_method_totp.start(&mctx, u, &pending) == TWOFA_ERR_CRYPTO);
	talloc_free(ctx);
}

/* Enrolment: never held, never an alternate, a fresh secret sealed for the user each start. */
static void enrol_is_offered_only_by_the_flow(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_user_t	*u = alice(ctx);

	CHECK(twofa_method_by_id(TWOFA_METHOD_ENROL) == &twofa_method_enrol);
	CHECK(TWOFA_METHOD_LAST == TWOFA_METHOD_SMS_NEW);
	if (u) u->num_factors = 0;
	CHECK(u && twofa_method_for_user(u) == NULL);
	CHECK(twofa_method_alternate(&twofa_method_totp, "123456", 6) != &twofa_method_enrol);
	CHECK(twofa_method_alternate(&twofa_method_backup, "123456", 6) == NULL);
	CHECK(twofa_method_alternate(&twofa_method_enrol, "123456", 6) == NULL);
	talloc_free(ctx);
}

/* The secret in the message, found back: base32 in 8 groups of 4 after "key ". */
static bool secret_from_message(char const *message, uint8_t raw[TWOFA_SECRET_LEN])
{
	char const	*p = strstr(message, "key ");
	char		b32[64];

	if (!p || strlen(p + 4) < TWOFA_ENROL_SECRET_TEXT_MAX - 1) return false;
	memcpy(b32, p + 4, TWOFA_ENROL_SECRET_TEXT_MAX - 1);
	b32[TWOFA_ENROL_SECRET_TEXT_MAX - 1] = '\0';
	return (b32[4] == ' ') && (b32[34] == ' ') && (twofa_base32_decode(b32, raw, TWOFA_SECRET_LEN) == TWOFA_SECRET_LEN);
}

static void enrol_start_seals_a_new_secret_that_checks(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_user_t	*u = alice(ctx);
	twofa_pending_t	pending, again;
	char		message[TWOFA_REPLY_MESSAGE_MAX + 1], code[TWOFA_TOTP_MAX_DIGITS + 1];
	uint8_t		raw2[TWOFA_SECRET_LEN];
	int64_t		step = -1;

	memset(&pending, 0, sizeof(pending));
	strcpy(pending.name, "alice");
	pending.method = TWOFA_METHOD_ENROL;
	again = pending;
	CHECK(u && twofa_method_enrol.start(&mctx, u, &pending) == TWOFA_OK);
	CHECK(u && twofa_method_enrol.start(&mctx, u, &again) == TWOFA_OK);
	CHECK(pending.sealed_len == TWOFA_SEAL_OVERHEAD + TWOFA_SECRET_LEN);
	CHECK(pending.totp.digits == 6 && pending.totp.period == 30 && pending.totp.hash == TWOFA_HASH_SHA1);
	CHECK(memcmp(pending.sealed, again.sealed, pending.sealed_len) != 0);	/* made once per login */
	CHECK(twofa_enrol_message(ctx, key, &pending, "key {secret}", message, sizeof(message)) == TWOFA_OK);
	CHECK(strlen(message) == 4 + 39);
	CHECK(secret_from_message(message, raw2));
	CHECK(twofa_hotp_code(raw2, sizeof(raw2), TWOFA_HASH_SHA1, 6, NOW / 30, code) == TWOFA_OK);
	CHECK(twofa_method_enrol.check(ctx, &mctx, &pending, code, 6, &step) == TWOFA_OK && step == NOW / 30);
	CHECK(twofa_method_enrol.check(ctx, &mctx, &again, code, 6, &step) != TWOFA_OK);
	CHECK(twofa_method_enrol.check(ctx, &mctx, &pending, "12345", 5, &step) == TWOFA_ERR_MALFORMED);
	/* Another user's name as AAD: neither the message nor the check opens it. */
	strcpy(pending.name, "mallory");
	CHECK(twofa_enrol_message(ctx, key, &pending, "key {secret}", message, sizeof(message)) == TWOFA_ERR_CRYPTO);
	CHECK(twofa_method_enrol.check(ctx, &mctx, &pending, code, 6, &step) == TWOFA_ERR_CRYPTO);
	talloc_free(ctx);
}

static void enrol_message_substitutes_and_never_cuts_the_secret(void)
{
	char	out[TWOFA_REPLY_MESSAGE_MAX + 1], tmpl[300];
	char	secret[] = "ABCD EFGH IJKL MNOP QRST UVWX YZ23 4567";

	CHECK(twofa_enrol_message_expand(out, sizeof(out), "Key: {secret}. 100% {attempts} %s", secret) > 0);
	CHECK_STR(out, "Key: ABCD EFGH IJKL MNOP QRST UVWX YZ23 4567. 100% {attempts} %s");
	CHECK(twofa_enrol_message_expand(out, sizeof(out), "{secret}{secret}", "AB") == 4);
	CHECK_STR(out, "ABAB");
	CHECK(twofa_enrol_message_expand(out, sizeof(out), "no token here", secret) == 0);
	CHECK_STR(out, "");
	/* 253 bytes exactly fit; one more, and nothing goes out rather than a cut secret. */
	memset(tmpl, 'x', sizeof(tmpl));
	strcpy(tmpl + 253 - 39, "{secret}");
	CHECK(twofa_enrol_message_expand(out, sizeof(out), tmpl, secret) == 253);
	memset(tmpl, 'x', sizeof(tmpl));
	strcpy(tmpl + 254 - 39, "{secret}");
	CHECK(twofa_enrol_message_expand(out, sizeof(out), tmpl, secret) == 0);
	CHECK_STR(out, "");
}

/* Round one's order: the preferred method if held and usable, else TOTP, SMS, email, backup codes. */
static void pick_prefers_the_users_choice_then_totp_sms_email(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_user_t	*u = alice(ctx);
	twofa_factor_t	*f;
	uint32_t	no_sms = TWOFA_METHODS_ALL & ~TWOFA_METHOD_BIT(TWOFA_METHOD_SMS);

	if (!u) { CHECK(u != NULL); goto done; }
	u->factors = f = talloc_realloc(u, u->factors, twofa_factor_t, 3);
	f[1] = (twofa_factor_t) { .id = 8, .kind = TWOFA_FACTOR_SMS, .confirmed = true, .address = "+441234567890" };
	f[2] = (twofa_factor_t) { .id = 9, .kind = TWOFA_FACTOR_EMAIL, .confirmed = true,
				  .address = "both:a@example.org,b@example.org" };
	u->num_factors = 3;
	u->backup_codes_left = 3;
	CHECK(twofa_method_pick(u, TWOFA_METHODS_ALL, 0) == &twofa_method_totp);
	CHECK(twofa_method_pick(u, TWOFA_METHODS_ALL, TWOFA_METHOD_BIT(TWOFA_METHOD_TOTP)) == &twofa_method_sms);
	CHECK(twofa_method_pick(u, no_sms, TWOFA_METHOD_BIT(TWOFA_METHOD_TOTP)) == &twofa_method_email);
	u->preferred = TWOFA_FACTOR_EMAIL;
	CHECK(twofa_method_pick(u, TWOFA_METHODS_ALL, 0) == &twofa_method_email);
	u->preferred = TWOFA_FACTOR_SMS;
	CHECK(twofa_method_pick(u, no_sms, 0) == &twofa_method_totp);		/* no gateway: not usable */
	f[0].confirmed = false;
	u->preferred = 0;
	CHECK(twofa_method_pick(u, TWOFA_METHODS_ALL, 0) == &twofa_method_sms);
	f[1].address = "0123";							/* not E.164: not held */
	CHECK(twofa_method_pick(u, TWOFA_METHODS_ALL, 0) == &twofa_method_email);
	f[2].address = "second:a@example.org";					/* no second address */
	CHECK(twofa_method_pick(u, TWOFA_METHODS_ALL, 0) == &twofa_method_backup);
	CHECK(twofa_method_alternate(&twofa_method_sms, "123456", 6) == NULL);	/* a code is never tried as another's */
done:
	talloc_free(ctx);
}

/* An SMS or email answer: shape only in memory; the code comes back from its proof with its zeros. */
static void oob_check_takes_only_the_digits_asked_for(void)
{
	twofa_pending_t	p = { .method = TWOFA_METHOD_SMS, .totp = { .digits = 6 } };
	int64_t		proof = -1;
	char		code[TWOFA_OOB_DIGITS_MAX + 1];

	CHECK(twofa_oob_check(NULL, &mctx, &p, "012345", 6, &proof) == TWOFA_OK && proof == 12345);
	CHECK(twofa_oob_code_from_proof(proof, 6, code) && strcmp(code, "012345") == 0);
	CHECK(twofa_oob_check(NULL, &mctx, &p, "01234", 5, &proof) == TWOFA_ERR_MALFORMED);
	CHECK(twofa_oob_check(NULL, &mctx, &p, "0123456", 7, &proof) == TWOFA_ERR_MALFORMED);
	CHECK(twofa_oob_check(NULL, &mctx, &p, "01234a", 6, &proof) == TWOFA_ERR_MALFORMED);
	p.totp.digits = 10;
	CHECK(twofa_oob_check(NULL, &mctx, &p, "9999999999", 10, &proof) == TWOFA_OK);
	CHECK(twofa_oob_code_from_proof(proof, 10, code) && strcmp(code, "9999999999") == 0);
	/* Nothing configured: no send, and no consume. */
	CHECK(twofa_oob_consume(&mctx, &p, proof) == TWOFA_ERR_MALFORMED);
}

/*
 *	Append mode: a code sent in an earlier request is checked through the
 *	method's resume, which names the factor and its code's length and
 *	sends nothing (no sender here: a send would fail); TOTP and backup
 *	codes have none, their start() sends nothing.
 */
static void resume_names_the_sent_code_and_sends_nothing(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_user_t		*u = alice(ctx);
	twofa_factor_t		*f;
	static char		gateway, relay;		/* stand-ins: only their presence is looked at */
	twofa_delivery_t	d = { .sms = (struct twofa_sms_http *) (void *) &gateway,
				      .mail = (struct twofa_mail *) (void *) &relay,
				      .sms_code = { 8, 300 }, .email_code = { 7, 300 } };
	twofa_method_ctx_t	m = mctx;
	twofa_pending_t		p;

	if (!u) { CHECK(u != NULL); goto done; }
	u->factors = f = talloc_realloc(u, u->factors, twofa_factor_t, 3);
	f[1] = (twofa_factor_t) { .id = 8, .kind = TWOFA_FACTOR_SMS, .confirmed = true, .address = "+441234567890" };
	f[2] = (twofa_factor_t) { .id = 9, .kind = TWOFA_FACTOR_EMAIL, .confirmed = true, .address = "a@example.org" };
	u->num_factors = 3;
	m.delivery = &d;
	CHECK(twofa_method_totp.resume == NULL && twofa_method_backup.resume == NULL);

	memset(&p, 0, sizeof(p));
	CHECK(twofa_method_sms.resume(&m, u, &p) == TWOFA_OK);
	CHECK(p.factor_id == 8 && p.totp.digits == 8 && p.sealed_len == 0);
	memset(&p, 0, sizeof(p));
	CHECK(twofa_method_email.resume(&m, u, &p) == TWOFA_OK);
	CHECK(p.factor_id == 9 && p.totp.digits == 7);
	/* start() would send: without a sender it cannot. */
	CHECK(twofa_method_sms.start(&m, u, &p) == TWOFA_ERR_UNAVAILABLE);
	d.sms = NULL;
	CHECK(twofa_method_sms.resume(&m, u, &p) == TWOFA_ERR_UNAVAILABLE);
	f[2].confirmed = false;
	CHECK(twofa_method_email.resume(&m, u, &p) == TWOFA_ERR_CRYPTO);
done:
	talloc_free(ctx);
}

int main(void)
{
	RUN(ids_name_their_method_and_unknown_ids_none);
	RUN(only_a_confirmed_enrolment_is_held);
	RUN(started_challenge_checks_the_right_code);
	RUN(secret_of_another_user_does_not_open);
	RUN(malformed_stored_factor_is_refused_at_start);
	RUN(enrol_is_offered_only_by_the_flow);
	RUN(pick_prefers_the_users_choice_then_totp_sms_email);
	RUN(oob_check_takes_only_the_digits_asked_for);
	RUN(resume_names_the_sent_code_and_sends_nothing);
	RUN(enrol_start_seals_a_new_secret_that_checks);
	RUN(enrol_message_substitutes_and_never_cuts_the_secret);
	CHECK_EXIT();
}
