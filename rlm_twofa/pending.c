/*
 * pending.c	Pack and unpack a pending challenge (pending.h).
 *
 *		Layout, integers in network order:
 *		version (1) | expires (4) | attempts left (1) | method (1) | sends (1) | flags (1) |
 *		hash (1) | digits (1) | period (2) | user id (8) | factor id (8) |
 *		reply group (4) | sealed length (1) | sealed secret | user name (the rest).
 */
#include <string.h>

#include "pending.h"

#define FLAG_HAD_FAILURES	0x01
#define FLAG_NO_USER_REPLY	0x02
#define FLAGS_ALL		(FLAG_HAD_FAILURES | FLAG_NO_USER_REPLY)

/* A TOTP challenge and an enrolment carry a sealed secret and a period. */
static bool method_has_secret(uint8_t method)
{
	return (method == TWOFA_METHOD_TOTP) || (method == TWOFA_METHOD_ENROL);
}

static uint8_t *put_be(uint8_t *p, uint64_t v, int bytes)
{
	int i;

	for (i = bytes - 1; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
	return p + bytes;
}

static uint64_t get_be(uint8_t const *p, int bytes)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < bytes; i++) v = (v << 8) | p[i];
	return v;
}

size_t twofa_pending_pack(twofa_pending_t const *pending, uint8_t buf[TWOFA_PENDING_MAX])
{
	size_t	name_len = strlen(pending->name);
	uint8_t	*p = buf;

	if ((name_len == 0) || (name_len > TWOFA_USER_NAME_MAX) ||
	    (pending->sealed_len > TWOFA_SEALED_MAX) || (pending->totp.period > UINT16_MAX) ||
	    (method_has_secret(pending->method) && ((pending->sealed_len == 0) || (pending->totp.period == 0))) ||
	    ((pending->method == TWOFA_METHOD_SMS_NEW) && (pending->sealed_len < TWOFA_PENDING_SMS_NEW_MIN)) ||
	    (pending->totp.digits > UINT8_MAX) || ((unsigned int) pending->totp.hash > UINT8_MAX)) return 0;

	*p++ = TWOFA_PENDING_VERSION;
	p = put_be(p, pending->expires, 4);
	*p++ = pending->attempts_left;
	*p++ = pending->method;
	*p++ = pending->sends;
	*p++ = (pending->had_failures ? FLAG_HAD_FAILURES : 0) | (pending->no_user_reply ? FLAG_NO_USER_REPLY : 0);
	*p++ = (uint8_t) pending->totp.hash;
	*p++ = (uint8_t) pending->totp.digits;
	p = put_be(p, pending->totp.period, 2);
	p = put_be(p, (uint64_t) pending->user_id, 8);
	p = put_be(p, (uint64_t) pending->factor_id, 8);
	p = put_be(p, pending->reply_group, 4);
	*p++ = (uint8_t) pending->sealed_len;
	memcpy(p, pending->sealed, pending->sealed_len);
	p += pending->sealed_len;
	memcpy(p, pending->name, name_len);
	p += name_len;

	return (size_t) (p - buf);
}

bool twofa_pending_unpack(uint8_t const *buf, size_t len, twofa_pending_t *pending)
{
	uint8_t const	*p = buf;
	size_t		name_len;
	uint8_t		flags;

	if (!buf || (len <= TWOFA_PENDING_HEADER_LEN)) return false;

	if (*p++ != TWOFA_PENDING_VERSION) return false;
	memset(pending, 0, sizeof(*pending));
	pending->expires = (uint32_t) get_be(p, 4);
	p += 4;
	pending->attempts_left = *p++;
	pending->method = *p++;
	pending->sends = *p++;
	flags = *p++;
	if (flags & ~FLAGS_ALL) return false;		/* pack writes no other bit */
	pending->had_failures = (flags & FLAG_HAD_FAILURES) != 0;
	pending->no_user_reply = (flags & FLAG_NO_USER_REPLY) != 0;
	pending->totp.hash = (twofa_hash_t) *p++;
	pending->totp.digits = *p++;
	pending->totp.period = (unsigned int) get_be(p, 2);
	p += 2;
	pending->user_id = (int64_t) get_be(p, 8);
	p += 8;
	pending->factor_id = (int64_t) get_be(p, 8);
	p += 8;
	pending->reply_group = (uint32_t) get_be(p, 4);
	p += 4;
	pending->sealed_len = *p++;

	/* Nor a TOTP challenge without its secret or with a zero period. */
	if (method_has_secret(pending->method) && ((pending->sealed_len == 0) || (pending->totp.period == 0))) {
		return false;
	}
	if ((pending->method == TWOFA_METHOD_SMS_NEW) && (pending->sealed_len < TWOFA_PENDING_SMS_NEW_MIN)) return false;
	if ((pending->sealed_len > TWOFA_SEALED_MAX) ||
	    (len <= TWOFA_PENDING_HEADER_LEN + pending->sealed_len)) return false;
	memcpy(pending->sealed, p, pending->sealed_len);
	p += pending->sealed_len;

	name_len = len - (size_t) (p - buf);
	if (name_len > TWOFA_USER_NAME_MAX) return false;
	memcpy(pending->name, p, name_len);
	pending->name[name_len] = '\0';
	if (strlen(pending->name) != name_len) return false;	/* an embedded NUL */

	return (pending->method >= TWOFA_METHOD_TOTP) && (pending->method <= TWOFA_METHOD_LAST);
}
