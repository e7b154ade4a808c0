/*
 * test_radconf.c	tools/radconf.c: FreeRADIUS's configuration syntax as
 *			twofa-admin test-send reads the module's file.
 */
#include <stdlib.h>
#include <string.h>
#include <talloc.h>

#include "check.h"
#include "../../tools/radconf.h"

static char err[256];

static radconf_item_t *parse(TALLOC_CTX *ctx, char const *text)
{
	return radconf_parse(ctx, text, strlen(text), err, sizeof(err));
}

/* The error text for text, "" if it parsed. */
static char const *refusal(char const *text)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	radconf_item_t	*root = parse(ctx, text);

	talloc_free(ctx);
	return root ? "" : err;
}

static void sections_pairs_and_comments(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	radconf_item_t const	*root, *m, *sms, *h;

	root = parse(ctx,
		"# the module\n"
		"twofa {\n"
		"\tstore = /var/lib/freeradius/twofa/twofa.db   # a comment after a value\n"
		"\tpolicy_file = ${modconfdir}/${.:instance}/policy\n"
		"\tsqlite {\n\t\tbusy_timeout = 1000\n\t}\n"
		"\tsms {\n"
		"\t\turl = \"https://sms.example.org/v1/send?to={phone}\"\n"
		"\t\theader = \"X-A: 1\"\n"
		"\t\theader = 'X-B: 2'\n"
		"\t\tbody = \"{\\\"to\\\":\\\"{phone}\\\"} # not a comment\"\n"
		"\t\tpassword = \"p\\\\w\\\"d\"\n"
		"\t\tempty = \"\"\n"
		"\t\tnone =\n"
		"\t}\n"
		"}\n"
		"twofa second {\n\tsms {\n\t\turl = x\n\t}\n}\n");
	CHECK(root != NULL);
	if (!root) { printf("  %s\n", err); talloc_free(ctx); return; }
	m = radconf_section(root, "twofa", NULL);
	CHECK(m && !m->name2 && (m->line == 2));
	CHECK_STR(radconf_pair(m, "store", NULL)->value, "/var/lib/freeradius/twofa/twofa.db");
	CHECK(radconf_pair(m, "policy_file", NULL)->expands);
	CHECK(!radconf_pair(m, "store", NULL)->expands);
	CHECK(radconf_pair(m, "busy_timeout", NULL) == NULL);		/* only this section's own pairs */
	sms = radconf_section(m, "sms", NULL);
	CHECK(sms != NULL);
	CHECK_STR(radconf_pair(sms, "url", NULL)->value, "https://sms.example.org/v1/send?to={phone}");
	h = radconf_pair(sms, "header", NULL);
	CHECK_STR(h->value, "X-A: 1");
	h = radconf_pair(sms, "header", h);
	CHECK_STR(h->value, "X-B: 2");
	CHECK(radconf_pair(sms, "header", h) == NULL);
	CHECK_STR(radconf_pair(sms, "body", NULL)->value, "{\"to\":\"{phone}\"} # not a comment");
	CHECK_STR(radconf_pair(sms, "password", NULL)->value, "p\\w\"d");
	CHECK_STR(radconf_pair(sms, "empty", NULL)->value, "");
	CHECK_STR(radconf_pair(sms, "none", NULL)->value, "");
	CHECK(radconf_pair(sms, "password", NULL)->line == 13);
	m = radconf_section(root, "twofa", "second");
	CHECK(m && (strcmp(m->name2, "second") == 0));
	CHECK_STR(radconf_pair(radconf_section(m, "sms", NULL), "url", NULL)->value, "x");
	CHECK(radconf_section(root, "twofa", "third") == NULL);
	talloc_free(ctx);
}

static void escapes_by_quote(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	radconf_item_t const	*root = parse(ctx, "a = \"x\\ny\\tz\\r\\q\"\nb = 'x\\ny\\'z\\\\'\nc = '${not}'\nd = \"${yes}\"\n");

	CHECK(root != NULL);
	if (!root) { talloc_free(ctx); return; }
	CHECK_STR(radconf_pair(root, "a", NULL)->value, "x\ny\tz\rq");
	CHECK_STR(radconf_pair(root, "b", NULL)->value, "x\\ny'z\\");
	CHECK(!radconf_pair(root, "c", NULL)->expands);		/* single quotes: radiusd does not expand */
	CHECK(radconf_pair(root, "d", NULL)->expands);
	talloc_free(ctx);
}

/* A quoted key, as ldap { groups { reply { "GROUP-DN" = "..." } } } has (radiusd reads them). */
static void quoted_keys_are_read(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	radconf_item_t const	*root = parse(ctx, "reply {\n\t\"cn=a,dc=x\" = \"Class = a\"\n\t'cn=b' = b\n}\n");
	radconf_item_t const	*reply = radconf_section(root, "reply", NULL);

	CHECK(reply != NULL);
	if (!reply) { printf("  %s\n", err); talloc_free(ctx); return; }
	CHECK_STR(radconf_pair(reply, "cn=a,dc=x", NULL)->value, "Class = a");
	CHECK_STR(radconf_pair(reply, "cn=b", NULL)->value, "b");
	CHECK_STR(refusal("\"a\" {\n}\n"), "line 1: only \"=\" is read after a quoted name");
	talloc_free(ctx);
}

static void the_shipped_file_parses(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char const		*vectors = getenv("TWOFA_VECTORS");	/* tests/vectors */
	char			path[4096], *text;
	FILE			*fp;
	size_t			len;
	radconf_item_t const	*root;

	snprintf(path, sizeof(path), "%s/../../raddb/mods-available/twofa", vectors ? vectors : "tests/vectors");
	fp = fopen(path, "r");
	CHECK(fp != NULL);
	if (!fp) { talloc_free(ctx); return; }
	text = talloc_array(ctx, char, 1 << 20);
	len = fread(text, 1, 1 << 20, fp);
	fclose(fp);
	root = radconf_parse(ctx, text, len, err, sizeof(err));
	CHECK(root != NULL);
	if (!root) printf("  %s\n", err);
	else CHECK(radconf_section(radconf_section(root, "twofa", NULL), "send_limits", NULL) != NULL);
	talloc_free(ctx);
}

static void malformed_is_refused_with_its_line(void)
{
	char deep[RADCONF_DEPTH_MAX * 4 + 64] = "";
	int i;

	CHECK_STR(refusal("a {\n b = 1\n"), "line 3: section \"a\" (line 1) is not closed");
	CHECK_STR(refusal("a = 1\n}\n"), "line 2: a \"}\" that closes no section");
	CHECK_STR(refusal("a {\n b = \"open\n}\n"), "line 2: a string without its closing quote");
	CHECK_STR(refusal("$INCLUDE other\n"), "line 1: $INCLUDE and $template are not read here");
	CHECK_STR(refusal("a += 1\n"), "line 1: only \"=\" is read here, after \"a\"");
	CHECK_STR(refusal("a := 1\n"), "line 1: only \"=\" is read here, after \"a\"");
	CHECK_STR(refusal("a == 1\n"), "line 1: only \"=\" is read here");
	CHECK_STR(refusal("a = \"x\" y\n"), "line 1: more after the value of \"a\"");
	CHECK_STR(refusal("a = `date`\n"), "line 1: a `command` value is not read here");
	CHECK_STR(refusal("a b c\n"), "line 1: expected \"{\" after \"a b\"");
	CHECK_STR(refusal(""), "");
	for (i = 0; i <= RADCONF_DEPTH_MAX; i++) strcat(deep, "s {\n");
	CHECK_STR(refusal(deep), "line 17: sections nested deeper than 16");
}

/* Not NUL-terminated: nothing past len is read. */
static void length_bounds_the_text(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char const		text[] = "a = \"xyz\"\nb = 2";
	radconf_item_t const	*root = radconf_parse(ctx, text, 8, err, sizeof(err));	/* a = "xyz */

	CHECK(root == NULL);
	root = radconf_parse(ctx, text, sizeof(text) - 2, err, sizeof(err));	/* b = (empty) */
	CHECK(root && (strcmp(radconf_pair(root, "b", NULL)->value, "") == 0));
	talloc_free(ctx);
}

int main(void)
{
	RUN(sections_pairs_and_comments);
	RUN(escapes_by_quote);
	RUN(quoted_keys_are_read);
	RUN(the_shipped_file_parses);
	RUN(malformed_is_refused_with_its_line);
	RUN(length_bounds_the_text);
	CHECK_EXIT();
}
