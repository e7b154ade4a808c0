/*
 * radconf.h	A small reader of FreeRADIUS's configuration syntax, for
 *		twofa-admin test-send: enough of it to take the sms { } and
 *		email { } sections out of the module's file as radiusd reads
 *		them, not a replacement for radiusd's parser.
 *
 *		Read: "name [name2] {" ... "}" nesting; "key = value" (the key
 *		bare or quoted: "cn=vpn,dc=example,dc=org" = ...) with the
 *		value a bare word, a "double-quoted" string (escapes \\ \" \'
 *		\n \r \t; any other \c stands for c) or a 'single-quoted' one
 *		(only \\ and \' are escapes); "# comments" to the end of the
 *		line; a bare word alone on a line.  Refused, with the line:
 *		$INCLUDE and $template, other operators (+= := ...), an
 *		unclosed string or section, a stray "}", nesting past
 *		RADCONF_DEPTH_MAX.  A value holding "${" is kept as written
 *		and marked expands: radiusd would expand it, this reader
 *		does not, so a caller that needs the value refuses it.
 */
#ifndef TWOFA_RADCONF_H
#define TWOFA_RADCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <talloc.h>

#define RADCONF_DEPTH_MAX	16

typedef struct radconf_item radconf_item_t;
struct radconf_item {
	char const	*name;		//!< the key, or a section's first name
	char const	*name2;		//!< a section's second name (an instance), NULL if none
	char const	*value;		//!< a pair's value, escapes undone; NULL for a section
	bool		section;
	bool		expands;	//!< the value holds "${": radiusd would expand it
	unsigned int	line;		//!< where it starts, from 1
	radconf_item_t	*child;		//!< a section's first item
	radconf_item_t	*next;		//!< the next item of the same section
};

/** Parse text (len bytes, no NUL needed).  @return the root (a section named
 *  "" holding the top-level items) under ctx, or NULL: err says why and
 *  where ("line N: ..."), never a value. */
radconf_item_t *radconf_parse(TALLOC_CTX *ctx, char const *text, size_t len, char *err, size_t err_len);

/** The first section of in named name (and name2, if not NULL), or NULL. */
radconf_item_t const *radconf_section(radconf_item_t const *in, char const *name, char const *name2);

/** The first pair of in named name after after (NULL: from the start), or NULL. */
radconf_item_t const *radconf_pair(radconf_item_t const *in, char const *name, radconf_item_t const *after);

#endif
