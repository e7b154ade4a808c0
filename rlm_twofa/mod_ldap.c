/*
 * mod_ldap.c	the first factor with password_source = ldap: a bind as the user
 *		(ldap.c), the directory's groups, and the row an LDAP user may lack.
 */
RCSID("$Id$")

#include "module.h"

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

/** The directory's group rules, then the second factor as for any user. */
/*
 *	enrol_at_login for a directory user without a row: the enrolment's
 *	factor needs one, so it is made now, empty (no password: the
 *	directory has it), once the directory has vouched for the password.
 *	Another login may make it at the same moment: then it is read.
 */
static twofa_user_t *directory_user_row(rlm_twofa_t const *inst, REQUEST *request, char const *name)
{
	twofa_user_t	*user = NULL;
	twofa_rcode_t	rc = twofa_store_add_user(inst->store, name, NULL);

	if ((rc == TWOFA_OK) || (rc == TWOFA_ERR_EXISTS)) rc = twofa_store_get_user(inst->store, request, name, &user);
	if (rc != TWOFA_OK) {
		log_store_error(inst, request, "add directory user", rc);
		return NULL;
	}
	RDEBUG2("User \"%s\": directory user without a row, enrol_at_login = yes: row made to enrol", name);
	return user;
}

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
	if (!user && inst->enrol_at_login && (entry->second_factor != TWOFA_LDAP_2FA_SKIP)) {
		user = directory_user_row(inst, request, name);
		if (!user) return reject(inst, request, "enrolment", TWOFA_ERR_STORE);
	}
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
		if (!twofa_method_pick(user, inst->usable, 0) && !inst->enrol_at_login) {
			RDEBUG2("User \"%s\": member of ldap.groups.require_2fa, no second factor on file", name);
			return reject(inst, request, "enrolment", TWOFA_ERR_NOT_ENROLLED);
		}
	}
	return second_factor_or_not(inst, request, user);
}

rlm_rcode_t CC_HINT(nonnull) round_one_ldap(rlm_twofa_t const *inst, REQUEST *request)
{
	char const		*name = user_name(inst, request);
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
	append_split_request(inst, request, user);
	password = user_password(request);

	/* No password (or one with a NUL): ldap.c refuses it without a bind. */
	rc = twofa_ldap_authenticate(inst->ldap, request, name, password ? password->vp_strvalue : "",
				     password ? password->vp_length : 0, ldap_log, &lc, &entry);
	if (user && (rc == TWOFA_ERR_BAD_PASSWORD)) count_password_failure(inst, request, user);
	if (rc != TWOFA_OK) return reject(inst, request, "password", rc);
	if (user) count_password_success(inst, request, user);
	request_data_add(request, (void *) inst->decision_key, DIRECTORY_ENTRY, entry, false);	/* entry is the request's child */

	return ldap_second_factor(inst, request, name, user, entry);
}

/* The pool, at instantiate; a directory not answering yet is no reason to stop radiusd. */
int ldap_instantiate(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	ldap_log_ctx_t lc = { .inst = inst, .request = NULL };

	if (twofa_ldap_open(inst, &inst->ldap_config, &inst->ldap) != TWOFA_OK) {
		cf_log_err_cs(conf, "Cannot make the LDAP connection pool");
		return -1;
	}
	/* Not fatal: logins are rejected until the directory answers, then work without a restart. */
	if (twofa_ldap_probe(inst->ldap, ldap_log, &lc) != TWOFA_OK) {
		WARN("rlm_twofa (%s): no LDAP server answers yet: rejecting LDAP logins until one does", inst->name);
	}
	return 0;
}
