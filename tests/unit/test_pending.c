/*
 * test_pending.c	The pending challenge's session-state attribute: what
 *			round one packs, round two must get back exactly, and
 *			anything else must be refused.
 */
#include <string.h>

#include "check.h"
#include "pending.h"

static twofa_pending_t sample(void)
{
	twofa_pending_t p = {
		.expires = 0x89abcdefu,
		.attempts_left = 3,
		.method = TWOFA_METHOD_TOTP,
		.had_failures = true,
		.totp = { .hash = TWOFA_HASH_SHA512, .digits = 8, .period = 60 },
		.user_id = 0x0102030405060708LL,
		.factor_id = 0x1112131415161718LL,
		.reply_group = 0xa1b2c3d4u,
		.sealed_len = TWOFA_SEAL_OVERHEAD + 20,
	};
	size_t i;

	for (i = 0; i < p.sealed_len; i++) p.sealed[i] = (uint8_t) (i * 7 + 1);
	strcpy(p.name, "j\xc3\xbcrgen@example.com");
	return p;
}

static void round_trip_keeps_every_field(void)
{
	twofa_pending_t	in = sample(), out;
	uint8_t		buf[TWOFA_PENDING_MAX];
	size_t		len = twofa_pending_pack(&in, buf);

	CHECK(len == TWOFA_PENDING_HEADER_LEN + in.sealed_len + strlen(in.name));
	CHECK(twofa_pending_unpack(buf, len, &out));
	CHECK(out.expires == in.expires);
	CHECK(out.attempts_left == 3);
	CHECK(out.method == TWOFA_METHOD_TOTP);
	CHECK(out.had_failures);
	CHECK(!out.no_user_reply);
	CHECK(out.totp.hash == TWOFA_HASH_SHA512 && out.totp.digits == 8 && out.totp.period == 60);
	CHECK(out.user_id == in.user_id);
	CHECK(out.factor_id == in.factor_id);
	CHECK(out.reply_group == 0xa1b2c3d4u);
	CHECK(out.sealed_len == in.sealed_len && memcmp(out.sealed, in.sealed, in.sealed_len) == 0);
	CHECK_STR(out.name, in.name);
}

/* The Accept reads the user again for their reply attributes unless round one found none. */
static void no_user_reply_flag_round_trips_alone(void)
{
	twofa_pending_t	in = sample(), out;
	uint8_t		buf[TWOFA_PENDING_MAX];
	size_t		len;

	in.had_failures = false;
	in.no_user_reply = true;
	len = twofa_pending_pack(&in, buf);
	CHECK(twofa_pending_unpack(buf, len, &out));
	CHECK(out.no_user_reply && !out.had_failures);
}

static void longest_name_and_secret_fit(void)
{
	twofa_pending_t	in = sample(), out;
	uint8_t		buf[TWOFA_PENDING_MAX];
	size_t		len;

	memset(in.name, 'n', TWOFA_USER_NAME_MAX);
	in.name[TWOFA_USER_NAME_MAX] = '\0';
	in.sealed_len = TWOFA_SEALED_MAX;
	len = twofa_pending_pack(&in, buf);
	CHECK(len == TWOFA_PENDING_MAX);
	CHECK(twofa_pending_unpack(buf, len, &out) && strlen(out.name) == TWOFA_USER_NAME_MAX);
}

static void unpackable_fields_refused(void)
{
	twofa_pending_t	in;
	uint8_t		buf[TWOFA_PENDING_MAX];

	in = sample(); in.name[0] = '\0';
	CHECK(twofa_pending_pack(&in, buf) == 0);
	in = sample(); in.sealed_len = 0;
	CHECK(twofa_pending_pack(&in, buf) == 0);
	in = sample(); in.sealed_len = TWOFA_SEALED_MAX + 1;
	CHECK(twofa_pending_pack(&in, buf) == 0);
	in = sample(); in.totp.period = 70000;
	CHECK(twofa_pending_pack(&in, buf) == 0);
}

static void truncated_or_padded_refused(void)
{
	twofa_pending_t	in = sample(), out;
	uint8_t		buf[TWOFA_PENDING_MAX + 8];
	size_t		len = twofa_pending_pack(&in, buf), cut;

	/* Cut inside the header or the secret: refused.  Shorter names are still names. */
	for (cut = 0; cut <= TWOFA_PENDING_HEADER_LEN + in.sealed_len; cut++) {
		if (twofa_pending_unpack(buf, cut, &out)) {
			CHECK(!"a truncated attribute was accepted");
			break;
		}
	}
	CHECK(twofa_pending_unpack(buf, len, &out));

	/* A name over the limit. */
	memset(in.name, 'n', TWOFA_USER_NAME_MAX);
	in.name[TWOFA_USER_NAME_MAX] = '\0';
	len = twofa_pending_pack(&in, buf);
	buf[len] = 'x';
	CHECK(!twofa_pending_unpack(buf, len + 1, &out));
	CHECK(!twofa_pending_unpack(NULL, 0, &out));
}

static void other_method_or_nul_refused(void)
{
	twofa_pending_t	in = sample(), out;
	uint8_t		buf[TWOFA_PENDING_MAX];
	size_t		len;

	in.method = 9;
	len = twofa_pending_pack(&in, buf);
	CHECK(len > 0 && !twofa_pending_unpack(buf, len, &out));

	in = sample();
	len = twofa_pending_pack(&in, buf);
	buf[len - 2] = '\0';		/* a NUL inside the name */
	CHECK(!twofa_pending_unpack(buf, len, &out));
}

/* A context packed by another version of the format is refused, never misread. */
static void other_version_refused(void)
{
	twofa_pending_t	in = sample(), out;
	uint8_t		buf[TWOFA_PENDING_MAX];
	size_t		len = twofa_pending_pack(&in, buf);

	CHECK(len > 0 && buf[0] == TWOFA_PENDING_VERSION);
	CHECK(twofa_pending_unpack(buf, len, &out));
	buf[0] = TWOFA_PENDING_VERSION + 1;
	CHECK(!twofa_pending_unpack(buf, len, &out));
	buf[0] = 0;
	CHECK(!twofa_pending_unpack(buf, len, &out));
}

/* Only what pack writes: a zero period or an unknown flag is another blob (found by tools/fuzz). */
static void fields_pack_never_writes_refused(void)
{
	twofa_pending_t	in = sample(), out;
	uint8_t		buf[TWOFA_PENDING_MAX];
	size_t		len = twofa_pending_pack(&in, buf);

	CHECK(twofa_pending_unpack(buf, len, &out));
	buf[11] = 0; buf[12] = 0;	/* period */
	CHECK(!twofa_pending_unpack(buf, len, &out));

	len = twofa_pending_pack(&in, buf);
	buf[8] |= 0x04;			/* flags: only had_failures and no_user_reply are defined */
	CHECK(!twofa_pending_unpack(buf, len, &out));
}

/* Format 3: the sends of a login; a code sent to a typed number carries its hash and the number. */
static void sends_and_a_typed_number_round_trip(void)
{
	twofa_pending_t	in = sample(), out;
	uint8_t		buf[TWOFA_PENDING_MAX];
	size_t		len;

	in.method = TWOFA_METHOD_SMS;
	in.sends = 2;
	in.sealed_len = 0;
	in.totp = (twofa_totp_params_t) { 0, 8, 0 };
	len = twofa_pending_pack(&in, buf);
	CHECK(len > 0 && twofa_pending_unpack(buf, len, &out) && out.sends == 2 && out.method == TWOFA_METHOD_SMS &&
	      out.totp.digits == 8);

	in.method = TWOFA_METHOD_SMS_NEW;
	CHECK(twofa_pending_pack(&in, buf) == 0);		/* no hash, no number */
	in.sealed_len = 16 + 32 + 13;
	len = twofa_pending_pack(&in, buf);
	CHECK(len > 0 && twofa_pending_unpack(buf, len, &out) && out.sealed_len == in.sealed_len &&
	      memcmp(out.sealed, in.sealed, in.sealed_len) == 0);
}

int main(void)
{
	RUN(round_trip_keeps_every_field);
	RUN(no_user_reply_flag_round_trips_alone);
	RUN(longest_name_and_secret_fit);
	RUN(unpackable_fields_refused);
	RUN(truncated_or_padded_refused);
	RUN(other_method_or_nul_refused);
	RUN(other_version_refused);
	RUN(fields_pack_never_writes_refused);
	RUN(sends_and_a_typed_number_round_trip);
	CHECK_EXIT();
}
