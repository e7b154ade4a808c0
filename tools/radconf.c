/*
 * radconf.c	A small reader of FreeRADIUS's configuration syntax
 *		(radconf.h): sections, "key = value" pairs, quoted strings,
 *		comments.  One pass over the text, a line counter, a stack of
 *		open sections.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "radconf.h"

typedef struct {
	TALLOC_CTX	*ctx;
	char const	*p;		//!< the next byte
	char const	*end;
	unsigned int	line;
	char		*err;
	size_t		err_len;
	radconf_item_t	*open[RADCONF_DEPTH_MAX + 1];	//!< open[0] the root
	radconf_item_t	*last[RADCONF_DEPTH_MAX + 1];	//!< each open section's last item
	int		depth;
} reader_t;

static int fail(reader_t *r, char const *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(reader_t *r, char const *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(r->err, r->err_len, "line %u: ", r->line);
	if ((n < 0) || ((size_t) n >= r->err_len)) return -1;
	va_start(ap, fmt);
	vsnprintf(r->err + n, r->err_len - n, fmt, ap);
	va_end(ap);
	return -1;
}

static bool blank(char c)
{
	return (c == ' ') || (c == '\t') || (c == '\r') || (c == '\v') || (c == '\f');
}

static void skip_blanks(reader_t *r)
{
	while ((r->p < r->end) && blank(*r->p)) r->p++;
}

/* Nothing more on this line but blanks and a comment. */
static bool at_line_end(reader_t *r)
{
	skip_blanks(r);
	return (r->p == r->end) || (*r->p == '\n') || (*r->p == '#');
}

static void skip_comment(reader_t *r)
{
	while ((r->p < r->end) && (*r->p != '\n')) r->p++;
}

/* A name: up to a blank, the line's end, or one of the syntax's characters. */
static char *read_name(reader_t *r)
{
	char const *start = r->p;

	while ((r->p < r->end) && !blank(*r->p) && !strchr("\n{}=#\"'`\\+:!<>~,;", *r->p) && *r->p) r->p++;
	if (r->p == start) return NULL;
	return talloc_strndup(r->ctx, start, r->p - start);
}

/* A bare value: up to a blank, the line's end or a comment (it may hold "${...}"). */
static char *read_bare(reader_t *r)
{
	char const *start = r->p;

	while ((r->p < r->end) && !blank(*r->p) && (*r->p != '\n') && (*r->p != '#') && *r->p) r->p++;
	return talloc_strndup(r->ctx, start, r->p - start);
}

/* A quoted string at r->p, its escapes undone; *out under ctx.  Single quotes
 * take only \\ and \' as escapes. */
static int read_quoted(reader_t *r, char **out)
{
	char	quote = *r->p++;
	char	*buf = talloc_array(r->ctx, char, (r->end - r->p) + 1), *w = buf;
	char	c;

	if (!buf) return fail(r, "out of memory");
	while (r->p < r->end) {
		c = *r->p++;
		if (c == quote) {
			*w = '\0';
			*out = buf;
			return 0;
		}
		if ((c == '\n') || (c == '\0')) break;
		if ((c != '\\') || (r->p == r->end)) {
			*w++ = c;
			continue;
		}
		c = *r->p++;
		if (quote == '\'') {
			if ((c != '\\') && (c != '\'')) *w++ = '\\';
			*w++ = c;
			continue;
		}
		switch (c) {
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 't': *w++ = '\t'; break;
		case '\n': r->line++; *w++ = '\n'; break;
		default: *w++ = c; break;
		}
	}
	talloc_free(buf);
	return fail(r, "a string without its closing quote");
}

static radconf_item_t *add_item(reader_t *r, char *name)
{
	radconf_item_t *item = talloc_zero(r->ctx, radconf_item_t);

	if (!item) return NULL;
	item->name = name;
	item->line = r->line;
	if (r->last[r->depth]) {
		r->last[r->depth]->next = item;
	} else {
		r->open[r->depth]->child = item;
	}
	r->last[r->depth] = item;
	return item;
}

static int open_section(reader_t *r, char *name, char *name2)
{
	radconf_item_t *item;

	if (r->depth >= RADCONF_DEPTH_MAX) return fail(r, "sections nested deeper than %d", RADCONF_DEPTH_MAX);
	if (!(item = add_item(r, name))) return fail(r, "out of memory");
	item->section = true;
	item->name2 = name2;
	r->depth++;
	r->open[r->depth] = item;
	r->last[r->depth] = NULL;
	r->p++;		/* the '{' */
	return 0;
}

/* After "name =": the value, to the line's end. */
static int read_pair(reader_t *r, char *name)
{
	radconf_item_t	*item;
	char		*value;
	bool		single = false;

	skip_blanks(r);
	if ((r->p < r->end) && ((*r->p == '"') || (*r->p == '\''))) {
		single = (*r->p == '\'');
		if (read_quoted(r, &value) < 0) return -1;
	} else if ((r->p < r->end) && (*r->p == '`')) {
		return fail(r, "a `command` value is not read here");
	} else {
		value = read_bare(r);
	}
	if (!value) return fail(r, "out of memory");
	if (!at_line_end(r)) return fail(r, "more after the value of \"%s\"", name);
	if (!(item = add_item(r, name))) return fail(r, "out of memory");
	item->value = value;
	item->expands = !single && strstr(value, "${");
	return 0;
}

/* One statement starting at r->p (not blank, not a comment, not a line end). */
static int statement(reader_t *r)
{
	char *name, *name2 = NULL;

	if (*r->p == '}') {
		if (r->depth == 0) return fail(r, "a \"}\" that closes no section");
		r->depth--;
		r->p++;
		return 0;
	}
	if (*r->p == '$') return fail(r, "$INCLUDE and $template are not read here");
	if ((*r->p == '"') || (*r->p == '\'')) {
		/* A quoted key ("cn=vpn,dc=example,dc=org" = "..."): a pair only. */
		if (read_quoted(r, &name) < 0) return -1;
		skip_blanks(r);
		if ((r->p >= r->end) || (*r->p != '=') || ((r->p + 1 < r->end) && (r->p[1] == '='))) {
			return fail(r, "only \"=\" is read after a quoted name");
		}
		r->p++;
		return read_pair(r, name);
	}
	if (!(name = read_name(r))) return fail(r, "unexpected character 0x%02x", (unsigned char) *r->p);
	skip_blanks(r);
	if (r->p == r->end || (*r->p == '\n') || (*r->p == '#') || (*r->p == '}')) {
		radconf_item_t *item = add_item(r, name);	/* a bare word, e.g. in instantiate { } */

		if (!item) return fail(r, "out of memory");
		item->value = "";
		return 0;
	}
	if (*r->p == '=') {
		r->p++;
		if ((r->p < r->end) && (*r->p == '=')) return fail(r, "only \"=\" is read here");
		return read_pair(r, name);
	}
	if (*r->p == '{') return open_section(r, name, NULL);
	if ((*r->p == '"') || (*r->p == '\'')) {
		if (read_quoted(r, &name2) < 0) return -1;
	} else if (!(name2 = read_name(r))) {
		return fail(r, "only \"=\" is read here, after \"%s\"", name);
	}
	skip_blanks(r);
	if ((r->p < r->end) && (*r->p == '{')) return open_section(r, name, name2);
	return fail(r, "expected \"{\" after \"%s %s\"", name, name2);
}

radconf_item_t *radconf_parse(TALLOC_CTX *ctx, char const *text, size_t len, char *err, size_t err_len)
{
	reader_t	r = { .p = text, .end = text + len, .line = 1, .err = err, .err_len = err_len };
	radconf_item_t	*root;

	if (err_len) err[0] = '\0';
	if (!(r.ctx = root = talloc_zero(ctx, radconf_item_t))) return NULL;
	root->name = "";
	root->section = true;
	r.open[0] = root;

	while (r.p < r.end) {
		if (blank(*r.p)) {
			r.p++;
		} else if (*r.p == '\n') {
			r.line++;
			r.p++;
		} else if (*r.p == '#') {
			skip_comment(&r);
		} else if (statement(&r) < 0) {
			talloc_free(root);
			return NULL;
		}
	}
	if (r.depth > 0) {
		fail(&r, "section \"%s\" (line %u) is not closed", r.open[r.depth]->name, r.open[r.depth]->line);
		talloc_free(root);
		return NULL;
	}
	return root;
}

radconf_item_t const *radconf_section(radconf_item_t const *in, char const *name, char const *name2)
{
	radconf_item_t const *i;

	for (i = in ? in->child : NULL; i; i = i->next) {
		if (!i->section || (strcmp(i->name, name) != 0)) continue;
		if (name2 && (!i->name2 || (strcmp(i->name2, name2) != 0))) continue;
		return i;
	}
	return NULL;
}

radconf_item_t const *radconf_pair(radconf_item_t const *in, char const *name, radconf_item_t const *after)
{
	radconf_item_t const *i = after ? after->next : (in ? in->child : NULL);

	for (; i; i = i->next) {
		if (!i->section && (strcmp(i->name, name) == 0)) return i;
	}
	return NULL;
}
