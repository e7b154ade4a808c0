/*
 * append.h	Append mode: the code typed after the password, in the one
 *		field a NAS without an Access-Challenge has ("password123456").
 *
 *		The split is fixed by the string and the user's factors, never
 *		by trying the password twice: the last characters are the code
 *		when they have the shape of a code the user holds, else there
 *		is no code and the whole string is the password (the login then
 *		gets the usual challenge, so both modes work on one NAS).
 *
 *		  - a TOTP factor of D digits: the last D characters, all digits;
 *		  - SMS, email: a code sent in an earlier request, of the
 *		    method's code_length (6..10) digits, the same way;
 *		  - backup codes: the last 11, as printed ("xxxxx-xxxxx", any
 *		    case); a backup code appended without its '-' is not taken,
 *		    as 10 letters and digits end too many passwords;
 *		  - a switch word (words { }: sms, email, resend) for a method
 *		    the user holds, in any case: no code, but a request for one
 *		    ("passwordsms"), which the module sends and answers with a
 *		    Reject that says so;
 *		  - with a separator (append_separator, e.g. ","): the part after
 *		    the last separator, if it has one of those shapes (a backup
 *		    code then with or without its '-').
 *
 *		Digit codes of one length may be several methods' (TOTP and a
 *		sent code of 6 digits): the split names them all, the module
 *		tries them in turn (the app's in memory first).  Digit codes of
 *		different lengths (a TOTP of 6, an SMS code of 8): the longest
 *		the string's tail fills is taken, so the shorter is the code
 *		only if the password does not end in digits itself; where that
 *		matters, use a separator or one length.  A backup suffix has a
 *		'-' six characters from the end and a word has a letter, so
 *		neither is a digit code.
 *
 *		The trade-off: a password that itself ends in digits, or in a
 *		switch word, still works with a code typed after it ("summer2024"
 *		+ "123456", "mysms" + "sms"); but on an append NAS such a user
 *		cannot ask for the challenge by typing the password alone, as
 *		its tail is taken for a code or a word (a wrong password then).
 *		A separator removes the ambiguity: only the part after it is
 *		looked at.  Words are matched only for methods the user holds,
 *		so no other user's password loses its tail.
 *
 *		No FreeRADIUS types, no I/O: unit-tested, shared with nothing.
 */
#ifndef TWOFA_APPEND_H
#define TWOFA_APPEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TWOFA_APPEND_SEPARATOR_MAX	8	//!< bytes of append_separator
#define TWOFA_APPEND_WORDS_MAX		3	//!< sms, email, resend

/** A switch word, and the method a code is then sent by. */
typedef struct {
	char const	*text;		//!< as configured (any case matches); NULL or "": none
	uint8_t		method;		//!< TWOFA_METHOD_SMS or TWOFA_METHOD_EMAIL (pending.h)
} twofa_append_word_t;

/** The code shapes a user's factors allow. */
typedef struct {
	unsigned int	totp_digits;	//!< the TOTP factor's digits; 0: no TOTP factor
	bool		backup;		//!< holds unused backup codes
	unsigned int	sms_digits;	//!< an SMS code's digits; 0: SMS not held (or not sent here)
	unsigned int	email_digits;	//!< an email code's digits; 0: email not held
	twofa_append_word_t words[TWOFA_APPEND_WORDS_MAX];	//!< only for methods the user holds
	char const	*separator;	//!< NULL or "": none
} twofa_append_shapes_t;

/** Where the code is, and whose it may be. */
typedef struct {
	size_t		password_len;	//!< the password is in[0 .. password_len)
	size_t		code_off;	//!< the code (or word) is in[code_off .. code_off + code_len)
	size_t		code_len;
	bool		word;		//!< a switch word: send a code by method, check nothing
	uint8_t		method;		//!< a code: the first method to try (TWOFA_METHOD_*); a word: whose
	uint32_t	methods;	//!< a code: TWOFA_METHOD_BIT of each method it may be, tried in the
					//!< order TOTP, backup, SMS, email; a word: its method's bit
} twofa_append_split_t;

/** The methods a code may be, in the order they are tried. */
#define TWOFA_APPEND_METHODS		4
extern uint8_t const twofa_append_order[TWOFA_APPEND_METHODS];	//!< TOTP, backup, SMS, email

/** Split in (len bytes, need not be NUL-terminated) into password and code.
 *  @return true and *out, or false: no code appended, the whole of in is the
 *  password. */
bool twofa_append_split(char const *in, size_t len, twofa_append_shapes_t const *shapes, twofa_append_split_t *out);

/** A separator the config may set: 1..TWOFA_APPEND_SEPARATOR_MAX printable ASCII
 *  characters, neither letters, digits nor '-' (they would end codes). */
bool twofa_append_separator_valid(char const *sep);

#endif
