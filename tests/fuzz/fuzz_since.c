/*
 * fuzz_since.c		twofa_since_parse (tools/since.c): the TIME of
 *			"twofa-admin log --since TIME", as an admin types it.
 *
 *	Nothing may be read past the string's end, and what is taken is
 *	strict: an age lands at or before now, no further back than the
 *	largest age; a date lands between 1970 and the end of 9999 (local
 *	time may shift it by a day); anything refused leaves *out alone.
 *
 * sources: tools/since.c
 * max_len: 64
 */
#include <string.h>

#include "fuzz.h"
#include "../../tools/since.h"

#define NOW		((time_t) 1800000000)
#define YEAR_10000	((time_t) 253402300800)

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	char	*text = malloc(size + 1);
	time_t	t = -42, again = -43;

	if (!text) return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	if (twofa_since_parse(text, NOW, &t)) {
		size_t len = strlen(text);

		FUZZ_CHECK(len >= 2);
		if ((text[len - 1] >= 'a') && (text[len - 1] <= 'z')) {
			FUZZ_CHECK((t <= NOW) && (t >= NOW - (time_t) TWOFA_SINCE_AGE_MAX * 7 * 86400));
		} else {
			FUZZ_CHECK((t >= -86400) && (t < YEAR_10000 + 86400));
		}
		/* The same text, the same time. */
		FUZZ_CHECK(twofa_since_parse(text, NOW, &again) && (again == t));
	} else {
		FUZZ_CHECK(t == -42);
	}
	free(text);
	return 0;
}
