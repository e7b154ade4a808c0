/*
 * test_contact.c	Phone numbers and email addresses (contact.c): what
 *			is taken, what it becomes, what is refused, and the
 *			masks shown in a challenge.
 */
#include <string.h>

#include "check.h"
#include "contact.h"

/* normalised(IN): IN through twofa_phone_normalise, or "REFUSED". */
static char const *normalised(char const *in)
{
	static char out[TWOFA_PHONE_MAX + 1];

	return twofa_phone_normalise(in, strlen(in), out) ? out : "REFUSED";
}

static void phone_separators_are_dropped(void)
{
	CHECK_STR(normalised("+441234567890"), "+441234567890");
	CHECK_STR(normalised("+44 20 7946 0958"), "+442079460958");
	CHECK_STR(normalised("+1 (212) 555-0100"), "+12125550100");
	CHECK_STR(normalised("+1.212.555.0100"), "+12125550100");
	CHECK_STR(normalised("  +49 30-1234 5678  "), "+493012345678");
	CHECK_STR(normalised("+12345678"), "+12345678");			/* 8 digits */
	CHECK_STR(normalised("+123456789012345"), "+123456789012345");	/* 15 */
}

static void phone_anything_else_is_refused(void)
{
	CHECK_STR(normalised("441234567890"), "REFUSED");		/* no '+' */
	CHECK_STR(normalised("00441234567890"), "REFUSED");		/* international prefix, not E.164 */
	CHECK_STR(normalised("+041234567890"), "REFUSED");		/* country codes start 1-9 */
	CHECK_STR(normalised("+1234567"), "REFUSED");			/* 7 digits */
	CHECK_STR(normalised("+1234567890123456"), "REFUSED");		/* 16 */
	CHECK_STR(normalised("+44 1234 567890 ext 12"), "REFUSED");
	CHECK_STR(normalised("+44+1234567890"), "REFUSED");
	CHECK_STR(normalised("1+441234567890"), "REFUSED");
	CHECK_STR(normalised("+44 (0)20 7946 0958"), "REFUSED");	/* trunk prefix: would dial another number */
	CHECK_STR(normalised("+1 (212 555-0100"), "REFUSED");		/* unclosed */
	CHECK_STR(normalised("+1 212) 555-0100"), "REFUSED");		/* unopened */
	CHECK_STR(normalised("+1 ((212)) 555-0100"), "REFUSED");	/* nested */
	CHECK_STR(normalised("+1 () 212 555 0100"), "REFUSED");
	CHECK_STR(normalised("+44\r\n1234567890"), "REFUSED");
	CHECK_STR(normalised("+44\t1234567890"), "REFUSED");
	CHECK_STR(normalised("+44/1234567890"), "REFUSED");
	CHECK_STR(normalised("+441234567890&x=1"), "REFUSED");
	CHECK_STR(normalised("+４４1234567890"), "REFUSED");		/* fullwidth digits */
	CHECK_STR(normalised(""), "REFUSED");
	CHECK_STR(normalised("+"), "REFUSED");
	CHECK_STR(normalised("+ - . "), "REFUSED");
}

static void phone_input_is_read_by_length(void)
{
	char	out[TWOFA_PHONE_MAX + 1];
	char	long_input[TWOFA_PHONE_INPUT_MAX + 2];

	CHECK(twofa_phone_normalise("+4412345678901234", 13, out) && strcmp(out, "+441234567890") == 0);
	CHECK(!twofa_phone_normalise("+441234567890\0" "1", 15, out) && out[0] == '\0');
	/* Separators count: a typed form longer than TWOFA_PHONE_INPUT_MAX is not read. */
	memset(long_input, ' ', sizeof(long_input));
	memcpy(long_input + sizeof(long_input) - 14, "+441234567890", 13);
	CHECK(!twofa_phone_normalise(long_input, sizeof(long_input) - 1, out));
	CHECK(twofa_phone_normalise(long_input + 2, sizeof(long_input) - 3, out));
}

static void phone_valid_is_only_the_normal_form(void)
{
	CHECK(twofa_phone_valid("+441234567890"));
	CHECK(!twofa_phone_valid("+44 1234567890"));
	CHECK(!twofa_phone_valid("441234567890"));
	CHECK(!twofa_phone_valid("+0441234567"));
	CHECK(!twofa_phone_valid("+1234567"));
	CHECK(!twofa_phone_valid("+1234567890123456"));
	CHECK(!twofa_phone_valid(NULL));
}

static void email_plain_addresses_are_taken(void)
{
	CHECK(twofa_email_valid("a@example.org", 13));
	CHECK(twofa_email_valid("first.last+tag@mail.example.co.uk", 33));
	CHECK(twofa_email_valid("x_y-z=1@sub-domain.example", 26));
	CHECK(twofa_email_valid("user@xn--bcher-kva.example", 26));	/* IDN as punycode */
}

static bool email(char const *s)
{
	return twofa_email_valid(s, strlen(s));
}

static void email_anything_else_is_refused(void)
{
	char long_local[80], long_addr[300];

	CHECK(!email("a"));
	CHECK(!email("a@"));
	CHECK(!email("@example.org"));
	CHECK(!email("a@b@example.org"));
	CHECK(!email("a@localhost"));				/* no dot */
	CHECK(!email("a@.example.org"));
	CHECK(!email("a@example.org."));
	CHECK(!email("a@example..org"));
	CHECK(!email(".a@example.org"));
	CHECK(!email("a.@example.org"));
	CHECK(!email("a..b@example.org"));
	CHECK(!email("a@-example.org"));
	CHECK(!email("a@example-.org"));
	CHECK(!email("a@192.168.0.1"));				/* a number, not a name */
	CHECK(!email("a@[192.168.0.1]"));
	CHECK(!email("\"a b\"@example.org"));
	CHECK(!email("o'brien@example.org"));
	CHECK(!email("a b@example.org"));
	CHECK(!email("a@example.org\r\nBcc: x@evil.example"));
	CHECK(!email("a@example.org\n"));
	CHECK(!email("a,b@example.org"));
	CHECK(!email("a@example.org,b@example.org"));
	CHECK(!email("<a@example.org>"));
	CHECK(!email("Alice <a@example.org>"));
	CHECK(!email("a@exa_mple.org"));
	CHECK(!email("ä@example.org"));
	CHECK(!email("a@bücher.example"));
	CHECK(!twofa_email_valid("a@example.org\0x", 15));
	CHECK(!twofa_email_valid(NULL, 0));

	memset(long_local, 'a', 65);
	strcpy(long_local + 65, "@example.org");
	CHECK(!email(long_local));				/* local part 65 */
	long_local[64] = '@';
	strcpy(long_local + 64, "@example.org");
	CHECK(email(long_local));				/* 64 */

	/* 254 bytes at most: labels of 60 under a 64-byte local part. */
	memset(long_addr, 'a', 64);
	long_addr[64] = '@';
	memset(long_addr + 65, 'b', 200);
	long_addr[65 + 60] = long_addr[65 + 121] = long_addr[65 + 182] = '.';
	strcpy(long_addr + 65 + 183, "cc");		/* 250 bytes */
	CHECK(email(long_addr));
	strcpy(long_addr + 65 + 183, "ccccccc");	/* 255 */
	CHECK(!email(long_addr));
	memset(long_addr + 65, 'b', 64);		/* a label of 64 */
	strcpy(long_addr + 65 + 64, ".org");
	CHECK(!email(long_addr));
}

static char const *phone_mask(char const *e164)
{
	static char out[TWOFA_PHONE_MASK_MAX];

	return (twofa_phone_mask(e164, out, sizeof(out)) >= 0) ? out : "REFUSED";
}

static void phone_mask_keeps_country_and_last_four(void)
{
	char small[8];

	CHECK_STR(phone_mask("+441234561234"), "+44\u2022\u2022\u2022\u2022\u20221234");
	CHECK_STR(phone_mask("+12125550100"), "+12\u2022\u2022\u2022\u2022\u20220100");
	CHECK_STR(phone_mask("+123456789012345"), "+12\u2022\u2022\u2022\u2022\u20222345");
	/* Short numbers show less: 8 digits keep the last 2, 9 the last 3. */
	CHECK_STR(phone_mask("+12345678"), "+12\u2022\u2022\u2022\u2022\u202278");
	CHECK_STR(phone_mask("+123456789"), "+12\u2022\u2022\u2022\u2022\u2022789");
	CHECK_STR(phone_mask("+44 1234561234"), "REFUSED");
	CHECK(twofa_phone_mask("+441234561234", small, sizeof(small)) == -1 && small[0] == '\0');
}

static char const *email_mask(char const *addr)
{
	static char out[TWOFA_EMAIL_MASK_MAX];

	return (twofa_email_mask(addr, out, sizeof(out)) >= 0) ? out : "REFUSED";
}

static void email_mask_keeps_first_letter_and_domain(void)
{
	CHECK_STR(email_mask("alice@example.org"), "a\u2022\u2022\u2022@example.org");
	CHECK_STR(email_mask("a@example.org"), "a\u2022\u2022\u2022@example.org");
	CHECK_STR(email_mask("bob.smith+x@mail.example.com"), "b\u2022\u2022\u2022@mail.example.com");
	CHECK_STR(email_mask("a@example.org\r\nBcc: x@evil.example"), "REFUSED");
	CHECK_STR(email_mask(NULL), "REFUSED");
}

/* An email factor's address column: one or two addresses and the choice. */
static void email_lists_parse_and_format(void)
{
	twofa_email_list_t	l;
	char const		*to[2];
	char			out[TWOFA_EMAIL_LIST_MAX + 1];

	CHECK(twofa_email_list_parse("a@example.org", &l) && l.count == 1 && l.to == TWOFA_EMAIL_TO_FIRST);
	CHECK(twofa_email_list_recipients(&l, to) == 1 && strcmp(to[0], "a@example.org") == 0 && !to[1]);
	CHECK(twofa_email_list_parse("second:a@example.org,b@example.net", &l) && l.count == 2);
	CHECK(twofa_email_list_recipients(&l, to) == 1 && strcmp(to[0], "b@example.net") == 0);
	CHECK(twofa_email_list_format(&l, out, sizeof(out)) && strcmp(out, "second:a@example.org,b@example.net") == 0);
	CHECK(twofa_email_list_parse("both:a@example.org,b@example.net", &l));
	CHECK(twofa_email_list_recipients(&l, to) == 2 && strcmp(to[1], "b@example.net") == 0);
	CHECK(twofa_email_list_parse("first:a@example.org,b@example.net", &l) && l.to == TWOFA_EMAIL_TO_FIRST);
	CHECK(!twofa_email_list_parse("second:a@example.org", &l));
	CHECK(!twofa_email_list_parse("both:a@example.org", &l));
	CHECK(!twofa_email_list_parse("a@example.org,b@example.net,c@example.com", &l));
	CHECK(!twofa_email_list_parse("all:a@example.org", &l));
	CHECK(!twofa_email_list_parse("a@example.org,", &l));
	CHECK(!twofa_email_list_parse("a@example.org\r\nBcc: e@evil.example", &l));
	CHECK(!twofa_email_list_parse("", &l));
	CHECK(!twofa_email_list_parse(NULL, &l));
}

int main(void)
{
	RUN(phone_separators_are_dropped);
	RUN(phone_anything_else_is_refused);
	RUN(phone_input_is_read_by_length);
	RUN(phone_valid_is_only_the_normal_form);
	RUN(email_plain_addresses_are_taken);
	RUN(email_anything_else_is_refused);
	RUN(phone_mask_keeps_country_and_last_four);
	RUN(email_mask_keeps_first_letter_and_domain);
	RUN(email_lists_parse_and_format);
	CHECK_EXIT();
}
