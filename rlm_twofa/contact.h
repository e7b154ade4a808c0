/*
 * contact.h	Where a code goes: phone numbers (E.164) and email
 *		addresses, checked and normalised as an admin or a user
 *		types them, and masked for the challenge text
 *		(+44•••••1234, a•••@example.org).
 *
 *		Strict on purpose: what passes goes into a gateway's URL or
 *		JSON, an SMTP envelope and a To: header, so anything beyond
 *		a plain number or a plain address is refused rather than
 *		made safe.  No FreeRADIUS, SQLite or libcurl includes.
 */
#ifndef TWOFA_CONTACT_H
#define TWOFA_CONTACT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TWOFA_PHONE_DIGITS_MIN	8	//!< country code included
#define TWOFA_PHONE_DIGITS_MAX	15	//!< E.164's limit
#define TWOFA_PHONE_MAX		(1 + TWOFA_PHONE_DIGITS_MAX)	//!< "+" and the digits
#define TWOFA_PHONE_INPUT_MAX	64	//!< longest typed form worth reading (separators included)
#define TWOFA_EMAIL_MAX		254	//!< RFC 5321's path limit less the brackets
#define TWOFA_EMAIL_LOCAL_MAX	64
#define TWOFA_EMAIL_LABEL_MAX	63

#define TWOFA_MASK_BULLET	"\xe2\x80\xa2"	//!< U+2022 in UTF-8
#define TWOFA_MASK_BULLETS	5		//!< in a masked phone number, whatever its length
#define TWOFA_PHONE_MASK_MAX	(1 + 2 + TWOFA_MASK_BULLETS * 3 + 4 + 1)
#define TWOFA_EMAIL_MASK_MAX	(1 + 3 * 3 + 1 + TWOFA_EMAIL_MAX + 1)

/** A phone number as typed ("+44 (20) 7946-0958", "+1.212.555.0100") into
 *  E.164: "+" then 8 to 15 digits, the first 1-9, and a NUL.  Spaces, '-', '.'
 *  and one level of parentheses are dropped; the "+" must come first; anything
 *  else is refused, and so is a "(0)" trunk prefix ("+44 (0)20 ..."), which
 *  dropping the parentheses would turn into another number.  in need not be
 *  NUL-terminated.  @return false (out "") if it is no such number. */
bool twofa_phone_normalise(char const *in, size_t len, char out[TWOFA_PHONE_MAX + 1]);

/** Is e164 exactly what twofa_phone_normalise writes? */
bool twofa_phone_valid(char const *e164);

/** A plain address: local@domain, one '@'; the local part 1..64 of letters,
 *  digits and ! # $ % & * + - / = ? ^ _ { | } ~ and dots (none first, last or
 *  doubled); the domain at least two dot-separated labels of letters, digits
 *  and '-' (1..63, no '-' first or last), the last not all digits; 254 bytes
 *  at most.  No quotes, spaces, CR, LF, <>, commas, brackets, non-ASCII.
 *  in need not be NUL-terminated. */
bool twofa_email_valid(char const *in, size_t len);

/** "+44•••••1234": the "+", the first two digits, TWOFA_MASK_BULLETS bullets,
 *  the last four digits (fewer for short numbers: at least half stay hidden).
 *  @return the length written (NUL not counted), -1 if e164 is not valid
 *  E.164 or out is too small (out is then ""). */
ssize_t twofa_phone_mask(char const *e164, char *out, size_t out_len);

/** "a•••@example.org": the local part's first character, three bullets, the
 *  domain.  @return as twofa_phone_mask, -1 for an address twofa_email_valid refuses. */
ssize_t twofa_email_mask(char const *addr, char *out, size_t out_len);

/*
 *	A user's email factor holds up to two addresses and which of them a
 *	code goes to, all in the factor's address column, so every backend
 *	stores it as text:  "ADDR", "ADDR1,ADDR2" (to the first),
 *	"second:ADDR1,ADDR2" or "both:ADDR1,ADDR2" ("first:" may be written).
 *	Neither ':' nor ',' can be in an address twofa_email_valid takes.
 */
typedef enum {
	TWOFA_EMAIL_TO_FIRST = 0,
	TWOFA_EMAIL_TO_SECOND,
	TWOFA_EMAIL_TO_BOTH,
} twofa_email_to_t;

typedef struct {
	char			addr[2][TWOFA_EMAIL_MAX + 1];	//!< addr[1] "" if only one
	unsigned int		count;				//!< 1 or 2
	twofa_email_to_t	to;
} twofa_email_list_t;

#define TWOFA_EMAIL_LIST_MAX	(7 + 2 * TWOFA_EMAIL_MAX + 1)	//!< "second:" A "," B

/** "first", "second", "both" to the choice.  @return false for anything else. */
bool twofa_email_to_from_name(char const *name, twofa_email_to_t *to);
char const *twofa_email_to_name(twofa_email_to_t to);

/** Parse a stored email factor address (above).  @return false if it is not
 *  one: no address, more than two, one twofa_email_valid refuses, or a choice
 *  of the second address when there is only one. */
bool twofa_email_list_parse(char const *stored, twofa_email_list_t *out);

/** The stored form of list (out: TWOFA_EMAIL_LIST_MAX + 1 bytes).  @return false if list is not valid. */
bool twofa_email_list_format(twofa_email_list_t const *list, char *out, size_t out_len);

/** The addresses a code goes to (1 or 2), in to[].  @return how many. */
unsigned int twofa_email_list_recipients(twofa_email_list_t const *list, char const *to[2]);

#endif
