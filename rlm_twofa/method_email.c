/*
 * method_email.c	A code by email (method_oob.c sends it): held with a
 *			confirmed email factor whose address column holds one
 *			or two plain addresses and which of them get the code
 *			(contact.h: "a@x", "both:a@x,b@y").  Otherwise as SMS:
 *			one code per factor, taken once by the store.
 *
 *		A directory user's mail and mail2 (password_source = ldap) reach
 *		here as such a factor: mod_ldap.c makes or refreshes it at round one.
 */
#include "method.h"
#include "contact.h"

static twofa_factor_t const *email_factor(twofa_user_t const *user, twofa_email_list_t *list)
{
	twofa_factor_t const *f = twofa_user_factor(user, TWOFA_FACTOR_EMAIL);

	return (f && f->confirmed && twofa_email_list_parse(f->address, list)) ? f : NULL;
}

static bool email_held(twofa_user_t const *user)
{
	twofa_email_list_t list;

	return email_factor(user, &list) != NULL;
}

static twofa_rcode_t email_start(twofa_method_ctx_t const *mctx, twofa_user_t const *user, twofa_pending_t *pending)
{
	twofa_email_list_t	list;
	twofa_factor_t const	*f = email_factor(user, &list);
	char const		*to[2];

	if (!f) return TWOFA_ERR_CRYPTO;
	twofa_email_list_recipients(&list, to);
	pending->sealed_len = 0;
	return twofa_oob_send(mctx, pending, TWOFA_FACTOR_EMAIL, f->id, to, user->name);
}

/* Append mode: the code an earlier request sent; nothing is sent now. */
static twofa_rcode_t email_resume(twofa_method_ctx_t const *mctx, twofa_user_t const *user, twofa_pending_t *pending)
{
	twofa_email_list_t	list;
	twofa_factor_t const	*f = email_factor(user, &list);

	if (!f) return TWOFA_ERR_CRYPTO;
	return twofa_oob_resume(mctx, pending, TWOFA_FACTOR_EMAIL, f->id);
}

twofa_method_t const twofa_method_email = {
	.name		= "email",
	.id		= TWOFA_METHOD_EMAIL,
	.held		= email_held,
	.start		= email_start,
	.check		= twofa_oob_check,
	.consume	= twofa_oob_consume,
	.resume		= email_resume,
};
