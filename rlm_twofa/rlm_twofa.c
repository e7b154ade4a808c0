/*
 *   This program is free software; you can redistribute it and/or modify
 *   it under the terms of the GNU General Public License as published by
 *   the Free Software Foundation; either version 2 of the License, or
 *   (at your option) any later version.
 */

/**
 * $Id$
 * @file rlm_twofa.c
 * @brief Two-factor logins: a password, then a TOTP code in an Access-Challenge round.
 *
 * The whole login flow is in this file; the mechanisms are in named files:
 * totp.c (RFC 6238), crypto.c (secrets at rest, password hashes), store.h
 * (users, used time steps, lockout), policy.c (input checks), pending.c
 * (the challenge's context in session-state).
 *
 * Round one (no State): check the first factor, the lock and the enrolment,
 * keep the pending context in session-state, send an Access-Challenge.
 * Round two (State): a State whose session-state is gone is a reject; else
 * check the code against the enrolment round one read, consume its time
 * step once in the store (one statement, which also checks that the
 * enrolment is unchanged and the user not locked), and accept, challenge
 * again while attempts are left, or reject.
 */
RCSID("$Id$")

#include <freeradius/radiusd.h>
#include <freeradius/modules.h>
#include <freeradius/rad_assert.h>

#include <openssl/crypto.h>

#include "twofa.h"
#include "totp.h"
#include "crypto.h"
#include "policy.h"
#include "store.h"
#include "pending.h"

typedef enum {
	PASSWORD_SOURCE_LOCAL = 0,	//!< crypt(3) hash in our store
	PASSWORD_SOURCE_NONE,		//!< an earlier module (pap, ldap, mschap) checked it
} password_source_t;

typedef struct {
	char const		*name;			//!< instance name, also the Auth-Type value
	char const		*store_path;		//!< SQLite file
	char const		*key_file;		//!< AES-256 key for TOTP secrets at rest
	char const		*password_source_name;	//!< "local" or "none"
	password_source_t	password_source;
	bool			require;		//!< reject users with no confirmed second factor
	char const		*challenge_message;	//!< Reply-Message of the Access-Challenge
	char const		*reject_message;	//!< Reply-Message of every Access-Reject
	uint32_t		challenge_timeout;	//!< seconds a challenge may be answered in
	uint32_t		attempts;		//!< codes a user may try in one login
	uint32_t		window;			//!< TOTP steps either side of now
	uint32_t		busy_timeout;		//!< ms to wait for a locked store
	twofa_lockout_t		lockout;		//!< consecutive failures across logins

	twofa_store_t		*store;			//!< shared by all worker threads
	uint8_t			key[TWOFA_KEY_LEN];	//!< wiped in detach
	char			*dummy_hash;		//!< checked for unknown users, so they cost the same

	DICT_ATTR const		*da_pending;		//!< session-state: the pending challenge (pending_t)
} rlm_twofa_t;

static const CONF_PARSER totp_config[] = {
	{ "window", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, window), "1" },
	CONF_PARSER_TERMINATOR
};

static const CONF_PARSER lockout_config[] = {
	{ "max_failures", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, lockout.max_failures), "10" },
	{ "duration", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, lockout.lock_seconds), "900" },
	{ "max_duration", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, lockout.max_lock_seconds), "86400" },
	CONF_PARSER_TERMINATOR
};

static const CONF_PARSER module_config[] = {
	{ "store", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, store_path), "/var/lib/freeradius/twofa/twofa.db" },
	{ "key_file", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, key_file), "/var/lib/freeradius/twofa/twofa.key" },
	{ "busy_timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, busy_timeout), "1000" },
	{ "password_source", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, password_source_name), "local" },
	{ "require", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_twofa_t, require), "yes" },
	{ "challenge_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, challenge_message),
	  "Enter the 6-digit code from your authenticator app" },
	{ "reject_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, reject_message),
	  "Authentication failed" },
	{ "challenge_timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, challenge_timeout), "60" },
	{ "attempts", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, attempts), "3" },
	{ "totp", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) totp_config },
	{ "lockout", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) lockout_config },
	CONF_PARSER_TERMINATOR
};

/*
 *	twofa_rcode_t to rlm_rcode_t, in one place.  No default, so that
 *	-Wswitch names a forgotten value.
 */
static rlm_rcode_t rcode_map(twofa_rcode_t rc)
{
	switch (rc) {
	case TWOFA_OK:			return RLM_MODULE_OK;
	case TWOFA_ERR_NOT_FOUND:	return RLM_MODULE_NOTFOUND;
	case TWOFA_ERR_NOT_ENROLLED:
	case TWOFA_ERR_BAD_PASSWORD:
	case TWOFA_ERR_BAD_CODE:
	case TWOFA_ERR_MALFORMED:
	case TWOFA_ERR_REPLAYED:
	case TWOFA_ERR_EXPIRED:
	case TWOFA_ERR_EXISTS:		return RLM_MODULE_REJECT;
	case TWOFA_ERR_LOCKED:		return RLM_MODULE_USERLOCK;
	case TWOFA_ERR_STORE:
	case TWOFA_ERR_BUSY:
	case TWOFA_ERR_CRYPTO:
	case TWOFA_ERR_IO:
	case TWOFA_ERR_NO_MEMORY:	return RLM_MODULE_FAIL;
	}
	return RLM_MODULE_FAIL;
}

/** The one Access-Reject of this module: the same Reply-Message whatever failed.
 *
 * One REDEBUG per failed login: it becomes the Module-Failure-Message that
 * "Login incorrect (twofa: ...)" shows.  A stage and a reason, never a code.
 */
static rlm_rcode_t reject(rlm_twofa_t const *inst, REQUEST *request, char const *stage, twofa_rcode_t rc)
{
	REDEBUG("%s %s", stage, twofa_strerror(rc));
	fr_pair_list_free(&request->reply->vps);
	pair_make_reply("Reply-Message", inst->reject_message, T_OP_SET);

	return (rc == TWOFA_OK) ? RLM_MODULE_REJECT : rcode_map(rc);
}

/** Log a store failure with its detail (never holds a secret: SQLite's own messages). */
static void log_store_error(rlm_twofa_t const *inst, REQUEST *request, char const *what, twofa_rcode_t rc)
{
	RERROR("Store %s failed (%s): %s", what, twofa_strerror(rc), twofa_store_errmsg(inst->store));
}

/** User-Name as a checked C string, or NULL (RADIUS strings may hold NULs and anything else). */
static char const *user_name(REQUEST *request)
{
	VALUE_PAIR *vp = request->username;

	if (!vp) vp = fr_pair_find_by_num(request->packet->vps, PW_USER_NAME, 0, TAG_ANY);
	if (!vp || vp->da->type != PW_TYPE_STRING) return NULL;
	if (!twofa_user_name_valid(vp->vp_strvalue, vp->vp_length)) return NULL;

	return vp->vp_strvalue;
}

/** User-Password (round one: the password; round two: the code), or NULL. */
static VALUE_PAIR *user_password(REQUEST *request)
{
	VALUE_PAIR *vp = fr_pair_find_by_num(request->packet->vps, PW_USER_PASSWORD, 0, TAG_ANY);

	if (!vp || vp->vp_length == 0) return NULL;
	if (strlen(vp->vp_strvalue) != vp->vp_length) return NULL;	/* embedded NUL */

	return vp;
}

/** Read the user's row.  NOT_FOUND for unknown users and invalid names alike. */
static twofa_rcode_t load_user(rlm_twofa_t const *inst, REQUEST *request, char const *name, twofa_user_t **out)
{
	twofa_rcode_t rc;

	*out = NULL;
	if (!name) {
		RDEBUG2("User-Name missing, too long or not printable UTF-8");
		return TWOFA_ERR_NOT_FOUND;
	}

	rc = twofa_store_get_user(inst->store, request, name, out);
	if ((rc != TWOFA_OK) && (rc != TWOFA_ERR_NOT_FOUND)) log_store_error(inst, request, "lookup", rc);

	return rc;
}

/** First factor against the local store.  Unknown users are checked against a
 *  dummy hash, so that the time taken does not tell whether a user exists.
 */
static twofa_rcode_t check_local_password(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user)
{
	VALUE_PAIR	*password = user_password(request);
	char const	*hash = (user && user->password_hash) ? user->password_hash : inst->dummy_hash;
	twofa_rcode_t	rc;

	rc = twofa_crypto_verify_password(password ? password->vp_strvalue : "", hash);
	if (!user || !user->password_hash || !password) return TWOFA_ERR_BAD_PASSWORD;

	return rc;
}

static bool is_locked(twofa_user_t const *user, time_t now)
{
	return user->locked_until > now;
}

/*
 *	Session-state: the pending challenge (pending.h), packed into one
 *	octets attribute, Twofa-Pending.  FreeRADIUS keeps it under the
 *	State it sends, and gives it back only with that State.
 */
static int pending_save(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t const *pending)
{
	uint8_t		buffer[TWOFA_PENDING_MAX];
	size_t		len = twofa_pending_pack(pending, buffer);
	VALUE_PAIR	*vp;

	if (!len) return -1;
	fr_pair_delete_by_da(&request->state, inst->da_pending);
	vp = fr_pair_afrom_da(request->state_ctx, inst->da_pending);
	if (!vp) return -1;
	fr_pair_value_memcpy(vp, buffer, len);
	fr_pair_add(&request->state, vp);

	return 0;
}

/** The pending challenge from session-state.  False if there is none or it is not ours. */
static bool pending_load(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t *pending)
{
	VALUE_PAIR *vp = fr_pair_find_by_da(request->state, inst->da_pending, TAG_ANY);

	return vp && twofa_pending_unpack(vp->vp_octets, vp->vp_length, pending);
}

/*
 *	The challenge's State, made here from RAND_bytes.  FreeRADIUS keys
 *	session-state by a State the reply already holds, and makes one only
 *	if there is none; 3.2.1 makes it from fr_rand(), which is not thread
 *	safe, and under load gave two pending challenges the same State (the
 *	second one's context is then lost: bench/README.md).
 */
static int add_state(REQUEST *request)
{
	uint8_t		state[16];
	VALUE_PAIR	*vp;

	if (twofa_crypto_random(state, sizeof(state)) != TWOFA_OK) return -1;
	vp = fr_pair_afrom_num(request->reply, PW_STATE, 0);
	if (!vp) return -1;
	fr_pair_value_memcpy(vp, state, sizeof(state));
	fr_pair_add(&request->reply->vps, vp);

	return 0;
}

/** Send an Access-Challenge asking for a code, with its context in session-state. */
static rlm_rcode_t send_challenge(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t *pending)
{
	VALUE_PAIR *vp;

	pending->expires = time(NULL) + inst->challenge_timeout;
	if (pending_save(inst, request, pending) < 0) return reject(inst, request, "challenge", TWOFA_ERR_NO_MEMORY);

	fr_pair_list_free(&request->reply->vps);
	if (add_state(request) < 0) return reject(inst, request, "challenge", TWOFA_ERR_CRYPTO);
	pair_make_reply("Reply-Message", inst->challenge_message, T_OP_SET);
	vp = fr_pair_afrom_num(request->reply, PW_PROMPT, 0);
	if (vp) {
		vp->vp_integer = 0;	/* No-Echo */
		fr_pair_add(&request->reply->vps, vp);
	}

	RDEBUG2("User \"%s\": totp challenge sent, %u attempt%s left, answer within %us",
		pending->name, pending->attempts_left, (pending->attempts_left == 1) ? "" : "s",
		inst->challenge_timeout);
	request->reply->code = PW_CODE_ACCESS_CHALLENGE;

	return RLM_MODULE_HANDLED;
}

/** What round two needs of the user's enrolment.  False if the sealed secret is oversized. */
static bool pending_from_user(twofa_user_t const *user, uint32_t attempts, twofa_pending_t *pending)
{
	if (!user->totp_sealed || (user->totp_sealed_len > sizeof(pending->sealed))) return false;

	memset(pending, 0, sizeof(*pending));
	pending->attempts_left = attempts;
	pending->method = TWOFA_PENDING_TOTP;
	pending->had_failures = user->fail_count || user->lock_count || user->locked_until;
	pending->totp = user->totp;
	pending->user_id = user->id;
	memcpy(pending->sealed, user->totp_sealed, user->totp_sealed_len);
	pending->sealed_len = user->totp_sealed_len;
	strlcpy(pending->name, user->name, sizeof(pending->name));

	return true;
}

/** Round one: first factor, lock, enrolment, then the challenge. */
static rlm_rcode_t CC_HINT(nonnull) round_one(rlm_twofa_t const *inst, REQUEST *request)
{
	char const	*name = user_name(request);
	twofa_user_t	*user = NULL;
	twofa_pending_t	pending;
	twofa_rcode_t	rc;

	rc = load_user(inst, request, name, &user);
	if (inst->password_source == PASSWORD_SOURCE_LOCAL) {
		twofa_rcode_t prc = check_local_password(inst, request, user);

		if (rc == TWOFA_OK) rc = prc;
	}
	if (rc != TWOFA_OK) return reject(inst, request, "password", rc);

	if (is_locked(user, time(NULL))) return reject(inst, request, "password", TWOFA_ERR_LOCKED);

	if (user->totp_state != TWOFA_TOTP_CONFIRMED) {
		if (inst->require) return reject(inst, request, "enrolment", TWOFA_ERR_NOT_ENROLLED);

		RDEBUG2("User \"%s\": no second factor on file and require = no, first factor is enough", name);
		return RLM_MODULE_OK;
	}
	if (!pending_from_user(user, inst->attempts, &pending)) {
		RERROR("User \"%s\": stored TOTP secret is malformed", name);
		return reject(inst, request, "enrolment", TWOFA_ERR_CRYPTO);
	}

	return send_challenge(inst, request, &pending);
}

/** Check a code against the pending enrolment, in memory; *step gets the step it matched. */
static twofa_rcode_t check_code(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t const *pending,
				int64_t *step)
{
	VALUE_PAIR	*code = user_password(request);
	twofa_secret_t	*secret = NULL;
	twofa_rcode_t	rc;

	if (!code || !twofa_code_well_formed(code->vp_strvalue, code->vp_length, pending->totp.digits)) {
		return TWOFA_ERR_MALFORMED;
	}

	rc = twofa_crypto_open(request, inst->key, pending->name, pending->sealed, pending->sealed_len, &secret);
	if (rc != TWOFA_OK) {
		RERROR("User \"%s\": TOTP secret does not decrypt with this key_file", pending->name);
		return rc;
	}

	/*
	 *	No last step here: the store holds it, and the consume below
	 *	refuses a step that is not later.
	 */
	rc = twofa_totp_verify_code(secret->data, secret->len, &pending->totp, inst->window, time(NULL),
				    -1, code->vp_strvalue, step);
	talloc_free(secret);

	return rc;
}

/** Check the code, then consume its step once: the store decides, atomically,
 *  which of several requests with the same code gets it, and checks again
 *  that the enrolment is unchanged and the user not locked. */
static twofa_rcode_t verify_totp(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t const *pending)
{
	int64_t		step = -1;
	twofa_rcode_t	rc;

	rc = check_code(inst, request, pending, &step);
	if (rc != TWOFA_OK) return rc;

	rc = twofa_store_totp_consume_step(inst->store, pending->user_id, pending->sealed, pending->sealed_len,
					   step, time(NULL));
	switch (rc) {
	case TWOFA_OK:
	case TWOFA_ERR_REPLAYED:
		break;

	case TWOFA_ERR_LOCKED:
	case TWOFA_ERR_NOT_ENROLLED:
	case TWOFA_ERR_NOT_FOUND:
		RDEBUG2("User \"%s\": changed since the challenge was sent (%s)", pending->name, twofa_strerror(rc));
		break;

	default:
		log_store_error(inst, request, "consume step", rc);
		break;
	}

	return rc;
}

/** A wrong code: count it, then challenge again while attempts are left. */
static rlm_rcode_t wrong_code(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t *pending, twofa_rcode_t why)
{
	time_t		locked_until = 0;
	twofa_rcode_t	rc;

	rc = twofa_store_record_failure(inst->store, pending->user_id, &inst->lockout, time(NULL), &locked_until);
	if (rc != TWOFA_OK) {
		log_store_error(inst, request, "record failure", rc);
		return reject(inst, request, "totp", rc);
	}

	if (locked_until) {
		RWDEBUG("User \"%s\": too many failed codes, locked for %ld seconds", pending->name,
			(long) (locked_until - time(NULL)));
		return reject(inst, request, "totp", TWOFA_ERR_LOCKED);
	}

	if (pending->attempts_left <= 1) return reject(inst, request, "totp", why);

	RDEBUG2("User \"%s\": totp code rejected (%s), asking again", pending->name, twofa_strerror(why));
	pending->attempts_left--;
	pending->had_failures = true;
	return send_challenge(inst, request, pending);
}

/** Round two: the answer to our challenge.  No store read: one write decides. */
static rlm_rcode_t CC_HINT(nonnull) round_two(rlm_twofa_t const *inst, REQUEST *request)
{
	twofa_pending_t	pending;
	char const	*name = user_name(request);
	twofa_rcode_t	rc;

	/*
	 *	FreeRADIUS restores session-state only for a State it issued
	 *	and has not consumed.  Anything else (forged, replayed, lapsed,
	 *	another module's) arrives without our context.
	 */
	if (!pending_load(inst, request, &pending)) {
		REDEBUG2("State has no pending twofa challenge (forged, replayed or expired)");
		return reject(inst, request, "state", TWOFA_ERR_MALFORMED);
	}
	RDEBUG2("Pending totp challenge for \"%s\", %u attempt%s left", pending.name, pending.attempts_left,
		(pending.attempts_left == 1) ? "" : "s");
	if (!name || (strcmp(name, pending.name) != 0)) {
		REDEBUG2("State was issued to another user");
		return reject(inst, request, "state", TWOFA_ERR_MALFORMED);
	}
	if ((time_t) pending.expires < time(NULL)) return reject(inst, request, "challenge", TWOFA_ERR_EXPIRED);

	rc = verify_totp(inst, request, &pending);
	switch (rc) {
	case TWOFA_OK:
		if (pending.had_failures && (twofa_store_record_success(inst->store, pending.user_id) != TWOFA_OK)) {
			log_store_error(inst, request, "record success", TWOFA_ERR_STORE);
		}
		RDEBUG2("User \"%s\": totp code accepted", name);
		return RLM_MODULE_OK;

	case TWOFA_ERR_BAD_CODE:
	case TWOFA_ERR_REPLAYED:
	case TWOFA_ERR_MALFORMED:
		return wrong_code(inst, request, &pending, rc);

	default:
		return reject(inst, request, "totp", rc);
	}
}

/*
 *	Authorize: claim the request.  With our session-state back, the
 *	request is ours whatever an earlier module set, since User-Password
 *	now holds a code and must not reach pap.
 */
static rlm_rcode_t CC_HINT(nonnull) mod_authorize(void *instance, REQUEST *request)
{
	rlm_twofa_t const	*inst = instance;
	bool			ours = fr_pair_find_by_da(request->state, inst->da_pending, TAG_ANY) != NULL;
	VALUE_PAIR		*auth_type = fr_pair_find_by_num(request->config, PW_AUTH_TYPE, 0, TAG_ANY);

	if (auth_type && !ours) {
		RDEBUG2("Auth-Type already set to %s, not claiming the request", dict_valnamebyattr(PW_AUTH_TYPE, 0, auth_type->vp_integer));
		return RLM_MODULE_NOOP;
	}
	if (!pair_make_config("Auth-Type", inst->name, T_OP_SET)) return RLM_MODULE_FAIL;

	return RLM_MODULE_OK;
}

static rlm_rcode_t CC_HINT(nonnull) mod_authenticate(void *instance, REQUEST *request)
{
	rlm_twofa_t const *inst = instance;

	/* No State: first factor, then send a challenge.  State: judge the answer. */
	if (!fr_pair_find_by_num(request->packet->vps, PW_STATE, 0, TAG_ANY)) return round_one(inst, request);

	return round_two(inst, request);
}

/*
 *	Post-Auth-Type REJECT: every reject, whoever made it (pap, ldap,
 *	this module), leaves with the same Reply-Message and nothing else.
 */
static rlm_rcode_t CC_HINT(nonnull) mod_post_auth(void *instance, REQUEST *request)
{
	rlm_twofa_t const *inst = instance;

	if (request->reply->code != PW_CODE_ACCESS_REJECT) return RLM_MODULE_NOOP;

	fr_pair_list_free(&request->reply->vps);
	pair_make_reply("Reply-Message", inst->reject_message, T_OP_SET);

	return RLM_MODULE_UPDATED;
}

/*
 *	Register a session-state attribute (once, shared by all instances),
 *	flagged secret: Twofa-Pending holds the enrolment's sealed TOTP
 *	secret, and with "suppress_secrets = yes" radiusd -X and -xx print it
 *	as <<< secret >>>, as they do User-Password.
 */
static DICT_ATTR const *session_attr(char const *name, PW_TYPE type)
{
	ATTR_FLAGS flags;

	memset(&flags, 0, sizeof(flags));
	flags.secret = 1;
	if (dict_addattr(name, -1, 0, type, flags) < 0) {
		ERROR("rlm_twofa: Failed creating attribute %s: %s", name, fr_strerror());
		return NULL;
	}

	return dict_attrbyname(name);
}

static int mod_bootstrap(CONF_SECTION *conf, void *instance)
{
	rlm_twofa_t *inst = instance;

	inst->name = cf_section_name2(conf);
	if (!inst->name) inst->name = cf_section_name1(conf);

	inst->da_pending = session_attr("Twofa-Pending", PW_TYPE_OCTETS);
	if (!inst->da_pending) return -1;

	return 0;
}

static int parse_config(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	if (strcmp(inst->password_source_name, "local") == 0) {
		inst->password_source = PASSWORD_SOURCE_LOCAL;
	} else if (strcmp(inst->password_source_name, "none") == 0) {
		inst->password_source = PASSWORD_SOURCE_NONE;
	} else {
		cf_log_err_cs(conf, "password_source must be \"local\" or \"none\", not \"%s\"",
			      inst->password_source_name);
		return -1;
	}

	FR_INTEGER_BOUND_CHECK("totp.window", inst->window, <=, TWOFA_TOTP_MAX_WINDOW);
	FR_INTEGER_BOUND_CHECK("attempts", inst->attempts, >=, 1);
	FR_INTEGER_BOUND_CHECK("attempts", inst->attempts, <=, 10);
	FR_INTEGER_BOUND_CHECK("challenge_timeout", inst->challenge_timeout, >=, 10);
	FR_INTEGER_BOUND_CHECK("challenge_timeout", inst->challenge_timeout, <=, 600);
	FR_INTEGER_BOUND_CHECK("busy_timeout", inst->busy_timeout, <=, 30000);
	/* NIST SP 800-63B 5.2.2: at most 100 consecutive failed attempts. */
	FR_INTEGER_BOUND_CHECK("lockout.max_failures", inst->lockout.max_failures, >=, 1);
	FR_INTEGER_BOUND_CHECK("lockout.max_failures", inst->lockout.max_failures, <=, 100);
	FR_INTEGER_BOUND_CHECK("lockout.duration", inst->lockout.lock_seconds, >=, 1);
	FR_INTEGER_BOUND_CHECK("lockout.max_duration", inst->lockout.max_lock_seconds, >=, inst->lockout.lock_seconds);

	return 0;
}

static int mod_instantiate(CONF_SECTION *conf, void *instance)
{
	rlm_twofa_t		*inst = instance;
	twofa_store_config_t	store_config = { 0 };
	char			err[256];
	twofa_rcode_t		rc;

	if (parse_config(conf, inst) < 0) return -1;

	if (twofa_crypto_load_key(inst->key_file, inst->key, err, sizeof(err)) != TWOFA_OK) {
		cf_log_err_cs(conf, "Cannot use key_file: %s", err);
		return -1;
	}

	store_config.path = inst->store_path;
	store_config.busy_timeout_ms = inst->busy_timeout;
	store_config.background_checkpoint = true;
	rc = twofa_store_open(inst, &store_config, &inst->store);
	if ((rc == TWOFA_ERR_NOT_FOUND) && inst->store) {
		/*
		 *	Not fatal: every login is rejected until the store
		 *	exists, then it is used without a restart.
		 */
		WARN("rlm_twofa (%s): store %s does not exist: rejecting every login until "
		     "\"twofa-admin init\" creates it", inst->name, inst->store_path);
	} else if (rc != TWOFA_OK) {
		cf_log_err_cs(conf, "Cannot open store %s: %s", inst->store_path,
			      inst->store ? twofa_store_errmsg(inst->store) : twofa_strerror(rc));
		return -1;
	}

	if (inst->password_source == PASSWORD_SOURCE_LOCAL &&
	    twofa_crypto_hash_password(inst, "twofa dummy password", NULL, &inst->dummy_hash) != TWOFA_OK) {
		cf_log_err_cs(conf, "Cannot make the dummy password hash");
		return -1;
	}

	INFO("rlm_twofa (%s): store %s (schema %d), password_source %s, require %s",
	     inst->name, inst->store_path, twofa_store_schema_version(inst->store),
	     inst->password_source_name, inst->require ? "yes" : "no");

	return 0;
}

static int mod_detach(void *instance)
{
	rlm_twofa_t *inst = instance;

	OPENSSL_cleanse(inst->key, sizeof(inst->key));
	TALLOC_FREE(inst->store);

	return 0;
}

extern module_t rlm_twofa;
module_t rlm_twofa = {
	.magic		= RLM_MODULE_INIT,
	.name		= "twofa",
	.type		= RLM_TYPE_THREAD_SAFE,
	.inst_size	= sizeof(rlm_twofa_t),
	.config		= module_config,
	.bootstrap	= mod_bootstrap,
	.instantiate	= mod_instantiate,
	.detach		= mod_detach,
	.methods = {
		[MOD_AUTHORIZE]		= mod_authorize,
		[MOD_AUTHENTICATE]	= mod_authenticate,
		[MOD_POST_AUTH]		= mod_post_auth,
	},
};
