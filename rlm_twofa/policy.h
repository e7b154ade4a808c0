/*
 * policy.h	Pure decisions of the login flow: no I/O, no FreeRADIUS types.
 */
#ifndef TWOFA_POLICY_H
#define TWOFA_POLICY_H

#include <stdbool.h>
#include <stddef.h>

/** A user name we are willing to look up: 1..TWOFA_USER_NAME_MAX bytes, valid
 *  UTF-8 (no overlong forms, no surrogates), no control characters (C0, DEL, C1).
 */
bool twofa_user_name_valid(char const *name, size_t len);

/** A code as a user may type it: exactly digits decimal digits. */
bool twofa_code_well_formed(char const *code, size_t len, unsigned int digits);

#endif
