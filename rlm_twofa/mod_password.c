/*
 * mod_password.c	the first factor with password_source = local: the user's row, the
 *		yescrypt hash in the store, the throttle on wrong passwords, the lock.
 */
RCSID("$Id$")

#include "module.h"

/** Read the user's row.  NOT_FOUND for unknown users and invalid names alike. */
twofa_rcode_t load_user(rlm_twofa_t const *inst, REQUEST *request, char const *name, twofa_user_t **out)
{
	twofa_rcode_t rc;

	*out = NULL;
	if (!name) {
		RDEBUG2("User-Name missing, too long or not printable UTF-8");
		return TWOFA_ERR_NOT_FOUND;
	}

	rc = twofa_store_get_user(inst->store, request, name, out);
	if ((rc != TWOFA_OK) && (rc != TWOFA_ERR_NOT_FOUND)) log_store_error(inst, request, "lookup", rc);
	/* Kept for the Accept (add_reply_attributes), which may come after the user is freed. */
	if (rc == TWOFA_OK) {
		char *reply = talloc_strdup(request, (*out)->reply ? (*out)->reply : "");

		RDEBUG2("User \"%s\": read from the store", name);
		if (reply) request_data_add(request, (void *) inst->decision_key, NET_USER_REPLY, reply, true);
	}

	return rc;
}

/*
 *	The user as authorize read them in this request (password_source =
 *	none, append mode: the split needs the user before pap runs, post-auth
 *	decides after), else read now: an append login reads the user once.
 *	The caller owns *out either way.  The row is milliseconds old: the
 *	store's consumes check the lock and the factor again when they count.
 */
twofa_rcode_t load_user_kept(rlm_twofa_t const *inst, REQUEST *request, char const *name, twofa_user_t **out)
{
	twofa_user_t *kept = request_data_get(request, (void *) inst->decision_key, NET_USER);

	if (kept && name && (strcasecmp(kept->name, name) == 0)) {	/* the store finds names in any ASCII case */
		*out = kept;
		return TWOFA_OK;
	}
	talloc_free(kept);
	return load_user(inst, request, name, out);
}

/** First factor against the local store.  Unknown users are checked against a
 *  dummy hash, so that the time taken does not tell whether a user exists.
 */
twofa_rcode_t check_local_password(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user)
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
void count_password_failure(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user)
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

void count_password_success(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user)
{
	twofa_rcode_t rc;

	if (!user->password_failures && !user->password_next_try) return;
	rc = twofa_store_record_password_success(inst->store, user->id);
	if (rc != TWOFA_OK) log_store_error(inst, request, "record password success", rc);
}

bool is_locked(twofa_user_t const *user, time_t now)
{
	return user->locked_until > now;
}
