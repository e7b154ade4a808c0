/*
 * fuzz_radconf.c	radconf_parse (tools/radconf.c): the module's file as
 *			twofa-admin test-send reads it.
 *
 *	Nothing may be read past len.  A parse either gives a tree or an
 *	error that says its line; in a tree, a section has no value and a
 *	pair always has one, no section is nested deeper than
 *	RADCONF_DEPTH_MAX, every item's line lies within the text, and
 *	the lookups find what the walk finds.
 *
 * sources: tools/radconf.c
 * max_len: 4096
 */
#include <string.h>
#include <talloc.h>

#include "fuzz.h"
#include "../../tools/radconf.h"

static void walk(radconf_item_t const *section, int depth, unsigned int lines)
{
	radconf_item_t const *i;

	FUZZ_CHECK(depth <= RADCONF_DEPTH_MAX);
	for (i = section->child; i; i = i->next) {
		FUZZ_CHECK(i->name != NULL);
		FUZZ_CHECK((i->line >= 1) && (i->line <= lines));
		if (i->section) {
			FUZZ_CHECK(i->value == NULL);
			FUZZ_CHECK(radconf_section(section, i->name, NULL) != NULL);
			walk(i, depth + 1, lines);
		} else {
			FUZZ_CHECK(i->value != NULL);
			FUZZ_CHECK(!i->expands || strstr(i->value, "${"));
			FUZZ_CHECK(radconf_pair(section, i->name, NULL) != NULL);
		}
	}
}

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*copy = malloc(size ? size : 1);	/* exactly size bytes: ASan sees any read past */
	char		err[128];
	unsigned int	lines = 1;
	size_t		i;
	radconf_item_t	*root;

	if (!ctx || !copy) abort();
	memcpy(copy, data, size);
	for (i = 0; i < size; i++) if (data[i] == '\n') lines++;
	root = radconf_parse(ctx, copy, size, err, sizeof(err));
	if (root) {
		FUZZ_CHECK(root->section && (root->value == NULL));
		walk(root, 0, lines);
	} else {
		FUZZ_CHECK(strncmp(err, "line ", 5) == 0);
	}
	free(copy);
	talloc_free(ctx);
	return 0;
}
