/*
 * escape.c	Escaping a value for a URL, a form, JSON or a mail header (escape.h).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "escape.h"
#include "policy.h"

static char const hex[] = "0123456789ABCDEF";

/* An output buffer that refuses to overflow. */
typedef struct {
	char	*p;
	size_t	len;
	size_t	used;
	bool	full;
} sink_t;

static void put(sink_t *s, char const *data, size_t len)
{
	if (s->full || (len >= s->len - s->used)) {	/* keep a byte for the NUL */
		s->full = true;
		return;
	}
	memcpy(s->p + s->used, data, len);
	s->used += len;
}

static void put_c(sink_t *s, char c)
{
	put(s, &c, 1);
}

static ssize_t finish(sink_t *s)
{
	if (!s->len) return -1;
	if (s->full) {
		s->p[0] = '\0';
		return -1;
	}
	s->p[s->used] = '\0';
	return (ssize_t) s->used;
}

static ssize_t fail(sink_t *s)
{
	s->full = true;
	return finish(s);
}

static bool unreserved(unsigned char c)
{
	return ((c >= 'A') && (c <= 'Z')) || ((c >= 'a') && (c <= 'z')) || ((c >= '0') && (c <= '9')) ||
	       (c == '-') || (c == '.') || (c == '_') || (c == '~');
}

static ssize_t percent_escape(char const *in, size_t in_len, bool form, char *out, size_t out_len)
{
	sink_t	s = { out, out_len, 0, false };
	size_t	i;

	for (i = 0; i < in_len; i++) {
		unsigned char	c = (unsigned char) in[i];
		char		enc[3] = { '%', hex[c >> 4], hex[c & 0x0f] };

		if (unreserved(c)) put_c(&s, (char) c);
		else if (form && (c == ' ')) put_c(&s, '+');
		else put(&s, enc, 3);
	}
	return finish(&s);
}

ssize_t twofa_escape_url(char const *in, size_t in_len, char *out, size_t out_len)
{
	return percent_escape(in, in_len, false, out, out_len);
}

ssize_t twofa_escape_form(char const *in, size_t in_len, char *out, size_t out_len)
{
	return percent_escape(in, in_len, true, out, out_len);
}

ssize_t twofa_escape_json(char const *in, size_t in_len, char *out, size_t out_len)
{
	sink_t			s = { out, out_len, 0, false };
	unsigned char const	*p = (unsigned char const *) in;
	size_t			i = 0, n;

	while (i < in_len) {
		unsigned char c = p[i];

		if (c == 0) return fail(&s);
		if (c >= 0x80) {
			if (!(n = twofa_utf8_len(p + i, in_len - i))) return fail(&s);
			put(&s, in + i, n);
			i += n;
			continue;
		}
		switch (c) {
		case '"':	put(&s, "\\\"", 2); break;
		case '\\':	put(&s, "\\\\", 2); break;
		case '\n':	put(&s, "\\n", 2); break;
		case '\r':	put(&s, "\\r", 2); break;
		case '\t':	put(&s, "\\t", 2); break;
		case '\b':	put(&s, "\\b", 2); break;
		case '\f':	put(&s, "\\f", 2); break;
		default:
			if ((c < 0x20) || (c == 0x7f)) {
				char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0x0f] };

				put(&s, u, 6);
			} else {
				put_c(&s, (char) c);
			}
		}
		i++;
	}
	return finish(&s);
}

/*
 *	RFC 2047: an encoded-word is at most 75 characters, so the UTF-8 is
 *	cut into chunks of at most 45 bytes (60 of base64), never inside a
 *	character, one encoded-word each, separated by a space (which a
 *	reader drops between encoded-words).
 */
#define ENCODED_CHUNK	45

ssize_t twofa_escape_header(char const *in, size_t in_len, char *out, size_t out_len)
{
	sink_t			s = { out, out_len, 0, false };
	unsigned char const	*p = (unsigned char const *) in;
	size_t			i, n, start;
	bool			ascii = true;

	for (i = 0; i < in_len; i += n) {
		if ((p[i] < 0x20) || (p[i] == 0x7f)) return fail(&s);	/* CR, LF, NUL, tab... */
		if (!(n = twofa_utf8_len(p + i, in_len - i))) return fail(&s);
		if (n > 1) ascii = false;
	}
	if (ascii) {
		put(&s, in, in_len);
		return finish(&s);
	}

	for (start = 0; start < in_len; ) {
		unsigned char	b64[4 * ((ENCODED_CHUNK + 2) / 3) + 1];
		size_t		end = start;

		while (end < in_len) {
			n = twofa_utf8_len(p + end, in_len - end);
			if (end + n - start > ENCODED_CHUNK) break;
			end += n;
		}
		if (start) put_c(&s, ' ');
		put(&s, "=?UTF-8?B?", 10);
		n = (size_t) EVP_EncodeBlock(b64, p + start, (int) (end - start));
		put(&s, (char const *) b64, n);
		put(&s, "?=", 2);
		start = end;
	}
	return finish(&s);
}

static int hex_value(char c)
{
	if ((c >= '0') && (c <= '9')) return c - '0';
	if ((c >= 'A') && (c <= 'F')) return c - 'A' + 10;
	if ((c >= 'a') && (c <= 'f')) return c - 'a' + 10;
	return -1;
}

ssize_t twofa_unescape_url(char const *in, size_t in_len, int form, char *out, size_t out_len)
{
	sink_t	s = { out, out_len, 0, false };
	size_t	i;

	for (i = 0; i < in_len; i++) {
		if (in[i] == '%') {
			int hi, lo;

			if (i + 2 >= in_len) return fail(&s);		/* a % needs two hex digits after it */
			hi = hex_value(in[i + 1]);
			lo = hex_value(in[i + 2]);
			if ((hi < 0) || (lo < 0)) return fail(&s);
			put_c(&s, (char) ((hi << 4) | lo));
			i += 2;
		} else if (form && (in[i] == '+')) {
			put_c(&s, ' ');
		} else {
			put_c(&s, in[i]);
		}
	}
	return finish(&s);
}
