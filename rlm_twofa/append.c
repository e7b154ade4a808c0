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

/** The methods whose code code (len bytes) may be, as TWOFA_METHOD_BITs; 0: none the user holds. */
static uint32_t code_methods(twofa_append_shapes_t const *s, char const *code, size_t len, bool dashless_backup)
{
	uint32_t methods = 0;

	if (all_digits(code, len)) {
		if (s->totp_digits == len) methods |= TWOFA_METHOD_BIT(TWOFA_METHOD_TOTP);
		if (s->sms_digits == len) methods |= TWOFA_METHOD_BIT(TWOFA_METHOD_SMS);
		if (s->email_digits == len) methods |= TWOFA_METHOD_BIT(TWOFA_METHOD_EMAIL);
	}
	if (s->backup && (backup_shaped(code, len, true) || (dashless_backup && backup_shaped(code, len, false)))) {
		methods |= TWOFA_METHOD_BIT(TWOFA_METHOD_BACKUP);
	}
	return methods;
}

/* The app's code first: it is checked in memory, a sent code in the store. */
uint8_t const twofa_append_order[TWOFA_APPEND_METHODS] = {
	TWOFA_METHOD_TOTP, TWOFA_METHOD_BACKUP, TWOFA_METHOD_SMS, TWOFA_METHOD_EMAIL
};

/** The first of methods in the order they are tried. */
static uint8_t first_method(uint32_t methods)
{
	size_t i;

	for (i = 0; i < TWOFA_APPEND_METHODS; i++) {
		if (methods & TWOFA_METHOD_BIT(twofa_append_order[i])) return twofa_append_order[i];
	}
	return 0;
}

static bool split_at(char const *in, size_t password_len, size_t code_off, size_t len,
		     twofa_append_shapes_t const *s, bool dashless_backup, twofa_append_split_t *out)
{
	uint32_t methods = code_methods(s, in + code_off, len - code_off, dashless_backup);

	if (!methods) return false;
	*out = (twofa_append_split_t) { .password_len = password_len, .code_off = code_off,
					.code_len = len - code_off, .method = first_method(methods),
					.methods = methods };
	return true;
}

/** ASCII letters in any case, every other byte as it is (no locale). */
static bool same_word(char const *p, char const *word, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char a = p[i], b = word[i];

		if ((a >= 'A') && (a <= 'Z')) a = (char) (a - 'A' + 'a');
		if ((b >= 'A') && (b <= 'Z')) b = (char) (b - 'A' + 'a');
		if (a != b) return false;
	}
	return true;
}

/*
 *	The switch word tail (len bytes) is (exact: with a separator) or
 *	ends in (the longest), among those of methods the user holds; NULL: none.
 */
static twofa_append_word_t const *word_of(twofa_append_shapes_t const *s, char const *tail, size_t len, bool exact)
{
	twofa_append_word_t const	*best = NULL;
	size_t				i, wlen, best_len = 0;

	for (i = 0; i < TWOFA_APPEND_WORDS_MAX; i++) {
		twofa_append_word_t const *w = &s->words[i];

		if (!w->text || !w->text[0] || !w->method) continue;
		wlen = strlen(w->text);
		if ((exact ? (wlen != len) : (wlen > len)) || (wlen <= best_len)) continue;
		if (!same_word(tail + len - wlen, w->text, wlen)) continue;
		best = w;
		best_len = wlen;
	}
	return best;
}

static bool split_word(size_t password_len, size_t code_off, size_t len, twofa_append_word_t const *w,
		       twofa_append_split_t *out)
{
	if (!w) return false;
	*out = (twofa_append_split_t) { .password_len = password_len, .code_off = code_off,
					.code_len = len - code_off, .word = true, .method = w->method,
					.methods = TWOFA_METHOD_BIT(w->method) };
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

/* Without a separator: each digit length the user holds, the longest first (append.h). */
static bool split_digits(char const *in, size_t len, twofa_append_shapes_t const *s, twofa_append_split_t *out)
{
	unsigned int	lengths[3] = { s->totp_digits, s->sms_digits, s->email_digits };
	unsigned int	longest, tried = ~0u;
	size_t		i;

	for (;;) {
		longest = 0;
		for (i = 0; i < 3; i++) if ((lengths[i] < tried) && (lengths[i] > longest)) longest = lengths[i];
		if (!longest) return false;
		if ((len >= longest) && split_at(in, len - longest, len - longest, len, s, false, out)) return true;
		tried = longest;
	}
}

bool twofa_append_split(char const *in, size_t len, twofa_append_shapes_t const *shapes, twofa_append_split_t *out)
{
	twofa_append_word_t const *word;

	memset(out, 0, sizeof(*out));
	if (!in || !shapes) return false;

	if (shapes->separator && shapes->separator[0]) {
		char const	*sep = last_separator(in, len, shapes->separator);
		size_t		password_len, code_off;

		if (!sep) return false;
		password_len = (size_t) (sep - in);
		code_off = password_len + strlen(shapes->separator);
		if (split_at(in, password_len, code_off, len, shapes, true, out)) return true;
		return split_word(password_len, code_off, len, word_of(shapes, in + code_off, len - code_off, true), out);
	}
	/* Without a separator the code's own length says where the password ends. */
	if (shapes->backup && (len >= TWOFA_BACKUP_SHOWN_LEN) &&
	    split_at(in, len - TWOFA_BACKUP_SHOWN_LEN, len - TWOFA_BACKUP_SHOWN_LEN, len, shapes, false, out)) return true;
	if (split_digits(in, len, shapes, out)) return true;
	word = word_of(shapes, in, len, false);
	return word && split_word(len - strlen(word->text), len - strlen(word->text), len, word, out);
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
