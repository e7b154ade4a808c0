/*
 * base32.c	RFC 4648 base32 (section 6), table-driven.
 *
 *		Encoding never pads (otpauth:// URIs leave padding out).
 *		Decoding is strict: one wrong character and the whole input
 *		is refused, as a mistyped secret must not become another one.
 */
#include <stdbool.h>
#include "base32.h"

static char const alphabet[32] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* Value of each ASCII character; -1 for anything not in the alphabet. */
static int8_t const decode_table[128] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,	/* 0x00 */
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,	/* 0x10 */
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,	/* 0x20 */
	-1, -1, 26, 27, 28, 29, 30, 31, -1, -1, -1, -1, -1, -1, -1, -1,	/* 0x30 '0'.. */
	-1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,	/* 0x40 '@'.. */
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,	/* 0x50 'P'.. */
	-1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,	/* 0x60 '`'.. */
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,	/* 0x70 'p'.. */
};

ssize_t twofa_base32_encode(uint8_t const *in, size_t in_len, char *out, size_t out_len)
{
	size_t		i, o = 0;
	uint32_t	buffer = 0;
	unsigned int	bits = 0;

	if (!out || (out_len < TWOFA_BASE32_ENCODED_LEN(in_len) + 1)) return -1;

	for (i = 0; i < in_len; i++) {
		buffer = (buffer << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = alphabet[(buffer >> bits) & 0x1f];
		}
	}
	if (bits > 0) out[o++] = alphabet[(buffer << (5 - bits)) & 0x1f];	/* zero-filled last group */
	out[o] = '\0';

	return (ssize_t) o;
}

ssize_t twofa_base32_decode(char const *in, uint8_t *out, size_t out_len)
{
	uint32_t	buffer = 0;
	unsigned int	bits = 0;
	size_t		o = 0, chars = 0, pad = 0;
	uint8_t const	*p;

	if (!in) return -1;

	for (p = (uint8_t const *) in; *p; p++) {
		int v;

		if (*p == ' ') continue;
		if (*p == '=') {
			pad++;
			continue;
		}
		if (pad) return -1;		/* data after padding */

		v = (*p < 128) ? decode_table[*p] : -1;
		if (v < 0) return -1;
		chars++;

		buffer = (buffer << 5) | (uint32_t) v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (o >= out_len) return -1;
			out[o++] = (buffer >> bits) & 0xff;
		}
	}

	/*
	 *	1, 3 or 6 characters in the last group cannot come from whole
	 *	bytes (5 or more bits left over), and the bits left over must
	 *	be zero, or two spellings would decode to the same secret.
	 */
	if ((bits >= 5) || (buffer & ((1u << bits) - 1))) return -1;

	/* Padding, if present, fills the last group to 8 characters. */
	if (pad && ((pad > 6) || (((chars + pad) % 8) != 0))) return -1;

	return (ssize_t) o;
}
