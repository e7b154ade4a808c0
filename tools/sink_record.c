/*
 * sink_record.c	The lines of the test gateway sink's record
 *			(tests/integration/sinks/http_sink.py writes one JSON
 *			object a request), as twofa-bench --mode sms reads
 *			them: a JSON string value, a form field, the code in a
 *			message's text.  Small and strict, no JSON library: the
 *			lines come from json.dumps.  Fuzzed (fuzz_sink_record).
 */
#include <stdio.h>
#include <string.h>

#include "sink_record.h"

static int hex_digit(char c)
{
	if ((c >= '0') && (c <= '9')) return c - '0';
	if ((c >= 'a') && (c <= 'f')) return c - 'a' + 10;
	if ((c >= 'A') && (c <= 'F')) return c - 'A' + 10;
	return -1;
}

/*
 *	The JSON string value of "key" in a line that json.dumps wrote (", "
 *	and ": " between items), unescaped into out; non-ASCII \u escapes
 *	become '?'.  A quote inside a string is escaped, so the key's pattern
 *	cannot match inside a value.
 *
 *	@return 0, or -1 if there is no such key or the value does not fit.
 */
int sink_json_string(char const *line, char const *key, char *out, size_t outlen)
{
	char		pattern[32];
	char const	*p;
	size_t		n = 0;

	snprintf(pattern, sizeof(pattern), "\"%s\": \"", key);
	p = strstr(line, pattern);
	if (!p) return -1;
	for (p += strlen(pattern); *p && (*p != '"'); p++) {
		char c = *p;

		if (c == '\\') {
			switch (*++p) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': {
				unsigned int	v = 0;
				int		i, d;

				/* Four hex digits exactly: sscanf's "%4x" took fewer, and p then left the string. */
				for (i = 1; i <= 4; i++) {
					if ((d = hex_digit(p[i])) < 0) return -1;
					v = v * 16 + (unsigned int) d;
				}
				c = (v < 0x80) ? (char) v : '?';
				p += 4;
				break;
			}
			case '\0': return -1;
			default: c = *p; break;	/* \" \\ \/ */
			}
		}
		if (n + 1 >= outlen) return -1;
		out[n++] = c;
	}
	if (*p != '"') return -1;
	out[n] = '\0';
	return 0;
}

/* The value of field name in an application/x-www-form-urlencoded form, decoded into out. */
int sink_form_value(char const *form, char const *name, char *out, size_t outlen)
{
	size_t		name_len = strlen(name), n = 0;
	char const	*p = form;

	while (*p) {
		char const *end = strchr(p, '&');

		if (!end) end = p + strlen(p);
		if ((strncmp(p, name, name_len) == 0) && (p[name_len] == '=')) {
			for (p += name_len + 1; p < end; p++) {
				char c = *p;

				if (c == '+') {
					c = ' ';
				} else if ((c == '%') && (end - p >= 3) && (hex_digit(p[1]) >= 0) && (hex_digit(p[2]) >= 0)) {
					c = (char) (hex_digit(p[1]) * 16 + hex_digit(p[2]));
					p += 2;
				}
				if (n + 1 >= outlen) return -1;
				out[n++] = c;
			}
			out[n] = '\0';
			return 0;
		}
		p = *end ? end + 1 : end;
	}
	return -1;
}

/* The first run of SINK_CODE_MIN to SINK_CODE_MAX digits in text (longer or shorter runs are not codes). */
int sink_code_in_text(char const *text, char out[SINK_CODE_MAX + 1])
{
	char const *p = text;

	while (*p) {
		size_t run = strspn(p, "0123456789");

		if ((run >= SINK_CODE_MIN) && (run <= SINK_CODE_MAX)) {
			memcpy(out, p, run);
			out[run] = '\0';
			return 0;
		}
		p += run ? run : 1;
	}
	return -1;
}
