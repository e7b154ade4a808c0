/*
 * mod_nas.c	NAS compatibility: the policy_file rules applied to a request, append
 *		mode (the code typed after the password), remembered devices, reply
 *		attributes on Accept, logins proven by an EAP-TLS certificate.
 */
RCSID("$Id$")

#include "module.h"

/*
 *	An attribute of the packet the NAS sent.  In an EAP tunnel (TTLS,
 *	PEAP) the inner request's attributes are the client's tunnelled
 *	ones, which the client writes as it likes (a Calling-Station-Id of
 *	a trusted network, another device's MAC): where a login comes from
 *	is read from the outermost request, whose packet the client's
 *	secret vouches for.
 */
VALUE_PAIR *nas_pair(REQUEST *request, unsigned int attr)
{
	while (request->parent) request = request->parent;
	return fr_pair_find_by_num(request->packet->vps, attr, 0, TAG_ANY);
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
	if ((vp = nas_pair(request, PW_NAS_IP_ADDRESS))) {
		ip4.af = 4;
		memcpy(ip4.addr, &vp->vp_ipaddr, 4);
		q.nas_ip4 = &ip4;
	}
	if ((vp = nas_pair(request, PW_NAS_IPV6_ADDRESS))) {
		ip6.af = 6;
		memcpy(ip6.addr, &vp->vp_ipv6addr, 16);
		q.nas_ip6 = &ip6;
	}
	vp = nas_pair(request, PW_CALLING_STATION_ID);
	if (vp && (vp->da->type == PW_TYPE_STRING) && (strlen(vp->vp_strvalue) == vp->vp_length) &&
	    twofa_ip_parse(vp->vp_strvalue, &from)) {
		q.from = &from;
	} else if ((vp = nas_pair(request, PW_FRAMED_IP_ADDRESS))) {
		from.af = 4;
		memcpy(from.addr, &vp->vp_ipaddr, 4);
		q.from = &from;
	}
	return twofa_netpolicy_match(inst->policy, &q);
}

static int _appended_free(appended_t *a)
{
	OPENSSL_cleanse(a, sizeof(*a));
	return 0;
}

/** append = yes | no, or the NAS rule's append=. */
static bool append_applies(rlm_twofa_t const *inst, twofa_netpolicy_rule_t const *rule)
{
	if (rule && (rule->append != TWOFA_NETPOLICY_UNSET)) return rule->append == TWOFA_NETPOLICY_YES;
	return inst->append;
}

/*
 *	Append mode, before the first factor is checked: if User-Password
 *	ends in a code of a shape the user holds, or in a word asking for
 *	one (append.h), it is cut off into request data and User-Password
 *	keeps the password alone (the tail's bytes wiped), for whatever
 *	checks it next: this module, or the directory.  No code: nothing
 *	changes, and the login gets the challenge.  An unknown user has no
 *	shapes, so no split: the dummy hash is checked against the whole
 *	string, as for any name.
 */
void append_split_request(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user)
{
	VALUE_PAIR		*vp = user_password(request);
	twofa_factor_t const	*totp;
	twofa_append_shapes_t	shapes = { .separator = inst->append_separator };
	twofa_append_split_t	split;
	appended_t		*a;

	if (!user || !vp || !append_applies(inst, nas_rule(inst, request))) return;
	totp = twofa_user_factor(user, TWOFA_FACTOR_TOTP);
	if (totp && totp->confirmed) shapes.totp_digits = totp->totp.digits;
	shapes.backup = user->backup_codes_left > 0;
	append_delivery_shapes(inst, user, &shapes);
	if (!twofa_append_split(vp->vp_strvalue, vp->vp_length, &shapes, &split)) {
		RDEBUG2("User \"%s\": append mode, no code after the password: the challenge asks for one", user->name);
		return;
	}
	if (split.code_len > TWOFA_BACKUP_INPUT_MAX) return;
	MEM(a = talloc_zero(request, appended_t));
	talloc_set_destructor(a, _appended_free);
	memcpy(a->code, vp->vp_strvalue + split.code_off, split.code_len);
	a->len = split.code_len;
	a->word = split.word;
	a->method = split.method;
	a->methods = split.methods;
	/* The string shrinks in place: its tail (the code and any separator) is wiped. */
	memset((char *) vp->vp_strvalue + split.password_len, 0, vp->vp_length - split.password_len);
	vp->vp_length = split.password_len;
	request_data_add(request, (void *) inst->decision_key, NET_APPENDED, a, true);
	if (a->word) {
		RDEBUG2("User \"%s\": append mode, a word after the password asks for a %s code", user->name,
			twofa_method_by_id(a->method)->name);
	} else {
		RDEBUG2("User \"%s\": append mode, a code after the password (%s%s)", user->name,
			twofa_method_by_id(a->method)->name, (a->methods != TWOFA_METHOD_BIT(a->method)) ? " or another" : "");
	}
}

/*
 *	Append mode with password_source = none, in authorize: the site's
 *	module (pap, ldap, ...) checks User-Password in authenticate, so the
 *	code is cut off now, and post-auth checks it on the first factor's
 *	Accept.  The user is read only where append mode applies, and kept
 *	for post-auth (load_user_kept): one read per login.  A store error:
 *	no split, and the whole string fails as the password.
 */
void append_split_authorize(rlm_twofa_t const *inst, REQUEST *request)
{
	twofa_user_t	*user = NULL;

	if (!user_password(request) || !append_applies(inst, nas_rule(inst, request))) return;
	/* Listed twice in authorize: the password alone must not be split again. */
	if (request_data_reference(request, (void *) inst->decision_key, NET_APPENDED)) return;
	if (load_user(inst, request, user_name(inst, request), &user) != TWOFA_OK) return;
	append_split_request(inst, request, user);
	if (request_data_add(request, (void *) inst->decision_key, NET_USER, user, true) < 0) talloc_free(user);
}

/*
 *	A remembered device's name: its Calling-Station-Id normalised
 *	(devices.h), and its keyed hash for this user.  False if the
 *	request names no device, remembering is off, or the NAS rule says
 *	remember=no.
 */
static bool device_hash(rlm_twofa_t const *inst, REQUEST *request, twofa_netpolicy_rule_t const *rule,
			int64_t user_id, uint8_t hash[TWOFA_DEVICE_HASH_LEN])
{
	VALUE_PAIR	*csi;
	char		name[TWOFA_DEVICE_NAME_MAX + 1];

	if (!inst->remember_days || (rule && (rule->remember == TWOFA_NETPOLICY_NO))) return false;
	csi = nas_pair(request, PW_CALLING_STATION_ID);
	if (!csi || (csi->da->type != PW_TYPE_STRING)) return false;
	if (!twofa_device_normalise(csi->vp_strvalue, csi->vp_length, name)) return false;
	return twofa_device_hash(inst->device_key, user_id, name, hash) == TWOFA_OK;
}

/** After a second factor: the device is remembered for remember_days (again: from now). */
void remember_device(rlm_twofa_t const *inst, REQUEST *request, int64_t user_id)
{
	uint8_t		hash[TWOFA_DEVICE_HASH_LEN];
	char		nas[INET6_ADDRSTRLEN];
	time_t		now = time(NULL);
	twofa_rcode_t	rc;

	if (!device_hash(inst, request, nas_rule(inst, request), user_id, hash)) return;
	if (!ip_ntoh(&request->packet->src_ipaddr, nas, sizeof(nas))) nas[0] = '\0';
	rc = twofa_store_device_remember(inst->store, user_id, hash, now,
					 now + (time_t) inst->remember_days * 86400, nas[0] ? nas : NULL);
	if (rc != TWOFA_OK) log_store_error(inst, request, "remember device", rc);
	else RDEBUG2("Device remembered for %u days", inst->remember_days);
}

/** The right password from a remembered device: no challenge. */
static bool device_remembered(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user,
			      twofa_netpolicy_rule_t const *rule)
{
	uint8_t		hash[TWOFA_DEVICE_HASH_LEN];
	twofa_rcode_t	rc;

	if (!device_hash(inst, request, rule, user->id, hash)) return false;
	rc = twofa_store_device_known(inst->store, user->id, hash, time(NULL));
	if (rc == TWOFA_ERR_NOT_FOUND) return false;
	if (rc != TWOFA_OK) {
		log_store_error(inst, request, "device lookup", rc);	/* fail closed: the challenge */
		return false;
	}
	RDEBUG2("User \"%s\": a remembered device, the first factor is enough", user->name);
	request_data_add(request, (void *) inst->decision_key, NET_REMEMBERED, (void *) inst, false);
	decided(inst, request, DECIDED_NOT_NEEDED);
	return true;
}

/*
 *	One method's try at the appended code: checked in memory, then
 *	consumed once in the store, as round two would.  Nothing is sent:
 *	an SMS or email code is the one an earlier request sent.
 */
static twofa_rcode_t try_appended(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user,
				  twofa_method_t const *method, appended_t const *a, int *left, bool *had_failures)
{
	twofa_method_ctx_t	mctx = method_ctx(inst);
	twofa_pending_t		pending;
	login_record_t		accepted;
	int64_t			proof = -1;
	twofa_rcode_t		rc;

	rc = pending_to_check(inst, request, method, user, &pending);
	if (rc != TWOFA_OK) {
		RERROR("User \"%s\": stored %s factor is malformed or cannot be used here", user->name, method->name);
		OPENSSL_cleanse(&pending, sizeof(pending));
		return (rc == TWOFA_ERR_UNAVAILABLE) ? rc : TWOFA_ERR_CRYPTO;
	}
	login_record(inst, request, &accepted, method->name, "accept", "ok");
	mctx.login = &accepted.row;
	mctx.left = left;
	rc = method->check(request, &mctx, &pending, a->code, a->len, &proof);
	if (rc == TWOFA_OK) rc = method->consume(&mctx, &pending, proof);
	*had_failures = pending.had_failures;
	OPENSSL_cleanse(&pending, sizeof(pending));
	return rc;
}

/*
 *	Append mode: the code came with the password.  No second chance:
 *	there is no challenge to ask again in.  A code of one length may be
 *	several methods' (the app's, and one sent by SMS or email): each is
 *	tried in the split's order, the app's in memory first, until one
 *	takes it or says more than "not mine"; a wrong code counts once
 *	toward the lockout.  A word after the password asks for a code
 *	instead (send_appended_code).  Every failure is the one reject.
 */
static rlm_rcode_t verify_appended(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user,
				   appended_t const *a)
{
	twofa_method_t const	*method = NULL;
	int			left = -1;
	time_t			locked_until = 0;
	bool			had_failures = false;
	twofa_rcode_t		rc = TWOFA_ERR_MALFORMED;
	size_t			i;

	if (a->word) return send_appended_code(inst, request, user, twofa_method_by_id(a->method));

	for (i = 0; i < TWOFA_APPEND_METHODS; i++) {
		twofa_method_t const *m = twofa_method_by_id(twofa_append_order[i]);

		if (!(a->methods & TWOFA_METHOD_BIT(twofa_append_order[i])) || !m || !m->held(user)) continue;
		if (method) RDEBUG2("User \"%s\": not the %s code, trying %s", user->name, method->name, m->name);
		method = m;
		rc = try_appended(inst, request, user, method, a, &left, &had_failures);
		if ((rc != TWOFA_ERR_BAD_CODE) && (rc != TWOFA_ERR_MALFORMED)) break;
	}
	/* Only codes the user has at hand or was sent (append.c). */
	if (!method) return reject(inst, request, "append", TWOFA_ERR_MALFORMED);
	switch (rc) {
	case TWOFA_OK:
		if (had_failures && (twofa_store_record_success(inst->store, user->id) != TWOFA_OK)) {
			log_store_error(inst, request, "record success", TWOFA_ERR_STORE);
		}
		RDEBUG2("User \"%s\": appended %s code accepted", user->name, method->name);
		say_how_many_left(inst, request, user->name, method, left);
		decided(inst, request, DECIDED_SECOND_FACTOR);
		remember_device(inst, request, user->id);
		return RLM_MODULE_OK;

	case TWOFA_ERR_BAD_CODE:
	case TWOFA_ERR_MALFORMED:
		if (twofa_store_record_failure(inst->store, user->id, &inst->lockout, time(NULL), &locked_until) != TWOFA_OK) {
			log_store_error(inst, request, "record failure", TWOFA_ERR_STORE);
		}
		if (locked_until) return reject(inst, request, method->name, TWOFA_ERR_LOCKED);
		return reject(inst, request, method->name, rc);

	default:
		return reject(inst, request, method->name, rc);
	}
}

/*
 *	The first factor passed and the user holds a method: the code typed
 *	after the password, a remembered device, or the challenge (false:
 *	the caller sends it).
 */
bool second_factor_without_challenge(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user,
					    twofa_netpolicy_rule_t const *rule, rlm_rcode_t *rcode)
{
	appended_t const *a = request_data_reference(request, (void *) inst->decision_key, NET_APPENDED);

	if (a) {
		*rcode = verify_appended(inst, request, user, a);
		return true;
	}
	if (device_remembered(inst, request, user, rule)) {
		*rcode = RLM_MODULE_OK;
		return true;
	}
	return false;
}

/*
 *	An Access-Accept of eap whose last round was EAP-TLS: the client
 *	proved a certificate the eap module verified.  With eap_tls = skip
 *	(or the NAS rule's eap_tls=skip) that is the second factor: no
 *	challenge, which an EAP client could not answer anyway.  A rule
 *	that rejects still does.
 */
bool eap_tls_skips(rlm_twofa_t const *inst, REQUEST *request, VALUE_PAIR const *auth_type)
{
	twofa_netpolicy_rule_t const	*rule;
	VALUE_PAIR			*eap_type;
	char const			*by = auth_type ? dict_valnamebyattr(PW_AUTH_TYPE, 0, auth_type->vp_integer) : NULL;
	bool				skip = inst->eap_tls_skip;

	if (!by || (strcasecmp(by, "eap") != 0)) return false;
	eap_type = fr_pair_find_by_num(request->packet->vps, PW_EAP_TYPE, 0, TAG_ANY);
	if (!eap_type || (eap_type->vp_integer != EAP_TYPE_TLS)) return false;
	rule = nas_rule(inst, request);
	if (rule && (rule->action == TWOFA_NETPOLICY_REJECT)) return false;
	if (rule && (rule->eap_tls != TWOFA_NETPOLICY_UNSET)) skip = (rule->eap_tls == TWOFA_NETPOLICY_YES);
	if (!skip) return false;
	RDEBUG2("EAP-TLS: the certificate is the second factor (eap_tls = skip)");
	request_data_add(request, (void *) inst->decision_key, NET_CERTIFICATE, (void *) inst, false);
	decided(inst, request, DECIDED_NOT_NEEDED);
	return true;
}

/*
 *	The user's own reply attributes (twofa-admin user set --reply, the
 *	store's users.reply), read by load_user in this request, or now if
 *	no step of this request read the user (round two, EAP-TLS).  Only
 *	their syntax was checked when set: a name the dictionary does not
 *	have, or may not be set here, is logged and skipped.
 *	@return true if the user has a set of their own (even if all skipped).
 */
static bool add_user_reply(rlm_twofa_t const *inst, REQUEST *request)
{
	char const			*text = request_data_reference(request, (void *) inst->decision_key, NET_USER_REPLY);
	twofa_netpolicy_reply_t const	*list = NULL;
	twofa_user_t			*user = NULL;
	unsigned int			i, count = 0;
	char				err[256];

	if (!text && (load_user(inst, request, user_name(inst, request), &user) == TWOFA_OK)) {
		talloc_free(user);
		text = request_data_reference(request, (void *) inst->decision_key, NET_USER_REPLY);
	}
	if (!text || !*text) return false;
	if (twofa_netpolicy_reply_parse(request, text, &list, &count, err, sizeof(err)) < 0) {
		RWARN("The user's reply attributes: %s; none sent", err);
		return true;
	}
	for (i = 0; i < count; i++) {
		DICT_ATTR const	*da = dict_attrbyname(list[i].name);
		VALUE_PAIR	*vp;

		if (!da || !reply_attribute_allowed(da)) {
			RWARN("The user's reply attribute \"%s\" is %s: skipped", list[i].name,
			      da ? "one this module may not set" : "not in the dictionary");
			continue;
		}
		if (!(vp = fr_pair_make(request->reply, NULL, list[i].name, list[i].value, T_OP_ADD))) {
			RWARN("The user's reply attribute %s: %s: skipped", list[i].name, fr_strerror());
			continue;
		}
		fr_pair_add(&request->reply->vps, vp);
	}
	talloc_free((void *) list);
	return true;
}

/*
 *	ldap.groups.reply: round one found the user in group index of the
 *	list (ldap.c reads it with the group rules); its set is kept for the
 *	Accept, and its tag rides in the pending challenge (group_reply_tag)
 *	to round two, which asks the directory nothing.
 */
void group_reply_found(rlm_twofa_t const *inst, REQUEST *request, int index)
{
	group_reply_t const *g;

	if ((index < 0) || ((size_t) index >= inst->num_group_replies)) return;
	g = &inst->group_replies[index];
	RDEBUG2("Member of %s: its reply attributes on Accept (unless the user has their own)", g->group);
	request_data_add(request, (void *) inst->decision_key, NET_GROUP_REPLY, (void *) g, false);
}

/** Round two: the group round one found, by the tag in the pending challenge (0: none). */
void group_reply_from_pending(rlm_twofa_t const *inst, REQUEST *request, uint32_t tag)
{
	size_t i;

	if (!tag) return;
	for (i = 0; i < inst->num_group_replies; i++) {
		if (inst->group_replies[i].tag == tag) {
			group_reply_found(inst, request, (int) i);
			return;
		}
	}
	/* Its line left ldap.groups.reply (a HUP between the rounds, or another server's config). */
	RWARN("The challenge names a reply group this server does not have: none of its attributes sent");
}

/** The tag a new challenge carries: the group this request found, 0 if none. */
uint32_t group_reply_tag(rlm_twofa_t const *inst, REQUEST *request)
{
	group_reply_t const *g = request_data_reference(request, (void *) inst->decision_key, NET_GROUP_REPLY);

	return g ? g->tag : 0;
}

/*
 *	On an Accept of this module, one set of reply attributes, the most
 *	specific: the user's own if they have some, else the first directory
 *	group's of ldap.groups.reply the user is in (config order), else the
 *	NAS rule's reply= if it has some, else the module's reply { }.  The
 *	groups', the rule's and the module's are checked against the
 *	dictionary at start (and on HUP); the user's at use (add_user_reply).
 */
void add_reply_attributes(rlm_twofa_t const *inst, REQUEST *request)
{
	twofa_netpolicy_rule_t const	*rule;
	group_reply_t const		*group;
	VALUE_PAIR			*list = inst->reply_vps, *copy;

	if (add_user_reply(inst, request)) return;
	group = request_data_reference(request, (void *) inst->decision_key, NET_GROUP_REPLY);
	rule = group ? NULL : nas_rule(inst, request);

	if (group) list = group->vps;
	else if (rule && inst->rule_reply_vps && inst->rule_reply_vps[rule->index]) list = inst->rule_reply_vps[rule->index];
	if (!list) return;
	copy = fr_pair_list_copy(request->reply, list);
	if (copy) fr_pair_add(&request->reply->vps, copy);
}

/*
 *	The first factor passed: a policy_file rule may decide now.  skip
 *	lets the first factor alone in (logged as "bypass:RULE"), reject is
 *	the one reject (logged as "policy:RULE"); require is the caller's
 *	(*rule: the challenge whatever enforce says, with the rule's text).
 *	Auth-Type Accept checked no first factor: skip then counts as
 *	require (the first factor is always checked).
 */
bool nas_rule_decides(rlm_twofa_t const *inst, REQUEST *request, char const *who, bool first_factor_checked,
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
char const *accept_reason(rlm_twofa_t const *inst, REQUEST *request)
{
	twofa_netpolicy_rule_t const *rule = request_data_reference(request, (void *) inst->decision_key,
								    DECIDED_BYPASS);
	char const *reason;

	if (request_data_reference(request, (void *) inst->decision_key, NET_REMEMBERED)) return "remembered";
	if (request_data_reference(request, (void *) inst->decision_key, NET_CERTIFICATE)) return "certificate";
	if (!rule) return "not_needed";
	reason = talloc_asprintf(request, "bypass:%s", rule->name);
	return reason ? reason : "bypass";
}
