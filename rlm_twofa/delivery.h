/*
 * delivery.h	What the SMS and email methods (method_sms.c,
 *		method_email.c, method_oob.c) need to send a code: the sender
 *		thread, the gateway and relay as configured, the code key,
 *		the limits.  Made once at instantiate by rlm_twofa.c (freed in
 *		detach) or by twofa-admin test-send.
 *
 *		No libcurl include: the sender and gateways are opaque here
 *		(sender.h, sms_http.h, mail.h have them), so the flow and the
 *		method table need no curl headers.
 */
#ifndef TWOFA_DELIVERY_H
#define TWOFA_DELIVERY_H

#include <stdbool.h>
#include <stdint.h>
#include "twofa.h"
#include "oob.h"
#include "contact.h"

#define TWOFA_OOB_LIFETIME_DEFAULT	300	//!< seconds a sent code is valid
#define TWOFA_OOB_LIFETIME_MAX		600	//!< NIST SP 800-63B: out-of-band codes at most 10 minutes

/** A code's shape and life, per kind of method. */
typedef struct {
	unsigned int		digits;		//!< TWOFA_OOB_DIGITS_MIN..MAX
	unsigned int		lifetime;	//!< seconds, 1..TWOFA_OOB_LIFETIME_MAX
} twofa_oob_code_config_t;

typedef struct {
	struct twofa_sender	*sender;	//!< NULL: nothing can be sent
	struct twofa_sms_http	*sms;		//!< NULL: no SMS gateway configured
	struct twofa_mail	*mail;		//!< NULL: no mail relay configured
	uint8_t			okey[TWOFA_OOB_KEY_LEN];	//!< oob.h's derived key; wiped by its owner
	unsigned int		send_wait_ms;	//!< a login waits at most this long for a send's outcome
	twofa_oob_code_config_t	sms_code;
	twofa_oob_code_config_t	email_code;
	unsigned int		per_user_hour;	//!< sends per user per hour (0: no limit)
	unsigned int		per_nas_hour;	//!< sends per NAS per hour (0: no limit)
} twofa_delivery_t;

#define TWOFA_SENT_TO_MAX	(2 * TWOFA_EMAIL_MASK_MAX + 8)

/** What a send did, for the challenge text and the log.  Never the code. */
typedef struct {
	char			to[TWOFA_SENT_TO_MAX];	//!< where it went, masked: "+44•••••1234", "a•••@x.org and b•••@y.org"
	char			why[192];		//!< a failure's detail: "HTTP 500", curl's error, "queue full"
	bool			pending;		//!< send_wait passed before the outcome: it may still arrive
} twofa_delivery_report_t;

#endif
