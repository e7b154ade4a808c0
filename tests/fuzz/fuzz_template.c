/*
 * fuzz_template.c	twofa_template_expand and _check (template.c) over any
 *			template and value: a gateway template is config, a value
 *			(a name, a phone, an address) comes from users.
 *
 *	The input is split at its first NUL into a template and a value.
 *	check and expand agree on which names a template may use; an
 *	expansion for a header or plain text never holds CR or LF; uses
 *	says "{code}" is there exactly when the code's value reaches the
 *	expansion (the start-up check that a message carries its code).
 *
 * sources: rlm_twofa/template.c rlm_twofa/escape.c rlm_twofa/policy.c
 * max_len: 400
 */
#include <string.h>
#include <talloc.h>

#include "fuzz.h"
#include "template.h"

#define CODE	"Qz7code7Qz"	/* the code's value: no template or other value here holds "Qz" */

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	char			*text, *value, *out = NULL, err[128];
	twofa_template_var_t	vars[3];
	twofa_template_escape_t	esc;
	twofa_rcode_t		checked, rc;
	TALLOC_CTX		*ctx;

	if (size < 1) return 0;
	ctx = talloc_new(NULL);
	text = talloc_strndup(ctx, (char const *) data + 1, size - 1);	/* up to the first NUL */
	value = talloc_strndup(ctx, (char const *) data + 1 + strlen(text) + (strlen(text) < size - 1),
			       size - 1 - strlen(text) - (strlen(text) < size - 1));
	vars[0] = (twofa_template_var_t) { "code", CODE };
	vars[1] = (twofa_template_var_t) { "phone", value };
	vars[2] = (twofa_template_var_t) { "user", NULL };
	esc = (twofa_template_escape_t) (1 + data[0] % 5);

	checked = twofa_template_check(text, vars, 3, err, sizeof(err));
	rc = twofa_template_expand(ctx, text, vars, 3, esc, &out, err, sizeof(err));
	if (checked != TWOFA_OK) FUZZ_CHECK(rc != TWOFA_OK);
	if ((rc == TWOFA_OK) && (esc == TWOFA_TEMPLATE_PLAIN) && !strstr(text, "Qz") && !strstr(value, "Qz")) {
		FUZZ_CHECK((strstr(out, CODE) != NULL) == twofa_template_uses(text, "code"));
	}
	if (rc == TWOFA_OK) {
		FUZZ_CHECK(out != NULL);
		if ((esc == TWOFA_TEMPLATE_HEADER) || (esc == TWOFA_TEMPLATE_PLAIN)) {
			/* A value's CR or LF never gets in; the template's own may (it is config). */
			if (!strchr(text, '\r') && !strchr(text, '\n')) FUZZ_CHECK(!strchr(out, '\r') && !strchr(out, '\n'));
		}
	}
	talloc_free(ctx);
	return 0;
}
