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
 *		  - backup codes: the last 11, as printed ("xxxxx-xxxxx", any
 *		    case); a backup code appended without its '-' is not taken,
 *		    as 10 letters and digits end too many passwords;
 *		  - with a separator (append_separator, e.g. ","): the part after
 *		    the last separator, if it has one of those shapes (a backup
 *		    code then with or without its '-').
 *
 *		The shapes cannot overlap (a TOTP suffix has no '-', a backup
 *		suffix has one six characters from the end), so at most one
 *		split is possible.  A password that itself ends in digits
 *		still works: its owner types the code after it; on an append
 *		NAS such a user cannot ask for the challenge by typing the
 *		password alone, if its last D characters are digits.
 *
 *		No FreeRADIUS types, no I/O: unit-tested, shared with nothing.
 */
#ifndef TWOFA_APPEND_H
#define TWOFA_APPEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TWOFA_APPEND_SEPARATOR_MAX	8	//!< bytes of append_separator

/** The code shapes a user's factors allow. */
typedef struct {
	unsigned int	totp_digits;	//!< the TOTP factor's digits; 0: no TOTP factor
	bool		backup;		//!< holds unused backup codes
	char const	*separator;	//!< NULL or "": none
} twofa_append_shapes_t;

/** Where the code is, and whose it is. */
typedef struct {
	size_t		password_len;	//!< the password is in[0 .. password_len)
	size_t		code_off;	//!< the code is in[code_off .. code_off + code_len)
	size_t		code_len;
	uint8_t		method;		//!< TWOFA_METHOD_TOTP or TWOFA_METHOD_BACKUP (pending.h)
} twofa_append_split_t;

/** Split in (len bytes, need not be NUL-terminated) into password and code.
 *  @return true and *out, or false: no code appended, the whole of in is the
 *  password. */
bool twofa_append_split(char const *in, size_t len, twofa_append_shapes_t const *shapes, twofa_append_split_t *out);

/** A separator the config may set: 1..TWOFA_APPEND_SEPARATOR_MAX printable ASCII
 *  characters, neither letters, digits nor '-' (they would end codes). */
bool twofa_append_separator_valid(char const *sep);

#endif
