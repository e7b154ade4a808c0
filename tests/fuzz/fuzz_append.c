/*
 * fuzz_append.c	twofa_append_split (append.c) over any User-Password: in
 *			append mode the whole field is network input.
 *
 *	The first byte picks the shapes (TOTP digits 0, 6 or 8; backup codes
 *	or not; a separator or not).  A split must lie inside the input, the
 *	password before the code, the code of the shape of the method named.
 *
 * sources: rlm_twofa/append.c
 * max_len: 300
 */
#include <string.h>

#include "fuzz.h"
#include "append.h"
#include "pending.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	static unsigned int const	digits[] = { 0, 6, 8, 6 };
	twofa_append_shapes_t		shapes;
	twofa_append_split_t		out;
	char const			*in;
	size_t				len, i;

	if (size < 1) return 0;
	shapes.totp_digits = digits[data[0] & 3];
	shapes.backup = (data[0] & 4) != 0;
	shapes.separator = (data[0] & 8) ? "," : NULL;
	in = (char const *) data + 1;
	len = size - 1;
	if (!twofa_append_split(in, len, &shapes, &out)) return 0;

	FUZZ_CHECK(out.password_len <= out.code_off);
	FUZZ_CHECK(out.code_off + out.code_len == len);
	FUZZ_CHECK((out.method == TWOFA_METHOD_TOTP) || (out.method == TWOFA_METHOD_BACKUP));
	if (out.method == TWOFA_METHOD_TOTP) {
		FUZZ_CHECK(shapes.totp_digits && (out.code_len == shapes.totp_digits));
		for (i = 0; i < out.code_len; i++) FUZZ_CHECK((in[out.code_off + i] >= '0') && (in[out.code_off + i] <= '9'));
	} else {
		FUZZ_CHECK(shapes.backup && (out.code_len >= 10) && (out.code_len <= 11));
	}
	return 0;
}
