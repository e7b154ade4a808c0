/*
 * test_base32.c	RFC 4648 base32: section 10 vectors, round trips, and the
 *			strictness promised by base32.h.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "base32.h"

static struct {
	char const	*plain;
	char const	*encoded;	//!< unpadded, as we write it
	char const	*padded;	//!< as RFC 4648 section 10 prints it
} const rfc4648[] = {
	{ "",		"",		"" },
	{ "f",		"MY",		"MY======" },
	{ "fo",		"MZXQ",		"MZXQ====" },
	{ "foo",	"MZXW6",	"MZXW6===" },
	{ "foob",	"MZXW6YQ",	"MZXW6YQ=" },
	{ "fooba",	"MZXW6YTB",	"MZXW6YTB" },
	{ "foobar",	"MZXW6YTBOI",	"MZXW6YTBOI======" },
};

#define NUM_RFC4648	(sizeof(rfc4648) / sizeof(rfc4648[0]))

/* Decode in and compare with want (a string); 1 if it matched. */
static int decodes_to(char const *in, char const *want)
{
	uint8_t	out[64];
	ssize_t	n = twofa_base32_decode(in, out, sizeof(out));

	if (n < 0) {
		printf("  \"%s\" refused\n", in);
		return 0;
	}
	return ((size_t) n == strlen(want)) && (memcmp(out, want, (size_t) n) == 0);
}

static int refused(char const *in)
{
	uint8_t out[64];

	return twofa_base32_decode(in, out, sizeof(out)) == -1;
}

static void rfc4648_vectors_encode_without_padding(void)
{
	char	out[64];
	size_t	i;

	for (i = 0; i < NUM_RFC4648; i++) {
		size_t len = strlen(rfc4648[i].plain);

		CHECK(twofa_base32_encode((uint8_t const *) rfc4648[i].plain, len, out, sizeof(out)) ==
		      (ssize_t) strlen(rfc4648[i].encoded));
		CHECK_STR(out, rfc4648[i].encoded);
		CHECK(TWOFA_BASE32_ENCODED_LEN(len) == strlen(rfc4648[i].encoded));
	}
}

static void rfc4648_vectors_decode(void)
{
	size_t i;

	for (i = 0; i < NUM_RFC4648; i++) CHECK(decodes_to(rfc4648[i].encoded, rfc4648[i].plain));
}

static void rfc4648_padded_vectors_decode(void)
{
	size_t i;

	for (i = 0; i < NUM_RFC4648; i++) CHECK(decodes_to(rfc4648[i].padded, rfc4648[i].plain));
}

/* The RFC 4226 test secret, as an authenticator app would be given it. */
static void rfc4226_secret_encodes_as_apps_expect(void)
{
	char out[64];

	CHECK(twofa_base32_encode((uint8_t const *) "12345678901234567890", 20, out, sizeof(out)) == 32);
	CHECK_STR(out, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	CHECK(decodes_to("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "12345678901234567890"));
}

static void base32_decodes_lower_and_mixed_case(void)
{
	CHECK(decodes_to("mzxw6ytboi", "foobar"));
	CHECK(decodes_to("MzXw6YtBoI", "foobar"));
}

static void base32_ignores_spaces(void)
{
	CHECK(decodes_to("MZXW 6YTB OI", "foobar"));
	CHECK(decodes_to(" MZXW6YTBOI ", "foobar"));
	CHECK(decodes_to("MZXW6YQ =", "foob"));
	CHECK(decodes_to("   ", ""));
}

static void base32_rejects_padding_in_middle(void)
{
	CHECK(refused("MY======MZXQ===="));
	CHECK(refused("M=Y"));
	CHECK(refused("MZXW6=YQ"));
	CHECK(refused("=MZXW6YQ"));
}

static void base32_rejects_wrong_padding_count(void)
{
	CHECK(refused("MY="));
	CHECK(refused("MY====="));
	CHECK(refused("MZXW6YQ=="));
	CHECK(refused("MZXW6YTB========"));
	CHECK(refused("========"));
}

static void base32_rejects_characters_outside_alphabet(void)
{
	CHECK(refused("MZXW0"));		/* 0, 1, 8 and 9 are not base32 */
	CHECK(refused("MZXW1"));
	CHECK(refused("MZXW8YTB"));
	CHECK(refused("MZXW9YTB"));
	CHECK(refused("MZ-XW6YTBOI"));
	CHECK(refused("MZ\tXW6YTBOI"));
	CHECK(refused("MZXW6YTBOI\n"));
	CHECK(refused("MZXW6YT\xc3\x89"));	/* non-ASCII */
	CHECK(refused("MZXW6YT\x80"));
	CHECK(refused("MZXW6YT@"));
	CHECK(refused("MZXW6YT["));
}

/* "MZ" would be "f" plus set bits thrown away: a second spelling of "MY". */
static void base32_rejects_nonzero_leftover_bits(void)
{
	CHECK(refused("MZ"));
	CHECK(refused("MZXR"));
	CHECK(refused("MZXW7"));
	CHECK(refused("MZXW6YR"));
	CHECK(refused("MZXW6YTBOJ"));
}

/* 1, 3 or 6 characters in the last group do not make whole bytes. */
static void base32_rejects_impossible_lengths(void)
{
	CHECK(refused("M"));
	CHECK(refused("MZX"));
	CHECK(refused("MZXW6Y"));
	CHECK(refused("MZXW6YTBM"));
}

static void base32_encode_refuses_small_buffer(void)
{
	char out[11];

	memset(out, 'x', sizeof(out));
	CHECK(twofa_base32_encode((uint8_t const *) "foobar", 6, out, 10) == -1);	/* no room for the NUL */
	CHECK(twofa_base32_encode((uint8_t const *) "foobar", 6, out, 11) == 10);
	CHECK_STR(out, "MZXW6YTBOI");
	CHECK(twofa_base32_encode((uint8_t const *) "", 0, out, 0) == -1);
	CHECK(twofa_base32_encode((uint8_t const *) "", 0, out, 1) == 0);
}

static void base32_decode_refuses_small_buffer(void)
{
	uint8_t out[6];

	CHECK(twofa_base32_decode("MZXW6YTBOI", out, 5) == -1);
	CHECK(twofa_base32_decode("MZXW6YTBOI", out, 6) == 6);
	CHECK(memcmp(out, "foobar", 6) == 0);
}

static void base32_round_trips_random_lengths(void)
{
	uint8_t	in[200], back[200];
	char	enc[TWOFA_BASE32_ENCODED_LEN(200) + 1];
	size_t	len, i;
	int	round;

	srand(4648);
	for (round = 0; round < 2000; round++) {
		ssize_t n;

		len = (size_t) rand() % sizeof(in);
		for (i = 0; i < len; i++) in[i] = (uint8_t) rand();

		n = twofa_base32_encode(in, len, enc, sizeof(enc));
		CHECK(n == (ssize_t) TWOFA_BASE32_ENCODED_LEN(len));
		CHECK(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == (size_t) n);

		n = twofa_base32_decode(enc, back, sizeof(back));
		CHECK(n == (ssize_t) len);
		CHECK((n < 0) || (memcmp(in, back, len) == 0));
		if (check_failed) {
			printf("  round %d, length %zu\n", round, len);
			return;
		}
	}
}

/* Every byte value survives, in every position of a 5-byte group. */
static void base32_round_trips_every_byte_value(void)
{
	uint8_t	in[5], back[5];
	char	enc[9];
	int	v, pos;

	for (pos = 0; pos < 5; pos++) {
		for (v = 0; v < 256; v++) {
			memset(in, 0x5a, sizeof(in));
			in[pos] = (uint8_t) v;
			CHECK(twofa_base32_encode(in, sizeof(in), enc, sizeof(enc)) == 8);
			CHECK(twofa_base32_decode(enc, back, sizeof(back)) == 5);
			CHECK(memcmp(in, back, sizeof(in)) == 0);
			if (check_failed) return;
		}
	}
}

int main(void)
{
	RUN(rfc4648_vectors_encode_without_padding);
	RUN(rfc4648_vectors_decode);
	RUN(rfc4648_padded_vectors_decode);
	RUN(rfc4226_secret_encodes_as_apps_expect);
	RUN(base32_decodes_lower_and_mixed_case);
	RUN(base32_ignores_spaces);
	RUN(base32_rejects_padding_in_middle);
	RUN(base32_rejects_wrong_padding_count);
	RUN(base32_rejects_characters_outside_alphabet);
	RUN(base32_rejects_nonzero_leftover_bits);
	RUN(base32_rejects_impossible_lengths);
	RUN(base32_encode_refuses_small_buffer);
	RUN(base32_decode_refuses_small_buffer);
	RUN(base32_round_trips_random_lengths);
	RUN(base32_round_trips_every_byte_value);

	CHECK_EXIT();
}
