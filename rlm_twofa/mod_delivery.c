/*
 * mod_delivery.c	codes sent by SMS or email in the flow: the challenge that sends
 *		one (failmode), the number prompt (sms_ask_number), and the words at
 *		the prompt that switch method or resend.
 */
RCSID("$Id$")

#include "module.h"

/*
 *	SMS and email: a challenge's text names where the code went
 *	({to}: masked), a code's login lasts as long as the code.
 */
#define TWOFA_TO_TOKEN	"{to}"

/** template with each "{to}" replaced by to; cut to a Reply-Message. */
static void expand_to(char *out, size_t out_size, char const *template, char const *to)
{
	size_t		used = 0, n, token_len = strlen(TWOFA_TO_TOKEN);
	char const	*p = template, *token;

	out[0] = '\0';
	while (used + 1 < out_size) {
		token = strstr(p, TWOFA_TO_TOKEN);
		n = token ? (size_t) (token - p) : strlen(p);
		if (n > out_size - 1 - used) n = out_size - 1 - used;
		memcpy(out + used, p, n);
		used += n;
		if (!token) break;
		n = strlen(to);
		if (n > out_size - 1 - used) break;		/* whole or not at all */
		memcpy(out + used, to, n);
		used += n;
		p = token + token_len;
	}
	out[used] = '\0';
}

static bool sends_a_code(uint8_t id)
{
	return (id == TWOFA_METHOD_SMS) || (id == TWOFA_METHOD_EMAIL) || (id == TWOFA_METHOD_SMS_NEW);
}

/* A challenge with a sent code may be answered while the code lives, at least challenge_timeout. */
static void set_code_expiry(rlm_twofa_t const *inst, twofa_pending_t *pending)
{
	uint32_t lifetime = (pending->method == TWOFA_METHOD_EMAIL) ? inst->mail_lifetime : inst->sms_lifetime;

	pending->expires = time(NULL) + ((lifetime > inst->challenge_timeout) ? lifetime : inst->challenge_timeout);
}

/** Say, in radiusd's log, why a code was not sent: the gateway's status or curl's error, never the code. */
static void log_send_failure(rlm_twofa_t const *inst, REQUEST *request, char const *name, twofa_method_t const *method,
			     twofa_rcode_t rc, send_info_t const *info)
{
	switch (rc) {
	case TWOFA_ERR_THROTTLED:
		RWDEBUG("User \"%s\": %s send limit reached (send_limits), no code sent", name, method->name);
		break;
	case TWOFA_ERR_IO:
		RERROR("User \"%s\": %s code to %s not sent: %s", name, method->name, info->report.to, info->report.why);
		break;
	default:
		RERROR("User \"%s\": %s code not sent (%s)", name, method->name, twofa_strerror(rc));
		break;
	}
}

/*
 *	Challenge user with method, or, if its code cannot be sent, with the
 *	next method they hold when failmode (or a send limit) allows; else
 *	the one reject.  carry (may be NULL): the challenge this one
 *	replaces (a word at the prompt), whose attempts and sends go on.
 */
rlm_rcode_t challenge_with(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user,
				  twofa_method_t const *method, twofa_pending_t const *carry, char const *message)
{
	twofa_pending_t	pending;
	send_info_t	info;
	uint32_t	tried = 0;
	char		text[TWOFA_REPLY_MESSAGE_MAX + 1];
	twofa_rcode_t	rc;

	for (;;) {
		rc = pending_from_user(inst, request, method, user, &pending, &info);
		if (rc == TWOFA_OK) break;
		if (rc == TWOFA_ERR_CRYPTO) {
			RERROR("User \"%s\": stored %s factor is malformed", user->name, method->name);
			return reject(inst, request, "enrolment", TWOFA_ERR_CRYPTO);
		}
		log_send_failure(inst, request, user->name, method, rc, &info);
		tried |= TWOFA_METHOD_BIT(method->id);
		if ((rc == TWOFA_ERR_THROTTLED) || (inst->failmode == FAILMODE_ANOTHER_METHOD)) {
			twofa_method_t const *next = twofa_method_pick(user, inst->usable, tried);

			if (next) {
				RDEBUG2("User \"%s\": challenging with %s instead", user->name, next->name);
				method = next;
				message = NULL;
				continue;
			}
		}
		return reject(inst, request, "send", rc);
	}
	if (carry) {
		pending.attempts_left = carry->attempts_left;
		pending.sends = carry->sends + 1;
	}
	if (sends_a_code(pending.method)) {
		set_code_expiry(inst, &pending);
		if (info.report.pending) {
			RDEBUG2("User \"%s\": no word from the %s gateway within send_wait, the code may still arrive",
				user->name, method->name);
		}
		expand_to(text, sizeof(text), message ? message : inst->prompts[pending.method].challenge, info.report.to);
		return send_challenge(inst, request, &pending, text);
	}
	return send_challenge(inst, request, &pending, message ? message : inst->prompts[pending.method].challenge);
}

/*
 *	sms_ask_number = yes and no method held: whoever has the password
 *	registers a number, so it is off by default.  The user is asked
 *	for one; round two sends it a code (answer_number), and the number
 *	is saved only when that code checks (method_sms.c).
 */
rlm_rcode_t ask_number(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user)
{
	twofa_pending_t	pending;
	send_info_t	info;

	if (pending_from_user(inst, request, &twofa_method_sms_number, user, &pending, &info) != TWOFA_OK) {
		return reject(inst, request, "enrolment", TWOFA_ERR_CRYPTO);
	}
	RDEBUG2("User \"%s\": no second factor on file, sms_ask_number = yes: asking for a mobile number", user->name);
	return send_challenge(inst, request, &pending, inst->prompts[TWOFA_METHOD_SMS_NUMBER].challenge);
}

/** The answer to the prompt for a number: a code sent to it, or the prompt again. */
rlm_rcode_t answer_number(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t *pending)
{
	VALUE_PAIR		*answer = user_password(request);
	send_info_t		info;
	twofa_method_ctx_t	mctx = method_ctx_send(inst, request, &info);
	char			text[TWOFA_REPLY_MESSAGE_MAX + 1];
	twofa_rcode_t		rc;

	if (pending->sends >= inst->resend_limit + 1) return reject(inst, request, "resend", TWOFA_ERR_THROTTLED);
	/* Answered once: spent before a code goes anywhere, so that the State sent again sends nothing. */
	if (!state_spend(inst, request)) return reject(inst, request, "state", TWOFA_ERR_EXPIRED);
	rc = answer ? twofa_sms_new_start(&mctx, answer->vp_strvalue, answer->vp_length, pending) : TWOFA_ERR_MALFORMED;
	if (rc == TWOFA_ERR_MALFORMED) {
		if (pending->attempts_left <= 1) return reject(inst, request, "sms", rc);
		pending->attempts_left--;
		twofa_message_expand(text, sizeof(text), inst->prompts[TWOFA_METHOD_SMS_NUMBER].retry,
				     pending->attempts_left);
		return send_challenge(inst, request, pending, text);
	}
	if (rc != TWOFA_OK) {
		log_send_failure(inst, request, pending->name, &twofa_method_sms, rc, &info);
		return reject(inst, request, "send", rc);
	}
	pending->sends++;
	set_code_expiry(inst, pending);
	expand_to(text, sizeof(text), inst->prompts[TWOFA_METHOD_SMS].challenge, info.report.to);
	return send_challenge(inst, request, pending, text);
}

/** Which word (words { }) answer is, or -1. */
int prompt_word(rlm_twofa_t const *inst, VALUE_PAIR const *answer)
{
	int i;

	if (!answer) return -1;
	for (i = 0; i < WORD_COUNT; i++) {
		if (inst->words[i] && inst->words[i][0] && (strcasecmp(answer->vp_strvalue, inst->words[i]) == 0)) return i;
	}
	return -1;
}

/*
 *	A word at the prompt: switch to another method the user holds, or
 *	send a new code (which voids the one before).  Each counts toward
 *	resend_limit; the attempts left go on.  The method the word names
 *	must be one the user holds (read again: a store call), else the word
 *	is just a wrong answer.  @return false if the word does not apply.
 */
bool switch_method(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t const *pending, int word,
			  rlm_rcode_t *rcode)
{
	twofa_method_t const	*to = NULL;
	twofa_user_t		*user = NULL;
	twofa_rcode_t		rc;

	switch (word) {
	case WORD_SMS:		to = &twofa_method_sms; break;
	case WORD_EMAIL:	to = &twofa_method_email; break;
	case WORD_TOTP:		to = &twofa_method_totp; break;
	case WORD_RESEND:
		if ((pending->method == TWOFA_METHOD_SMS) || (pending->method == TWOFA_METHOD_EMAIL)) {
			to = twofa_method_by_id(pending->method);
		}
		break;
	}
	if (!to || !(inst->usable & TWOFA_METHOD_BIT(to->id))) return false;

	rc = load_user(inst, request, pending->name, &user);
	if ((rc != TWOFA_OK) || (user->id != pending->user_id)) {
		*rcode = reject(inst, request, "state", (rc == TWOFA_OK) ? TWOFA_ERR_NOT_FOUND : rc);
		return true;
	}
	if (!to->held(user)) return false;
	if (pending->sends >= inst->resend_limit) {
		*rcode = reject(inst, request, "resend", TWOFA_ERR_THROTTLED);
		return true;
	}
	if (is_locked(user, time(NULL))) {
		*rcode = reject(inst, request, to->name, TWOFA_ERR_LOCKED);
		return true;
	}
	/* Answered once: spent before a code goes anywhere, so that the word sent again sends nothing. */
	if (!state_spend(inst, request)) {
		*rcode = reject(inst, request, "state", TWOFA_ERR_EXPIRED);
		return true;
	}
	RDEBUG2("User \"%s\": \"%s\" at the prompt: %s", user->name, inst->words[word],
		(word == WORD_RESEND) ? "sending a new code" : "switching method");
	*rcode = challenge_with(inst, request, user, to, pending, NULL);
	return true;
}

/** Does the user hold method, and can this server send its codes? */
static bool sendable(rlm_twofa_t const *inst, twofa_user_t const *user, twofa_method_t const *method)
{
	return method && (inst->usable & TWOFA_METHOD_BIT(method->id)) && method->held(user) &&
	       inst->prompts[method->id].sent;
}

/*
 *	Append mode: what of the user's SMS and email a password may end in
 *	(append.h): a code sent earlier, of the method's code_length, and the
 *	words that ask for one (words { }: sms, email; resend: the method
 *	round one would send by, the user's preferred first).  Only for
 *	methods the user holds and this server sends by, so that no other
 *	password loses its tail.
 */
void append_delivery_shapes(rlm_twofa_t const *inst, twofa_user_t const *user, twofa_append_shapes_t *shapes)
{
	twofa_method_t const	*resend = twofa_method_pick(user, inst->usable & (TWOFA_METHOD_BIT(TWOFA_METHOD_SMS) |
									   TWOFA_METHOD_BIT(TWOFA_METHOD_EMAIL)), 0);

	if (sendable(inst, user, &twofa_method_sms)) {
		shapes->sms_digits = inst->delivery.sms_code.digits;
		shapes->words[0] = (twofa_append_word_t) { inst->words[WORD_SMS], TWOFA_METHOD_SMS };
	}
	if (sendable(inst, user, &twofa_method_email)) {
		shapes->email_digits = inst->delivery.email_code.digits;
		shapes->words[1] = (twofa_append_word_t) { inst->words[WORD_EMAIL], TWOFA_METHOD_EMAIL };
	}
	if (sendable(inst, user, resend)) {
		shapes->words[2] = (twofa_append_word_t) { inst->words[WORD_RESEND], resend->id };
	}
}

/*
 *	Append mode: a word after the right password asks for a code.  It is
 *	sent as a challenge would send it (the method's start(): the send
 *	limits, a new code that voids the one before, the gateway, at most
 *	send_wait), and the login ends in a Reject that says where it went
 *	and how to log in with it (code_sent_reject): the NAS cannot show a
 *	challenge.  The next login types the password and that code.  A
 *	method not held or a failed send: the one reject (no failmode: the
 *	user asked for this method).
 */
rlm_rcode_t send_appended_code(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user,
			       twofa_method_t const *method)
{
	twofa_pending_t	pending;
	send_info_t	info;
	char		text[TWOFA_REPLY_MESSAGE_MAX + 1];
	twofa_rcode_t	rc;

	if (!sendable(inst, user, method)) return reject(inst, request, "append", TWOFA_ERR_NOT_ENROLLED);
	rc = pending_from_user(inst, request, method, user, &pending, &info);
	OPENSSL_cleanse(&pending, sizeof(pending));	/* nothing of it is kept: the store holds the code's hash */
	if (rc != TWOFA_OK) {
		log_send_failure(inst, request, user->name, method, rc, &info);
		return reject(inst, request, "send", rc);
	}
	RDEBUG2("User \"%s\": append mode, %s code sent to %s on request%s", user->name, method->name,
		info.report.to, info.report.pending ? " (no word from the gateway within send_wait, it may still arrive)" : "");
	expand_to(text, sizeof(text), inst->prompts[method->id].sent, info.report.to);
	return code_sent_reject(inst, request, method->name, text);
}
