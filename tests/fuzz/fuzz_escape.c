/*
 * fuzz_escape.c	The escapes of escape.c over any bytes: what a user name,
 *			a phone number or an address may hold on its way into
 *			a gateway's URL, form or JSON body, or a mail header.
 *
 *	Promises: the URL and form escapes give only unreserved characters,
 *	'%' and ('+'), and decode back to the input; the JSON escape gives no
 *	raw control character and no unescaped quote; the header escape gives
 *	printable ASCII only (no CR or LF, whatever came in).
 *
 * sources: rlm_twofa/escape.c rlm_twofa/policy.c
 * max_len: 600
 */
#include <string.h>

#include "fuzz.h"
#include "escape.h"

static char out[4096], back[4096];

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	char const	*in = (char const *) data;
	ssize_t		n, m, i;
	int		form;

	for (form = 0; form <= 1; form++) {
		n = form ? twofa_escape_form(in, size, out, sizeof(out)) : twofa_escape_url(in, size, out, sizeof(out));
		FUZZ_CHECK(n >= 0);	/* 3 x 600 fits */
		FUZZ_CHECK((size_t) n == strlen(out));
		for (i = 0; i < n; i++) {
			FUZZ_CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%+", out[i]));
			if (!form) FUZZ_CHECK(out[i] != '+');
		}
		m = twofa_unescape_url(out, (size_t) n, form, back, sizeof(back));
		FUZZ_CHECK((size_t) m == size);
		FUZZ_CHECK(memcmp(back, in, size) == 0);
	}

	n = twofa_escape_json(in, size, out, sizeof(out));
	if (n >= 0) {
		for (i = 0; i < n; i++) {
			FUZZ_CHECK((unsigned char) out[i] >= 0x20 && out[i] != 0x7f);
			if (out[i] == '\\') {
				i++;	/* the escaped character */
				FUZZ_CHECK(i < n && strchr("\"\\nrtbfu", out[i]));
			} else {
				FUZZ_CHECK(out[i] != '"');
			}
		}
	} else {
		FUZZ_CHECK(out[0] == '\0');
	}

	n = twofa_escape_header(in, size, out, sizeof(out));
	if (n >= 0) {
		for (i = 0; i < n; i++) FUZZ_CHECK((out[i] >= 0x20) && (out[i] < 0x7f));
	} else {
		FUZZ_CHECK(out[0] == '\0');
	}
	return 0;
}
