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
} twofa_method_ctx_t;

typedef struct twofa_method twofa_method_t;

struct twofa_method {
	char const	*name;		//!< "totp": log lines, config words
	uint8_t		id;		//!< TWOFA_METHOD_*: names the method in the pending context
	char const	*unit;		//!< what consume counts down ("backup code"), or NULL

	/** Does the user hold this method, ready to be used (confirmed)? */
	bool		(*held)(twofa_user_t const *user);

	/** Round one: put what round two needs into pending's factor part.
	 *  @return TWOFA_OK, or TWOFA_ERR_CRYPTO if the stored factor is malformed. */
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

	/** May be NULL.  Does answer have this method's shape, so that it is worth
	 *  trying at another method's prompt (a backup code where a TOTP code was
	 *  asked for)?  In memory, no store. */
	bool		(*looks_like)(char const *answer, size_t len);
};

/** The method with this pending-context id, or NULL (an unknown id is refused). */
twofa_method_t const *twofa_method_by_id(uint8_t id);

/** The method the user is challenged with: the first they hold, in order of preference; NULL if none. */
twofa_method_t const *twofa_method_for_user(twofa_user_t const *user);

/** The method to try for an answer the pending method found malformed: the first
 *  other method whose looks_like() takes it; NULL if none. */
twofa_method_t const *twofa_method_alternate(twofa_method_t const *pending_method, char const *answer, size_t len);

extern twofa_method_t const twofa_method_totp;
extern twofa_method_t const twofa_method_backup;
extern twofa_method_t const twofa_method_enrol;	//!< never held: offered by the flow (enrol_at_login)

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
