/*
 * contact.c	twofa-admin user set: a user's phone number and email
 *		addresses (their SMS and email factors), preferred method and
 *		reply attributes on Accept (--reply, the store's users.reply);
 *		twofa-admin test-send lives in testsend.c.
 *
 *		An SMS factor is the number, E.164 (contact.h); an email
 *		factor holds one or two addresses and which of them get the
 *		code, in its address column ("both:a@x,b@y", contact.h).  Set
 *		by an administrator, a factor is confirmed at once.  Setting
 *		one replaces it under a new id, so a code sent for the old one
 *		no longer works.  "none" removes it.
 */
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "../../rlm_twofa/contact.h"
#include "../../rlm_twofa/netpolicy.h"

typedef struct {
	char const	*phone;		//!< NULL: unchanged; "none": removed
	char const	*email;
	char const	*email2;
	char const	*email_to;
	char const	*method;
	char const	*reply;		//!< "A=v, B=v"; "none": cleared
} user_set_t;

static int set_phone(admin_t *a, char const *name, char const *phone)
{
	char		e164[TWOFA_PHONE_MAX + 1], masked[TWOFA_PHONE_MASK_MAX];
	twofa_factor_t	f = { .kind = TWOFA_FACTOR_SMS, .confirmed = true, .address = e164 };
	twofa_rcode_t	rc;

	if (strcmp(phone, "none") == 0) {
		rc = twofa_store_factor_remove(a->store, name, TWOFA_FACTOR_SMS);
		if ((rc != TWOFA_OK) && (rc != TWOFA_ERR_NOT_ENROLLED)) return store_failed(a, rc, name);
		return audit(a, "user set phone", name, "removed");
	}
	if (!twofa_phone_normalise(phone, strlen(phone), e164)) {
		return say(ADMIN_REFUSED, "--phone: not a number in international format (+ then 8 to 15 digits)");
	}
	rc = twofa_store_factor_set(a->store, name, &f);
	if (rc != TWOFA_OK) return store_failed(a, rc, name);
	twofa_phone_mask(e164, masked, sizeof(masked));
	return audit(a, "user set phone", name, masked);
}

/* The email factor's new list: the old one with the options applied. */
static int email_list(user_set_t const *o, twofa_factor_t const *old, twofa_email_list_t *list, bool *remove)
{
	*remove = false;
	if (!old || !twofa_email_list_parse(old->address, list)) memset(list, 0, sizeof(*list));
	if (o->email && (strcmp(o->email, "none") == 0)) {
		*remove = true;
		return ADMIN_OK;
	}
	if (o->email) {
		if (!twofa_email_valid(o->email, strlen(o->email)) || (strlen(o->email) > TWOFA_EMAIL_MAX)) {
			return say(ADMIN_REFUSED, "--email: not a plain address (local@domain)");
		}
		strcpy(list->addr[0], o->email);
		if (!list->count) list->count = 1;
	}
	if (o->email2 && (strcmp(o->email2, "none") == 0)) {
		list->addr[1][0] = '\0';
		if (list->count) list->count = 1;
		list->to = TWOFA_EMAIL_TO_FIRST;
	} else if (o->email2) {
		if (!twofa_email_valid(o->email2, strlen(o->email2)) || (strlen(o->email2) > TWOFA_EMAIL_MAX)) {
			return say(ADMIN_REFUSED, "--email2: not a plain address (local@domain)");
		}
		if (!list->count) return say(ADMIN_REFUSED, "--email2 needs a first address (--email)");
		strcpy(list->addr[1], o->email2);
		list->count = 2;
	}
	if (o->email_to && !twofa_email_to_from_name(o->email_to, &list->to)) {
		return say(ADMIN_REFUSED, "--email-to must be first, second or both");
	}
	if (!list->count) return say(ADMIN_REFUSED, "--email-to needs an address (--email)");
	if ((list->to != TWOFA_EMAIL_TO_FIRST) && (list->count < 2)) {
		return say(ADMIN_REFUSED, "--email-to %s needs a second address (--email2)", twofa_email_to_name(list->to));
	}
	return ADMIN_OK;
}

static int set_email(admin_t *a, char const *name, user_set_t const *o)
{
	twofa_user_t		*u = NULL;
	twofa_email_list_t	list;
	char			stored[TWOFA_EMAIL_LIST_MAX + 1], detail[64];
	twofa_factor_t		f = { .kind = TWOFA_FACTOR_EMAIL, .confirmed = true, .address = stored };
	bool			remove;
	twofa_rcode_t		rc;
	int			ret;

	rc = twofa_store_get_user(a->store, a->ctx, name, &u);
	if (rc != TWOFA_OK) return store_failed(a, rc, name);
	if ((ret = email_list(o, twofa_user_factor(u, TWOFA_FACTOR_EMAIL), &list, &remove)) != ADMIN_OK) return ret;
	if (remove) {
		rc = twofa_store_factor_remove(a->store, name, TWOFA_FACTOR_EMAIL);
		if ((rc != TWOFA_OK) && (rc != TWOFA_ERR_NOT_ENROLLED)) return store_failed(a, rc, name);
		return audit(a, "user set email", name, "removed");
	}
	if (!twofa_email_list_format(&list, stored, sizeof(stored))) return say(ADMIN_REFUSED, "invalid email addresses");
	rc = twofa_store_factor_set(a->store, name, &f);
	if (rc != TWOFA_OK) return store_failed(a, rc, name);
	snprintf(detail, sizeof(detail), "%u address%s, to %s", list.count, (list.count == 1) ? "" : "es",
		 twofa_email_to_name(list.to));
	return audit(a, "user set email", name, detail);
}

static int set_method(admin_t *a, char const *name, char const *method)
{
	twofa_factor_kind_t	kind = 0;
	twofa_rcode_t		rc;

	if ((strcmp(method, "none") != 0) && !twofa_factor_kind_from_name(method, &kind)) {
		return say(ADMIN_REFUSED, "--method must be totp, sms, email or none");
	}
	rc = twofa_store_set_preferred(a->store, name, kind);
	if (rc != TWOFA_OK) return store_failed(a, rc, name);
	return audit(a, "user set method", name, method);
}

/*
 *	The user's own reply attributes, in a policy_file rule's reply=
 *	syntax.  Only the syntax is checked: twofa-admin has no dictionary;
 *	the module checks each name at use, and logs and skips an unknown one.
 */
static int set_reply(admin_t *a, char const *name, char const *reply)
{
	twofa_netpolicy_reply_t const	*list;
	unsigned int			count;
	char				err[256];
	twofa_rcode_t			rc;
	bool				none = strcmp(reply, "none") == 0;

	if (!none && (twofa_netpolicy_reply_parse(a->ctx, reply, &list, &count, err, sizeof(err)) < 0)) {
		return say(ADMIN_REFUSED, "--%s", err);
	}
	rc = twofa_store_set_reply(a->store, name, none ? NULL : reply);
	if (rc != TWOFA_OK) return store_failed(a, rc, name);
	return audit(a, "user set reply", name, none ? "none" : reply);
}

int cmd_user_set(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = {
		{ "phone", required_argument, NULL, 'p' }, { "email", required_argument, NULL, 'e' },
		{ "email2", required_argument, NULL, '2' }, { "email-to", required_argument, NULL, 't' },
		{ "method", required_argument, NULL, 'm' }, { "reply", required_argument, NULL, 'r' },
		OPT_HELP, OPT_END };
	user_set_t	o = { NULL };
	char		*name;
	int		c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': o.phone = optarg; break;
		case 'e': o.email = optarg; break;
		case '2': o.email2 = optarg; break;
		case 't': o.email_to = optarg; break;
		case 'm': o.method = optarg; break;
		case 'r': o.reply = optarg; break;
		default: return usage_of(cmd, c);
		}
	}
	if (argc - optind != 1) return usage_of(cmd, '?');
	if (!o.phone && !o.email && !o.email2 && !o.email_to && !o.method && !o.reply) {
		return say(ADMIN_REFUSED, "nothing to set (--phone, --email, --email2, --email-to, --method, --reply)");
	}
	name = argv[optind];
	if ((ret = check_name(name)) != ADMIN_OK) return ret;
	if (((ret = open_store(a, false)) != ADMIN_OK) || ((ret = stored_name(a, &name, NULL)) != ADMIN_OK)) return ret;

	if (o.phone && ((ret = set_phone(a, name, o.phone)) != ADMIN_OK)) return ret;
	if ((o.email || o.email2 || o.email_to) && ((ret = set_email(a, name, &o)) != ADMIN_OK)) return ret;
	if (o.method && ((ret = set_method(a, name, o.method)) != ADMIN_OK)) return ret;
	if (o.reply && ((ret = set_reply(a, name, o.reply)) != ADMIN_OK)) return ret;
	return done(a, name, "updated");
}
