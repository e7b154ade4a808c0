/*
 * store.c	What every store backend shares: the factor kinds' names and
 *		the lookups on a user read by any of them.
 */
#include <string.h>

#include "store.h"

static char const *const kind_names[] = {
	[TWOFA_FACTOR_TOTP]	= "totp",
	[TWOFA_FACTOR_SMS]	= "sms",
	[TWOFA_FACTOR_EMAIL]	= "email",
};

char const *twofa_factor_kind_name(twofa_factor_kind_t kind)
{
	if ((kind < TWOFA_FACTOR_TOTP) || (kind > TWOFA_FACTOR_KIND_LAST)) return "unknown";
	return kind_names[kind];
}

bool twofa_factor_kind_from_name(char const *name, twofa_factor_kind_t *kind)
{
	int k;

	for (k = TWOFA_FACTOR_TOTP; k <= TWOFA_FACTOR_KIND_LAST; k++) {
		if (strcmp(name, kind_names[k]) == 0) {
			*kind = (twofa_factor_kind_t) k;
			return true;
		}
	}
	return false;
}

twofa_factor_t const *twofa_user_factor(twofa_user_t const *user, twofa_factor_kind_t kind)
{
	unsigned int i;

	for (i = 0; i < user->num_factors; i++) if (user->factors[i].kind == kind) return &user->factors[i];
	return NULL;
}
