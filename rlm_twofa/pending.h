/*
 * pending.h	The context of a challenge waiting for its answer, packed
 *		into bytes: sealed into the State itself (state.c, the
 *		default), or one session-state attribute (state = session).
 *
 *		Round one reads the user and packs what round two needs: who,
 *		which factor (its id, which is also its generation, its sealed
 *		secret and parameters), how many attempts are left, until when,
 *		whether the user has reply attributes of their own, and the
 *		directory group whose reply attributes the Accept gets.  Round
 *		two then checks the code without reading the store, and the one
 *		statement that consumes the step checks again that the factor
 *		is unchanged (the same id: a replaced factor gets a new one).
 *		One attribute rather than several: FreeRADIUS's state table
 *		costs memory and time per attribute (bench/README.md).
 */
#ifndef TWOFA_PENDING_H
#define TWOFA_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "twofa.h"
#include "totp.h"
#include "crypto.h"
#include "oob.h"
#include "contact.h"

/*
 *	The format's version, first byte of the packed context: a context of
 *	any other version (a radiusd of another release answering a State
 *	this one issued, say) is refused, never misread.
 */
#define TWOFA_PENDING_VERSION		4	//!< 2: the factor's id (its generation) added;
							//!< 3: codes sent so far (SMS, email; resend and switch words);
							//!< 4: the directory group whose reply attributes the Accept gets,
							//!<    and whether the user has reply attributes of their own

/* Methods (method.h), as named in the pending context.  Append only. */
#define TWOFA_METHOD_TOTP		1			//!< a TOTP code
#define TWOFA_METHOD_BACKUP		2			//!< a backup code (no factor part)
#define TWOFA_METHOD_ENROL		3			//!< a first TOTP code for a new secret (enrol_at_login)
#define TWOFA_METHOD_SMS		4			//!< a code sent by SMS (digits in totp.digits)
#define TWOFA_METHOD_EMAIL		5			//!< a code sent by email (digits in totp.digits)
#define TWOFA_METHOD_SMS_NUMBER		6			//!< sms_ask_number: the answer is a phone number
#define TWOFA_METHOD_SMS_NEW		7			//!< a code sent to a number typed at login: sealed holds
								//!< the code's salt and hash, then the number
#define TWOFA_METHOD_LAST		TWOFA_METHOD_SMS_NEW

/** The least an SMS_NEW challenge's sealed holds: the code's salt and hash, a length, the shortest number. */
#define TWOFA_PENDING_SMS_NEW_MIN	(TWOFA_OOB_SALT_LEN + TWOFA_OOB_HASH_LEN + 1 + TWOFA_PHONE_DIGITS_MIN)

/** A bit per method id, for sets of methods (those this server can use, those a code may be). */
#define TWOFA_METHOD_BIT(_id)		(1u << (_id))

#define TWOFA_SEALED_MAX		(TWOFA_SEAL_OVERHEAD + TWOFA_SECRET_MAX)

typedef struct {
	uint32_t		expires;			//!< time the challenge lapses
	uint8_t			attempts_left;			//!< codes the user may still try
	uint8_t			method;				//!< TWOFA_METHOD_*
	uint8_t			sends;				//!< codes sent or methods switched to in this login
	bool			had_failures;			//!< round one read failed codes to clear on success
	bool			no_user_reply;			//!< round one read no reply attributes of the user's
								//!< own: the Accept need not read the user again
	int64_t			user_id;
	int64_t			factor_id;			//!< the factor round one read; 0 for none (backup, enrolment)
	uint32_t		reply_group;			//!< ldap.groups.reply: the tag of the user's group, 0 for none

	/* The factor's part, filled by its method's start() (method.h).
	 * TOTP needs a sealed secret and a period; a backup-code challenge
	 * carries none (the codes are checked in the store). */
	twofa_totp_params_t	totp;
	uint8_t			sealed[TWOFA_SEALED_MAX];	//!< the enrolment's secret, as stored (encrypted)
	size_t			sealed_len;
	char			name[TWOFA_USER_NAME_MAX + 1];	//!< who the challenge was sent to
} twofa_pending_t;

/* Fixed part, then the sealed secret, then the name. */
#define TWOFA_PENDING_HEADER_LEN	34
#define TWOFA_PENDING_MAX		(TWOFA_PENDING_HEADER_LEN + TWOFA_SEALED_MAX + TWOFA_USER_NAME_MAX)

/** Pack into buf (TWOFA_PENDING_MAX bytes).  @return the length, or 0 if a field does not fit. */
size_t twofa_pending_pack(twofa_pending_t const *pending, uint8_t buf[TWOFA_PENDING_MAX]);

/** Unpack what twofa_pending_pack wrote.  @return false for anything else: another
 *  version, a method out of range, a field cut short or too long, a NUL in the name,
 *  a TOTP challenge without a sealed secret or period. */
bool twofa_pending_unpack(uint8_t const *buf, size_t len, twofa_pending_t *pending);

#endif
