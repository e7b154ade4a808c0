/*
 * template.c	"{name}" substitution with a per-context escape (template.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>

#include "escape.h"
#include "template.h"

static bool is_name_char(char c)
{
	return ((c >= 'a') && (c <= 'z')) || ((c >= '0') && (c <= '9')) || (c == '_');
}

/* The length of the name of a "{name}" at p (p[0] == '{'), 0 if p opens none. */
static size_t name_at(char const *p)
{
	size_t n = 1;

	while (is_name_char(p[n]) && (n <= TWOFA_TEMPLATE_NAME_MAX)) n++;
	return ((n > 1) && (p[n] == '}')) ? n - 1 : 0;
}

static twofa_template_var_t const *lookup(char const *name, size_t len, twofa_template_var_t const *vars, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if ((strlen(vars[i].name) == len) && (memcmp(vars[i].name, name, len) == 0)) return &vars[i];
	}
	return NULL;
}

static ssize_t escape_plain(char const *in, size_t in_len, char *out, size_t out_len)
{
	size_t i;

	for (i = 0; i < in_len; i++) {
		unsigned char c = (unsigned char) in[i];

		if ((c < 0x20) || (c == 0x7f)) goto bad;
	}
	if (in_len >= out_len) goto bad;
	memcpy(out, in, in_len);
	out[in_len] = '\0';
	return (ssize_t) in_len;
bad:
	if (out_len) out[0] = '\0';
	return -1;
}

static ssize_t escape_value(twofa_template_escape_t escape, char const *in, char *out, size_t out_len)
{
	size_t len = strlen(in);

	switch (escape) {
	case TWOFA_TEMPLATE_PLAIN:	return escape_plain(in, len, out, out_len);
	case TWOFA_TEMPLATE_URL:	return twofa_escape_url(in, len, out, out_len);
	case TWOFA_TEMPLATE_FORM:	return twofa_escape_form(in, len, out, out_len);
	case TWOFA_TEMPLATE_JSON:	return twofa_escape_json(in, len, out, out_len);
	case TWOFA_TEMPLATE_HEADER:	return twofa_escape_header(in, len, out, out_len);
	}
	return -1;
}

static int _wipe_string(char *s)
{
	OPENSSL_cleanse(s, talloc_get_size(s));
	return 0;
}

twofa_rcode_t twofa_template_check(char const *template, twofa_template_var_t const *vars, size_t n,
				   char *err, size_t err_len)
{
	char const *p;

	for (p = template; *p; p++) {
		size_t len;

		if ((*p != '{') || !(len = name_at(p))) continue;
		if (!lookup(p + 1, len, vars, n)) {
			snprintf(err, err_len, "unknown name {%.*s}", (int) len, p + 1);
			return TWOFA_ERR_NOT_FOUND;
		}
		p += len + 1;
	}
	return TWOFA_OK;
}

bool twofa_template_uses(char const *template, char const *name)
{
	char const	*p;
	size_t		len, name_len = strlen(name);

	for (p = template; p && *p; p++) {
		if ((*p != '{') || !(len = name_at(p))) continue;
		if ((len == name_len) && (memcmp(p + 1, name, len) == 0)) return true;
		p += len + 1;
	}
	return false;
}

/*
 *	Two passes: the first sizes the result for the worst escape of each
 *	value (\u00XX is 6 bytes a byte; an RFC 2047 word adds 13 per 45),
 *	the second writes into it.  One buffer, never reallocated: a copy of
 *	a code is never left behind in freed memory.
 */
twofa_rcode_t twofa_template_expand(TALLOC_CTX *ctx, char const *template, twofa_template_var_t const *vars, size_t n,
				    twofa_template_escape_t escape, char **out, char *err, size_t err_len)
{
	char const	*p;
	char		*result;
	size_t		size = 1, used = 0, len;

	*out = NULL;
	if (twofa_template_check(template, vars, n, err, err_len) != TWOFA_OK) return TWOFA_ERR_NOT_FOUND;
	for (p = template; *p; p++) {
		twofa_template_var_t const *var;

		if ((*p != '{') || !(len = name_at(p))) {
			size++;
			continue;
		}
		var = lookup(p + 1, len, vars, n);
		if (!var->value) {
			snprintf(err, err_len, "{%s} has no value here", var->name);
			return TWOFA_ERR_NOT_FOUND;
		}
		size += 6 * strlen(var->value) + 64;
		p += len + 1;
	}

	result = talloc_array(ctx, char, size);
	if (!result) return TWOFA_ERR_NO_MEMORY;
	talloc_set_destructor(result, _wipe_string);
	for (p = template; *p; p++) {
		twofa_template_var_t const	*var;
		ssize_t				esc;

		if ((*p != '{') || !(len = name_at(p))) {
			result[used++] = *p;
			continue;
		}
		var = lookup(p + 1, len, vars, n);
		esc = escape_value(escape, var->value, result + used, size - used);
		if (esc < 0) {
			snprintf(err, err_len, "the value of {%s} cannot go there", var->name);
			talloc_free(result);
			return TWOFA_ERR_MALFORMED;
		}
		used += (size_t) esc;
		p += len + 1;
	}
	result[used] = '\0';
	*out = result;
	return TWOFA_OK;
}
