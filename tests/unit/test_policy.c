/*
 * test_policy.c	Which user names and codes reach the store; the messages the
 *		module builds from templates (retry_message).
 */
#include <string.h>

#include "check.h"
#include "twofa.h"
#include "policy.h"

/* A NUL-terminated name, length by strlen. */
static bool name_ok(char const *name)
{
	return twofa_user_name_valid(name, strlen(name));
}

static void ascii_names_accepted(void)
{
	CHECK(name_ok("alice"));
	CHECK(name_ok("a"));
	CHECK(name_ok("alice@example.com"));
	CHECK(name_ok("DOMAIN\\bob"));
	CHECK(name_ok("carol smith"));
	CHECK(name_ok("~!#$%^&*()_+{}|:\"<>?`-=[];',./"));
}

static void utf8_names_accepted(void)
{
	CHECK(name_ok("j\xc3\xbcrgen"));			/* U+00FC */
	CHECK(name_ok("\xc2\xa0"));				/* U+00A0, first after C1 */
	CHECK(name_ok("\xe5\x90\x8d\xe5\x89\x8d"));		/* two CJK characters */
	CHECK(name_ok("\xef\xbf\xbd"));				/* U+FFFD */
	CHECK(name_ok("\xf0\x9f\x98\x80"));			/* U+1F600, 4 bytes */
	CHECK(name_ok("\xf4\x8f\xbf\xbf"));			/* U+10FFFF, the last */
	CHECK(name_ok("\xed\x9f\xbf"));				/* U+D7FF, below surrogates */
	CHECK(name_ok("\xee\x80\x80"));				/* U+E000, above surrogates */
}

static void empty_name_rejected(void)
{
	CHECK(!twofa_user_name_valid("", 0));
	CHECK(!twofa_user_name_valid("alice", 0));
	CHECK(!twofa_user_name_valid(NULL, 5));
}

static void name_128_bytes_accepted(void)
{
	char name[TWOFA_USER_NAME_MAX + 1];

	memset(name, 'a', TWOFA_USER_NAME_MAX);
	name[TWOFA_USER_NAME_MAX] = '\0';
	CHECK(TWOFA_USER_NAME_MAX == 128);
	CHECK(name_ok(name));
}

static void name_129_bytes_rejected(void)
{
	char name[TWOFA_USER_NAME_MAX + 2];

	memset(name, 'a', TWOFA_USER_NAME_MAX + 1);
	name[TWOFA_USER_NAME_MAX + 1] = '\0';
	CHECK(!name_ok(name));
}

static void name_253_bytes_rejected(void)
{
	char name[254];

	memset(name, 'a', 253);
	name[253] = '\0';
	CHECK(!name_ok(name));
}

static void overlong_utf8_name_rejected(void)
{
	CHECK(!name_ok("\xc0\xaf"));			/* '/' in 2 bytes */
	CHECK(!name_ok("\xc1\xbf"));			/* U+007F in 2 bytes */
	CHECK(!name_ok("\xc0\x80"));			/* NUL in 2 bytes ("modified UTF-8") */
	CHECK(!name_ok("\xe0\x80\xaf"));		/* '/' in 3 bytes */
	CHECK(!name_ok("\xe0\x9f\xbf"));		/* U+07FF in 3 bytes */
	CHECK(!name_ok("\xf0\x80\x80\xaf"));		/* '/' in 4 bytes */
	CHECK(!name_ok("\xf0\x8f\xbf\xbf"));		/* U+FFFF in 4 bytes */
	CHECK(!name_ok("admin\xc0\xae"));		/* '.' in 2 bytes after ASCII */
}

static void surrogate_utf8_name_rejected(void)
{
	CHECK(!name_ok("\xed\xa0\x80"));		/* U+D800 */
	CHECK(!name_ok("\xed\xaf\xbf"));		/* U+DBFF */
	CHECK(!name_ok("\xed\xb0\x80"));		/* U+DC00 */
	CHECK(!name_ok("\xed\xbf\xbf"));		/* U+DFFF */
	CHECK(!name_ok("\xed\xa0\xbd\xed\xb8\x80"));	/* CESU-8 pair for U+1F600 */
}

static void code_point_above_10ffff_rejected(void)
{
	CHECK(!name_ok("\xf4\x90\x80\x80"));		/* U+110000 */
	CHECK(!name_ok("\xf5\x80\x80\x80"));
	CHECK(!name_ok("\xf7\xbf\xbf\xbf"));
}

static void invalid_lead_bytes_rejected(void)
{
	CHECK(!name_ok("\xf8\x88\x80\x80\x80"));	/* old 5-byte form */
	CHECK(!name_ok("\xfc\x84\x80\x80\x80\x80"));	/* old 6-byte form */
	CHECK(!name_ok("a\xfe"));
	CHECK(!name_ok("a\xff"));
}

static void truncated_utf8_name_rejected(void)
{
	CHECK(!name_ok("a\xc3"));			/* 2-byte lead at the end */
	CHECK(!name_ok("\xe5\x90"));			/* 3-byte sequence cut short */
	CHECK(!name_ok("\xf0\x9f\x98"));		/* 4-byte sequence cut short */
	CHECK(!name_ok("\xc3z"));			/* lead followed by ASCII */
	CHECK(!name_ok("\xe5\x90z"));
	/* A valid name, but len stops inside its last character. */
	CHECK(!twofa_user_name_valid("j\xc3\xbc", 2));
	CHECK(!twofa_user_name_valid("\xf0\x9f\x98\x80", 3));
}

static void stray_continuation_byte_rejected(void)
{
	CHECK(!name_ok("\x80"));
	CHECK(!name_ok("a\xbf"));
	CHECK(!name_ok("\xc3\xbc\xbc"));		/* one continuation too many */
}

static void control_characters_rejected(void)
{
	CHECK(!name_ok("al\x01ice"));
	CHECK(!name_ok("alice\x1f"));
	CHECK(!name_ok("ali\tce"));
	CHECK(!name_ok("alice\n"));
	CHECK(!name_ok("alice\r"));
	CHECK(!name_ok("\x1b[31malice"));		/* terminal escape into logs */
	CHECK(!name_ok("alice\x7f"));			/* DEL */
}

static void c1_controls_rejected(void)
{
	CHECK(!name_ok("\xc2\x80"));			/* U+0080 */
	CHECK(!name_ok("ali\xc2\x85" "ce"));		/* U+0085 NEL */
	CHECK(!name_ok("\xc2\x9b" "31m"));		/* U+009B CSI */
	CHECK(!name_ok("\xc2\x9f"));			/* U+009F */
}

static void embedded_nul_rejected(void)
{
	CHECK(!twofa_user_name_valid("al\0ice", 6));
	CHECK(!twofa_user_name_valid("alice\0", 6));
	CHECK(!twofa_user_name_valid("\0", 1));
	CHECK(twofa_user_name_valid("al\0ice", 2));	/* the bytes before it are fine */
}

static void code_with_exact_digits_is_well_formed(void)
{
	CHECK(twofa_code_well_formed("123456", 6, 6));
	CHECK(twofa_code_well_formed("000000", 6, 6));
	CHECK(twofa_code_well_formed("12345678", 8, 8));
	CHECK(twofa_code_well_formed("1234567", 7, 7));
}

static void code_of_wrong_length_is_not_well_formed(void)
{
	CHECK(!twofa_code_well_formed("12345", 5, 6));
	CHECK(!twofa_code_well_formed("1234567", 7, 6));
	CHECK(!twofa_code_well_formed("123456", 6, 8));
	CHECK(!twofa_code_well_formed("", 0, 6));
	CHECK(!twofa_code_well_formed("", 0, 0));		/* an empty code is never a code */
	CHECK(!twofa_code_well_formed("123456", 5, 6));
	CHECK(!twofa_code_well_formed(NULL, 6, 6));
}

static void code_with_non_digits_is_not_well_formed(void)
{
	CHECK(!twofa_code_well_formed("12a456", 6, 6));
	CHECK(!twofa_code_well_formed(" 23456", 6, 6));
	CHECK(!twofa_code_well_formed("12345 ", 6, 6));
	CHECK(!twofa_code_well_formed("-12345", 6, 6));
	CHECK(!twofa_code_well_formed("+12345", 6, 6));
	CHECK(!twofa_code_well_formed("12\0" "456", 6, 6));
	CHECK(!twofa_code_well_formed("\xd9\xa1\xd9\xa2\xd9\xa3", 6, 6));	/* Arabic-Indic digits */
	CHECK(!twofa_code_well_formed("\xef\xbc\x91\xef\xbc\x92", 6, 6));	/* full-width digits */
}

/* A template expanded into a buffer as big as a Reply-Message allows. */
static char const *expand(char const *template, unsigned int attempts)
{
	static char out[TWOFA_REPLY_MESSAGE_MAX + 1];
	size_t len = twofa_message_expand(out, sizeof(out), template, attempts);

	CHECK(len == strlen(out));
	CHECK(len <= TWOFA_REPLY_MESSAGE_MAX);
	return out;
}

static void attempts_placeholder_is_replaced_by_the_number(void)
{
	CHECK_STR(expand("Wrong code ({attempts} tries left)", 2), "Wrong code (2 tries left)");
	CHECK_STR(expand("{attempts}", 1), "1");
	CHECK_STR(expand("{attempts} of {attempts}", 10), "10 of 10");
	CHECK_STR(expand("left:{attempts}", 0), "left:0");
	CHECK_STR(expand("{attempts}{attempts}", 3), "33");
}

static void message_without_placeholder_is_copied_as_is(void)
{
	CHECK_STR(expand("Enter the code", 2), "Enter the code");
	CHECK_STR(expand("", 2), "");
	CHECK_STR(expand("j\xc3\xbcrgen \xe2\x82\xac", 2), "j\xc3\xbcrgen \xe2\x82\xac");
}

static void other_braces_are_left_alone(void)
{
	CHECK_STR(expand("{Attempts} {attempt} { attempts} {attempts", 2), "{Attempts} {attempt} { attempts} {attempts");
	CHECK_STR(expand("{{attempts}}", 2), "{2}");
	CHECK_STR(expand("%{attempts}", 2), "%2");
}

static void format_directives_are_not_interpreted(void)
{
	CHECK_STR(expand("%s %d %n %x %%", 2), "%s %d %n %x %%");
	CHECK_STR(expand("%{User-Name} ${confdir}", 2), "%{User-Name} ${confdir}");
}

static void long_message_is_cut_at_253_bytes(void)
{
	char template[400];

	memset(template, 'a', sizeof(template) - 1);
	template[sizeof(template) - 1] = '\0';
	CHECK(strlen(expand(template, 2)) == 253);
	CHECK(strspn(expand(template, 2), "a") == 253);
}

/* n bytes of 'a' then tail, expanded. */
static size_t expanded_length(size_t n, char const *tail, unsigned int attempts)
{
	char template[600];

	memset(template, 'a', n);
	strcpy(template + n, tail);
	return strlen(expand(template, attempts));
}

static void cut_never_splits_a_utf8_character(void)
{
	CHECK(expanded_length(252, "\xc3\xbc", 2) == 252);		/* U+00FC would end at byte 254 */
	CHECK(expanded_length(251, "\xc3\xbc", 2) == 253);		/* ends at 253: kept */
	CHECK(expanded_length(251, "\xe2\x82\xac", 2) == 251);		/* U+20AC, 3 bytes */
	CHECK(expanded_length(252, "\xe2\x82\xac", 2) == 252);
	CHECK(expanded_length(250, "\xe2\x82\xac", 2) == 253);
	CHECK(expanded_length(250, "\xf0\x9f\x98\x80", 2) == 250);	/* U+1F600, 4 bytes */
	CHECK(expanded_length(249, "\xf0\x9f\x98\x80", 2) == 253);
	CHECK(expanded_length(240, "\xe5\x90\x8d\xe5\x89\x8d\xe5\x90\x8d\xe5\x89\x8d\xe5\x90\x8d", 2) == 252);
}

static void number_is_never_cut_in_half(void)
{
	CHECK(expanded_length(252, "{attempts}", 10) == 252);		/* "1" alone would be a lie */
	CHECK(expanded_length(251, "{attempts}", 10) == 253);
	CHECK(expanded_length(252, "{attempts}", 9) == 253);
	CHECK(expanded_length(252, "{attempts} left", 10) == 252);	/* nothing after the cut either */
}

static void small_buffer_is_respected(void)
{
	char	out[8];
	size_t	len;

	memset(out, 'x', sizeof(out));
	len = twofa_message_expand(out, sizeof(out), "abcdefghij", 2);
	CHECK(len == 7);
	CHECK_STR(out, "abcdefg");
	len = twofa_message_expand(out, sizeof(out), "abcde\xc3\xbc", 2);
	CHECK(len == 7);
	CHECK_STR(out, "abcde\xc3\xbc");
	len = twofa_message_expand(out, sizeof(out), "abcdef\xc3\xbc", 2);
	CHECK(len == 6);
	CHECK_STR(out, "abcdef");
	len = twofa_message_expand(out, 1, "abc", 2);
	CHECK(len == 0);
	CHECK(out[0] == '\0');
	CHECK(twofa_message_expand(NULL, 0, "abc", 2) == 0);
}

static void utf8_prefix_ends_on_a_character_boundary(void)
{
	CHECK(twofa_utf8_prefix("abc", 3, 10) == 3);
	CHECK(twofa_utf8_prefix("abc", 3, 2) == 2);
	CHECK(twofa_utf8_prefix("a\xc3\xbc", 3, 2) == 1);
	CHECK(twofa_utf8_prefix("a\xc3\xbc", 3, 3) == 3);
	CHECK(twofa_utf8_prefix("\xf0\x9f\x98\x80z", 5, 3) == 0);
	CHECK(twofa_utf8_prefix("\xf0\x9f\x98\x80z", 5, 4) == 4);
	CHECK(twofa_utf8_prefix("abc", 3, 0) == 0);
}

int main(void)
{
	RUN(ascii_names_accepted);
	RUN(utf8_names_accepted);
	RUN(empty_name_rejected);
	RUN(name_128_bytes_accepted);
	RUN(name_129_bytes_rejected);
	RUN(name_253_bytes_rejected);
	RUN(overlong_utf8_name_rejected);
	RUN(surrogate_utf8_name_rejected);
	RUN(code_point_above_10ffff_rejected);
	RUN(invalid_lead_bytes_rejected);
	RUN(truncated_utf8_name_rejected);
	RUN(stray_continuation_byte_rejected);
	RUN(control_characters_rejected);
	RUN(c1_controls_rejected);
	RUN(embedded_nul_rejected);
	RUN(code_with_exact_digits_is_well_formed);
	RUN(code_of_wrong_length_is_not_well_formed);
	RUN(code_with_non_digits_is_not_well_formed);
	RUN(attempts_placeholder_is_replaced_by_the_number);
	RUN(message_without_placeholder_is_copied_as_is);
	RUN(other_braces_are_left_alone);
	RUN(format_directives_are_not_interpreted);
	RUN(long_message_is_cut_at_253_bytes);
	RUN(cut_never_splits_a_utf8_character);
	RUN(number_is_never_cut_in_half);
	RUN(small_buffer_is_respected);
	RUN(utf8_prefix_ends_on_a_character_boundary);

	CHECK_EXIT();
}
