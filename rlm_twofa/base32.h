/*
 * base32.h	RFC 4648 base32, as used by otpauth:// URIs and authenticator apps.
 *
 *		OpenSSL has no base32 (its EVP encoders are base64), so this is a
 *		small table-driven codec of our own.
 */
#ifndef TWOFA_BASE32_H
#define TWOFA_BASE32_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** Characters needed to encode n bytes, without padding and without the NUL. */
#define TWOFA_BASE32_ENCODED_LEN(n)	((((n) * 8) + 4) / 5)

/** Encode in_len bytes as upper-case base32 without '=' padding, NUL-terminated.
 *
 * @return characters written (not counting the NUL), or -1 if out is too small.
 */
ssize_t twofa_base32_encode(uint8_t const *in, size_t in_len, char *out, size_t out_len);

/** Decode base32.  Accepts upper and lower case, ignores spaces, accepts
 *  trailing '=' padding.  Rejects any other character, padding in the middle,
 *  and leftover bits that are not zero.
 *
 * @return bytes written, or -1 on bad input or if out is too small.
 */
ssize_t twofa_base32_decode(char const *in, uint8_t *out, size_t out_len);

#endif
