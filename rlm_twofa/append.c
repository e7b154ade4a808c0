/*
 * append.c	Append mode: the password and the code in one field (append.h).
 */
#include <string.h>

#include "append.h"
#include "backup.h"
#include "pending.h"

static bool all_digits(char const *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) if ((p[i] < '0') || (p[i] > '9')) return false;
	return len > 0;
}

static bool backup_char(char c)
{
	if ((c >= 'A') && (c <= 'Z')) c = (char) (c - 'A' + 'a');
	return (c != '\0') && (strchr(TWOFA_BACKUP_ALPHABET, c) != NULL);
}

/** "xxxxx-xxxxx" (with_dash) or "xxxxxxxxxx", alphabet characters in any case. */
static bool backup_shaped(char const *p, size_t len, bool with_dash)
{
	size_t i, want = with_dash ? TWOFA_BACKUP_SHOWN_LEN : TWOFA_BACKUP_CODE_LEN;

	if (len != want) return false;
	for (i = 0; i < len; i++) {
		if (with_dash && (i == TWOFA_BACKUP_GROUP_LEN)) {
			if (p[i] != '-') return false;
		} else if (!backup_char(p[i])) {
			return false;
		}
	}
	return true;
}

/** Is code (len bytes) a code of a shape the user holds?  *method says whose. */
static bool code_shaped(twofa_append_shapes_t const *s, char const *code, size_t len, bool dashless_backup,
			uint8_t *method)
{
	if (s->totp_digits && (len == s->totp_digits) && all_digits(code, len)) {
		*method = TWOFA_METHOD_TOTP;
		return true;
	}
	if (s->backup && (backup_shaped(code, len, true) || (dashless_backup && backup_shaped(code, len, false)))) {
		*method = TWOFA_METHOD_BACKUP;
		return true;
	}
	return false;
}

static bool split_at(char const *in, size_t password_len, size_t code_off, size_t len,
		     twofa_append_shapes_t const *s, bool dashless_backup, twofa_append_split_t *out)
{
	uint8_t method;

	if (!code_shaped(s, in + code_off, len - code_off, dashless_backup, &method)) return false;
	*out = (twofa_append_split_t) { .password_len = password_len, .code_off = code_off,
					.code_len = len - code_off, .method = method };
	return true;
}

/** The last occurrence of sep in in[0..len), or NULL. */
static char const *last_separator(char const *in, size_t len, char const *sep)
{
	size_t		slen = strlen(sep);
	char const	*p;

	if (len < slen) return NULL;
	for (p = in + len - slen; ; p--) {
		if (memcmp(p, sep, slen) == 0) return p;
		if (p == in) return NULL;
	}
}

bool twofa_append_split(char const *in, size_t len, twofa_append_shapes_t const *shapes, twofa_append_split_t *out)
{
	memset(out, 0, sizeof(*out));
	if (!in || !shapes) return false;

	if (shapes->separator && shapes->separator[0]) {
		char const *sep = last_separator(in, len, shapes->separator);

		if (!sep) return false;
		return split_at(in, (size_t) (sep - in), (size_t) (sep - in) + strlen(shapes->separator), len,
				shapes, true, out);
	}
	/* Without a separator the code's own length says where the password ends. */
	if (shapes->backup && (len >= TWOFA_BACKUP_SHOWN_LEN) &&
	    split_at(in, len - TWOFA_BACKUP_SHOWN_LEN, len - TWOFA_BACKUP_SHOWN_LEN, len, shapes, false, out)) return true;
	if (shapes->totp_digits && (len >= shapes->totp_digits) &&
	    split_at(in, len - shapes->totp_digits, len - shapes->totp_digits, len, shapes, false, out)) return true;
	return false;
}

bool twofa_append_separator_valid(char const *sep)
{
	size_t i, len = sep ? strlen(sep) : 0;

	if ((len == 0) || (len > TWOFA_APPEND_SEPARATOR_MAX)) return false;
	for (i = 0; i < len; i++) {
		char c = sep[i];

		if ((c <= ' ') || (c >= 0x7f) || (c == '-')) return false;
		if (((c >= '0') && (c <= '9')) || ((c >= 'a') && (c <= 'z')) || ((c >= 'A') && (c <= 'Z'))) return false;
	}
	return true;
}
