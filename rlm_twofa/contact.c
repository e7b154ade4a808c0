/*
 * contact.c	Phone numbers and email addresses (contact.h).
 */
#include <stdio.h>
#include <string.h>

#include "contact.h"

static bool is_digit(char c)
{
	return (c >= '0') && (c <= '9');
}

static bool is_alnum(char c)
{
	return is_digit(c) || ((c >= 'a') && (c <= 'z')) || ((c >= 'A') && (c <= 'Z'));
}

static bool is_phone_separator(char c)
{
	return (c == ' ') || (c == '-') || (c == '.');
}

/*
 *	One pass: '+' first (after separators), then digits, separators and
 *	at most one level of parentheses, closed by the end.  A group holding
 *	only "0" is the trunk prefix some countries write after the country
 *	code; dropped, it would dial another number, so it is refused.
 */
bool twofa_phone_normalise(char const *in, size_t len, char out[TWOFA_PHONE_MAX + 1])
{
	size_t	i, n = 0, group_start = 0;
	bool	plus = false, in_group = false;

	out[0] = '\0';
	if (!in || (len > TWOFA_PHONE_INPUT_MAX)) return false;
	for (i = 0; i < len; i++) {
		char c = in[i];

		if (is_phone_separator(c)) continue;
		if (c == '+') {
			if (plus || in_group) goto bad;
			plus = true;
			out[n++] = '+';
			continue;
		}
		if (!plus) goto bad;				/* nothing before the '+' but separators */
		if (c == '(') {
			if (in_group) goto bad;
			in_group = true;
			group_start = n;
			continue;
		}
		if (c == ')') {
			if (!in_group || (n == group_start)) goto bad;	/* unopened, or "()" */
			if ((n - group_start == 1) && (out[group_start] == '0')) goto bad;
			in_group = false;
			continue;
		}
		if (!is_digit(c) || (n > TWOFA_PHONE_DIGITS_MAX)) goto bad;
		out[n++] = c;
	}
	out[n] = '\0';
	if (!in_group && twofa_phone_valid(out)) return true;
bad:
	memset(out, 0, TWOFA_PHONE_MAX + 1);
	return false;
}

bool twofa_phone_valid(char const *e164)
{
	size_t n, i;

	if (!e164 || (e164[0] != '+')) return false;
	n = strnlen(e164 + 1, TWOFA_PHONE_DIGITS_MAX + 1);
	if ((n < TWOFA_PHONE_DIGITS_MIN) || (n > TWOFA_PHONE_DIGITS_MAX)) return false;
	if (e164[1] == '0') return false;
	for (i = 1; i <= n; i++) if (!is_digit(e164[i])) return false;
	return true;
}

/* RFC 5322 atext less the quote-like ' and `, which a conservative check need not take. */
static bool is_local_char(char c)
{
	return is_alnum(c) || (c && strchr("!#$%&*+-/=?^_{|}~", c));
}

static bool local_part_ok(char const *p, size_t len)
{
	size_t i;

	if ((len == 0) || (len > TWOFA_EMAIL_LOCAL_MAX)) return false;
	if ((p[0] == '.') || (p[len - 1] == '.')) return false;
	for (i = 0; i < len; i++) {
		if (p[i] == '.') {
			if (p[i + 1] == '.') return false;	/* i + 1 < len: the last is no dot */
			continue;
		}
		if (!is_local_char(p[i])) return false;
	}
	return true;
}

static bool domain_ok(char const *p, size_t len)
{
	size_t	i, start = 0, labels = 0;
	bool	all_digits = true;

	for (i = 0; i <= len; i++) {
		if ((i == len) || (p[i] == '.')) {
			size_t label = i - start;

			if ((label == 0) || (label > TWOFA_EMAIL_LABEL_MAX)) return false;	/* also a leading, trailing or double dot */
			if ((p[start] == '-') || (p[i - 1] == '-')) return false;
			labels++;
			if (i < len) all_digits = true;	/* only the last label's counts */
			start = i + 1;
			continue;
		}
		if (!is_alnum(p[i]) && (p[i] != '-')) return false;
		if (!is_digit(p[i])) all_digits = false;
	}
	return (labels >= 2) && !all_digits;
}

bool twofa_email_valid(char const *in, size_t len)
{
	char const *at;

	if (!in || (len < 3) || (len > TWOFA_EMAIL_MAX)) return false;
	at = memchr(in, '@', len);
	if (!at || memchr(at + 1, '@', len - (size_t) (at + 1 - in))) return false;
	return local_part_ok(in, (size_t) (at - in)) && domain_ok(at + 1, len - (size_t) (at + 1 - in));
}

static ssize_t written(int n, char *out, size_t out_len)
{
	if ((n < 0) || ((size_t) n >= out_len)) {
		if (out_len) out[0] = '\0';
		return -1;
	}
	return n;
}

ssize_t twofa_phone_mask(char const *e164, char *out, size_t out_len)
{
	size_t	digits, tail;
	char	bullets[TWOFA_MASK_BULLETS * 3 + 1] = "";
	int	i;

	if (!twofa_phone_valid(e164)) return written(-1, out, out_len);
	digits = strlen(e164) - 1;
	tail = (digits >= 10) ? 4 : digits - 6;		/* at least 4 digits hidden */
	for (i = 0; i < TWOFA_MASK_BULLETS; i++) strcat(bullets, TWOFA_MASK_BULLET);
	return written(snprintf(out, out_len, "+%.2s%s%s", e164 + 1, bullets, e164 + 1 + digits - tail), out, out_len);
}

ssize_t twofa_email_mask(char const *addr, char *out, size_t out_len)
{
	char const *at;

	if (!addr || !twofa_email_valid(addr, strnlen(addr, TWOFA_EMAIL_MAX + 1))) return written(-1, out, out_len);
	at = strchr(addr, '@');
	return written(snprintf(out, out_len, "%c%s%s%s%s", addr[0],
				TWOFA_MASK_BULLET, TWOFA_MASK_BULLET, TWOFA_MASK_BULLET, at), out, out_len);
}

static char const *const email_to_names[] = {
	[TWOFA_EMAIL_TO_FIRST] = "first", [TWOFA_EMAIL_TO_SECOND] = "second", [TWOFA_EMAIL_TO_BOTH] = "both",
};

bool twofa_email_to_from_name(char const *name, twofa_email_to_t *to)
{
	int i;

	for (i = TWOFA_EMAIL_TO_FIRST; i <= TWOFA_EMAIL_TO_BOTH; i++) {
		if (strcmp(name, email_to_names[i]) == 0) {
			*to = (twofa_email_to_t) i;
			return true;
		}
	}
	return false;
}

char const *twofa_email_to_name(twofa_email_to_t to)
{
	return ((to >= TWOFA_EMAIL_TO_FIRST) && (to <= TWOFA_EMAIL_TO_BOTH)) ? email_to_names[to] : "first";
}

static bool list_valid(twofa_email_list_t const *l)
{
	if ((l->count < 1) || (l->count > 2)) return false;
	if ((l->to != TWOFA_EMAIL_TO_FIRST) && (l->count < 2)) return false;
	if ((l->to < TWOFA_EMAIL_TO_FIRST) || (l->to > TWOFA_EMAIL_TO_BOTH)) return false;
	if (!twofa_email_valid(l->addr[0], strnlen(l->addr[0], TWOFA_EMAIL_MAX + 1))) return false;
	return (l->count == 1) || twofa_email_valid(l->addr[1], strnlen(l->addr[1], TWOFA_EMAIL_MAX + 1));
}

bool twofa_email_list_parse(char const *stored, twofa_email_list_t *out)
{
	char const	*p = stored, *colon, *comma;
	char		name[8];
	size_t		len;

	memset(out, 0, sizeof(*out));
	if (!stored) return false;
	colon = strchr(p, ':');
	if (colon) {
		len = (size_t) (colon - p);
		if (len >= sizeof(name)) return false;
		memcpy(name, p, len);
		name[len] = '\0';
		if (!twofa_email_to_from_name(name, &out->to)) return false;
		p = colon + 1;
	}
	comma = strchr(p, ',');
	len = comma ? (size_t) (comma - p) : strlen(p);
	if (len > TWOFA_EMAIL_MAX) return false;
	memcpy(out->addr[0], p, len);
	out->count = 1;
	if (comma) {
		p = comma + 1;
		len = strlen(p);
		if (len > TWOFA_EMAIL_MAX) return false;
		memcpy(out->addr[1], p, len);
		out->count = 2;
	}
	return list_valid(out);
}

bool twofa_email_list_format(twofa_email_list_t const *list, char *out, size_t out_len)
{
	int n;

	if (!list_valid(list)) return false;
	if (list->count == 1) n = snprintf(out, out_len, "%s", list->addr[0]);
	else n = snprintf(out, out_len, "%s:%s,%s", twofa_email_to_name(list->to), list->addr[0], list->addr[1]);
	return written(n, out, out_len) >= 0;
}

unsigned int twofa_email_list_recipients(twofa_email_list_t const *list, char const *to[2])
{
	to[0] = to[1] = NULL;
	switch (list->to) {
	case TWOFA_EMAIL_TO_SECOND:
		to[0] = list->addr[1];
		return 1;
	case TWOFA_EMAIL_TO_BOTH:
		to[0] = list->addr[0];
		to[1] = list->addr[1];
		return 2;
	case TWOFA_EMAIL_TO_FIRST:
	default:
		to[0] = list->addr[0];
		return 1;
	}
}
