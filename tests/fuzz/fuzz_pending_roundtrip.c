/*
 * fuzz_pending_roundtrip.c	twofa_pending_pack then twofa_pending_unpack
 *				(pending.c) over challenges built from the input.
 *
 *	Every field comes from the input, so values pack must refuse (an
 *	empty or long name, a sealed secret of too many bytes, or of none
 *	or a zero period for TOTP, too few for a code sent to a typed
 *	number, digits or hash above 255) turn up too.  What pack accepts,
 *	unpack gives back field for field; what it refuses, it refuses whole.
 *
 * sources: rlm_twofa/pending.c
 * max_len: 512
 */
#include <string.h>

#include "fuzz.h"
#include "pending.h"

typedef struct {
	uint8_t const	*p;
	size_t		left;
} cursor_t;

/* The next n bytes as a little-endian number; zeros once the input runs out. */
static uint64_t take(cursor_t *c, size_t n)
{
	uint64_t	v = 0;
	size_t		i;

	for (i = 0; i < n; i++) {
		uint64_t byte = 0;

		if (c->left) {
			byte = *c->p++;
			c->left--;
		}
		v |= byte << (8 * i);
	}
	return v;
}

/* Up to max bytes (fewer if the input runs out) into out; the count taken. */
static size_t take_bytes(cursor_t *c, uint8_t *out, size_t max)
{
	size_t n = (max < c->left) ? max : c->left;

	memcpy(out, c->p, n);
	c->p += n;
	c->left -= n;
	return n;
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	cursor_t	c = { data, size };
	twofa_pending_t	in, out;
	uint8_t		buf[TWOFA_PENDING_MAX];
	size_t		len, name_len, want_sealed;
	bool		packable, known;

	memset(&in, 0, sizeof(in));
	in.expires = (uint32_t) take(&c, 4);
	in.attempts_left = (uint8_t) take(&c, 1);
	in.method = (uint8_t) take(&c, 1);
	in.had_failures = take(&c, 1) & 1;
	in.totp.hash = (twofa_hash_t) take(&c, 2);
	in.totp.digits = (unsigned int) take(&c, 2);
	in.totp.period = (unsigned int) take(&c, 3);
	in.user_id = (int64_t) take(&c, 8);
	in.factor_id = (int64_t) take(&c, 8);
	in.sends = (uint8_t) take(&c, 1);
	in.no_user_reply = take(&c, 1) & 1;
	in.reply_group = (uint32_t) take(&c, 4);
	want_sealed = (size_t) take(&c, 1);		/* may be more than fits: then pack refuses */
	in.sealed_len = want_sealed;
	take_bytes(&c, in.sealed, (want_sealed < TWOFA_SEALED_MAX) ? want_sealed : TWOFA_SEALED_MAX);
	name_len = take_bytes(&c, (uint8_t *) in.name, TWOFA_USER_NAME_MAX);
	in.name[name_len] = '\0';
	name_len = strlen(in.name);			/* an embedded NUL ends it, as for pack */

	packable = (name_len > 0) && (in.sealed_len <= TWOFA_SEALED_MAX) && (in.totp.period <= UINT16_MAX) &&
		   (in.totp.digits <= UINT8_MAX) && ((unsigned int) in.totp.hash <= UINT8_MAX) &&
		   (((in.method != TWOFA_METHOD_TOTP) && (in.method != TWOFA_METHOD_ENROL)) || ((in.sealed_len > 0) && (in.totp.period > 0))) &&
		   ((in.method != TWOFA_METHOD_SMS_NEW) || (in.sealed_len >= TWOFA_PENDING_SMS_NEW_MIN));

	len = twofa_pending_pack(&in, buf);
	FUZZ_CHECK((len > 0) == packable);
	if (!len) return 0;
	FUZZ_CHECK(len == TWOFA_PENDING_HEADER_LEN + in.sealed_len + name_len);
	FUZZ_CHECK(len <= TWOFA_PENDING_MAX);

	/* unpack takes only the methods this build has: any other is refused. */
	known = (in.method >= TWOFA_METHOD_TOTP) && (in.method <= TWOFA_METHOD_LAST);
	FUZZ_CHECK(twofa_pending_unpack(buf, len, &out) == known);
	if (!known) return 0;

	FUZZ_CHECK(out.expires == in.expires);
	FUZZ_CHECK(out.attempts_left == in.attempts_left);
	FUZZ_CHECK(out.method == in.method);
	FUZZ_CHECK(out.had_failures == in.had_failures);
	FUZZ_CHECK(out.sends == in.sends);
	FUZZ_CHECK(out.no_user_reply == in.no_user_reply);
	FUZZ_CHECK(out.reply_group == in.reply_group);
	FUZZ_CHECK(out.totp.hash == in.totp.hash);
	FUZZ_CHECK(out.totp.digits == in.totp.digits);
	FUZZ_CHECK(out.totp.period == in.totp.period);
	FUZZ_CHECK(out.user_id == in.user_id);
	FUZZ_CHECK(out.factor_id == in.factor_id);
	FUZZ_CHECK(out.sealed_len == in.sealed_len);
	FUZZ_CHECK(memcmp(out.sealed, in.sealed, in.sealed_len) == 0);
	FUZZ_CHECK(strcmp(out.name, in.name) == 0);

	/* A byte short or a byte more is another blob, never the same challenge. */
	if (twofa_pending_unpack(buf, len - 1, &out)) FUZZ_CHECK(strlen(out.name) == name_len - 1);

	return 0;
}
