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

static uint8_t const key[TWOFA_KEY_LEN] = { 7, 7, 7, 7, 1, 2, 3, 4 };
static uint8_t const raw[20] = "12345678901234567890";	/* RFC 6238's SHA1 secret */
#define NOW	((time_t) 59)				/* RFC 6238 Appendix B: step 1, code 94287082 (8 digits) */

/* alice, with a confirmed SHA1/8-digit/30 s enrolment sealed under key. */
static twofa_user_t *alice(TALLOC_CTX *ctx)
{
	twofa_user_t *u = talloc_zero(ctx, twofa_user_t);

	u->id = 42;
	u->name = talloc_strdup(u, "alice");
	u->totp_state = TWOFA_TOTP_CONFIRMED;
	u->totp = (twofa_totp_params_t) { TWOFA_HASH_SHA1, 8, 30 };
	if (twofa_crypto_seal(u, key, "alice", raw, sizeof(raw), &u->totp_sealed, &u->totp_sealed_len) != TWOFA_OK) {
		return NULL;
	}
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
	if (u) u->totp_state = TWOFA_TOTP_PENDING;
	CHECK(u && twofa_method_for_user(u) == NULL);
	if (u) u->totp_state = TWOFA_TOTP_NONE;
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
	CHECK(pending.totp.digits == 8 && pending.sealed_len == u->totp_sealed_len);
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
	if (u) u->totp_sealed_len = sizeof(pending.sealed) + 1;
	CHECK(u && twofa_method_totp.start(&mctx, u, &pending) == TWOFA_ERR_CRYPTO);
	if (u) u->totp_sealed = NULL;
	CHECK(u && twofa_method_totp.start(&mctx, u, &pending) == TWOFA_ERR_CRYPTO);
	talloc_free(ctx);
}

int main(void)
{
	RUN(ids_name_their_method_and_unknown_ids_none);
	RUN(only_a_confirmed_enrolment_is_held);
	RUN(started_challenge_checks_the_right_code);
	RUN(secret_of_another_user_does_not_open);
	RUN(malformed_stored_factor_is_refused_at_start);
	CHECK_EXIT();
}
