/*
 * fuzz_contact.c	twofa_phone_normalise and twofa_email_valid (contact.c):
 *			what an admin types for a user, or a user at the
 *			phone-number prompt, on its way into a gateway's request
 *			or a mail's envelope and headers.
 *
 *	Promises: an accepted number is E.164 ("+", 8 to 15 digits, the
 *	first not 0), holds the input's digits in their order and nothing
 *	else, normalises to itself and masks; a refused one leaves out "".
 *	An accepted address has one '@' and only the allowed characters (no
 *	CR, LF, space, quote, comma, <>), and masks to "x•••@domain".  Neither
 *	reads past len.
 *
 * sources: rlm_twofa/contact.c
 * max_len: 300
 */
#include <string.h>

#include "fuzz.h"
#include "contact.h"

static void check_phone(char const *in, size_t size)
{
	char	out[TWOFA_PHONE_MAX + 1], again[TWOFA_PHONE_MAX + 1], mask[TWOFA_PHONE_MASK_MAX];
	char	digits[TWOFA_PHONE_INPUT_MAX + 1];
	size_t	i, n = 0;

	if (!twofa_phone_normalise(in, size, out)) {
		FUZZ_CHECK(out[0] == '\0');
		return;
	}
	FUZZ_CHECK(twofa_phone_valid(out));
	FUZZ_CHECK(size <= TWOFA_PHONE_INPUT_MAX);
	for (i = 0; i < size; i++) if ((in[i] >= '0') && (in[i] <= '9')) digits[n++] = in[i];
	digits[n] = '\0';
	FUZZ_CHECK(strcmp(out + 1, digits) == 0);
	FUZZ_CHECK(twofa_phone_normalise(out, strlen(out), again) && strcmp(out, again) == 0);
	FUZZ_CHECK(twofa_phone_mask(out, mask, sizeof(mask)) > 0);
	FUZZ_CHECK(strncmp(mask, out, 3) == 0);
}

static void check_email(char const *in, size_t size)
{
	char		mask[TWOFA_EMAIL_MASK_MAX];
	char		*copy;
	char const	*at;
	size_t		i, ats = 0;

	if (!twofa_email_valid(in, size)) return;
	FUZZ_CHECK(size <= TWOFA_EMAIL_MAX);
	for (i = 0; i < size; i++) {
		unsigned char c = (unsigned char) in[i];

		FUZZ_CHECK((c > 0x20) && (c < 0x7f));
		FUZZ_CHECK(!strchr("\"'`,;:<>()[]\\ ", c));
		if (c == '@') ats++;
	}
	FUZZ_CHECK(ats == 1);
	copy = malloc(size + 1);
	memcpy(copy, in, size);
	copy[size] = '\0';
	at = strchr(copy, '@');
	FUZZ_CHECK(twofa_email_mask(copy, mask, sizeof(mask)) > 0);
	FUZZ_CHECK(mask[0] == copy[0] && strcmp(mask + 1 + 3 * strlen(TWOFA_MASK_BULLET), at) == 0);
	free(copy);
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	char *in = malloc(size ? size : 1);	/* exactly size bytes: ASan sees any read past them */

	memcpy(in, data, size);
	check_phone(in, size);
	check_email(in, size);
	free(in);
	return 0;
}
