/*
 * escape.h	Escaping a value for the place it goes: a URL, a form body, a
 *		JSON string, a mail header.  For the SMS and email methods,
 *		whose templates take user input (a name, a phone number, an
 *		address) that must never change the request it is put in.
 *
 *		Each function writes a NUL-terminated result into out
 *		(out_len bytes) and returns its length, or -1 if it does not
 *		fit or the input cannot go there (see each); out is then "".
 */
#ifndef TWOFA_ESCAPE_H
#define TWOFA_ESCAPE_H

#include <stddef.h>
#include <sys/types.h>

/** RFC 3986: every byte but the unreserved ALPHA DIGIT - . _ ~ as %XX. */
ssize_t twofa_escape_url(char const *in, size_t in_len, char *out, size_t out_len);

/** application/x-www-form-urlencoded (WHATWG URL): as the URL escape, but a space is '+'. */
ssize_t twofa_escape_form(char const *in, size_t in_len, char *out, size_t out_len);

/** The inside of a JSON string (RFC 8259): " \ and control characters escaped
 *  (\n \r \t \b \f, else \u00XX).  -1 for input that is not valid UTF-8 or holds a NUL. */
ssize_t twofa_escape_json(char const *in, size_t in_len, char *out, size_t out_len);

/** A mail header's value: printable ASCII as it is; anything else (UTF-8) as one or
 *  more RFC 2047 encoded-words (=?UTF-8?B?...?=).  -1 for CR, LF, NUL or other
 *  control characters (a header injection), or input that is not valid UTF-8. */
ssize_t twofa_escape_header(char const *in, size_t in_len, char *out, size_t out_len);

/** Reverse of twofa_escape_url and twofa_escape_form ('+' is a space when form is set).
 *  -1 for a bad %XX.  For tests and the fuzz harness. */
ssize_t twofa_unescape_url(char const *in, size_t in_len, int form, char *out, size_t out_len);

#endif
