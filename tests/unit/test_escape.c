/*
 * test_escape.c	Escaping for URLs, forms, JSON and mail headers
 *			(escape.h): hostile values change nothing around them.
 */
#include <string.h>

#include "check.h"
#include "escape.h"

static char out[512];

#define ESC(fn, s)	((fn)((s), strlen(s), out, sizeof(out)) >= 0 ? out : NULL)

static void url_escapes_all_but_unreserved(void)
{
	CHECK_STR(ESC(twofa_escape_url, "+44 1234&x=1"), "%2B44%201234%26x%3D1");
	CHECK_STR(ESC(twofa_escape_url, "a-b.c_d~e"), "a-b.c_d~e");
	CHECK_STR(ESC(twofa_escape_url, "\"%/\r\n?#"), "%22%25%2F%0D%0A%3F%23");
	CHECK_STR(ESC(twofa_escape_url, "\xc3\xa9"), "%C3%A9");
}

static void form_writes_a_space_as_plus(void)
{
	CHECK_STR(ESC(twofa_escape_form, "Your code is 123456"), "Your+code+is+123456");
	CHECK_STR(ESC(twofa_escape_form, "a+b&c=d"), "a%2Bb%26c%3Dd");
}

static void json_escapes_quotes_backslashes_and_controls(void)
{
	CHECK_STR(ESC(twofa_escape_json, "o\"brien\\"), "o\\\"brien\\\\");
	CHECK_STR(ESC(twofa_escape_json, "a\r\nb\t\x01\x7f"), "a\\r\\nb\\t\\u0001\\u007F");
	CHECK_STR(ESC(twofa_escape_json, "J\xc3\xbcrgen \xe2\x98\x83"), "J\xc3\xbcrgen \xe2\x98\x83");
	/* Not UTF-8 (a lone continuation byte, an overlong slash, a surrogate): refused. */
	CHECK(ESC(twofa_escape_json, "\x80") == NULL);
	CHECK(ESC(twofa_escape_json, "\xc0\xaf") == NULL);
	CHECK(ESC(twofa_escape_json, "\xed\xa0\x80") == NULL);
	CHECK(twofa_escape_json("a\0b", 3, out, sizeof(out)) == -1);
}

static void header_refuses_line_breaks_and_encodes_utf8(void)
{
	CHECK_STR(ESC(twofa_escape_header, "Your code"), "Your code");
	CHECK(ESC(twofa_escape_header, "x\r\nBcc: victim@example.org") == NULL);
	CHECK(ESC(twofa_escape_header, "x\nBcc: y") == NULL);
	CHECK(ESC(twofa_escape_header, "tab\there") == NULL);
	CHECK_STR(ESC(twofa_escape_header, "Code f\xc3\xbcr J\xc3\xbcrgen"), "=?UTF-8?B?Q29kZSBmw7xyIErDvHJnZW4=?=");
}

/* A long UTF-8 value: several encoded-words, each at most 75 characters, none cut inside a character. */
static void long_header_is_split_into_short_encoded_words(void)
{
	char	in[200] = "";
	char	*word, *save;
	int	words = 0;

	while (strlen(in) + 3 < 150) strcat(in, "\xe2\x98\x83");	/* snowmen, 3 bytes each */
	CHECK(ESC(twofa_escape_header, in) != NULL);
	for (word = strtok_r(out, " ", &save); word; word = strtok_r(NULL, " ", &save)) {
		CHECK(strlen(word) <= 75);
		CHECK(strncmp(word, "=?UTF-8?B?", 10) == 0);
		words++;
	}
	CHECK(words >= 3);
}

static void output_that_does_not_fit_is_refused_whole(void)
{
	char small[8];

	CHECK(twofa_escape_url("&&&", 3, small, sizeof(small)) == -1);
	CHECK(small[0] == '\0');
	CHECK(twofa_escape_url("abcdefg", 7, small, sizeof(small)) == 7);
	CHECK(twofa_escape_url("abcdefgh", 8, small, sizeof(small)) == -1);
	CHECK(twofa_escape_json("x", 1, small, 0) == -1);
}

static void url_escape_round_trips(void)
{
	char		esc[512], back[256];
	char const	*samples[] = { "+44 (0) 1234 567890", "a%b&c=d+e", "\xff\x01\r\n", "" };
	size_t		i;

	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		ssize_t n = twofa_escape_form(samples[i], strlen(samples[i]), esc, sizeof(esc));

		CHECK(n >= 0);
		CHECK(twofa_unescape_url(esc, (size_t) n, 1, back, sizeof(back)) == (ssize_t) strlen(samples[i]));
		CHECK_STR(back, samples[i]);
	}
	CHECK(twofa_unescape_url("%4", 2, 0, back, sizeof(back)) == -1);
	CHECK(twofa_unescape_url("%zz", 3, 0, back, sizeof(back)) == -1);
}

int main(void)
{
	RUN(url_escapes_all_but_unreserved);
	RUN(form_writes_a_space_as_plus);
	RUN(json_escapes_quotes_backslashes_and_controls);
	RUN(header_refuses_line_breaks_and_encodes_utf8);
	RUN(long_header_is_split_into_short_encoded_words);
	RUN(output_that_does_not_fit_is_refused_whole);
	RUN(url_escape_round_trips);
	CHECK_EXIT();
}
