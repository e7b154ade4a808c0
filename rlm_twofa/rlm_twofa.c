/*
 *   This program is free software; you can redistribute it and/or modify
 *   it under the terms of the GNU General Public License as published by
 *   the Free Software Foundation; either version 2 of the License, or
 *   (at your option) any later version.
 */

/**
 * $Id$
 * @file rlm_twofa.c
 * @brief Two-factor logins: a first factor, then a second (TOTP, SMS, email,
 *	  backup code) in an Access-Challenge round, or typed after the password.
 *
 * The login flow is in this file; the mechanisms are in named files:
 * method.h (second-factor methods: method_totp.c, method_sms.c, ...),
 * mod_password.c and mod_ldap.c (the first factor), mod_challenge.c (the
 * pending challenge: sealed into the State by state.c, or in session-state
 * with state = session), mod_delivery.c (codes sent by SMS and email),
 * mod_nas.c (per-NAS rules, append mode, remembered devices, reply
 * attributes), mod_reply.c (the one reject, the login log), store.h
 * (users, factors, used steps and States, lockout).  No method-specific
 * code here.
 *
 * Round one (no State): check the first factor, the lock and the user's
 * methods, put the pending challenge into the State (or session-state) and
 * send an Access-Challenge.  With password_source = none the site's own
 * modules (pap, ldap, chap, mschap) do round one, and the challenge is
 * sent from post-auth, once their Access-Accept shows that the first
 * factor passed.
 * Round two (State): a State that does not open, was issued to another
 * user or NAS, has lapsed or was answered before is a reject; else check
 * the answer against what round one packed, consume it once in the store
 * (one write, which also records the State as answered and checks again
 * that the factor is unchanged and the user not locked), and accept,
 * challenge again while attempts are left, or reject.
 *
 * Post-auth is the gate: no Access-Accept leaves for a user who needs a
 * second factor unless this module verified one in this request, whatever
 * Auth-Type ran.  Instantiate refuses a virtual server that calls the
 * module without listing it in post-auth.
 */
RCSID("$Id$")

#include "module.h"

/** The user's first confirmed factor of any kind, whether a method takes it or not; NULL if none. */
static twofa_factor_t const *confirmed_factor(twofa_user_t const *user)
{
	twofa_factor_kind_t kind;

	for (kind = TWOFA_FACTOR_TOTP; kind <= TWOFA_FACTOR_KIND_LAST; kind++) {
		twofa_factor_t const *f = twofa_user_factor(user, kind);

		if (f && f->confirmed) return f;
	}
	return NULL;
}

/*
 *	The first factor has passed: challenge for the second, or let the
 *	first alone do if the user is exempt, or holds none and enforcement
 *	allows it; a policy_file rule first.
 *	From round one (password_source = local) and from post-auth (an
 *	Access-Accept of another module).
 */
rlm_rcode_t second_factor_or_not(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user)
{
	twofa_method_t const	*method = twofa_method_pick(user, inst->usable, 0);
	twofa_factor_t const	*factor;
	twofa_netpolicy_rule_t const *rule;
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

	/*
	 *	A factor held that this server cannot use (an SMS number and no
	 *	sms { } here) is still a factor: not "none on file", which would
	 *	let the password alone in, or enrol another for whoever has it.
	 */
	if (!method && (method = twofa_method_pick(user, TWOFA_METHODS_ALL, 0))) {
		RERROR("User \"%s\": holds a %s factor this server cannot use, and no other", user->name, method->name);
		return reject(inst, request, "send", TWOFA_ERR_UNAVAILABLE);
	}
	/* Nor is one no method takes (an address this version refuses): the stored factor is malformed. */
	if (!method && (factor = confirmed_factor(user))) {
		RERROR("User \"%s\": stored %s factor is malformed", user->name, twofa_factor_kind_name(factor->kind));
		return reject(inst, request, "enrolment", TWOFA_ERR_CRYPTO);
	}
	if (!method && inst->sms_ask_number && inst->delivery.sms) return ask_number(inst, request, user);
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
	if (second_factor_without_challenge(inst, request, user, rule, &rcode)) return rcode;
	return challenge_with(inst, request, user, method, NULL, (rule && rule->message) ? rule->message : NULL);
}

/** Round one with password_source = local: the password, then the challenge. */
static rlm_rcode_t CC_HINT(nonnull) round_one(rlm_twofa_t const *inst, REQUEST *request)
{
	char const	*name = user_name(inst, request);
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
	append_split_request(inst, request, user);
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
	unsealed_t		*u;
	int64_t			proof = -1;
	twofa_rcode_t		rc;

	/* The Accept's row, and the sealed State answered, go into the consume's own store write. */
	login_record(inst, request, &accepted, method->name, "accept", "ok");
	if ((u = request_data_reference(request, (void *) inst->decision_key, UNSEALED_STATE)) && !u->spent) {
		accepted.row.state_nonce = u->nonce;
		accepted.row.state_nonce_len = sizeof(u->nonce);
		accepted.row.state_expires = u->pending.expires;
	}
	mctx.login = &accepted.row;
	mctx.left = left;
	if (!answer) return TWOFA_ERR_MALFORMED;
	rc = method->check(request, &mctx, pending, answer->vp_strvalue, answer->vp_length, &proof);
	if (rc == TWOFA_ERR_CRYPTO) RERROR("User \"%s\": %s secret does not open with this key_file", pending->name, method->name);
	if (rc != TWOFA_OK) return rc;

	rc = method->consume(&mctx, pending, proof);
	/* The State was recorded (or found answered before: EXPIRED) unless the store failed. */
	if (u && (rc != TWOFA_ERR_STORE) && (rc != TWOFA_ERR_BUSY) && (rc != TWOFA_ERR_NO_MEMORY)) u->spent = true;
	switch (rc) {
	case TWOFA_OK:
	case TWOFA_ERR_REPLAYED:
	case TWOFA_ERR_BAD_CODE:	/* SMS, email: the store holds the code's hash */
	case TWOFA_ERR_EXPIRED:
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
void say_how_many_left(rlm_twofa_t const *inst, REQUEST *request, char const *name,
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

	/* An answer checked in memory only has not spent its State yet: an answered one counts nothing. */
	if (!state_spend(inst, request)) return reject(inst, request, "state", TWOFA_ERR_EXPIRED);

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
	char const		*name = user_name(inst, request);
	int			left = -1;
	twofa_rcode_t		rc;

	/*
	 *	A sealed State opens only if this server's key sealed it for
	 *	this NAS (state.c); with state = session, FreeRADIUS restores
	 *	session-state only for a State it issued and has not consumed,
	 *	and pending_load checks the NAS it was sent to.  Anything else
	 *	(forged, replayed, lapsed, another module's, another NAS's)
	 *	arrives without our context.  A State answered before is found
	 *	by the consume, which records it.
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
	fr_pair_delete_by_da(&request->state, inst->da_pending_nas);
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
	group_reply_from_pending(inst, request, pending.reply_group);

	{
		rlm_rcode_t	rcode;
		int		word = prompt_word(inst, user_password(request));

		if ((word >= 0) && switch_method(inst, request, &pending, word, &rcode)) return rcode;
	}
	if (pending.method == TWOFA_METHOD_SMS_NUMBER) return answer_number(inst, request, &pending);

	rc = verify_answer(inst, request, method, &pending, &left);
	if (rc == TWOFA_ERR_MALFORMED) rc = verify_alternate(inst, request, &method, &pending, &left);
	switch (rc) {
	case TWOFA_OK:
		if (pending.had_failures && (twofa_store_record_success(inst->store, pending.user_id) != TWOFA_OK)) {
			log_store_error(inst, request, "record success", TWOFA_ERR_STORE);
		}
		RDEBUG2("User \"%s\": %s answer accepted", name, method->name);
		say_how_many_left(inst, request, name, method, left);	/* logged by the consume */
		/* Round one found no reply attributes of the user's own: the Accept reads no store for them. */
		if (pending.no_user_reply) {
			request_data_add(request, (void *) inst->decision_key, NET_USER_REPLY, (void *) "", false);
		}
		decided(inst, request, DECIDED_SECOND_FACTOR);
		remember_device(inst, request, pending.user_id);
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
	bool			ours = answers_our_challenge(inst, request);
	VALUE_PAIR		*auth_type = fr_pair_find_by_num(request->config, PW_AUTH_TYPE, 0, TAG_ANY);

	if (!ours && (inst->password_source == PASSWORD_SOURCE_NONE)) {
		RDEBUG2("Round one: the first factor is the site's (password_source = none), "
			"the second factor is asked for in post-auth");
		if (!fr_pair_find_by_num(request->packet->vps, PW_STATE, 0, TAG_ANY)) append_split_authorize(inst, request);
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
 *	this module), leaves with the same Reply-Message and nothing else
 *	(but the request's Proxy-State, which every reply returns).
 *	A first factor another module refused in round one counts toward
 *	the user's password throttle.
 */
static rlm_rcode_t post_auth_reject(rlm_twofa_t const *inst, REQUEST *request)
{
	twofa_user_t *user = NULL;

	/* The one exception, set only by this module after the first factor passed: a code sent on request. */
	if (code_sent_reply(inst, request)) return RLM_MODULE_UPDATED;

	/* Ours are in the log already; another module's is a first factor refused. */
	if (!was_decided(inst, request, DECIDED_REJECT)) {
		bool round_two = fr_pair_find_by_num(request->packet->vps, PW_STATE, 0, TAG_ANY) != NULL;

		log_login(inst, request, "none", "reject", round_two ? "rejected" : "bad_password");
	}
	if ((inst->password_source == PASSWORD_SOURCE_NONE) && !was_decided(inst, request, DECIDED_REJECT) &&
	    !fr_pair_find_by_num(request->packet->vps, PW_STATE, 0, TAG_ANY) &&
	    (load_user_kept(inst, request, user_name(inst, request), &user) == TWOFA_OK)) {
		count_password_failure(inst, request, user);
		talloc_free(user);
	}
	reject_reply(inst, request);	/* another module's reject of round two ends the login's State too */

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

	if (fr_pair_find_by_num(request->packet->vps, PW_STATE, 0, TAG_ANY) && answers_our_challenge(inst, request)) {
		/* Our challenge's answer, accepted by someone else: the code was never checked. */
		return reject(inst, request, "post-auth", TWOFA_ERR_NOT_ENROLLED);
	}
	if (eap_tls_skips(inst, request, auth_type)) return RLM_MODULE_OK;

	rc = load_user_kept(inst, request, user_name(inst, request), &user);
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
		/* Made an Accept after this module rejected (control:Response-Packet-Type): a reject still. */
		if (was_decided(inst, request, DECIDED_REJECT)) {
			REDEBUG("The reply was made an Access-Accept after this module rejected the request: rejecting");
			reject_reply(inst, request);
			return RLM_MODULE_REJECT;
		}
		if (was_decided(inst, request, DECIDED_SECOND_FACTOR)) {	/* logged in round two */
			add_reply_attributes(inst, request);
			add_message_authenticator(request);
			return RLM_MODULE_OK;
		}
		if (was_decided(inst, request, DECIDED_NOT_NEEDED)) {
			log_login(inst, request, "none", "accept", accept_reason(inst, request));
			add_reply_attributes(inst, request);
			add_message_authenticator(request);
			return RLM_MODULE_OK;
		}
		rcode = post_auth_accept(inst, request);
		if (was_decided(inst, request, DECIDED_REJECT)) return RLM_MODULE_REJECT;	/* whatever the reason's rcode */
		if (rcode == RLM_MODULE_HANDLED) return RLM_MODULE_UPDATED;	/* a challenge: FreeRADIUS saves session-state */
		if (was_decided(inst, request, DECIDED_SECOND_FACTOR)) {	/* an appended code: logged by its consume */
			add_reply_attributes(inst, request);
			add_message_authenticator(request);
			return rcode;
		}
		/* The first factor alone will do: exempt, or nothing on file under enforce = optional. */
		log_login(inst, request, "none", "accept", accept_reason(inst, request));
		add_reply_attributes(inst, request);
		add_message_authenticator(request);
		return rcode;

	case PW_CODE_ACCESS_CHALLENGE:
		add_message_authenticator(request);
		return RLM_MODULE_NOOP;

	default:
		return RLM_MODULE_NOOP;
	}
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
	if (parse_net_config(conf, inst) < 0) return -1;
	if (check_wiring(inst, conf) < 0) return -1;
	if (load_policy(conf, inst) < 0) return -1;
	if (load_reply_attributes(conf, inst) < 0) return -1;

	if (twofa_crypto_load_key(inst->key_file, inst->key, err, sizeof(err)) != TWOFA_OK) {
		cf_log_err_cs(conf, "Cannot use key_file: %s", err);
		return -1;
	}
	if (load_state_keys(conf, inst) < 0) return -1;
	if (setup_delivery(conf, inst) < 0) return -1;
	if (twofa_device_key_derive(inst->key, inst->device_key) != TWOFA_OK) {
		cf_log_err_cs(conf, "Cannot derive the remembered devices' key");
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

	if ((inst->password_source == PASSWORD_SOURCE_LDAP) && (ldap_instantiate(conf, inst) < 0)) return -1;

	INFO("rlm_twofa (%s): store %s (schema %d), password_source %s, enforce %s",
	     inst->name, inst->store_path, twofa_store_schema_version(inst->store),
	     inst->password_source_name, twofa_enforce_names[inst->enforce]);

	return 0;
}

static int mod_detach(void *instance)
{
	rlm_twofa_t *inst = instance;

	TALLOC_FREE(inst->sender);	/* stops its thread, ends its transfers, before what they use goes */
	OPENSSL_cleanse(inst->key, sizeof(inst->key));
	OPENSSL_cleanse(inst->state_keys, sizeof(inst->state_keys));
	OPENSSL_cleanse(inst->delivery.okey, sizeof(inst->delivery.okey));
	OPENSSL_cleanse(inst->device_key, sizeof(inst->device_key));
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
	.config		= twofa_module_config,
	.instantiate	= mod_instantiate,
	.detach		= mod_detach,
	.methods = {
		[MOD_AUTHORIZE]		= mod_authorize,
		[MOD_AUTHENTICATE]	= mod_authenticate,
		[MOD_POST_AUTH]		= mod_post_auth,
	},
};
