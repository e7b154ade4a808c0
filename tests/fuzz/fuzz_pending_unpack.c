/*
 * fuzz_pending_unpack.c	twofa_pending_unpack (pending.c) over any bytes.
 *
 *	The packed challenge lives in FreeRADIUS's session-state between the
 *	two rounds: stored input.  unpack must never read past len, and what
 *	it takes must be exactly what pack writes: pack(unpack(x)) == x.
 *
 * sources: rlm_twofa/pending.c
 * max_len: 512
 */
#include <string.h>

#include "fuzz.h"
#include "pending.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	twofa_pending_t	pending;
	uint8_t		again[TWOFA_PENDING_MAX];
	size_t		len;

	if (!twofa_pending_unpack(data, size, &pending)) return 0;

	FUZZ_CHECK(size <= TWOFA_PENDING_MAX);
	FUZZ_CHECK(pending.sealed_len <= TWOFA_SEALED_MAX);
	/* A TOTP challenge holds its secret and a period; a backup-code one needs neither. */
	if ((pending.method == TWOFA_METHOD_TOTP) || (pending.method == TWOFA_METHOD_ENROL)) FUZZ_CHECK((pending.sealed_len > 0) && (pending.totp.period > 0));
	FUZZ_CHECK((strlen(pending.name) > 0) && (strlen(pending.name) <= TWOFA_USER_NAME_MAX));
	FUZZ_CHECK((pending.method >= TWOFA_METHOD_TOTP) && (pending.method <= TWOFA_METHOD_LAST));

	/* One spelling per challenge: what unpack took, pack writes back byte for byte. */
	len = twofa_pending_pack(&pending, again);
	FUZZ_CHECK(len == size);
	FUZZ_CHECK(memcmp(again, data, size) == 0);

	return 0;
}
