/*
 * mod_ldap.c	the first factor with password_source = ldap: a bind as the user
 *		(ldap.c), the directory's groups, and the row an LDAP user may lack.
 */
RCSID("$Id$")

#include <string.h>

#include "module.h"
#include "contact.h"
#include "method.h"

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
 *	A directory user without a row gets one, empty (no password: the
 *	directory has it), once the directory has vouched for the password:
 *	for an enrolment at login, or for the directory's contacts (below).
 *	Another login may make it at the same moment: then it is read.
 */
static twofa_user_t *directory_user_row(rlm_twofa_t const *inst, REQUEST *request, char const *name, char const *why)
{
	twofa_user_t	*user = NULL;
	twofa_rcode_t	rc = twofa_store_add_user(inst->store, name, NULL);

	if ((rc == TWOFA_OK) || (rc == TWOFA_ERR_EXISTS)) rc = twofa_store_get_user(inst->store, request, name, &user);
	if (rc != TWOFA_OK) {
		log_store_error(inst, request, "add directory user", rc);
		return NULL;
	}
	RDEBUG2("User \"%s\": directory user without a row: row made %s", name, why);
	return user;
}

/*
 *	The directory's mobile and mail feed the SMS and email methods.  At
 *	round one, once the bind has vouched for the user, the user's SMS and
 *	email factors are made, or refreshed, from the entry: confirmed, as
 *	twofa-admin user set --phone makes them (the directory's admins vouch
 *	for its values).  From then on they are ordinary factors: round one,
 *	round two and the codes kept per factor id work unchanged, and
 *	twofa-admin shows them.  (The other way, a code sent without a factor,
 *	would need a second kind of code kept outside the store.)
 *
 *	The directory stays the source of truth: a value changed there replaces
 *	the stored one at the next login (the factor gets a new id, so a code
 *	pending for the old number is void).  The store is written only when
 *	the values differ, so a login usually writes nothing; two logins at
 *	once may both write, the same value.  An email factor whose addresses
 *	are the directory's keeps its choice of recipient (user set --email-to).
 *
 *	Only for a method this server can use (sms { }, email { } set), and not
 *	for a member of skip_2fa: no row is made that nothing would read.  A
 *	value the directory lacks, or one contact.h refuses (not E.164, not a
 *	plain address), leaves the stored factor as it is: it may be one the
 *	user or an admin enrolled, and the store does not say where a factor
 *	came from.  mobile_attribute = "" (or the mail ones) keeps a value out.
 */
static bool directory_phone(twofa_ldap_user_t const *entry, char e164[TWOFA_PHONE_MAX + 1])
{
	size_t len;

	if (!entry->mobile) return false;
	len = strlen(entry->mobile);
	return (len <= TWOFA_PHONE_INPUT_MAX) && twofa_phone_normalise(entry->mobile, len, e164);
}

/* mail, then mail2 (each if valid, the second if not the first again), to the first. */
static bool directory_mail(twofa_ldap_user_t const *entry, twofa_email_list_t *list)
{
	char const	*addrs[2] = { entry->mail, entry->mail2 };
	size_t		i, len;

	memset(list, 0, sizeof(*list));
	list->to = TWOFA_EMAIL_TO_FIRST;
	for (i = 0; i < 2; i++) {
		if (!addrs[i]) continue;
		len = strlen(addrs[i]);
		if (!twofa_email_valid(addrs[i], len) || (len > TWOFA_EMAIL_MAX)) continue;
		if ((list->count == 1) && (strcmp(list->addr[0], addrs[i]) == 0)) continue;
		memcpy(list->addr[list->count], addrs[i], len + 1);
		list->count++;
	}
	return list->count > 0;
}

static bool same_phone(twofa_factor_t const *f, char const *e164)
{
	return f && f->confirmed && f->address && (strcmp(f->address, e164) == 0);
}

static bool same_mail(twofa_factor_t const *f, twofa_email_list_t const *dir)
{
	twofa_email_list_t stored;

	if (!f || !f->confirmed || !twofa_email_list_parse(f->address, &stored)) return false;
	return (stored.count == dir->count) && (strcmp(stored.addr[0], dir->addr[0]) == 0) &&
	       (strcmp(stored.addr[1], dir->addr[1]) == 0);
}

static twofa_rcode_t directory_factor_set(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user,
					  twofa_factor_t const *factor)
{
	twofa_rcode_t rc = twofa_store_factor_set(inst->store, user->name, factor);

	if (rc != TWOFA_OK) {
		log_store_error(inst, request, "directory contact", rc);
		return rc;
	}
	RDEBUG2("User \"%s\": %s factor set from the directory's entry", user->name,
		twofa_factor_kind_name(factor->kind));
	return TWOFA_OK;
}

/** Make or refresh *user's SMS and email factors from entry; *user is then as stored (maybe made now). */
static twofa_rcode_t directory_contacts(rlm_twofa_t const *inst, REQUEST *request, char const *name,
					twofa_ldap_user_t const *entry, twofa_user_t **user)
{
	char			e164[TWOFA_PHONE_MAX + 1];
	char			stored[TWOFA_EMAIL_LIST_MAX + 1];
	twofa_email_list_t	mail;
	twofa_factor_t		sms = { .kind = TWOFA_FACTOR_SMS, .confirmed = true, .address = e164 };
	twofa_factor_t		email = { .kind = TWOFA_FACTOR_EMAIL, .confirmed = true, .address = stored };
	bool			set_sms, set_mail;
	twofa_rcode_t		rc;

	set_sms = (inst->usable & TWOFA_METHOD_BIT(TWOFA_METHOD_SMS)) && directory_phone(entry, e164) &&
		  !(*user && same_phone(twofa_user_factor(*user, TWOFA_FACTOR_SMS), e164));
	set_mail = (inst->usable & TWOFA_METHOD_BIT(TWOFA_METHOD_EMAIL)) && directory_mail(entry, &mail) &&
		   !(*user && same_mail(twofa_user_factor(*user, TWOFA_FACTOR_EMAIL), &mail));
	if (!set_sms && !set_mail) return TWOFA_OK;
	if (set_mail && !twofa_email_list_format(&mail, stored, sizeof(stored))) set_mail = false;

	if (!*user) {
		*user = directory_user_row(inst, request, name, "for the directory's contacts");
		if (!*user) return TWOFA_ERR_STORE;
	}
	if (set_sms && ((rc = directory_factor_set(inst, request, *user, &sms)) != TWOFA_OK)) return rc;
	if (set_mail && ((rc = directory_factor_set(inst, request, *user, &email)) != TWOFA_OK)) return rc;

	/* Read again: the factors have new ids, which the codes are kept under. */
	rc = twofa_store_get_user(inst->store, request, (*user)->name, user);
	if (rc != TWOFA_OK) log_store_error(inst, request, "lookup", rc);
	return rc;
}

/** The directory's group rules, then the second factor as for any user. */
static rlm_rcode_t ldap_second_factor(rlm_twofa_t const *inst, REQUEST *request, char const *name,
				      twofa_user_t *user, twofa_ldap_user_t const *entry)
{
	bool				required = (entry->second_factor == TWOFA_LDAP_2FA_REQUIRED);
	twofa_netpolicy_rule_t const	*rule = NULL;
	rlm_rcode_t			rcode;

	if (user && is_locked(user, time(NULL))) return reject(inst, request, "password", TWOFA_ERR_LOCKED);
	if (entry->second_factor != TWOFA_LDAP_2FA_SKIP) {
		twofa_rcode_t rc = directory_contacts(inst, request, name, entry, &user);

		if (rc != TWOFA_OK) return reject(inst, request, "enrolment", rc);
	}
	/* A NAS rule outranks the groups (a user with a row meets it in second_factor_or_not). */
	if ((!user || (entry->second_factor == TWOFA_LDAP_2FA_SKIP)) &&
	    nas_rule_decides(inst, request, name, true, &rule, &rcode)) return rcode;
	if (rule) required = true;		/* require, for a user with no row: no factor, so a reject */
	if (!user && inst->enrol_at_login && (entry->second_factor != TWOFA_LDAP_2FA_SKIP)) {
		user = directory_user_row(inst, request, name, "to enrol (enrol_at_login = yes)");
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
	group_reply_found(inst, request, entry->reply_group);

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
