/*
 * plant_overflow.c	Test-only: a heap overflow planted in rlm_twofa's
 *			request path, to show that tools/test --sanitize
 *			really runs the module instrumented inside radiusd.
 *
 *	tests/shim/test_planted_overflow.sh links the sanitized module's
 *	objects with this file and -Wl,--wrap=twofa_user_name_valid, so
 *	round one's name check comes here first.  For the user name
 *	"plant-overflow" it writes one byte past a heap buffer, through
 *	code ASan instrumented (a plain store, not a libc call ASan would
 *	intercept anyway); ASan must report it and stop radiusd.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PLANT_NAME	"plant-overflow"

bool __real_twofa_user_name_valid(char const *name, size_t len);
bool __wrap_twofa_user_name_valid(char const *name, size_t len);

bool __wrap_twofa_user_name_valid(char const *name, size_t len)
{
	if ((len == sizeof(PLANT_NAME) - 1) && (memcmp(name, PLANT_NAME, len) == 0)) {
		volatile char *copy = malloc(len);

		if (copy) {
			copy[len] = '\0';	/* the planted bug: one byte past the end */
			free((void *) copy);
		}
	}
	return __real_twofa_user_name_valid(name, len);
}
