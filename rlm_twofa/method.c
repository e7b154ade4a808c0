/*
 * method.c	The table of second-factor methods (method.h).
 */
#include "method.h"

/* In order of preference: round one challenges with the first the user holds. */
static twofa_method_t const *const methods[] = {
	&twofa_method_totp,
	&twofa_method_sms,
	&twofa_method_email,
	&twofa_method_backup,		/* also at any other method's prompt: twofa_method_alternate */
	&twofa_method_enrol,		/* never held, no looks_like: only the flow offers it */
	&twofa_method_sms_number,	/* never held: sms_ask_number, offered by the flow */
	&twofa_method_sms_new,
};

#define NUM_METHODS	(sizeof(methods) / sizeof(methods[0]))

twofa_method_t const *twofa_method_by_id(uint8_t id)
{
	size_t i;

	for (i = 0; i < NUM_METHODS; i++) if (methods[i]->id == id) return methods[i];
	return NULL;
}

twofa_method_t const *twofa_method_for_user(twofa_user_t const *user)
{
	return twofa_method_pick(user, TWOFA_METHODS_ALL, 0);
}

twofa_method_t const *twofa_method_of_kind(twofa_factor_kind_t kind)
{
	switch (kind) {
	case TWOFA_FACTOR_TOTP:		return &twofa_method_totp;
	case TWOFA_FACTOR_SMS:		return &twofa_method_sms;
	case TWOFA_FACTOR_EMAIL:	return &twofa_method_email;
	}
	return NULL;
}

static bool may_use(twofa_method_t const *m, twofa_user_t const *user, uint32_t usable, uint32_t skip)
{
	uint32_t bit = TWOFA_METHOD_BIT(m->id);

	return (usable & bit) && !(skip & bit) && m->held(user);
}

twofa_method_t const *twofa_method_pick(twofa_user_t const *user, uint32_t usable, uint32_t skip)
{
	twofa_method_t const	*preferred = twofa_method_of_kind(user->preferred);
	size_t			i;

	if (preferred && may_use(preferred, user, usable, skip)) return preferred;
	for (i = 0; i < NUM_METHODS; i++) if (may_use(methods[i], user, usable, skip)) return methods[i];
	return NULL;
}

twofa_method_t const *twofa_method_alternate(twofa_method_t const *pending_method, char const *answer, size_t len)
{
	size_t i;

	if (!answer) return NULL;
	for (i = 0; i < NUM_METHODS; i++) {
		if ((methods[i] != pending_method) && methods[i]->looks_like && methods[i]->looks_like(answer, len)) {
			return methods[i];
		}
	}
	return NULL;
}
