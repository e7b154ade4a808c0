/*
 * fuzz_base32.c	twofa_base32_decode and twofa_base32_encode (base32.c).
 *
 *	Decoding reads secrets typed or pasted by admins and users (import,
 *	enrol): untrusted.  Its promises: never write past out_len, refuse
 *	rather than truncate, and one spelling per secret: an accepted input,
 *	upper-cased without spaces and '=', is exactly what encode writes.
 *	Encoding any bytes decodes back to them.
 *
 * sources: rlm_twofa/base32.c
 * max_len: 256
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "base32.h"

static void decode_is_strict(uint8_t const *data, size_t size)
{
	char	*in, *canon, *again;
	uint8_t	*out;
	size_t	cap = (size * 5) / 8 + 1, i, n_canon = 0;
	ssize_t	n;

	/* Exactly sized heap copies: ASan sees a read or write one byte over. */
	in = malloc(size + 1);
	out = malloc(cap);
	memcpy(in, data, size);
	in[size] = '\0';

	n = twofa_base32_decode(in, out, cap);
	if (n < 0) goto done;
	FUZZ_CHECK((size_t) n < cap);

	/* A buffer one byte short is refused, not filled with a prefix. */
	if (n > 0) FUZZ_CHECK(twofa_base32_decode(in, out, (size_t) n - 1) == -1);
	else FUZZ_CHECK(twofa_base32_decode(in, out, 0) == 0);

	canon = malloc(strlen(in) + 1);
	for (i = 0; in[i]; i++) {
		if ((in[i] == ' ') || (in[i] == '=')) continue;
		canon[n_canon++] = (char) toupper((unsigned char) in[i]);
	}
	canon[n_canon] = '\0';

	again = malloc(TWOFA_BASE32_ENCODED_LEN((size_t) n) + 1);
	FUZZ_CHECK(twofa_base32_encode(out, (size_t) n, again, TWOFA_BASE32_ENCODED_LEN((size_t) n) + 1) == (ssize_t) n_canon);
	FUZZ_CHECK(strcmp(again, canon) == 0);
	free(again);
	free(canon);
done:
	free(out);
	free(in);
}

static void encode_round_trips(uint8_t const *data, size_t size)
{
	size_t	enc_len = TWOFA_BASE32_ENCODED_LEN(size);
	char	*enc = malloc(enc_len + 1);
	uint8_t	*back = malloc(size ? size : 1);

	FUZZ_CHECK(twofa_base32_encode(data, size, enc, enc_len) == -1);	/* no room for the NUL */
	FUZZ_CHECK(twofa_base32_encode(data, size, enc, enc_len + 1) == (ssize_t) enc_len);
	FUZZ_CHECK(strlen(enc) == enc_len);
	FUZZ_CHECK(twofa_base32_decode(enc, back, size) == (ssize_t) size);
	FUZZ_CHECK(memcmp(back, data, size) == 0);
	free(back);
	free(enc);
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	decode_is_strict(data, size);
	encode_round_trips(data, size);
	return 0;
}
