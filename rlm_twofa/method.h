/*
 * method.h	Second-factor methods, each a small table of functions, in
 *		the spirit of OpenSSH's KbdintDevice (auth2-chall.c).
 *
 *		The login flow (rlm_twofa.c) holds no method-specific code: in
 *		round one it asks which method the user holds and lets it start
 *		the challenge; in round two it lets the method named in the
 *		pending context check the answer, in memory, then consume it
 *		once in the store.  A method file (method_totp.c, ...) knows its
 *		factor's secret, parameters and store calls; no FreeRADIUS
 *		includes, so methods are unit-tested on their own.
 */
#ifndef TWOFA_METHOD_H
#define TWOFA_METHOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <talloc.h>

#include "twofa.h"
#include "pending.h"
#include "store.h"
#include "base32.h"
#include "crypto.h"
#include "delivery.h"

/** What every method call may use: the key, the window, the store, the time. */
typedef struct {
	uint8_t const		*key;		//!< key_file's AES-256 key, opens sealed secrets
	unsigned int		window;		//!< TOTP steps either side of now
	twofa_store_t		*store;
	time_t			now;
	int			*left;		//!< out (may be NULL): a counted factor's uses left after
						//!< a successful consume; -1 if the factor is not counted
	twofa_login_t const	*login;		//!< may be NULL: the login's row, which a successful
						//!< consume writes in its own store call
	twofa_delivery_t const	*delivery;	//!< SMS, email: how codes are sent; NULL: not configured
	char const		*nas;		//!< SMS, email: the NAS, for the per-NAS send limit
	twofa_delivery_report_t	*report;	//!< SMS, email: out (may be NULL): where start() sent the code
} twofa_method_ctx_t;

typedef struct twofa_method twofa_method_t;

struct twofa_method {
	char const	*name;		//!< "totp": log lines, config words
	uint8_t		id;		//!< TWOFA_METHOD_*: names the method in the pending context
	char const	*unit;		//!< what consume counts down ("backup code"), or NULL

	/** Does the user hold this method, ready to be used (confirmed)? */
	bool		(*held)(twofa_user_t const *user);

	/** Round one: put what round two needs into pending's factor part.  SMS and
	 *  email send a code here (waiting at most delivery->send_wait_ms).
	 *  @return TWOFA_OK, or TWOFA_ERR_CRYPTO if the stored factor is malformed;
	 *  SMS and email also TWOFA_ERR_THROTTLED (a send limit reached),
	 *  TWOFA_ERR_IO (the gateway refused or failed, or the sender's queue is
	 *  full: report->why), TWOFA_ERR_UNAVAILABLE (not configured), or a store error. */
	twofa_rcode_t	(*start)(twofa_method_ctx_t const *mctx, twofa_user_t const *user,
				 twofa_pending_t *pending);

	/** Round two: check answer (len bytes, not NUL-checked) in memory against pending.
	 *  *proof gets what consume records (TOTP: the time step the code matched).
	 *  @return TWOFA_OK, TWOFA_ERR_MALFORMED, TWOFA_ERR_BAD_CODE, TWOFA_ERR_CRYPTO. */
	twofa_rcode_t	(*check)(TALLOC_CTX *ctx, twofa_method_ctx_t const *mctx, twofa_pending_t const *pending,
				 char const *answer, size_t len, int64_t *proof);

	/** Round two: consume proof once in the store; of racing callers exactly one gets TWOFA_OK.
	 *  Also checks that the factor round one read is unchanged and the user not locked.
	 *  @return TWOFA_OK, TWOFA_ERR_REPLAYED, TWOFA_ERR_LOCKED, TWOFA_ERR_NOT_ENROLLED,
	 *  TWOFA_ERR_NOT_FOUND, or a store error. */
	twofa_rcode_t	(*consume)(twofa_method_ctx_t const *mctx, twofa_pending_t const *pending, int64_t proof);

	/** May be NULL: start() sends nothing and serves.  Append mode: put into pending
	 *  what check and consume need for a code sent in an earlier request (SMS, email:
	 *  the factor's id and its code's digits), sending nothing.
	 *  @return TWOFA_OK, TWOFA_ERR_CRYPTO (the stored factor is malformed),
	 *  TWOFA_ERR_UNAVAILABLE (not configured). */
	twofa_rcode_t	(*resume)(twofa_method_ctx_t const *mctx, twofa_user_t const *user,
				  twofa_pending_t *pending);

	/** May be NULL.  Does answer have this method's shape, so that it is worth
	 *  trying at another method's prompt (a backup code where a TOTP code was
	 *  asked for)?  In memory, no store. */
	bool		(*looks_like)(char const *answer, size_t len);
};

/** The method with this pending-context id, or NULL (an unknown id is refused). */
twofa_method_t const *twofa_method_by_id(uint8_t id);

/** The method the user is challenged with: the first they hold, in order of preference; NULL if none. */
twofa_method_t const *twofa_method_for_user(twofa_user_t const *user);

/* TWOFA_METHOD_BIT (pending.h) of the methods this server can use (SMS without a gateway cannot). */
#define TWOFA_METHODS_ALL	0xffffffffu

/** Round one's choice: the user's preferred method if held and usable, else
 *  TOTP, SMS, email, backup codes, the first held whose bit is in usable and
 *  not in skip (skip: methods already tried, for failmode).  NULL if none. */
twofa_method_t const *twofa_method_pick(twofa_user_t const *user, uint32_t usable, uint32_t skip);

/** The method of a factor kind (totp, sms, email), or NULL. */
twofa_method_t const *twofa_method_of_kind(twofa_factor_kind_t kind);

/** The method to try for an answer the pending method found malformed: the first
 *  other method whose looks_like() takes it; NULL if none. */
twofa_method_t const *twofa_method_alternate(twofa_method_t const *pending_method, char const *answer, size_t len);

extern twofa_method_t const twofa_method_totp;
extern twofa_method_t const twofa_method_backup;
extern twofa_method_t const twofa_method_enrol;	//!< never held: offered by the flow (enrol_at_login)
extern twofa_method_t const twofa_method_sms;
extern twofa_method_t const twofa_method_email;
extern twofa_method_t const twofa_method_sms_number;	//!< never held: sms_ask_number, the flow offers it
extern twofa_method_t const twofa_method_sms_new;	//!< never held: the code sent to the number typed

/*
 *	SMS and email (method_oob.c): the shared send, check and consume.
 */
/** Send a new code of kind to to[0] (and to[1], email), counted against the
 *  send limits, its hash kept for factor_id (0: not in the store, in pending's
 *  sealed part: a number typed at login).  Sets pending->totp.digits.
 *  @return as start() in twofa_method_t. */
twofa_rcode_t twofa_oob_send(twofa_method_ctx_t const *mctx, twofa_pending_t *pending, twofa_factor_kind_t kind,
			     int64_t factor_id, char const *to[2], char const *user);

/** Append mode: pending names factor_id's code (of kind's digits) sent in an earlier
 *  request; nothing is sent.  @return TWOFA_OK, TWOFA_ERR_UNAVAILABLE (not configured). */
twofa_rcode_t twofa_oob_resume(twofa_method_ctx_t const *mctx, twofa_pending_t *pending, twofa_factor_kind_t kind,
			       int64_t factor_id);

/** The answer checked for shape (pending->totp.digits digits); the proof is its value. */
twofa_rcode_t twofa_oob_check(TALLOC_CTX *ctx, twofa_method_ctx_t const *mctx, twofa_pending_t const *pending,
			      char const *answer, size_t len, int64_t *proof);

/** SMS and email's consume: the store takes the factor's code (proof) once. */
twofa_rcode_t twofa_oob_consume(twofa_method_ctx_t const *mctx, twofa_pending_t const *pending, int64_t proof);

/** sms_ask_number: the answer to the prompt for a number (as typed) checked as
 *  E.164 and sent a code; pending becomes a TWOFA_METHOD_SMS_NEW challenge with
 *  the code's hash and the number in its sealed part.
 *  @return TWOFA_ERR_MALFORMED (not a number), else as twofa_oob_send. */
twofa_rcode_t twofa_sms_new_start(twofa_method_ctx_t const *mctx, char const *answer, size_t len,
				  twofa_pending_t *pending);

/** The code of proof back as digits digits. */
bool twofa_oob_code_from_proof(int64_t proof, unsigned int digits, char out[TWOFA_OOB_DIGITS_MAX + 1]);

/*
 *	Enrolment at first login (method_enrol.c): the challenge shows the new
 *	secret, base32 in groups of 4, where enrol_message says {secret}.
 */
#define TWOFA_SECRET_TOKEN		"{secret}"
/** The grouped secret's length at most: 32 base32 characters and a space per group of 4. */
#define TWOFA_ENROL_SECRET_TEXT_MAX	(TWOFA_BASE32_ENCODED_LEN(TWOFA_SECRET_LEN) + \
					 TWOFA_BASE32_ENCODED_LEN(TWOFA_SECRET_LEN) / 4)

/** Expand template: each "{secret}" becomes secret, every other byte is copied as
 *  it is (no printf format, no xlat).  Unlike twofa_message_expand nothing is cut:
 *  a template without the token, or a result longer than out_size - 1 bytes, gives
 *  0 and an empty out (a secret cut short would enrol nobody).
 *  @return the length of out. */
size_t twofa_enrol_message_expand(char *out, size_t out_size, char const *template, char const *secret);

/** The enrolment challenge's text: pending's sealed secret (as enrol's start()
 *  made it) opened with key, grouped, put into template.  Nothing is logged.
 *  @return TWOFA_OK, TWOFA_ERR_CRYPTO, TWOFA_ERR_MALFORMED (not an enrolment, or
 *  the text does not fit out_size - 1 bytes). */
twofa_rcode_t twofa_enrol_message(TALLOC_CTX *ctx, uint8_t const *key, twofa_pending_t const *pending,
				  char const *template, char *out, size_t out_size);

#endif
