/*
 * fuzz_policy.c	twofa_user_name_valid and twofa_code_well_formed (policy.c).
 *
 *	Both read what a RADIUS client sent (User-Name, User-Password),
 *	with its length: not NUL-terminated, so neither may read past len.
 *	The name check is compared with a second, table-driven reading of
 *	Unicode's well-formed UTF-8 (The Unicode Standard, table 3-7).
 *
 * sources: rlm_twofa/policy.c
 * max_len: 300
 */
#include <stdbool.h>

#include "fuzz.h"
#include "twofa.h"
#include "policy.h"

/* Length of the well-formed sequence at p per table 3-7, 0 if none. */
static size_t table_3_7(uint8_t const *p, size_t len)
{
	static struct { uint8_t lo[4], hi[4]; size_t n; } const rows[] = {
		{ { 0x00 },			{ 0x7f },			1 },
		{ { 0xc2, 0x80 },		{ 0xdf, 0xbf },			2 },
		{ { 0xe0, 0xa0, 0x80 },		{ 0xe0, 0xbf, 0xbf },		3 },
		{ { 0xe1, 0x80, 0x80 },		{ 0xec, 0xbf, 0xbf },		3 },
		{ { 0xed, 0x80, 0x80 },		{ 0xed, 0x9f, 0xbf },		3 },
		{ { 0xee, 0x80, 0x80 },		{ 0xef, 0xbf, 0xbf },		3 },
		{ { 0xf0, 0x90, 0x80, 0x80 },	{ 0xf0, 0xbf, 0xbf, 0xbf },	4 },
		{ { 0xf1, 0x80, 0x80, 0x80 },	{ 0xf3, 0xbf, 0xbf, 0xbf },	4 },
		{ { 0xf4, 0x80, 0x80, 0x80 },	{ 0xf4, 0x8f, 0xbf, 0xbf },	4 },
	};
	size_t r, i;

	for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		if (rows[r].n > len) continue;
		for (i = 0; i < rows[r].n; i++) {
			if ((p[i] < rows[r].lo[i]) || (p[i] > rows[r].hi[i])) break;
		}
		if (i == rows[r].n) return rows[r].n;
	}
	return 0;
}

/* Controls: C0 (NUL included), DEL, and C1 (U+0080..U+009F, C2 80..C2 9F). */
static bool is_control(uint8_t const *p, size_t n)
{
	if (n == 1) return (p[0] < 0x20) || (p[0] == 0x7f);
	return (n == 2) && (p[0] == 0xc2) && (p[1] <= 0x9f);
}

static bool name_ok(uint8_t const *p, size_t len)
{
	size_t i = 0;

	if ((len == 0) || (len > TWOFA_USER_NAME_MAX)) return false;
	while (i < len) {
		size_t n = table_3_7(p + i, len - i);

		if (!n || is_control(p + i, n)) return false;
		i += n;
	}
	return true;
}

static bool code_ok(uint8_t const *p, size_t len, unsigned int digits)
{
	size_t i;

	if ((len == 0) || (len != digits)) return false;
	for (i = 0; i < len; i++) if ((p[i] < '0') || (p[i] > '9')) return false;
	return true;
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	char const	*text = (char const *) data;	/* libFuzzer's copy is exactly size bytes */
	unsigned int	digits;

	FUZZ_CHECK(twofa_user_name_valid(text, size) == name_ok(data, size));

	for (digits = 0; digits <= 10; digits++) {
		FUZZ_CHECK(twofa_code_well_formed(text, size, digits) == code_ok(data, size, digits));
	}
	return 0;
}
