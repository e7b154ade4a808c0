/*
 * test_policy.c	Which user names and codes reach the store.
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

	CHECK_EXIT();
}
