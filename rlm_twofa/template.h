/*
 * template.h	Gateway and mail templates: "{name}" replaced by a value
 *		escaped for where the template goes (a URL, a form body, a
 *		JSON string, a mail header, plain text), for the SMS and
 *		email senders (sms_http.c, mail.c).
 *
 *		A '{' that does not open "{name}" (a name of a-z, 0-9, '_')
 *		is copied as it is, so a JSON body template keeps its braces:
 *		{"to":"{phone}"}.  A "{name}" whose name is not in the list is
 *		refused, so a typo in the configuration fails at start-up
 *		rather than sending "{phnoe}".  No FreeRADIUS includes.
 */
#ifndef TWOFA_TEMPLATE_H
#define TWOFA_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <talloc.h>
#include "twofa.h"

typedef enum {
	TWOFA_TEMPLATE_PLAIN = 1,	//!< as it is; a value holding a control character (CR, LF...) is refused
	TWOFA_TEMPLATE_URL,		//!< twofa_escape_url
	TWOFA_TEMPLATE_FORM,		//!< twofa_escape_form
	TWOFA_TEMPLATE_JSON,		//!< twofa_escape_json (inside a JSON string)
	TWOFA_TEMPLATE_HEADER,		//!< twofa_escape_header (RFC 2047 when not ASCII; CR, LF refused)
} twofa_template_escape_t;

typedef struct {
	char const	*name;		//!< without the braces: "phone"
	char const	*value;		//!< NULL: the name is known but has no value here (refused if used)
} twofa_template_var_t;

#define TWOFA_TEMPLATE_NAME_MAX	32

/** Expand template with vars[0..n), each value escaped as escape says, into a
 *  talloc string under ctx (*out), whose destructor wipes it (it may hold a
 *  code).  @return TWOFA_OK; TWOFA_ERR_NOT_FOUND for an unknown "{name}" or one
 *  without a value (err names it); TWOFA_ERR_MALFORMED for a value that cannot
 *  go there (err names it, never the value); TWOFA_ERR_NO_MEMORY. */
twofa_rcode_t twofa_template_expand(TALLOC_CTX *ctx, char const *template, twofa_template_var_t const *vars, size_t n,
				    twofa_template_escape_t escape, char **out, char *err, size_t err_len);

/** Does template use only names in vars (values not looked at)?  For start-up
 *  checks.  @return TWOFA_OK or TWOFA_ERR_NOT_FOUND (err names the first unknown). */
twofa_rcode_t twofa_template_check(char const *template, twofa_template_var_t const *vars, size_t n,
				   char *err, size_t err_len);

/** Does template use "{name}" (as expansion reads it: not a brace that opens no name)? */
bool twofa_template_uses(char const *template, char const *name);

#endif
