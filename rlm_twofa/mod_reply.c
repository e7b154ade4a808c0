/*
 * mod_reply.c	replies and the record of each login: the one reject, Reply-Message
 *		and Message-Authenticator, the login log's row, what this module
 *		decided in a request (request data, for post-auth), the request's
 *		User-Name and User-Password as the module reads them.
 */
RCSID("$Id$")

#include "module.h"

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

void decided(rlm_twofa_t const *inst, REQUEST *request, int what)
{
	request_data_add(request, (void *) inst->decision_key, what, (void *) inst, false);
}

bool was_decided(rlm_twofa_t const *inst, REQUEST *request, int what)
{
	return request_data_reference(request, (void *) inst->decision_key, what) != NULL;
}

/*
 *	Every reply this module makes or passes carries a Message-Authenticator
 *	(BlastRADIUS, CVE-2024-3596).  FreeRADIUS 3.2.1 computes one only for a
 *	reply that holds the attribute.
 */
void add_message_authenticator(REQUEST *request)
{
	VALUE_PAIR *vp;

	if (fr_pair_find_by_num(request->reply->vps, PW_MESSAGE_AUTHENTICATOR, 0, TAG_ANY)) return;
	vp = fr_pair_afrom_num(request->reply, PW_MESSAGE_AUTHENTICATOR, 0);
	if (!vp) return;
	fr_pair_value_memcpy(vp, (uint8_t const *) "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	fr_pair_add(&request->reply->vps, vp);
}

/*
 *	Empty the reply, but for Proxy-State: RFC 2865 5.33 returns it
 *	unmodified in every reply, and radiusd copies it from the request
 *	before post-auth, where this module makes rejects and challenges too.
 */
void reply_clear(REQUEST *request)
{
	VALUE_PAIR *proxy_state = fr_pair_list_copy_by_num(request->reply, request->reply->vps, PW_PROXY_STATE, 0,
							   TAG_ANY);

	fr_pair_list_free(&request->reply->vps);
	if (proxy_state) fr_pair_add(&request->reply->vps, proxy_state);
}

/** Add a Reply-Message, cut to the 253 bytes an attribute holds at a UTF-8 character boundary. */
void add_reply_message(REQUEST *request, char const *text, FR_TOKEN op)
{
	char	buffer[TWOFA_REPLY_MESSAGE_MAX + 1];
	size_t	len = twofa_utf8_prefix(text, strlen(text), TWOFA_REPLY_MESSAGE_MAX);

	memcpy(buffer, text, len);
	buffer[len] = '\0';
	pair_make_reply("Reply-Message", buffer, op);
	OPENSSL_cleanse(buffer, sizeof(buffer));	/* an enrolment's message holds the new secret */
}

/** A reason word for a failure, for the log: stable, short, no detail. */
static char const *login_reason(char const *stage, twofa_rcode_t rc)
{
	if (strcmp(stage, "state") == 0) return "bad_state";
	if (strcmp(stage, "send") == 0) {		/* an SMS or mail that could not go */
		if (rc == TWOFA_ERR_THROTTLED) return "send_limit";
		if (rc == TWOFA_ERR_UNAVAILABLE) return "send_unavailable";
		if (rc == TWOFA_ERR_IO) return "send_failed";
	}
	if (strcmp(stage, "resend") == 0) return "resend_limit";

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

void login_record(rlm_twofa_t const *inst, REQUEST *request, login_record_t *l, char const *method,
			 char const *result, char const *reason)
{
	VALUE_PAIR *csi = nas_pair(request, PW_CALLING_STATION_ID);

	l->row = (twofa_login_t) { .at = time(NULL), .user = user_name(inst, request), .nas = l->nas,
				   .method = method, .result = result, .reason = reason };
	if (!ip_ntoh(&request->packet->src_ipaddr, l->nas, sizeof(l->nas))) l->row.nas = NULL;
	if (csi && (csi->da->type == PW_TYPE_STRING) && (strlen(csi->vp_strvalue) == csi->vp_length)) {
		l->row.calling_station_id = csi->vp_strvalue;
	}
}

void log_login(rlm_twofa_t const *inst, REQUEST *request, char const *method, char const *result,
		      char const *reason)
{
	login_record_t	l;
	twofa_rcode_t	rc;

	login_record(inst, request, &l, method, result, reason);
	rc = twofa_store_log_login(inst->store, &l.row);
	if (rc != TWOFA_OK) {
		RERROR("Store log login failed (%s): %s", twofa_strerror(rc), twofa_store_errmsg(inst->store));
	}
}

/* A reply of message alone (with Proxy-State and a Message-Authenticator, as every reply). */
static void reply_only(REQUEST *request, char const *message)
{
	reply_clear(request);
	add_reply_message(request, message, T_OP_SET);
	add_message_authenticator(request);
}

/** The reply of every reject, this module's or another's: reject_message, nothing else (but
 *  Proxy-State).  The login ends here: a sealed State it answered takes no other answer (state_spend). */
void reject_reply(rlm_twofa_t const *inst, REQUEST *request)
{
	(void) state_spend(inst, request);
	decided(inst, request, DECIDED_REJECT);
	reply_only(request, inst->reject_message);
}

/** The one Access-Reject of this module: the same Reply-Message whatever failed.
 *
 * One REDEBUG per failed login: it becomes the Module-Failure-Message that
 * "Login incorrect (twofa: ...)" shows.  A stage and a reason, never a code.
 */
rlm_rcode_t reject(rlm_twofa_t const *inst, REQUEST *request, char const *stage, twofa_rcode_t rc)
{
	REDEBUG("%s %s", stage, twofa_strerror(rc));
	if (!was_decided(inst, request, DECIDED_REJECT)) {
		log_login(inst, request, login_method(stage), "reject", login_reason(stage, rc));
	}
	reject_reply(inst, request);

	return (rc == TWOFA_OK) ? RLM_MODULE_REJECT : rcode_map(rc);
}

/*
 *	Append mode: a code was sent because the user typed a switch word
 *	after the right password.  The NAS shows no challenge, so the login
 *	ends here, in an Access-Reject whose Reply-Message says where the
 *	code went and how to log in with it: the one reject that is not
 *	reject_message.  Only this path sets the text (request data, which
 *	no packet, unlang or other module can); Post-Auth-Type REJECT puts
 *	it back (code_sent_reply).  Logged as "code_sent", never the code.
 */
rlm_rcode_t code_sent_reject(rlm_twofa_t const *inst, REQUEST *request, char const *method, char const *message)
{
	char *kept = talloc_strdup(request, message);

	REDEBUG("%s code sent on request (append mode), the login ends here", method);
	log_login(inst, request, method, "reject", "code_sent");
	reject_reply(inst, request);
	if (!kept || (request_data_add(request, (void *) inst->decision_key, NET_CODE_SENT, kept, true) < 0)) {
		return RLM_MODULE_REJECT;	/* the one message: the code went all the same */
	}
	code_sent_reply(inst, request);
	return RLM_MODULE_REJECT;
}

/** The reply of a reject after a code sent on request, if this request sent one. */
bool code_sent_reply(rlm_twofa_t const *inst, REQUEST *request)
{
	char const *message = request_data_reference(request, (void *) inst->decision_key, NET_CODE_SENT);

	if (!message) return false;
	reply_only(request, message);
	return true;
}

/** Log a store failure with its detail (never holds a secret: SQLite's own messages). */
void log_store_error(rlm_twofa_t const *inst, REQUEST *request, char const *what, twofa_rcode_t rc)
{
	RERROR("Store %s failed (%s): %s", what, twofa_strerror(rc), twofa_store_errmsg(inst->store));
}

/*
 *	The name looked up, as a checked C string, or NULL (RADIUS strings may
 *	hold NULs and anything else).  user_name = stripped: the name without
 *	its realm, as the realm modules (suffix, ntdomain) leave it in
 *	Stripped-User-Name; full: User-Name as the NAS sent it.
 */
char const *user_name(rlm_twofa_t const *inst, REQUEST *request)
{
	VALUE_PAIR *vp = NULL;

	if (!inst->full_name) {
		vp = fr_pair_find_by_num(request->packet->vps, PW_STRIPPED_USER_NAME, 0, TAG_ANY);
		if (!vp) vp = request->username;
	}
	if (!vp) vp = fr_pair_find_by_num(request->packet->vps, PW_USER_NAME, 0, TAG_ANY);
	if (!vp || vp->da->type != PW_TYPE_STRING) return NULL;
	if (!twofa_user_name_valid(vp->vp_strvalue, vp->vp_length)) return NULL;

	return vp->vp_strvalue;
}

/** User-Password (round one: the password; round two: the code), or NULL. */
VALUE_PAIR *user_password(REQUEST *request)
{
	VALUE_PAIR *vp = fr_pair_find_by_num(request->packet->vps, PW_USER_PASSWORD, 0, TAG_ANY);

	if (!vp || vp->vp_length == 0) return NULL;
	if (strlen(vp->vp_strvalue) != vp->vp_length) return NULL;	/* embedded NUL */

	return vp;
}

/*
 *	enforce = optional lets the first factor alone in: the Access-Accept
 *	may remind the user to set up a second one.  Added, not set, so that
 *	a Reply-Message of the site's own stays.
 */
void add_optional_reminder(rlm_twofa_t const *inst, REQUEST *request)
{
	if (inst->optional_reminder[0] != '\0') add_reply_message(request, inst->optional_reminder, T_OP_ADD);
}
