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
 * method.h (second-factor methods: method_totp.c), crypto.c (secrets at
 * rest, password hashes), store.h (users, used time steps, lockout),
 * policy.c (input checks), pending.c (the challenge's context in
 * session-state), netpolicy.c (per-NAS rules: policy_file, applied once
 * the first factor passed).  No method-specific code here.
 *
 * Round one (no State): check the first factor, the lock and the enrolment,
 * keep the pending context in session-state, send an Access-Challenge.
 * With password_source = none the site's own modules (pap, ldap, chap,
 * mschap) do round one, and the challenge is sent from post-auth, once
 * their Access-Accept shows that the first factor passed.
 * Round two (State): a State whose session-state is gone is a reject; else
 * check the code against the enrolment round one read, consume its time
 * step once in the store (one statement, which also checks that the
 * enrolment is unchanged and the user not locked), and accept, challenge
 * again while attempts are left, or reject.
 *
 * Post-auth is the gate: no Access-Accept leaves for a user who needs a
 * second factor unless this module verified one in this request, whatever
 * Auth-Type ran.  Instantiate refuses a virtual server that calls the
 * module without listing it in post-auth.
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
#include "method.h"
#include "ldap.h"
#include "netpolicy.h"

typedef enum {
	PASSWORD_SOURCE_LOCAL = 0,	//!< crypt(3) hash in our store
	PASSWORD_SOURCE_NONE,		//!< an earlier module (pap, ldap, mschap) checked it
	PASSWORD_SOURCE_LDAP,		//!< a bind to the directory as the user (ldap.c, the ldap { } section)
} password_source_t;

typedef enum {
	ENFORCE_REQUIRED = 0,		//!< no second factor on file: reject
	ENFORCE_OPTIONAL,		//!< no second factor on file: the first factor is enough
} enforce_t;

static char const *enforce_names[] = {
	[ENFORCE_REQUIRED] = "required",
	[ENFORCE_OPTIONAL] = "optional",
};

typedef struct {
	char const		*name;			//!< instance name, also the Auth-Type value
	char const		*store_path;		//!< the store URL: an SQLite file, or postgresql://...
	char const		*key_file;		//!< AES-256 key for TOTP secrets at rest
	char const		*password_source_name;	//!< "local", "none" or "ldap"
	password_source_t	password_source;
	char const		*enforce_name;		//!< "required" or "optional"
	enforce_t		enforce;
	bool			require;		//!< deprecated: enforce = required (yes) or optional (no)
	char const		*optional_reminder;	//!< Reply-Message of an accept without a second factor, "" for none
	char const		*challenge_message;	//!< Reply-Message of the first Access-Challenge
	char const		*retry_message;		//!< Reply-Message of a challenge after a wrong answer ({attempts})
	char const		*reject_message;	//!< Reply-Message of every Access-Reject
	uint32_t		challenge_timeout;	//!< seconds a challenge may be answered in
	uint32_t		attempts;		//!< codes a user may try in one login
	uint32_t		window;			//!< TOTP steps either side of now
	uint32_t		busy_timeout;		//!< sqlite { busy_timeout }: ms to wait for a locked store
	uint32_t		old_busy_timeout;	//!< busy_timeout at the top, deprecated
	struct {
		char const	*password_file;		//!< the role's password, mode 0600; "" for none
		uint32_t	connect_timeout;	//!< seconds
		uint32_t	statement_timeout;	//!< ms: a call's limit, and a wait for a connection
		uint32_t	pool_size;		//!< connections per radiusd
	} pg;					//!< postgresql { }: store = postgresql://...
	twofa_lockout_t		lockout;		//!< consecutive failed codes across logins
	twofa_password_throttle_t throttle;		//!< consecutive failed first factors
	uint32_t		backup_codes_low;	//!< at most this many left: the Accept says so
	char const		*backup_challenge;	//!< backup { challenge_message }
	char const		*backup_retry;		//!< backup { retry_message }
	struct {
		char const	*challenge;		//!< the first prompt of a challenge for this method
		char const	*retry;			//!< after a wrong answer ({attempts})
	} prompts[TWOFA_METHOD_LAST + 1];		//!< by method id (pending.h), filled at instantiate
	uint32_t		audit_days;		//!< days the login log keeps, 0 for ever
	bool			enrol_at_login;		//!< no factor held: the password alone enrols a TOTP secret
	char const		*enrol_message;		//!< Reply-Message showing the new secret ({secret})
	char const		*policy_file;		//!< per-NAS rules (netpolicy.h), NULL for none

	twofa_store_t		*store;			//!< shared by all worker threads
	uint8_t			key[TWOFA_KEY_LEN];	//!< wiped in detach
	char			*dummy_hash;		//!< checked for unknown users, so they cost the same

	DICT_ATTR const		*da_pending;		//!< session-state: the pending challenge (pending_t)

	/* password_source = ldap: the ldap { } section (ldap.h), and the pool made from it. */
	twofa_ldap_config_t	ldap_config;
	char const		*ldap_server;		//!< the first "server"; parse_ldap_config() reads them all
	uint32_t		ldap_net_timeout;	//!< seconds
	uint32_t		ldap_timeout;		//!< seconds
	twofa_ldap_t		*ldap;			//!< shared by all worker threads; freed in detach

	twofa_netpolicy_t	*policy;		//!< policy_file's rules, read at instantiate (and so on HUP)
	void const		*decision_key;		//!< request data key, the same across HUPs (decision_key())
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

static const CONF_PARSER throttle_config[] = {
	{ "free_failures", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, throttle.free_failures), "5" },
	{ "delay", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, throttle.delay_seconds), "1" },
	{ "max_delay", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, throttle.max_delay_seconds), "900" },
	CONF_PARSER_TERMINATOR
};

static const CONF_PARSER backup_config[] = {
	{ "backup_codes_low", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, backup_codes_low), "2" },
	{ "challenge_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, backup_challenge),
	  "Enter one of your backup codes" },
	{ "retry_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, backup_retry),
	  "Wrong code. Enter one of your backup codes (attempts left: {attempts})" },
	CONF_PARSER_TERMINATOR
};

/* Settings of the PostgreSQL backend only (store = postgresql://...). */
static const CONF_PARSER postgresql_config[] = {
	{ "password_file", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, pg.password_file), "" },
	{ "connect_timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, pg.connect_timeout), "5" },
	{ "statement_timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, pg.statement_timeout), "2000" },
	{ "pool_size", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, pg.pool_size), "10" },
	CONF_PARSER_TERMINATOR
};

/* Settings of the SQLite backend only (store = sqlite:PATH, or a path). */
static const CONF_PARSER sqlite_config[] = {
	{ "busy_timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, busy_timeout), "1000" },
	CONF_PARSER_TERMINATOR
};

/* password_source = ldap: raddb/mods-available/twofa says what each one does. */
static const CONF_PARSER ldap_groups_config[] = {
	{ "membership_attribute", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.membership_attribute), "memberOf" },
	{ "member_attribute", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.member_attribute), "member" },
	{ "allow", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.allow_group), "" },
	{ "require_2fa", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.require_2fa_group), "" },
	{ "skip_2fa", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.skip_2fa_group), "" },
	CONF_PARSER_TERMINATOR
};

static const CONF_PARSER ldap_config[] = {
	{ "server", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_MULTI, rlm_twofa_t, ldap_server), NULL },
	{ "start_tls", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_twofa_t, ldap_config.start_tls), "yes" },
	{ "ca_file", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.ca_file), "" },
	{ "require_cert", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.require_cert), "demand" },
	{ "dn_template", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.dn_template), "" },
	{ "base_dn", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.base_dn), "" },
	{ "filter", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.filter), "" },
	{ "bind_dn", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.bind_dn), "" },
	{ "bind_password", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_SECRET, rlm_twofa_t, ldap_config.bind_password), "" },
	{ "net_timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, ldap_net_timeout), "3" },
	{ "timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, ldap_timeout), "3" },
	{ "pool_size", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, ldap_config.pool_size), "8" },
	{ "mobile_attribute", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.mobile_attribute), "mobile" },
	{ "mail_attribute", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.mail_attribute), "mail" },
	{ "mail2_attribute", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.mail2_attribute), "" },
	{ "groups", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) ldap_groups_config },
	CONF_PARSER_TERMINATOR
};

static const CONF_PARSER module_config[] = {
	{ "store", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, store_path), "/var/lib/freeradius/twofa/twofa.db" },
	{ "key_file", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, key_file), "/var/lib/freeradius/twofa/twofa.key" },
	/* Deprecated, no default: parse_busy_timeout() looks for the pair itself. */
	{ "busy_timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, old_busy_timeout), NULL },
	{ "sqlite", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) sqlite_config },
	{ "postgresql", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) postgresql_config },
	{ "password_source", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, password_source_name), "local" },
	{ "enforce", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, enforce_name), "required" },
	/* Deprecated, no default: parse_enforce() looks for the pair itself. */
	{ "require", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_twofa_t, require), NULL },
	{ "optional_reminder", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, optional_reminder), "" },
	{ "challenge_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, challenge_message),
	  "Enter the 6-digit code from your authenticator app" },
	{ "retry_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, retry_message),
	  "Wrong code. Enter the 6-digit code from your authenticator app (attempts left: {attempts})" },
	{ "reject_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, reject_message),
	  "Authentication failed" },
	{ "enrol_at_login", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_twofa_t, enrol_at_login), "no" },
	{ "enrol_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, enrol_message),
	  "Set up your authenticator app: add a time-based account with the key {secret} "
	  "then enter the 6-digit code it shows" },
	{ "challenge_timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, challenge_timeout), "60" },
	{ "attempts", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, attempts), "3" },
	{ "audit_days", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, audit_days), "90" },
	/* FILE_INPUT: radiusd notes its mtime, and a HUP after a change re-instantiates the module. */
	{ "policy_file", FR_CONF_OFFSET(PW_TYPE_FILE_INPUT, rlm_twofa_t, policy_file), NULL },
	{ "totp", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) totp_config },
	{ "lockout", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) lockout_config },
	{ "password_throttle", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) throttle_config },
	{ "backup", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) backup_config },
	{ "ldap", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) ldap_config },
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
	case TWOFA_ERR_THROTTLED:
	case TWOFA_ERR_DENIED:
	case TWOFA_ERR_EXISTS:		return RLM_MODULE_REJECT;
	case TWOFA_ERR_LOCKED:		return RLM_MODULE_USERLOCK;
	case TWOFA_ERR_STORE:
	case TWOFA_ERR_BUSY:
	case TWOFA_ERR_CRYPTO:
	case TWOFA_ERR_IO:
	case TWOFA_ERR_UNAVAILABLE:
	case TWOFA_ERR_NO_MEMORY:	return RLM_MODULE_FAIL;
	}
	return RLM_MODULE_FAIL;
}

/*
 *	What this module decided in this request, for post-auth: kept as
 *	request data, which no packet, unlang or other module can set.
 */
enum {
	DECIDED_SECOND_FACTOR = 1,	//!< a second factor was verified in this request
	DECIDED_NOT_NEEDED,		//!< the first alone will do: exempt, or no factor on file under enforce = optional
	DECIDED_REJECT,			//!< this module rejected: not a first-factor failure of another module
	DECIDED_BYPASS,			//!< with DECIDED_NOT_NEEDED: a policy_file rule said skip (data: the rule)
};

static void decided(rlm_twofa_t const *inst, REQUEST *request, int what)
{
	request_data_add(request, (void *) inst->decision_key, what, (void *) inst, false);
}

static bool was_decided(rlm_twofa_t const *inst, REQUEST *request, int what)
{
	return request_data_reference(request, (void *) inst->decision_key, what) != NULL;
}

/*
 *	Request data is keyed by a pointer that outlives a HUP: the new
 *	instance of a name gets the old one's key, so a request that
 *	straddles a reload (authenticate by the old instance, post-auth by
 *	the new) finds what was decided.  Instantiate runs in the main
 *	thread only; the keys live as long as the process.
 */
typedef struct decision_key {
	struct decision_key	*next;
	char			name[];
} decision_key_t;

static void const *decision_key(char const *name)
{
	static decision_key_t	*keys;
	decision_key_t		*key;

	for (key = keys; key; key = key->next) {
		if (strcmp(key->name, name) == 0) return key;
	}
	key = malloc(sizeof(*key) + strlen(name) + 1);
	if (!key) return NULL;
	strcpy(key->name, name);
	key->next = keys;
	keys = key;
	return key;
}

/*
 *	Every reply this module makes or passes carries a Message-Authenticator
 *	(BlastRADIUS, CVE-2024-3596).  FreeRADIUS 3.2.1 computes one only for a
 *	reply that holds the attribute.
 */
static void add_message_authenticator(REQUEST *request)
{
	VALUE_PAIR *vp;

	if (fr_pair_find_by_num(request->reply->vps, PW_MESSAGE_AUTHENTICATOR, 0, TAG_ANY)) return;
	vp = fr_pair_afrom_num(request->reply, PW_MESSAGE_AUTHENTICATOR, 0);
	if (!vp) return;
	fr_pair_value_memcpy(vp, (uint8_t const *) "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	fr_pair_add(&request->reply->vps, vp);
}

/** Add a Reply-Message, cut to the 253 bytes an attribute holds at a UTF-8 character boundary. */
static void add_reply_message(REQUEST *request, char const *text, FR_TOKEN op)
{
	char	buffer[TWOFA_REPLY_MESSAGE_MAX + 1];
	size_t	len = twofa_utf8_prefix(text, strlen(text), TWOFA_REPLY_MESSAGE_MAX);

	memcpy(buffer, text, len);
	buffer[len] = '\0';
	pair_make_reply("Reply-Message", buffer, op);
}

/*
 *	The login log (twofa-admin log): one row per outcome, written where
 *	it is known (reject(), round two's accept, post-auth), as one INSERT
 *	that joins the store's batches.  Who, from where, how and why in a
 *	word: never a password, code or secret.
 */
static char const *user_name(REQUEST *request);

/** A reason word for a failure, for the log: stable, short, no detail. */
static char const *login_reason(char const *stage, twofa_rcode_t rc)
{
	if (strcmp(stage, "state") == 0) return "bad_state";

	switch (rc) {
	case TWOFA_OK:			return "rejected";
	case TWOFA_ERR_NOT_FOUND:	return "unknown_user";
	case TWOFA_ERR_NOT_ENROLLED:	return "not_enrolled";
	case TWOFA_ERR_BAD_PASSWORD:	return "bad_password";
	case TWOFA_ERR_BAD_CODE:	return "bad_code";
	case TWOFA_ERR_MALFORMED:	return "malformed";
	case TWOFA_ERR_REPLAYED:	return "replayed";
	case TWOFA_ERR_LOCKED:		return "locked";
	case TWOFA_ERR_EXPIRED:		return "expired";
	case TWOFA_ERR_THROTTLED:	return "throttled";
	case TWOFA_ERR_CRYPTO:		return "crypto_error";
	case TWOFA_ERR_DENIED:		return "denied";
	case TWOFA_ERR_UNAVAILABLE:	return "directory_unavailable";
	case TWOFA_ERR_EXISTS:
	case TWOFA_ERR_STORE:
	case TWOFA_ERR_BUSY:
	case TWOFA_ERR_IO:
	case TWOFA_ERR_NO_MEMORY:	return "store_error";
	}
	return "store_error";
}

/** stage if it names a method (round two's rejects), else "none". */
static char const *login_method(char const *stage)
{
	unsigned int id;

	for (id = 1; id <= UINT8_MAX; id++) {
		twofa_method_t const *method = twofa_method_by_id(id);

		if (method && (strcmp(method->name, stage) == 0)) return method->name;
	}
	return "none";
}

/** A login's row for the login log, and the NAS address it points to. */
typedef struct {
	twofa_login_t	row;
	char		nas[INET6_ADDRSTRLEN];
} login_record_t;

static void login_record(REQUEST *request, login_record_t *l, char const *method, char const *result,
			 char const *reason)
{
	VALUE_PAIR *csi = fr_pair_find_by_num(request->packet->vps, PW_CALLING_STATION_ID, 0, TAG_ANY);

	l->row = (twofa_login_t) { .at = time(NULL), .user = user_name(request), .nas = l->nas,
				   .method = method, .result = result, .reason = reason };
	if (!ip_ntoh(&request->packet->src_ipaddr, l->nas, sizeof(l->nas))) l->row.nas = NULL;
	if (csi && (csi->da->type == PW_TYPE_STRING) && (strlen(csi->vp_strvalue) == csi->vp_length)) {
		l->row.calling_station_id = csi->vp_strvalue;
	}
}

static void log_login(rlm_twofa_t const *inst, REQUEST *request, char const *method, char const *result,
		      char const *reason)
{
	login_record_t	l;
	twofa_rcode_t	rc;

	login_record(request, &l, method, result, reason);
	rc = twofa_store_log_login(inst->store, &l.row);
	if (rc != TWOFA_OK) {
		RERROR("Store log login failed (%s): %s", twofa_strerror(rc), twofa_store_errmsg(inst->store));
	}
}

/** The reply of every reject of this module: reject_message, nothing else. */
static void reject_reply(rlm_twofa_t const *inst, REQUEST *request)
{
	decided(inst, request, DECIDED_REJECT);
	fr_pair_list_free(&request->reply->vps);
	add_reply_message(request, inst->reject_message, T_OP_SET);
	add_message_authenticator(request);
}

/** The one Access-Reject of this module: the same Reply-Message whatever failed.
 *
 * One REDEBUG per failed login: it becomes the Module-Failure-Message that
 * "Login incorrect (twofa: ...)" shows.  A stage and a reason, never a code.
 */
static rlm_rcode_t reject(rlm_twofa_t const *inst, REQUEST *request, char const *stage, twofa_rcode_t rc)
{
	REDEBUG("%s %s", stage, twofa_strerror(rc));
	if (!was_decided(inst, request, DECIDED_REJECT)) {
		log_login(inst, request, login_method(stage), "reject", login_reason(stage, rc));
	}
	reject_reply(inst, request);

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
	/* Throttled: the hash was computed all the same, so the reject costs what a wrong password does. */
	if (user->password_next_try > time(NULL)) return TWOFA_ERR_THROTTLED;

	return rc;
}

/*
 *	NIST SP 800-63B 5.2.2: every authenticator is throttled.  Failed
 *	first factors are counted per user; past the free ones each makes
 *	the next password wait twice as long (password_throttle).  While it
 *	waits, no password is checked, so a guess tells nothing.
 */
static void count_password_failure(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user)
{
	time_t		next_try = 0;
	twofa_rcode_t	rc;

	rc = twofa_store_record_password_failure(inst->store, user->id, &inst->throttle, time(NULL), &next_try);
	if (rc != TWOFA_OK) {
		log_store_error(inst, request, "record password failure", rc);
		return;
	}
	if (next_try) {
		RWDEBUG("User \"%s\": %u failed first factors in a row, next one checked in %ld s", user->name,
			user->password_failures + 1, (long) (next_try - time(NULL)));
	}
}

static void count_password_success(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user)
{
	twofa_rcode_t rc;

	if (!user->password_failures && !user->password_next_try) return;
	rc = twofa_store_record_password_success(inst->store, user->id);
	if (rc != TWOFA_OK) log_store_error(inst, request, "record password success", rc);
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
static rlm_rcode_t send_challenge(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t *pending,
				  char const *message)
{
	VALUE_PAIR *vp;

	/* Set once, in round one: a wrong code asks again, but the login ends within challenge_timeout. */
	if (!pending->expires) pending->expires = time(NULL) + inst->challenge_timeout;
	if (pending_save(inst, request, pending) < 0) return reject(inst, request, "challenge", TWOFA_ERR_NO_MEMORY);

	fr_pair_list_free(&request->reply->vps);
	if (add_state(request) < 0) return reject(inst, request, "challenge", TWOFA_ERR_CRYPTO);
	add_reply_message(request, message, T_OP_SET);
	vp = fr_pair_afrom_num(request->reply, PW_PROMPT, 0);
	if (vp) {
		vp->vp_integer = 0;	/* No-Echo */
		fr_pair_add(&request->reply->vps, vp);
	}
	add_message_authenticator(request);

	RDEBUG2("User \"%s\": %s challenge sent, %u attempt%s left, answer within %lds",
		pending->name, twofa_method_by_id(pending->method)->name, pending->attempts_left, (pending->attempts_left == 1) ? "" : "s",
		(long) ((time_t) pending->expires - time(NULL)));
	request->reply->code = PW_CODE_ACCESS_CHALLENGE;

	return RLM_MODULE_HANDLED;
}

/** The method's context for this request: the key, the window, the store, now. */
static twofa_method_ctx_t method_ctx(rlm_twofa_t const *inst)
{
	return (twofa_method_ctx_t) { .key = inst->key, .window = inst->window, .store = inst->store,
				      .now = time(NULL) };
}

/** What round two needs: who, how many attempts, and the method's own part. */
static twofa_rcode_t pending_from_user(rlm_twofa_t const *inst, twofa_method_t const *method,
				       twofa_user_t const *user, twofa_pending_t *pending)
{
	twofa_method_ctx_t mctx = method_ctx(inst);

	memset(pending, 0, sizeof(*pending));
	pending->attempts_left = inst->attempts;
	pending->method = method->id;
	pending->had_failures = user->fail_count || user->lock_count || user->locked_until;
	pending->user_id = user->id;
	strlcpy(pending->name, user->name, sizeof(pending->name));

	return method->start(&mctx, user, pending);
}

/*
 *	enforce = optional lets the first factor alone in: the Access-Accept
 *	may remind the user to set up a second one.  Added, not set, so that
 *	a Reply-Message of the site's own stays.
 */
static void add_optional_reminder(rlm_twofa_t const *inst, REQUEST *request)
{
	if (inst->optional_reminder[0] != '\0') add_reply_message(request, inst->optional_reminder, T_OP_ADD);
}

/*
 *	enrol_at_login = yes and no factor held: whoever has the password
 *	enrols one.  The new secret is in this challenge's text only (a
 *	wrong code gets retry_message) and is stored once a code for it
 *	checks (method_enrol.c).
 */
static rlm_rcode_t offer_enrolment(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user)
{
	twofa_pending_t	pending;
	char		message[TWOFA_REPLY_MESSAGE_MAX + 1];
	rlm_rcode_t	rcode;

	if ((pending_from_user(inst, &twofa_method_enrol, user, &pending) != TWOFA_OK) ||
	    (twofa_enrol_message(request, inst->key, &pending, inst->enrol_message, message, sizeof(message)) != TWOFA_OK)) {
		RERROR("User \"%s\": cannot make a TOTP secret to enrol", user->name);
		return reject(inst, request, "enrolment", TWOFA_ERR_CRYPTO);
	}
	RDEBUG2("User \"%s\": no second factor on file, enrol_at_login = yes: sending a new TOTP secret", user->name);
	rcode = send_challenge(inst, request, &pending, message);
	OPENSSL_cleanse(message, sizeof(message));
	return rcode;
}

/*
 *	policy_file: what the request says of where it comes from.  The NAS
 *	by the packet's source address and the client's shortname (both
 *	vouched for by the client's secret), and by NAS-IP-Address and
 *	NAS-IPv6-Address (only claimed: nas_ip= rules); the user by
 *	Calling-Station-Id when it holds an address, else Framed-IP-Address.
 */
static twofa_netpolicy_rule_t const *nas_rule(rlm_twofa_t const *inst, REQUEST *request)
{
	twofa_ip_t		src = { 0 }, ip4 = { 0 }, ip6 = { 0 }, from = { 0 };
	twofa_netpolicy_query_t	q = { .src = &src };
	fr_ipaddr_t const	*a = &request->packet->src_ipaddr;
	VALUE_PAIR		*vp;

	if (!inst->policy || !inst->policy->count) return NULL;
	src.af = (a->af == AF_INET) ? 4 : (a->af == AF_INET6) ? 6 : 0;
	if (src.af == 4) memcpy(src.addr, &a->ipaddr.ip4addr, 4);
	if (src.af == 6) memcpy(src.addr, &a->ipaddr.ip6addr, 16);
	if (request->client) q.shortname = request->client->shortname;
	if ((vp = fr_pair_find_by_num(request->packet->vps, PW_NAS_IP_ADDRESS, 0, TAG_ANY))) {
		ip4.af = 4;
		memcpy(ip4.addr, &vp->vp_ipaddr, 4);
		q.nas_ip4 = &ip4;
	}
	if ((vp = fr_pair_find_by_num(request->packet->vps, PW_NAS_IPV6_ADDRESS, 0, TAG_ANY))) {
		ip6.af = 6;
		memcpy(ip6.addr, &vp->vp_ipv6addr, 16);
		q.nas_ip6 = &ip6;
	}
	vp = fr_pair_find_by_num(request->packet->vps, PW_CALLING_STATION_ID, 0, TAG_ANY);
	if (vp && (vp->da->type == PW_TYPE_STRING) && (strlen(vp->vp_strvalue) == vp->vp_length) &&
	    twofa_ip_parse(vp->vp_strvalue, &from)) {
		q.from = &from;
	} else if ((vp = fr_pair_find_by_num(request->packet->vps, PW_FRAMED_IP_ADDRESS, 0, TAG_ANY))) {
		from.af = 4;
		memcpy(from.addr, &vp->vp_ipaddr, 4);
		q.from = &from;
	}
	return twofa_netpolicy_match(inst->policy, &q);
}

/*
 *	The first factor passed: a policy_file rule may decide now.  skip
 *	lets the first factor alone in (logged as "bypass:RULE"), reject is
 *	the one reject (logged as "policy:RULE"); require is the caller's
 *	(*rule: the challenge whatever enforce says, with the rule's text).
 *	Auth-Type Accept checked no first factor: skip then counts as
 *	require (the first factor is always checked).
 */
static bool nas_rule_decides(rlm_twofa_t const *inst, REQUEST *request, char const *who, bool first_factor_checked,
			     twofa_netpolicy_rule_t const **rule, rlm_rcode_t *rcode)
{
	char reason[TWOFA_NETPOLICY_NAME_MAX + 8];

	*rule = nas_rule(inst, request);
	if (!*rule) return false;
	RDEBUG2("User \"%s\": NAS rule %s (%s:%u): %s", who, (*rule)->name, (*rule)->file, (*rule)->line,
		twofa_netpolicy_action_name((*rule)->action));
	switch ((*rule)->action) {
	case TWOFA_NETPOLICY_SKIP:
		if (!first_factor_checked) {
			RDEBUG2("Auth-Type Accept checked no first factor: the rule cannot skip the second");
			return false;
		}
		request_data_add(request, (void *) inst->decision_key, DECIDED_BYPASS, (void *) *rule, false);
		decided(inst, request, DECIDED_NOT_NEEDED);
		*rcode = RLM_MODULE_OK;
		return true;

	case TWOFA_NETPOLICY_REJECT:
		REDEBUG("NAS rule %s refuses the login", (*rule)->name);
		snprintf(reason, sizeof(reason), "policy:%s", (*rule)->name);
		log_login(inst, request, "none", "reject", reason);
		reject_reply(inst, request);
		*rcode = RLM_MODULE_REJECT;
		return true;

	case TWOFA_NETPOLICY_REQUIRE:
		break;
	}
	return false;
}

/** The reason word of an accept without a second factor: "bypass:RULE", or "not_needed". */
static char const *accept_reason(rlm_twofa_t const *inst, REQUEST *request)
{
	twofa_netpolicy_rule_t const *rule = request_data_reference(request, (void *) inst->decision_key,
								    DECIDED_BYPASS);
	char const *reason;

	if (!rule) return "not_needed";
	reason = talloc_asprintf(request, "bypass:%s", rule->name);
	return reason ? reason : "bypass";
}

/*
 *	The first factor has passed: challenge for the second, or let the
 *	first alone do if the user is exempt, or holds none and enforcement
 *	allows it; a policy_file rule first.
 *	From round one (password_source = local) and from post-auth (an
 *	Access-Accept of another module).
 */
static rlm_rcode_t second_factor_or_not(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user)
{
	twofa_method_t const	*method = twofa_method_for_user(user);
	twofa_netpolicy_rule_t const *rule;
	twofa_pending_t		pending;
	rlm_rcode_t		rcode;

	if (is_locked(user, time(NULL))) return reject(inst, request, "password", TWOFA_ERR_LOCKED);
	/* skip or reject decide here; require (rule set) outranks enforce = optional, not an exemption. */
	if (nas_rule_decides(inst, request, user->name, true, &rule, &rcode)) return rcode;

	/* An administrator's exemption (twofa-admin user 2fa NAME off) outranks enforce. */
	if (user->exempt) {
		RWDEBUG("User \"%s\": exempt from the second factor, first factor is enough", user->name);
		decided(inst, request, DECIDED_NOT_NEEDED);
		return RLM_MODULE_OK;
	}

	if (!method && inst->enrol_at_login) return offer_enrolment(inst, request, user);
	if (!method) {
		if ((inst->enforce == ENFORCE_REQUIRED) || rule) {
			return reject(inst, request, "enrolment", TWOFA_ERR_NOT_ENROLLED);
		}

		RDEBUG2("User \"%s\": no second factor on file and enforce = optional, first factor is enough",
			user->name);
		decided(inst, request, DECIDED_NOT_NEEDED);
		add_optional_reminder(inst, request);
		return RLM_MODULE_OK;
	}
	if (pending_from_user(inst, method, user, &pending) != TWOFA_OK) {
		RERROR("User \"%s\": stored %s factor is malformed", user->name, method->name);
		return reject(inst, request, "enrolment", TWOFA_ERR_CRYPTO);
	}

	return send_challenge(inst, request, &pending,
			      (rule && rule->message) ? rule->message : inst->prompts[pending.method].challenge);
}

/*
 *	password_source = ldap: the first factor is a bind to the directory
 *	as the user (ldap.c).  A user needs no row in the store for it: with
 *	none they hold no second factor, and enforce decides.  A row's
 *	password throttle still applies (no bind while it waits).
 */
typedef struct {
	rlm_twofa_t const	*inst;
	REQUEST			*request;	//!< NULL at start-up
} ldap_log_ctx_t;

/** ldap.c's messages: failures to radiusd's log (the directory is down), details to the request's debug. */
static void ldap_log(void *uctx, twofa_ldap_log_level_t level, char const *msg)
{
	ldap_log_ctx_t const	*lc = uctx;
	REQUEST			*request = lc->request;

	switch (level) {
	case TWOFA_LDAP_LOG_DEBUG:
		if (request) RDEBUG2("%s", msg);
		break;
	case TWOFA_LDAP_LOG_WARN:
		WARN("rlm_twofa (%s): %s", lc->inst->name, msg);
		break;
	case TWOFA_LDAP_LOG_ERROR:
		ERROR("rlm_twofa (%s): %s", lc->inst->name, msg);
		break;
	}
}

/*
 *	What the directory said of the user in round one (phone, mail, group
 *	rule), as request data under this key: the SMS and email methods to
 *	come read it there (request_data_reference) when they start.
 */
#define DIRECTORY_ENTRY	100

/** The directory's group rules, then the second factor as for any user. */
static rlm_rcode_t ldap_second_factor(rlm_twofa_t const *inst, REQUEST *request, char const *name,
				      twofa_user_t *user, twofa_ldap_user_t const *entry)
{
	bool				required = (entry->second_factor == TWOFA_LDAP_2FA_REQUIRED);
	twofa_netpolicy_rule_t const	*rule = NULL;
	rlm_rcode_t			rcode;

	if (user && is_locked(user, time(NULL))) return reject(inst, request, "password", TWOFA_ERR_LOCKED);
	/* A NAS rule outranks the groups (a user with a row meets it in second_factor_or_not). */
	if ((!user || (entry->second_factor == TWOFA_LDAP_2FA_SKIP)) &&
	    nas_rule_decides(inst, request, name, true, &rule, &rcode)) return rcode;
	if (rule) required = true;		/* require, for a user with no row: no factor, so a reject */
	if (entry->second_factor == TWOFA_LDAP_2FA_SKIP && !rule) {
		RDEBUG2("User \"%s\": member of ldap.groups.skip_2fa, first factor is enough", name);
		decided(inst, request, DECIDED_NOT_NEEDED);
		return RLM_MODULE_OK;
	}
	if (!user) {
		if (required || (inst->enforce == ENFORCE_REQUIRED)) {
			RDEBUG2("User \"%s\": no second factor on file (no row in the store), %s", name,
				required ? "member of ldap.groups.require_2fa" : "enforce = required");
			return reject(inst, request, "enrolment", TWOFA_ERR_NOT_ENROLLED);
		}
		RDEBUG2("User \"%s\": no second factor on file and enforce = optional, first factor is enough", name);
		decided(inst, request, DECIDED_NOT_NEEDED);
		add_optional_reminder(inst, request);
		return RLM_MODULE_OK;
	}
	if (required) {
		/* The group outranks enforce = optional and a per-user exemption: fail closed. */
		user->exempt = false;
		if (!twofa_method_for_user(user) && !inst->enrol_at_login) {
			RDEBUG2("User \"%s\": member of ldap.groups.require_2fa, no second factor on file", name);
			return reject(inst, request, "enrolment", TWOFA_ERR_NOT_ENROLLED);
		}
	}
	return second_factor_or_not(inst, request, user);
}

static rlm_rcode_t CC_HINT(nonnull) round_one_ldap(rlm_twofa_t const *inst, REQUEST *request)
{
	char const		*name = user_name(request);
	VALUE_PAIR		*password = user_password(request);
	ldap_log_ctx_t		lc = { .inst = inst, .request = request };
	twofa_user_t		*user = NULL;
	twofa_ldap_user_t	*entry = NULL;
	twofa_rcode_t		rc;

	if (!name) {
		RDEBUG2("User-Name missing, too long or not printable UTF-8");
		return reject(inst, request, "password", TWOFA_ERR_NOT_FOUND);
	}
	rc = load_user(inst, request, name, &user);
	if ((rc != TWOFA_OK) && (rc != TWOFA_ERR_NOT_FOUND)) return reject(inst, request, "password", rc);
	if (user && (user->password_next_try > time(NULL))) return reject(inst, request, "password", TWOFA_ERR_THROTTLED);

	/* No password (or one with a NUL): ldap.c refuses it without a bind. */
	rc = twofa_ldap_authenticate(inst->ldap, request, name, password ? password->vp_strvalue : "",
				     password ? password->vp_length : 0, ldap_log, &lc, &entry);
	if (user && (rc == TWOFA_ERR_BAD_PASSWORD)) count_password_failure(inst, request, user);
	if (rc != TWOFA_OK) return reject(inst, request, "password", rc);
	if (user) count_password_success(inst, request, user);
	request_data_add(request, (void *) inst->decision_key, DIRECTORY_ENTRY, entry, false);	/* entry is the request's child */

	return ldap_second_factor(inst, request, name, user, entry);
}

/** Round one with password_source = local: the password, then the challenge. */
static rlm_rcode_t CC_HINT(nonnull) round_one(rlm_twofa_t const *inst, REQUEST *request)
{
	char const	*name = user_name(request);
	twofa_user_t	*user = NULL;
	twofa_rcode_t	rc, prc;

	/*
	 *	Only post-auth may challenge on another module's word: here
	 *	nothing shows that a first factor was checked (a site without
	 *	the password check would let the code alone in).
	 */
	if (inst->password_source == PASSWORD_SOURCE_NONE) {
		REDEBUG("password_source = none: round one belongs to the first-factor module's Auth-Type, "
			"the challenge comes from post-auth (see sites-available/twofa)");
		return reject(inst, request, "password", TWOFA_ERR_BAD_PASSWORD);
	}
	if (inst->password_source == PASSWORD_SOURCE_LDAP) return round_one_ldap(inst, request);

	rc = load_user(inst, request, name, &user);
	prc = check_local_password(inst, request, user);
	if (rc == TWOFA_OK) rc = prc;
	if (user && (prc == TWOFA_ERR_BAD_PASSWORD)) count_password_failure(inst, request, user);
	if (rc != TWOFA_OK) return reject(inst, request, "password", rc);
	count_password_success(inst, request, user);

	return second_factor_or_not(inst, request, user);
}

/*
 *	Check the answer in memory, then consume it once: the store decides,
 *	atomically, which of several requests with the same answer gets it,
 *	and checks again that the factor is unchanged and the user not locked.
 */
static twofa_rcode_t verify_answer(rlm_twofa_t const *inst, REQUEST *request, twofa_method_t const *method,
				   twofa_pending_t const *pending, int *left)
{
	VALUE_PAIR		*answer = user_password(request);
	twofa_method_ctx_t	mctx = method_ctx(inst);
	login_record_t		accepted;
	int64_t			proof = -1;
	twofa_rcode_t		rc;

	/* The Accept's row goes into the login log in the consume's own store call. */
	login_record(request, &accepted, method->name, "accept", "ok");
	mctx.login = &accepted.row;
	mctx.left = left;
	if (!answer) return TWOFA_ERR_MALFORMED;
	rc = method->check(request, &mctx, pending, answer->vp_strvalue, answer->vp_length, &proof);
	if (rc == TWOFA_ERR_CRYPTO) RERROR("User \"%s\": %s secret does not open with this key_file", pending->name, method->name);
	if (rc != TWOFA_OK) return rc;

	rc = method->consume(&mctx, pending, proof);
	switch (rc) {
	case TWOFA_OK:
	case TWOFA_ERR_REPLAYED:
		break;

	case TWOFA_ERR_LOCKED:
	case TWOFA_ERR_NOT_ENROLLED:
	case TWOFA_ERR_NOT_FOUND:
	case TWOFA_ERR_EXISTS:		/* enrolment: another login enrolled meanwhile */
		RDEBUG2("User \"%s\": changed since the challenge was sent (%s)", pending->name, twofa_strerror(rc));
		break;

	default:
		log_store_error(inst, request, "consume", rc);
		break;
	}

	return rc;
}

/*
 *	An answer the pending method found malformed may be another method's:
 *	a backup code typed at the TOTP prompt.  If one takes its shape, it
 *	judges the answer instead (and *method names it from then on).
 */
static twofa_rcode_t verify_alternate(rlm_twofa_t const *inst, REQUEST *request, twofa_method_t const **method,
				      twofa_pending_t const *pending, int *left)
{
	VALUE_PAIR		*answer = user_password(request);
	twofa_method_t const	*alternate;

	if (!answer) return TWOFA_ERR_MALFORMED;
	alternate = twofa_method_alternate(*method, answer->vp_strvalue, answer->vp_length);
	if (!alternate) return TWOFA_ERR_MALFORMED;
	RDEBUG2("User \"%s\": answer to the %s challenge has the shape of a %s answer, trying that", pending->name,
		(*method)->name, alternate->name);
	*method = alternate;
	return verify_answer(inst, request, alternate, pending, left);
}

/** A counted factor running low (backup codes): the Access-Accept says how many are left. */
static void say_how_many_left(rlm_twofa_t const *inst, REQUEST *request, char const *name,
			      twofa_method_t const *method, int left)
{
	char message[128];

	if (!method->unit || (left < 0)) return;
	RDEBUG2("User \"%s\": %d %s%s left", name, left,
		method->unit, (left == 1) ? "" : "s");
	if ((uint32_t) left > inst->backup_codes_low) return;
	snprintf(message, sizeof(message), "%d %s%s left", left, method->unit, (left == 1) ? "" : "s");
	pair_make_reply("Reply-Message", message, T_OP_ADD);
}

/** A wrong answer: count it, then challenge again while attempts are left. */
static rlm_rcode_t wrong_answer(rlm_twofa_t const *inst, REQUEST *request, twofa_method_t const *method,
				twofa_pending_t *pending, twofa_rcode_t why)
{
	time_t		locked_until = 0;
	twofa_rcode_t	rc = TWOFA_OK;
	char		message[TWOFA_REPLY_MESSAGE_MAX + 1];

	/*
	 *	A replayed code was right once: it counts against this login's
	 *	attempts, not toward the lockout, so that a clock stepped back
	 *	(every code a replay for a while) locks nobody out.
	 */
	if (why != TWOFA_ERR_REPLAYED) {
		rc = twofa_store_record_failure(inst->store, pending->user_id, &inst->lockout, time(NULL),
						&locked_until);
	}
	if (rc != TWOFA_OK) {
		log_store_error(inst, request, "record failure", rc);
		return reject(inst, request, method->name, rc);
	}

	if (locked_until) {
		RWDEBUG("User \"%s\": too many failed codes, locked for %ld seconds", pending->name,
			(long) (locked_until - time(NULL)));
		return reject(inst, request, method->name, TWOFA_ERR_LOCKED);
	}

	if (pending->attempts_left <= 1) return reject(inst, request, method->name, why);

	RDEBUG2("User \"%s\": %s answer rejected (%s), asking again", pending->name, method->name,
		twofa_strerror(why));
	pending->attempts_left--;
	pending->had_failures = true;
	/* Not the first prompt again: the user sees that the code was wrong.  No xlat, no format. */
	twofa_message_expand(message, sizeof(message), inst->prompts[pending->method].retry, pending->attempts_left);
	return send_challenge(inst, request, pending, message);
}

/** Round two: the answer to our challenge.  No store read: one write decides. */
static rlm_rcode_t CC_HINT(nonnull) round_two(rlm_twofa_t const *inst, REQUEST *request)
{
	twofa_pending_t		pending;
	twofa_method_t const	*method;
	char const		*name = user_name(request);
	int			left = -1;
	twofa_rcode_t		rc;

	/*
	 *	FreeRADIUS restores session-state only for a State it issued
	 *	and has not consumed.  Anything else (forged, replayed, lapsed,
	 *	another module's) arrives without our context.
	 */
	if (!pending_load(inst, request, &pending)) {
		REDEBUG2("State has no pending twofa challenge (forged, replayed or expired)");
		return reject(inst, request, "state", TWOFA_ERR_MALFORMED);
	}
	/*
	 *	Taken: out of session-state, so that no unlang copy of it
	 *	(the default site's "&reply: += &session-state:") prints the
	 *	sealed secret.  A new challenge saves it again.
	 */
	fr_pair_delete_by_da(&request->state, inst->da_pending);
	method = twofa_method_by_id(pending.method);
	if (!method) {
		REDEBUG2("State names a method this build does not have (%u)", pending.method);
		return reject(inst, request, "state", TWOFA_ERR_MALFORMED);
	}
	RDEBUG2("Pending %s challenge for \"%s\", %u attempt%s left", method->name, pending.name,
		pending.attempts_left, (pending.attempts_left == 1) ? "" : "s");
	if (!name || (strcasecmp(name, pending.name) != 0)) {	/* the store finds names in any ASCII case */
		REDEBUG2("State was issued to another user");
		return reject(inst, request, "state", TWOFA_ERR_MALFORMED);
	}
	if ((time_t) pending.expires < time(NULL)) return reject(inst, request, "challenge", TWOFA_ERR_EXPIRED);

	rc = verify_answer(inst, request, method, &pending, &left);
	if (rc == TWOFA_ERR_MALFORMED) rc = verify_alternate(inst, request, &method, &pending, &left);
	switch (rc) {
	case TWOFA_OK:
		if (pending.had_failures && (twofa_store_record_success(inst->store, pending.user_id) != TWOFA_OK)) {
			log_store_error(inst, request, "record success", TWOFA_ERR_STORE);
		}
		RDEBUG2("User \"%s\": %s answer accepted", name, method->name);
		say_how_many_left(inst, request, name, method, left);	/* logged by the consume */
		decided(inst, request, DECIDED_SECOND_FACTOR);
		return RLM_MODULE_OK;

	case TWOFA_ERR_BAD_CODE:
	case TWOFA_ERR_REPLAYED:
	case TWOFA_ERR_MALFORMED:
		return wrong_answer(inst, request, method, &pending, rc);

	default:
		return reject(inst, request, method->name, rc);
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

	if (!ours && (inst->password_source == PASSWORD_SOURCE_NONE)) {
		RDEBUG2("Round one: the first factor is the site's (password_source = none), "
			"the second factor is asked for in post-auth");
		return RLM_MODULE_NOOP;
	}
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
 *	A first factor another module refused in round one counts toward
 *	the user's password throttle.
 */
static rlm_rcode_t post_auth_reject(rlm_twofa_t const *inst, REQUEST *request)
{
	twofa_user_t *user = NULL;

	/* Ours are in the log already; another module's is a first factor refused. */
	if (!was_decided(inst, request, DECIDED_REJECT)) {
		bool round_two = fr_pair_find_by_num(request->packet->vps, PW_STATE, 0, TAG_ANY) != NULL;

		log_login(inst, request, "none", "reject", round_two ? "rejected" : "bad_password");
	}
	if ((inst->password_source == PASSWORD_SOURCE_NONE) && !was_decided(inst, request, DECIDED_REJECT) &&
	    !fr_pair_find_by_num(request->packet->vps, PW_STATE, 0, TAG_ANY) &&
	    (load_user(inst, request, user_name(request), &user) == TWOFA_OK)) {
		count_password_failure(inst, request, user);
		talloc_free(user);
	}

	fr_pair_list_free(&request->reply->vps);
	add_reply_message(request, inst->reject_message, T_OP_SET);
	add_message_authenticator(request);

	return RLM_MODULE_UPDATED;
}

/*
 *	An Access-Accept this module did not decide: another Auth-Type ran
 *	(pap or chap with a known password, mschap, eap, ldap).  Its accept
 *	is the first factor: challenge for the second, as round one would.
 *	Auth-Type Accept checked nothing, so it is no first factor.
 */
static rlm_rcode_t post_auth_accept(rlm_twofa_t const *inst, REQUEST *request)
{
	VALUE_PAIR	*auth_type = fr_pair_find_by_num(request->config, PW_AUTH_TYPE, 0, TAG_ANY);
	char const	*by = auth_type ? dict_valnamebyattr(PW_AUTH_TYPE, 0, auth_type->vp_integer) : NULL;
	twofa_user_t	*user = NULL;
	twofa_netpolicy_rule_t const *rule;
	rlm_rcode_t	rcode;
	twofa_rcode_t	rc;

	if (fr_pair_find_by_num(request->packet->vps, PW_STATE, 0, TAG_ANY) &&
	    fr_pair_find_by_da(request->state, inst->da_pending, TAG_ANY)) {
		/* Our challenge's answer, accepted by someone else: the code was never checked. */
		return reject(inst, request, "post-auth", TWOFA_ERR_NOT_ENROLLED);
	}

	rc = load_user(inst, request, user_name(request), &user);
	if ((rc != TWOFA_OK) && (rc != TWOFA_ERR_NOT_FOUND)) return reject(inst, request, "post-auth", rc);
	if (!user) {
		bool checked = !auth_type || (auth_type->vp_integer != PW_AUTH_TYPE_ACCEPT);

		if (nas_rule_decides(inst, request, "(not in the store)", checked, &rule, &rcode)) return rcode;
		if ((inst->enforce == ENFORCE_REQUIRED) || rule) {
			RDEBUG2("Access-Accept by %s for a user with no second factor on file, enforce = required",
				by ? by : "another module");
			return reject(inst, request, "enrolment", TWOFA_ERR_NOT_ENROLLED);
		}
		add_optional_reminder(inst, request);
		return RLM_MODULE_NOOP;
	}
	if (auth_type && (auth_type->vp_integer == PW_AUTH_TYPE_ACCEPT)) {
		RDEBUG2("User \"%s\": Auth-Type Accept checked no first factor", user->name);
		return reject(inst, request, "password", TWOFA_ERR_BAD_PASSWORD);
	}
	if (user->password_next_try > time(NULL)) return reject(inst, request, "password", TWOFA_ERR_THROTTLED);
	count_password_success(inst, request, user);

	RDEBUG2("User \"%s\": first factor passed (Auth-Type %s), second factor not yet verified",
		user->name, by ? by : "unknown");
	return second_factor_or_not(inst, request, user);
}

/*
 *	Post-auth, the gate.  An Access-Accept leaves only if this module
 *	verified a second factor in this request, or found that the user
 *	needs none.  Listed at the top of post-auth, it runs for every
 *	Access-Accept whatever Auth-Type made it.
 */
static rlm_rcode_t CC_HINT(nonnull) mod_post_auth(void *instance, REQUEST *request)
{
	rlm_twofa_t const	*inst = instance;
	rlm_rcode_t		rcode;

	switch (request->reply->code) {
	case PW_CODE_ACCESS_REJECT:
		return post_auth_reject(inst, request);

	case PW_CODE_ACCESS_ACCEPT:
		if (was_decided(inst, request, DECIDED_SECOND_FACTOR)) {	/* logged in round two */
			add_message_authenticator(request);
			return RLM_MODULE_OK;
		}
		if (was_decided(inst, request, DECIDED_NOT_NEEDED)) {
			log_login(inst, request, "none", "accept", accept_reason(inst, request));
			add_message_authenticator(request);
			return RLM_MODULE_OK;
		}
		rcode = post_auth_accept(inst, request);
		if (was_decided(inst, request, DECIDED_REJECT)) return RLM_MODULE_REJECT;	/* whatever the reason's rcode */
		if (rcode == RLM_MODULE_HANDLED) return RLM_MODULE_UPDATED;	/* a challenge: FreeRADIUS saves session-state */
		/* The first factor alone will do: exempt, or nothing on file under enforce = optional. */
		log_login(inst, request, "none", "accept", accept_reason(inst, request));
		add_message_authenticator(request);
		return rcode;

	case PW_CODE_ACCESS_CHALLENGE:
		add_message_authenticator(request);
		return RLM_MODULE_NOOP;

	default:
		return RLM_MODULE_NOOP;
	}
}

/*
 *	Register a session-state attribute (once, shared by all instances),
 *	flagged secret: Twofa-Pending holds the enrolment's sealed TOTP
 *	secret, and with "suppress_secrets = yes" radiusd -X and -xx print it
 *	as <<< secret >>>, as they do User-Password.
 */
static DICT_ATTR const *session_attr(char const *name, PW_TYPE type)
{
	DICT_ATTR const	*da = dict_attrbyname(name);
	ATTR_FLAGS	flags;

	if (da) return da;	/* a HUP's new instance: registered at start, the dictionary is not written again */
	memset(&flags, 0, sizeof(flags));
	flags.secret = 1;
	if (dict_addattr(name, -1, 0, type, flags) < 0) {
		ERROR("rlm_twofa: Failed creating attribute %s: %s", name, fr_strerror());
		return NULL;
	}

	return dict_attrbyname(name);
}

/*
 *	No bootstrap method: FreeRADIUS 3.2 re-instantiates on HUP only a
 *	HUP-safe module without one (module_hup_module()).  What bootstrap
 *	did (the name, Twofa-Pending) is instantiate's first step.
 */
static int mod_name_and_attrs(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	inst->name = cf_section_name2(conf);
	if (!inst->name) inst->name = cf_section_name1(conf);
	inst->decision_key = decision_key(inst->name);
	if (!inst->decision_key) return -1;

	inst->da_pending = session_attr("Twofa-Pending", PW_TYPE_OCTETS);
	if (!inst->da_pending) return -1;

	return 0;
}

/*
 *	policy_file: read whole at instantiate, so at start and on each HUP
 *	that re-instantiates the module (the file changed, or the
 *	configuration did, or "radmin hup twofa").  A bad file stops radiusd
 *	at start, and on HUP keeps the instance (and rules) already running.
 *	The rules are a child of the instance: a request in flight keeps the
 *	instance it started with, which FreeRADIUS frees no sooner than 60 s
 *	after it is replaced.
 */
static int load_policy(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	char err[512];

	if (!inst->policy_file) return 0;
	if (twofa_netpolicy_load(inst, inst->policy_file, &inst->policy, err, sizeof(err)) < 0) {
		cf_log_err_cs(conf, "policy_file: %s", err);
		return -1;
	}
	INFO("rlm_twofa (%s): policy_file %s: %u rule%s, %zu address%s and name%s", inst->name, inst->policy_file,
	     inst->policy->count, (inst->policy->count == 1) ? "" : "s", inst->policy->entries,
	     (inst->policy->entries == 1) ? "" : "es", (inst->policy->entries == 1) ? "" : "s");
	return 0;
}

/*
 *	cf_section_parse() adds each option left out with its default as a
 *	pair of its own, from file "<internal>" at line 0: only a pair from
 *	a real file was written by the admin.
 */
static bool written_in_file(CONF_PAIR const *cp)
{
	return cp && (cf_pair_lineno(cp) > 0);
}

/*
 *	enforce = required | optional, or the deprecated require = yes | no
 *	(no default: its pair is there only if the admin wrote it).  Both
 *	at once is refused: which one wins would be a guess.
 */
/* busy_timeout moved into sqlite { }, where the backend's own settings are; the old place still works. */
static int parse_busy_timeout(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	CONF_PAIR	*old = cf_pair_find(conf, "busy_timeout");
	CONF_SECTION	*sqlite = cf_section_sub_find(conf, "sqlite");

	if (!old) return 0;
	if (sqlite && written_in_file(cf_pair_find(sqlite, "busy_timeout"))) {
		cf_log_err_cp(old, "\"busy_timeout\" is deprecated, and sqlite { busy_timeout } is set too: remove this one");
		return -1;
	}
	WARN("%s[%d]: \"busy_timeout\" is deprecated: write it in a \"sqlite { }\" section instead",
	     cf_pair_filename(old), cf_pair_lineno(old));
	inst->busy_timeout = inst->old_busy_timeout;
	return 0;
}

static int parse_enforce(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	CONF_PAIR *require = cf_pair_find(conf, "require");
	CONF_PAIR *enforce = cf_pair_find(conf, "enforce");

	if (require && written_in_file(enforce)) {
		cf_log_err_cp(require, "\"require\" is deprecated, and \"enforce\" is set too (line %d): "
			      "with both set, remove \"require\"", cf_pair_lineno(enforce));
		return -1;
	}
	if (require) {
		inst->enforce = inst->require ? ENFORCE_REQUIRED : ENFORCE_OPTIONAL;
		WARN("%s[%d]: \"require\" is deprecated: write \"enforce = %s\" instead",
		     cf_pair_filename(require), cf_pair_lineno(require), enforce_names[inst->enforce]);
		return 0;
	}

	if (strcmp(inst->enforce_name, enforce_names[ENFORCE_REQUIRED]) == 0) {
		inst->enforce = ENFORCE_REQUIRED;
	} else if (strcmp(inst->enforce_name, enforce_names[ENFORCE_OPTIONAL]) == 0) {
		inst->enforce = ENFORCE_OPTIONAL;
	} else {
		cf_log_err_cp(enforce, "enforce must be \"required\" or \"optional\", not \"%s\"",
			      inst->enforce_name);
		return -1;
	}

	return 0;
}

/** Warn of a message longer than a Reply-Message holds: it goes out cut. */
static void check_message_length(rlm_twofa_t const *inst, char const *option, size_t len)
{
	if (len <= TWOFA_REPLY_MESSAGE_MAX) return;
	WARN("rlm_twofa (%s): %s is %zu bytes; a Reply-Message holds %d, the rest is cut off",
	     inst->name, option, len, TWOFA_REPLY_MESSAGE_MAX);
}

static void check_messages(rlm_twofa_t const *inst)
{
	char buffer[TWOFA_REPLY_MESSAGE_MAX + 2];	/* one byte more than fits: shows a cut */

	check_message_length(inst, "challenge_message", strlen(inst->challenge_message));
	check_message_length(inst, "reject_message", strlen(inst->reject_message));
	check_message_length(inst, "optional_reminder", strlen(inst->optional_reminder));
	if ((inst->enforce == ENFORCE_REQUIRED) && (inst->optional_reminder[0] != '\0')) {
		WARN("rlm_twofa (%s): optional_reminder is never sent with enforce = required", inst->name);
	}
	check_message_length(inst, "retry_message (expanded)",
			     twofa_message_expand(buffer, sizeof(buffer), inst->retry_message, inst->attempts));
	check_message_length(inst, "backup.challenge_message", strlen(inst->backup_challenge));
	check_message_length(inst, "backup.retry_message (expanded)",
			     twofa_message_expand(buffer, sizeof(buffer), inst->backup_retry, inst->attempts));
}

/*
 *	Each method's prompts, by its id: the flow picks them by the pending
 *	method, without knowing which is which.  An enrolment's first text is
 *	enrol_message (with the secret), its retry the TOTP one.
 */
static void set_prompts(rlm_twofa_t *inst)
{
	inst->prompts[TWOFA_METHOD_TOTP].challenge = inst->challenge_message;
	inst->prompts[TWOFA_METHOD_TOTP].retry = inst->retry_message;
	inst->prompts[TWOFA_METHOD_BACKUP].challenge = inst->backup_challenge;
	inst->prompts[TWOFA_METHOD_BACKUP].retry = inst->backup_retry;
	inst->prompts[TWOFA_METHOD_ENROL].challenge = inst->enrol_message;
	inst->prompts[TWOFA_METHOD_ENROL].retry = inst->retry_message;
}

/*
 *	enrol_message must show the whole secret: a text without {secret},
 *	or too long with the longest secret in it, is refused at start
 *	rather than send a user a key cut short.
 */
static int check_enrol_message(rlm_twofa_t const *inst, CONF_SECTION *conf)
{
	char	buffer[TWOFA_REPLY_MESSAGE_MAX + 1];
	char	longest[TWOFA_ENROL_SECRET_TEXT_MAX + 1];

	memset(longest, 'A', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	if (twofa_enrol_message_expand(buffer, sizeof(buffer), inst->enrol_message, longest)) return 0;

	cf_log_err_cs(conf, "enrol_message must hold \"%s\", and with a secret of %d characters in it fit the "
		      "%d bytes of a Reply-Message", TWOFA_SECRET_TOKEN, TWOFA_ENROL_SECRET_TEXT_MAX,
		      TWOFA_REPLY_MESSAGE_MAX);
	return -1;
}

/*
 *	password_source = ldap: the ldap { } section into ldap.c's config.
 *	Every "server" line, in order (failover); timeouts in ms.
 */
static int parse_ldap_config(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	CONF_SECTION		*cs = cf_section_sub_find(conf, "ldap");
	twofa_ldap_config_t	*config = &inst->ldap_config;
	CONF_PAIR		*cp;
	char			err[256];
	size_t			i;

	for (cp = cs ? cf_pair_find(cs, "server") : NULL; cp; cp = cf_pair_find_next(cs, cp, "server")) {
		config->servers = talloc_realloc(inst, config->servers, char const *, config->num_servers + 1);
		if (!config->servers) return -1;
		config->servers[config->num_servers++] = cf_pair_value(cp);
	}
	FR_INTEGER_BOUND_CHECK("ldap.net_timeout", inst->ldap_net_timeout, >=, 1);
	FR_INTEGER_BOUND_CHECK("ldap.net_timeout", inst->ldap_net_timeout, <=, 60);
	FR_INTEGER_BOUND_CHECK("ldap.timeout", inst->ldap_timeout, >=, 1);
	FR_INTEGER_BOUND_CHECK("ldap.timeout", inst->ldap_timeout, <=, 60);
	FR_INTEGER_BOUND_CHECK("ldap.pool_size", config->pool_size, >=, 1);
	FR_INTEGER_BOUND_CHECK("ldap.pool_size", config->pool_size, <=, 1024);
	config->net_timeout_ms = inst->ldap_net_timeout * 1000;
	config->timeout_ms = inst->ldap_timeout * 1000;
	if (!config->require_cert) config->require_cert = "";

	if (!twofa_ldap_config_valid(config, err, sizeof(err))) {
		cf_log_err_cs(cs ? cs : conf, "ldap: %s", err);
		return -1;
	}
	for (i = 0; i < config->num_servers; i++) {
		if (!config->start_tls && (strncasecmp(config->servers[i], "ldap:", 5) == 0)) {
			WARN("rlm_twofa (%s): ldap server %s without start_tls: passwords cross the network in clear",
			     inst->name, config->servers[i]);
		}
	}
	if (strcmp(config->require_cert, "never") == 0) {
		WARN("rlm_twofa (%s): ldap require_cert = never: any server may pose as the directory", inst->name);
	}
	return 0;
}

static int parse_config(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	if (parse_enforce(conf, inst) < 0) return -1;
	if (parse_busy_timeout(conf, inst) < 0) return -1;
	if (!inst->optional_reminder) inst->optional_reminder = "";

	if (strcmp(inst->password_source_name, "local") == 0) {
		inst->password_source = PASSWORD_SOURCE_LOCAL;
	} else if (strcmp(inst->password_source_name, "none") == 0) {
		inst->password_source = PASSWORD_SOURCE_NONE;
	} else if (strcmp(inst->password_source_name, "ldap") == 0) {
		inst->password_source = PASSWORD_SOURCE_LDAP;
		if (parse_ldap_config(conf, inst) < 0) return -1;
	} else {
		cf_log_err_cs(conf, "password_source must be \"local\", \"none\" or \"ldap\", not \"%s\"",
			      inst->password_source_name);
		return -1;
	}

	FR_INTEGER_BOUND_CHECK("totp.window", inst->window, <=, TWOFA_TOTP_MAX_WINDOW);
	FR_INTEGER_BOUND_CHECK("attempts", inst->attempts, >=, 1);
	FR_INTEGER_BOUND_CHECK("attempts", inst->attempts, <=, 10);
	FR_INTEGER_BOUND_CHECK("challenge_timeout", inst->challenge_timeout, >=, 10);
	FR_INTEGER_BOUND_CHECK("challenge_timeout", inst->challenge_timeout, <=, 600);
	FR_INTEGER_BOUND_CHECK("sqlite.busy_timeout", inst->busy_timeout, <=, 30000);
	FR_INTEGER_BOUND_CHECK("postgresql.connect_timeout", inst->pg.connect_timeout, >=, 2);
	FR_INTEGER_BOUND_CHECK("postgresql.connect_timeout", inst->pg.connect_timeout, <=, 60);
	FR_INTEGER_BOUND_CHECK("postgresql.statement_timeout", inst->pg.statement_timeout, >=, 100);
	FR_INTEGER_BOUND_CHECK("postgresql.statement_timeout", inst->pg.statement_timeout, <=, 30000);
	FR_INTEGER_BOUND_CHECK("postgresql.pool_size", inst->pg.pool_size, >=, 1);
	FR_INTEGER_BOUND_CHECK("postgresql.pool_size", inst->pg.pool_size, <=, 100);
	/* NIST SP 800-63B 5.2.2: at most 100 consecutive failed attempts. */
	FR_INTEGER_BOUND_CHECK("lockout.max_failures", inst->lockout.max_failures, >=, 1);
	FR_INTEGER_BOUND_CHECK("lockout.max_failures", inst->lockout.max_failures, <=, 100);
	FR_INTEGER_BOUND_CHECK("lockout.duration", inst->lockout.lock_seconds, >=, 1);
	FR_INTEGER_BOUND_CHECK("lockout.max_duration", inst->lockout.max_lock_seconds, >=, inst->lockout.lock_seconds);
	FR_INTEGER_BOUND_CHECK("password_throttle.free_failures", inst->throttle.free_failures, <=, 100);
	FR_INTEGER_BOUND_CHECK("password_throttle.delay", inst->throttle.delay_seconds, >=, 1);
	FR_INTEGER_BOUND_CHECK("password_throttle.delay", inst->throttle.delay_seconds, <=, 3600);
	FR_INTEGER_BOUND_CHECK("password_throttle.max_delay", inst->throttle.max_delay_seconds, >=, inst->throttle.delay_seconds);
	FR_INTEGER_BOUND_CHECK("password_throttle.max_delay", inst->throttle.max_delay_seconds, <=, 86400);
	FR_INTEGER_BOUND_CHECK("backup.backup_codes_low", inst->backup_codes_low, <=, TWOFA_BACKUP_COUNT_MAX);
	check_messages(inst);
	set_prompts(inst);
	if (check_enrol_message(inst, conf) < 0) return -1;

	return 0;
}

/** Does cs call module name: among its own items (top), or anywhere below? */
static bool section_calls(CONF_SECTION const *cs, char const *name, bool top)
{
	CONF_ITEM *ci;

	for (ci = cf_item_find_next(cs, NULL); ci; ci = cf_item_find_next(cs, ci)) {
		if (cf_item_is_pair(ci)) {
			char const *attr = cf_pair_attr(cf_item_to_pair(ci));

			if (*attr == '-') attr++;		/* "-twofa": call if loaded */
			if (strcmp(attr, name) == 0) return true;
		} else if (!top && cf_item_is_section(ci) &&
			   section_calls(cf_item_to_section(ci), name, false)) {
			return true;
		}
	}
	return false;
}

/*
 *	Fail closed at start-up: every virtual server that calls this module
 *	in authorize or authenticate must list it at the top of post-auth
 *	(not only in Post-Auth-Type REJECT), where it stops an Access-Accept
 *	that no second factor backs.  Says how each server is wired.
 */
static int check_wiring(rlm_twofa_t const *inst, CONF_SECTION *conf)
{
	CONF_SECTION	*root = cf_top_section(conf), *server, *cs;
	char const	*sections[] = { "authorize", "authenticate" };
	unsigned int	i, servers = 0;

	for (server = cf_subsection_find_next(root, NULL, "server"); server;
	     server = cf_subsection_find_next(root, server, "server")) {
		bool calls = false;

		for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
			cs = cf_section_sub_find(server, sections[i]);
			if (cs && section_calls(cs, inst->name, false)) calls = true;
		}
		if (!calls) continue;

		cs = cf_section_sub_find(server, "post-auth");
		if (!cs || !section_calls(cs, inst->name, true)) {
			cf_log_err_cs(server, "Virtual server \"%s\" calls %s but does not list it at the top of its "
				      "post-auth section: an Access-Accept from another module (pap, chap, mschap, eap) "
				      "would skip the second factor.  Add \"%s\" as the first line of post-auth",
				      cf_section_name2(server), inst->name, inst->name);
			return -1;
		}
		INFO("rlm_twofa (%s): virtual server %s: first factor by %s, second factor enforced in post-auth",
		     inst->name, cf_section_name2(server),
		     (inst->password_source == PASSWORD_SOURCE_LOCAL) ? "this module (local)" :
		     (inst->password_source == PASSWORD_SOURCE_LDAP) ? "this module (ldap)" :
		     "the site's modules, challenge from post-auth (none)");
		servers++;
	}
	if (!servers) WARN("rlm_twofa (%s): no virtual server calls this module", inst->name);
	return 0;
}

/* The store's word that is no call's failure (a database down or back, a clock far off). */
static void store_warn(void *ctx, char const *message)
{
	rlm_twofa_t const *inst = ctx;

	WARN("rlm_twofa (%s): store: %s", inst->name, message);
}

static int mod_instantiate(CONF_SECTION *conf, void *instance)
{
	rlm_twofa_t		*inst = instance;
	twofa_store_config_t	store_config = { 0 };
	char			err[256];
	twofa_rcode_t		rc;

	if (mod_name_and_attrs(conf, inst) < 0) return -1;
	if (parse_config(conf, inst) < 0) return -1;
	if (check_wiring(inst, conf) < 0) return -1;
	if (load_policy(conf, inst) < 0) return -1;

	if (twofa_crypto_load_key(inst->key_file, inst->key, err, sizeof(err)) != TWOFA_OK) {
		cf_log_err_cs(conf, "Cannot use key_file: %s", err);
		return -1;
	}

	store_config.url = inst->store_path;
	store_config.sqlite.busy_timeout_ms = inst->busy_timeout;
	store_config.sqlite.background_checkpoint = true;
	store_config.postgresql.password_file = inst->pg.password_file;
	store_config.postgresql.connect_timeout = inst->pg.connect_timeout;
	store_config.postgresql.statement_timeout_ms = inst->pg.statement_timeout;
	store_config.postgresql.pool_size = inst->pg.pool_size;
	store_config.login_keep_days = inst->audit_days;
	store_config.warn = store_warn;
	store_config.warn_ctx = inst;
	rc = twofa_store_open(inst, &store_config, &inst->store);
	if (rc == TWOFA_ERR_MALFORMED) {		/* a URL of no backend: the config is wrong, not the store */
		cf_log_err_cs(conf, "%s", twofa_store_errmsg(inst->store));
		return -1;
	}
	if ((rc == TWOFA_ERR_NOT_FOUND) && inst->store) {
		/*
		 *	Not fatal: every login is rejected until the store
		 *	exists, then it is used without a restart.
		 */
		WARN("rlm_twofa (%s): store %s does not exist: rejecting every login until "
		     "\"twofa-admin init\" creates it", inst->name, inst->store_path);
	} else if ((rc != TWOFA_OK) && inst->store) {
		/*
		 *	Corrupt, unreadable or of a newer schema: like a missing
		 *	store, every login is rejected until it is repaired or
		 *	restored, then used without a restart.
		 */
		WARN("rlm_twofa (%s): cannot use store %s (%s): rejecting every login until it is repaired "
		     "or restored", inst->name, inst->store_path, twofa_store_errmsg(inst->store));
	} else if (rc != TWOFA_OK) {
		cf_log_err_cs(conf, "Cannot open store %s: %s", inst->store_path, twofa_strerror(rc));
		return -1;
	}

	if (inst->password_source == PASSWORD_SOURCE_LOCAL &&
	    twofa_crypto_hash_password(inst, "twofa dummy password", NULL, &inst->dummy_hash) != TWOFA_OK) {
		cf_log_err_cs(conf, "Cannot make the dummy password hash");
		return -1;
	}

	if (inst->password_source == PASSWORD_SOURCE_LDAP) {
		ldap_log_ctx_t lc = { .inst = inst, .request = NULL };

		if (twofa_ldap_open(inst, &inst->ldap_config, &inst->ldap) != TWOFA_OK) {
			cf_log_err_cs(conf, "Cannot make the LDAP connection pool");
			return -1;
		}
		/* Not fatal: logins are rejected until the directory answers, then work without a restart. */
		if (twofa_ldap_probe(inst->ldap, ldap_log, &lc) != TWOFA_OK) {
			WARN("rlm_twofa (%s): no LDAP server answers yet: rejecting LDAP logins until one does",
			     inst->name);
		}
	}

	INFO("rlm_twofa (%s): store %s (schema %d), password_source %s, enforce %s",
	     inst->name, inst->store_path, twofa_store_schema_version(inst->store),
	     inst->password_source_name, enforce_names[inst->enforce]);

	return 0;
}

static int mod_detach(void *instance)
{
	rlm_twofa_t *inst = instance;

	OPENSSL_cleanse(inst->key, sizeof(inst->key));
	TALLOC_FREE(inst->store);
	TALLOC_FREE(inst->ldap);	/* unbinds every pooled connection */

	return 0;
}

extern module_t rlm_twofa;
module_t rlm_twofa = {
	.magic		= RLM_MODULE_INIT,
	.name		= "twofa",
	.type		= RLM_TYPE_THREAD_SAFE | RLM_TYPE_HUP_SAFE,
	.inst_size	= sizeof(rlm_twofa_t),
	.config		= module_config,
	.instantiate	= mod_instantiate,
	.detach		= mod_detach,
	.methods = {
		[MOD_AUTHORIZE]		= mod_authorize,
		[MOD_AUTHENTICATE]	= mod_authenticate,
		[MOD_POST_AUTH]		= mod_post_auth,
	},
};
