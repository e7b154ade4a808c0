/*
 * policy.c	Pure decisions of the login flow.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "twofa.h"
#include "policy.h"

size_t twofa_utf8_len(uint8_t const *p, size_t len)
{
	uint32_t	cp;
	size_t		n, i;

	if (len == 0) return 0;
	if (p[0] < 0x80) return 1;
	if ((p[0] & 0xe0) == 0xc0) { n = 2; cp = p[0] & 0x1f; }
	else if ((p[0] & 0xf0) == 0xe0) { n = 3; cp = p[0] & 0x0f; }
	else if ((p[0] & 0xf8) == 0xf0) { n = 4; cp = p[0] & 0x07; }
	else return 0;

	if (n > len) return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}

	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;	/* overlong */
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return 0;

	return n;
}

bool twofa_user_name_valid(char const *name, size_t len)
{
	uint8_t const	*p = (uint8_t const *) name;
	size_t		i = 0;

	if (!name || (len == 0) || (len > TWOFA_USER_NAME_MAX)) return false;

	while (i < len) {
		size_t n;

		if ((p[i] < 0x20) || (p[i] == 0x7f)) return false;	/* C0 controls, NUL, DEL */
		n = twofa_utf8_len(p + i, len - i);
		if (!n) return false;
		if ((n == 2) && (p[i] == 0xc2) && (p[i + 1] <= 0x9f)) return false;	/* C1 controls, U+0080-U+009F */
		i += n;
	}

	return true;
}

bool twofa_code_well_formed(char const *code, size_t len, unsigned int digits)
{
	size_t i;

	if (!code || (len == 0) || (len != digits)) return false;
	for (i = 0; i < len; i++) if ((code[i] < '0') || (code[i] > '9')) return false;

	return true;
}

size_t twofa_utf8_prefix(char const *text, size_t len, size_t max)
{
	uint8_t const	*p = (uint8_t const *) text;
	size_t		n;

	if (len <= max) return len;
	for (n = max; (n > 0) && ((p[n] & 0xc0) == 0x80); n--);	/* p[n]: the first byte left out */

	return n;
}

/** Append len bytes of piece to out (used bytes, room for at most max); false if it was cut. */
static bool append(char *out, size_t *used, size_t max, char const *piece, size_t len)
{
	size_t n = twofa_utf8_prefix(piece, len, max - *used);

	memcpy(out + *used, piece, n);
	*used += n;

	return n == len;
}

size_t twofa_message_expand(char *out, size_t out_size, char const *template, unsigned int attempts)
{
	size_t		used = 0, max, token_len = strlen(TWOFA_ATTEMPTS_TOKEN);
	char const	*p = template, *token;
	char		number[16];
	int		number_len;

	if (!out || (out_size == 0)) return 0;
	max = out_size - 1;
	number_len = snprintf(number, sizeof(number), "%u", attempts);

	while ((token = strstr(p, TWOFA_ATTEMPTS_TOKEN)) != NULL) {
		if (!append(out, &used, max, p, (size_t) (token - p))) goto done;
		/* The number whole or not at all: "1" for "10" would be a lie. */
		if ((size_t) number_len > max - used) goto done;
		memcpy(out + used, number, (size_t) number_len);
		used += (size_t) number_len;
		p = token + token_len;
	}
	append(out, &used, max, p, strlen(p));

done:
	out[used] = '\0';
	return used;
}
