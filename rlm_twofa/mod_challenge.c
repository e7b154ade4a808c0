/*
 * mod_challenge.c	the challenge round's transport: the pending challenge sealed into
 *		the State (state = sealed) or kept in session-state, spent once;
 *		the Access-Challenge itself; the method context; enrolment at login.
 */
RCSID("$Id$")

#include "module.h"

/** The NAS a challenge is bound to: the address the request came from. */
static void state_nas(REQUEST *request, char *nas, size_t len)
{
	if (!ip_ntoh(&request->packet->src_ipaddr, nas, len)) strlcpy(nas, "unknown", len);
}

/*
 *	Session-state: the pending challenge (pending.h), packed into one
 *	octets attribute, Twofa-Pending, and the NAS it is sent to,
 *	Twofa-Pending-NAS.  FreeRADIUS keeps them under the State it sends,
 *	and gives them back with that State from whichever NAS presents it:
 *	pending_load refuses another NAS, as a sealed State does.
 */
static int pending_save(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t const *pending)
{
	uint8_t		buffer[TWOFA_PENDING_MAX];
	size_t		len = twofa_pending_pack(pending, buffer);
	char		nas[INET6_ADDRSTRLEN];
	VALUE_PAIR	*vp, *nas_vp;

	if (!len) return -1;
	fr_pair_delete_by_da(&request->state, inst->da_pending);
	fr_pair_delete_by_da(&request->state, inst->da_pending_nas);
	vp = fr_pair_afrom_da(request->state_ctx, inst->da_pending);
	nas_vp = fr_pair_afrom_da(request->state_ctx, inst->da_pending_nas);
	if (!vp || !nas_vp) {
		talloc_free(vp);
		talloc_free(nas_vp);
		return -1;
	}
	fr_pair_value_memcpy(vp, buffer, len);
	state_nas(request, nas, sizeof(nas));
	fr_pair_value_strcpy(nas_vp, nas);
	fr_pair_add(&request->state, vp);
	fr_pair_add(&request->state, nas_vp);

	return 0;
}

/*
 *	state = sealed: the pending challenge in the State the NAS sent back,
 *	if it opens (not forged or changed, sent to this NAS, under one of our
 *	keys); NULL otherwise.  Opened once per request: authorize asks
 *	whether the request answers our challenge, round two uses it.
 */
static unsealed_t *state_unsealed(rlm_twofa_t const *inst, REQUEST *request)
{
	unsealed_t	*u;
	VALUE_PAIR	*vp;
	char		nas[INET6_ADDRSTRLEN];

	if (!inst->sealed_state) return NULL;
	u = request_data_reference(request, (void *) inst->decision_key, UNSEALED_STATE);
	if (u) return u;
	vp = fr_pair_find_by_num(request->packet->vps, PW_STATE, 0, TAG_ANY);
	if (!vp || !(u = talloc_zero(request, unsealed_t))) return NULL;
	state_nas(request, nas, sizeof(nas));
	if (!twofa_state_open(inst->state_keys, inst->num_state_keys, vp->vp_octets, vp->vp_length, nas,
			      &u->pending, u->nonce)) {
		talloc_free(u);
		return NULL;
	}
	request_data_add(request, (void *) inst->decision_key, UNSEALED_STATE, u, false);
	return u;
}

/*
 *	Round two's sealed State is good for one answer: a consume records it
 *	in its own write (verify_answer); any other way on (a new challenge
 *	after a wrong code, a switch of method) records it here first, and
 *	goes no further if it was answered before; every reject records it
 *	(reject_reply), so that an ended login's State takes no answer.
 *	False: answered before, or the store could not record it.
 */
bool state_spend(rlm_twofa_t const *inst, REQUEST *request)
{
	unsealed_t	*u = request_data_reference(request, (void *) inst->decision_key, UNSEALED_STATE);
	twofa_rcode_t	rc;

	if (!u || u->spent) return true;
	if (u->answered_before) return false;	/* the reject that follows asks no second time */
	rc = twofa_store_state_use(inst->store, u->nonce, sizeof(u->nonce), u->pending.expires, time(NULL));
	if (rc == TWOFA_OK) {
		u->spent = true;
		return true;
	}
	if (rc == TWOFA_ERR_REPLAYED) {
		REDEBUG2("State was answered before");
		u->answered_before = true;
	} else {
		log_store_error(inst, request, "use state", rc);
	}
	return false;
}

/** Does the request answer a challenge of ours (session-state, or a sealed State that opens)? */
bool answers_our_challenge(rlm_twofa_t const *inst, REQUEST *request)
{
	return fr_pair_find_by_da(request->state, inst->da_pending, TAG_ANY) || state_unsealed(inst, request);
}

/** The pending challenge, from the sealed State or from session-state.  False if there is
 *  none, it is not ours, or (sealed) it was answered before. */
bool pending_load(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t *pending)
{
	unsealed_t	*u = state_unsealed(inst, request);
	VALUE_PAIR	*vp;
	char		nas[INET6_ADDRSTRLEN];

	if (u) {
		/* Not yet recorded as answered: the consume does it in its own write, else state_spend. */
		*pending = u->pending;
		return true;
	}
	/* Session-state: state = session, or a challenge whose context did not fit a State. */
	vp = fr_pair_find_by_da(request->state, inst->da_pending, TAG_ANY);
	if (!vp || !twofa_pending_unpack(vp->vp_octets, vp->vp_length, pending)) return false;
	vp = fr_pair_find_by_da(request->state, inst->da_pending_nas, TAG_ANY);
	state_nas(request, nas, sizeof(nas));
	if (!vp || (strcmp(vp->vp_strvalue, nas) != 0)) {
		REDEBUG2("State was sent to %s, not to this NAS", vp ? vp->vp_strvalue : "another NAS");
		return false;
	}
	return true;
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
/*
 *	state = sealed: the State is the pending challenge, sealed (state.h);
 *	FreeRADIUS then keeps nothing for it (no session-state entry is made
 *	when the module leaves request->state empty).  -1: not sealed
 *	(state = session, or a context too long for a State: a very long
 *	name), so the caller keeps it in session-state.
 */
static int add_sealed_state(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t const *pending)
{
	uint8_t		state[TWOFA_STATE_MAX], nonce[TWOFA_STATE_NONCE_LEN];
	char		nas[INET6_ADDRSTRLEN];
	size_t		len;
	VALUE_PAIR	*vp;

	if (!inst->sealed_state) return -1;
	state_nas(request, nas, sizeof(nas));
	len = twofa_state_seal(&inst->state_keys[0], pending, nas, state, nonce);
	if (!len) {
		RDEBUG2("Pending challenge does not fit a sealed State: kept in session-state");
		return -1;
	}
	vp = fr_pair_afrom_num(request->reply, PW_STATE, 0);
	if (!vp) return -1;
	fr_pair_value_memcpy(vp, state, len);
	fr_pair_add(&request->reply->vps, vp);
	return 0;
}

rlm_rcode_t send_challenge(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t *pending,
				  char const *message)
{
	VALUE_PAIR *vp;

	/* Set once, in round one: a wrong code asks again, but the login ends within challenge_timeout. */
	if (!pending->expires) pending->expires = time(NULL) + inst->challenge_timeout;
	/* The directory group round one found travels on to the Accept (ldap.groups.reply). */
	pending->reply_group = group_reply_tag(inst, request);
	/* Round two's State is answered by this new challenge: never twice. */
	if (!state_spend(inst, request)) return reject(inst, request, "state", TWOFA_ERR_EXPIRED);

	reply_clear(request);
	if (add_sealed_state(inst, request, pending) < 0) {
		if (pending_save(inst, request, pending) < 0) return reject(inst, request, "challenge", TWOFA_ERR_NO_MEMORY);
		if (add_state(request) < 0) return reject(inst, request, "challenge", TWOFA_ERR_CRYPTO);
	}
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

/** The method's context for this request: the key, the window, the store, now, how codes are sent. */
twofa_method_ctx_t method_ctx(rlm_twofa_t const *inst)
{
	return (twofa_method_ctx_t) { .key = inst->key, .window = inst->window, .store = inst->store,
				      .now = time(NULL), .delivery = &inst->delivery };
}

twofa_method_ctx_t method_ctx_send(rlm_twofa_t const *inst, REQUEST *request, send_info_t *info)
{
	twofa_method_ctx_t mctx = method_ctx(inst);

	memset(info, 0, sizeof(*info));
	if (!ip_ntoh(&request->packet->src_ipaddr, info->nas, sizeof(info->nas))) strcpy(info->nas, "unknown");
	mctx.nas = info->nas;
	mctx.report = &info->report;
	return mctx;
}

static void pending_init(rlm_twofa_t const *inst, twofa_method_t const *method, twofa_user_t const *user,
			 twofa_pending_t *pending)
{
	memset(pending, 0, sizeof(*pending));
	pending->attempts_left = inst->attempts;
	pending->method = method->id;
	pending->had_failures = user->fail_count || user->lock_count || user->locked_until;
	pending->no_user_reply = !user->reply || !*user->reply;
	pending->user_id = user->id;
	strlcpy(pending->name, user->name, sizeof(pending->name));
}

/** What round two needs: who, how many attempts, and the method's own part (SMS, email: a code sent). */
twofa_rcode_t pending_from_user(rlm_twofa_t const *inst, REQUEST *request, twofa_method_t const *method,
				       twofa_user_t const *user, twofa_pending_t *pending, send_info_t *info)
{
	twofa_method_ctx_t mctx = method_ctx_send(inst, request, info);

	pending_init(inst, method, user, pending);
	return method->start(&mctx, user, pending);
}

/** Append mode: the same, to check a code typed after the password; nothing is sent
 *  (a sent code is the one an earlier request sent: the method's resume). */
twofa_rcode_t pending_to_check(rlm_twofa_t const *inst, REQUEST *request, twofa_method_t const *method,
			       twofa_user_t const *user, twofa_pending_t *pending)
{
	send_info_t		info;
	twofa_method_ctx_t	mctx = method_ctx_send(inst, request, &info);

	pending_init(inst, method, user, pending);
	return method->resume ? method->resume(&mctx, user, pending) : method->start(&mctx, user, pending);
}

/*
 *	enrol_at_login = yes and no factor held: whoever has the password
 *	enrols one.  The new secret is in this challenge's text only (a
 *	wrong code gets retry_message) and is stored once a code for it
 *	checks (method_enrol.c).
 */
rlm_rcode_t offer_enrolment(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user)
{
	twofa_pending_t	pending;
	char		message[TWOFA_REPLY_MESSAGE_MAX + 1];
	rlm_rcode_t	rcode;

	send_info_t	info;

	if ((pending_from_user(inst, request, &twofa_method_enrol, user, &pending, &info) != TWOFA_OK) ||
	    (twofa_enrol_message(request, inst->key, &pending, inst->enrol_message, message, sizeof(message)) != TWOFA_OK)) {
		RERROR("User \"%s\": cannot make a TOTP secret to enrol", user->name);
		return reject(inst, request, "enrolment", TWOFA_ERR_CRYPTO);
	}
	RDEBUG2("User \"%s\": no second factor on file, enrol_at_login = yes: sending a new TOTP secret", user->name);
	rcode = send_challenge(inst, request, &pending, message);
	OPENSSL_cleanse(message, sizeof(message));
	return rcode;
}
