/*
 * policy.h	Pure decisions of the login flow, and the messages it builds:
 *		no I/O, no FreeRADIUS types.
 */
#ifndef TWOFA_POLICY_H
#define TWOFA_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A user name we are willing to look up: 1..TWOFA_USER_NAME_MAX bytes, valid
 *  UTF-8 (no overlong forms, no surrogates), no control characters (C0, DEL, C1).
 */
bool twofa_user_name_valid(char const *name, size_t len);

/** A code as a user may type it: exactly digits decimal digits. */
bool twofa_code_well_formed(char const *code, size_t len, unsigned int digits);

/** RFC 2865 5: an attribute's value holds at most 253 bytes (Reply-Message included). */
#define TWOFA_REPLY_MESSAGE_MAX	253

/** The token twofa_message_expand() replaces (retry_message). */
#define TWOFA_ATTEMPTS_TOKEN	"{attempts}"

/** Length of the valid UTF-8 character at p (at most len bytes): 1 to 4, or 0 for
 *  anything else (a stray or missing continuation byte, an overlong form, a
 *  surrogate, past U+10FFFF). */
size_t twofa_utf8_len(uint8_t const *p, size_t len);

/** The length of the longest prefix of text[0..len) that holds at most max
 *  bytes and does not end inside a UTF-8 character (a cut before a
 *  continuation byte moves back to the start of its character).
 */
size_t twofa_utf8_prefix(char const *text, size_t len, size_t max);

/** Expand a message template from the configuration: each "{attempts}" becomes
 *  attempts in decimal; every other byte, "%" and "{" included, is copied as
 *  it is (no printf format, no xlat).  The result is cut to fit out_size - 1
 *  bytes, never inside a UTF-8 character nor inside the number, and nothing
 *  after a cut is added.  out is always NUL-terminated if out_size > 0.
 *
 * @return the length of out.
 */
size_t twofa_message_expand(char *out, size_t out_size, char const *template, unsigned int attempts);

#endif
