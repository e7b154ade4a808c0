/*
 * method.c	The table of second-factor methods (method.h).
 */
#include "method.h"

/* In order of preference: round one challenges with the first the user holds. */
static twofa_method_t const *const methods[] = {
	&twofa_method_totp,
	&twofa_method_backup,		/* also at any other method's prompt: twofa_method_alternate */
	&twofa_method_enrol,		/* never held, no looks_like: only the flow offers it */
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
	size_t i;

	for (i = 0; i < NUM_METHODS; i++) if (methods[i]->held(user)) return methods[i];
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
