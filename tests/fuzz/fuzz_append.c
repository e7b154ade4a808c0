/*
 * fuzz_append.c	twofa_append_split (append.c) over any User-Password: in
 *			append mode the whole field is network input.
 *
 *	The first two bytes pick the shapes (TOTP digits 0, 6 or 8; backup
 *	codes or not; a separator or not; SMS and email code lengths; the
 *	switch words held).  A split must lie inside the input, the password
 *	before the code, the code of the shape of every method named, a word
 *	one of those held.
 *
 * sources: rlm_twofa/append.c
 * max_len: 300
 */
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "append.h"
#include "pending.h"

static bool digits_of(char const *p, size_t len, unsigned int want)
{
	size_t i;

	if (!want || (len != want)) return false;
	for (i = 0; i < len; i++) if ((p[i] < '0') || (p[i] > '9')) return false;
	return true;
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	static unsigned int const	digits[] = { 0, 6, 8, 6 };
	static unsigned int const	oob_digits[] = { 0, 6, 8, 10 };
	twofa_append_shapes_t		shapes;
	twofa_append_split_t		out;
	char const			*in, *code;
	size_t				len, i;
	bool				found = false;

	if (size < 2) return 0;
	memset(&shapes, 0, sizeof(shapes));
	shapes.totp_digits = digits[data[0] & 3];
	shapes.backup = (data[0] & 4) != 0;
	shapes.separator = (data[0] & 8) ? "," : NULL;
	shapes.sms_digits = oob_digits[(data[0] >> 4) & 3];
	shapes.email_digits = oob_digits[(data[0] >> 6) & 3];
	if (data[1] & 1) shapes.words[0] = (twofa_append_word_t) { "sms", TWOFA_METHOD_SMS };
	if (data[1] & 2) shapes.words[1] = (twofa_append_word_t) { "email", TWOFA_METHOD_EMAIL };
	if (data[1] & 4) shapes.words[2] = (twofa_append_word_t) { "resend", (data[1] & 8) ? TWOFA_METHOD_EMAIL : TWOFA_METHOD_SMS };
	in = (char const *) data + 2;
	len = size - 2;
	if (!twofa_append_split(in, len, &shapes, &out)) return 0;

	FUZZ_CHECK(out.password_len <= out.code_off);
	FUZZ_CHECK(out.code_off + out.code_len == len);
	FUZZ_CHECK(out.methods & TWOFA_METHOD_BIT(out.method));
	code = in + out.code_off;
	if (out.word) {
		FUZZ_CHECK(out.methods == TWOFA_METHOD_BIT(out.method));
		for (i = 0; i < TWOFA_APPEND_WORDS_MAX; i++) {
			twofa_append_word_t const *w = &shapes.words[i];

			if (w->text && (w->method == out.method) && (strlen(w->text) == out.code_len) &&
			    (strncasecmp(w->text, code, out.code_len) == 0)) found = true;
		}
		FUZZ_CHECK(found);
		return 0;
	}
	FUZZ_CHECK((out.methods & ~(TWOFA_METHOD_BIT(TWOFA_METHOD_TOTP) | TWOFA_METHOD_BIT(TWOFA_METHOD_BACKUP) |
				    TWOFA_METHOD_BIT(TWOFA_METHOD_SMS) | TWOFA_METHOD_BIT(TWOFA_METHOD_EMAIL))) == 0);
	if (out.methods & TWOFA_METHOD_BIT(TWOFA_METHOD_TOTP)) FUZZ_CHECK(digits_of(code, out.code_len, shapes.totp_digits));
	if (out.methods & TWOFA_METHOD_BIT(TWOFA_METHOD_SMS)) FUZZ_CHECK(digits_of(code, out.code_len, shapes.sms_digits));
	if (out.methods & TWOFA_METHOD_BIT(TWOFA_METHOD_EMAIL)) FUZZ_CHECK(digits_of(code, out.code_len, shapes.email_digits));
	if (out.methods & TWOFA_METHOD_BIT(TWOFA_METHOD_BACKUP)) {
		FUZZ_CHECK(shapes.backup && (out.code_len >= 10) && (out.code_len <= 11));
	}
	return 0;
}
