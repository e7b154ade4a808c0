/*
 * netpolicy.c	Per-NAS rules (netpolicy.h): the parser of the policy file
 *		and its @FILE lists, CIDRs, and the matcher.
 *
 *		Each list becomes, per address family, a sorted array of
 *		disjoint address ranges (overlapping and adjacent CIDRs
 *		merged), searched by bisection: 10 000 CIDRs cost 14 steps,
 *		not 10 000 compares.  Shortnames are a sorted array too.
 *		Rules keep their file order; the first that matches wins.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netpolicy.h"
#include "policy.h"

#define NAME_ITEM_MAX	128	//!< bytes of a client shortname in a list

typedef struct {
	uint64_t	hi, lo;
} u128_t;

typedef struct {
	u128_t		first, last;
} range_t;

struct twofa_netpolicy_set {
	bool		any;		//!< "*"
	range_t		*v4;		//!< sorted, disjoint, not adjacent
	size_t		n4;
	range_t		*v6;
	size_t		n6;
	char		**names;	//!< sorted
	size_t		n_names;
};

/** Where the parser is, for "FILE:LINE: why". */
typedef struct {
	TALLOC_CTX		*ctx;
	char const		*file;
	unsigned int		line;
	int			flags;
	char			*err;
	size_t			err_len;
	twofa_netpolicy_t	*policy;
} parser_t;

static int fail(parser_t *p, char const *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser_t *p, char const *fmt, ...)
{
	va_list	ap;
	int	n;

	/* Line 0: the file itself (cannot open it): the message names it. */
	n = p->line ? snprintf(p->err, p->err_len, "%s:%u: ", p->file, p->line) : 0;
	if ((n < 0) || ((size_t) n >= p->err_len)) return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->err_len - n, fmt, ap);
	va_end(ap);
	return -1;
}

char const *twofa_netpolicy_action_name(twofa_netpolicy_action_t action)
{
	switch (action) {
	case TWOFA_NETPOLICY_SKIP:	return "skip";
	case TWOFA_NETPOLICY_REQUIRE:	return "require";
	case TWOFA_NETPOLICY_REJECT:	return "reject";
	}
	return "?";
}

/*
 *	Addresses
 */
static u128_t ip_value(twofa_ip_t const *ip)
{
	u128_t	v = { 0, 0 };
	int	i;

	if (ip->af == 4) {
		for (i = 0; i < 4; i++) v.lo = (v.lo << 8) | ip->addr[i];
		return v;
	}
	for (i = 0; i < 8; i++) v.hi = (v.hi << 8) | ip->addr[i];
	for (i = 8; i < 16; i++) v.lo = (v.lo << 8) | ip->addr[i];
	return v;
}

static int u128_cmp(u128_t a, u128_t b)
{
	if (a.hi != b.hi) return (a.hi < b.hi) ? -1 : 1;
	if (a.lo != b.lo) return (a.lo < b.lo) ? -1 : 1;
	return 0;
}

static bool is_v4_mapped(uint8_t const *a)
{
	static uint8_t const prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

void twofa_ip_unmap(twofa_ip_t *ip)
{
	if ((ip->af != 6) || !is_v4_mapped(ip->addr)) return;
	memmove(ip->addr, ip->addr + 12, 4);
	memset(ip->addr + 4, 0, 12);
	ip->af = 4;
}

/** inet_pton of one family; glibc refuses IPv4 parts with leading zeros and anything but 4 parts. */
static bool pton(char const *text, twofa_ip_t *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (strchr(text, ':')) {
		if (inet_pton(AF_INET6, text, ip->addr) != 1) return false;
		ip->af = 6;
		return true;
	}
	if (inet_pton(AF_INET, text, ip->addr) != 1) return false;
	ip->af = 4;
	return true;
}

bool twofa_ip_parse(char const *text, twofa_ip_t *ip)
{
	if (!text || (strlen(text) > INET6_ADDRSTRLEN) || !pton(text, ip)) return false;
	twofa_ip_unmap(ip);
	return true;
}

int twofa_cidr_parse(char const *text, twofa_ip_t *ip, unsigned int *prefix, char *err, size_t err_len)
{
	char		addr[INET6_ADDRSTRLEN + 1];
	char const	*slash = strchr(text, '/');
	size_t		len = slash ? (size_t) (slash - text) : strlen(text);
	unsigned int	max, bits = 0, i;

	if ((len == 0) || (len >= sizeof(addr))) goto bad;
	memcpy(addr, text, len);
	addr[len] = '\0';
	if (!pton(addr, ip)) goto bad;
	max = (ip->af == 4) ? 32 : 128;

	if (!slash) {
		*prefix = max;
	} else {
		char const *q = slash + 1;

		if ((*q < '0') || (*q > '9') || ((q[0] == '0') && q[1]) || (strlen(q) > 3)) {
			snprintf(err, err_len, "\"%s\": the prefix length must be a number", text);
			return -1;
		}
		for (; *q; q++) {
			if ((*q < '0') || (*q > '9')) {
				snprintf(err, err_len, "\"%s\": the prefix length must be a number", text);
				return -1;
			}
			bits = bits * 10 + (unsigned int) (*q - '0');
		}
		if (bits > max) {
			snprintf(err, err_len, "\"%s\": prefix /%u is longer than an IPv%d address (%u bits)",
				 text, bits, ip->af, max);
			return -1;
		}
		*prefix = bits;
	}
	if ((ip->af == 6) && is_v4_mapped(ip->addr) && (*prefix >= 96)) {
		snprintf(err, err_len, "\"%s\": an IPv4-mapped IPv6 address; write the IPv4 form "
			 "(mapped addresses are matched as IPv4)", text);
		return -1;
	}
	/* Host bits set is a typo more often than not: 10.1.2.3/16 meant 10.1.0.0/16 or 10.1.2.3/32? */
	for (i = *prefix; i < max; i++) {
		if (ip->addr[i / 8] & (0x80 >> (i % 8))) {
			twofa_ip_t	net = *ip;
			char		shown[INET6_ADDRSTRLEN];
			unsigned int	j;

			for (j = *prefix; j < max; j++) net.addr[j / 8] &= (uint8_t) ~(0x80 >> (j % 8));
			inet_ntop((ip->af == 4) ? AF_INET : AF_INET6, net.addr, shown, sizeof(shown));
			snprintf(err, err_len, "\"%s\" has bits set past the /%u prefix: write %s/%u for the "
				 "network, or the address alone", text, *prefix, shown, *prefix);
			return -1;
		}
	}
	return 0;

bad:
	snprintf(err, err_len, "\"%.60s%s\" is not an IPv4 or IPv6 address or CIDR", text,
		 (strlen(text) > 60) ? "..." : "");
	return -1;
}

/** The range a CIDR covers. */
static range_t cidr_range(twofa_ip_t const *ip, unsigned int prefix)
{
	twofa_ip_t	last = *ip;
	unsigned int	max = (ip->af == 4) ? 32 : 128, i;
	range_t		r;

	for (i = prefix; i < max; i++) last.addr[i / 8] |= (uint8_t) (0x80 >> (i % 8));
	r.first = ip_value(ip);
	r.last = ip_value(&last);
	return r;
}

/*
 *	Sets: built item by item, then sorted and merged once.
 */
typedef struct {
	range_t		*v4, *v6;
	size_t		n4, n6, cap4, cap6;
	char		**names;
	size_t		n_names, cap_names;
	bool		any;
	size_t		items;
} set_builder_t;

static int push_range(TALLOC_CTX *ctx, range_t **a, size_t *n, size_t *cap, range_t r)
{
	if (*n == *cap) {
		size_t	 ncap = *cap ? *cap * 2 : 16;
		range_t	*na = talloc_realloc(ctx, *a, range_t, ncap);

		if (!na) return -1;
		*a = na;
		*cap = ncap;
	}
	(*a)[(*n)++] = r;
	return 0;
}

static int range_cmp(void const *a, void const *b)
{
	return u128_cmp(((range_t const *) a)->first, ((range_t const *) b)->first);
}

static int name_cmp(void const *a, void const *b)
{
	return strcmp(*(char * const *) a, *(char * const *) b);
}

/** a + 1 would not overflow and equals b: adjacent ranges merge too. */
static bool follows(u128_t a, u128_t b)
{
	u128_t next = a;

	if (++next.lo == 0) {
		if (++next.hi == 0) return false;
	}
	return u128_cmp(next, b) == 0;
}

/** Sort, then merge overlapping and adjacent ranges in place; returns the new count. */
static size_t merge_ranges(range_t *a, size_t n)
{
	size_t i, out = 0;

	if (!n) return 0;
	qsort(a, n, sizeof(*a), range_cmp);
	for (i = 1; i < n; i++) {
		if ((u128_cmp(a[i].first, a[out].last) <= 0) || follows(a[out].last, a[i].first)) {
			if (u128_cmp(a[i].last, a[out].last) > 0) a[out].last = a[i].last;
			continue;
		}
		a[++out] = a[i];
	}
	return out + 1;
}

static twofa_netpolicy_set_t *set_finish(TALLOC_CTX *ctx, set_builder_t *b)
{
	twofa_netpolicy_set_t	*set = talloc_zero(ctx, twofa_netpolicy_set_t);
	size_t			i, out = 0;

	if (!set) return NULL;
	set->any = b->any;
	set->v4 = talloc_steal(set, b->v4);
	set->n4 = merge_ranges(set->v4, b->n4);
	set->v6 = talloc_steal(set, b->v6);
	set->n6 = merge_ranges(set->v6, b->n6);
	set->names = talloc_steal(set, b->names);
	if (b->n_names) {
		qsort(set->names, b->n_names, sizeof(char *), name_cmp);
		for (i = 0; i < b->n_names; i++) {
			if (out && (strcmp(set->names[out - 1], set->names[i]) == 0)) continue;
			set->names[out++] = set->names[i];
		}
	}
	set->n_names = out;
	return set;
}

static bool ranges_hold(range_t const *a, size_t n, u128_t v)
{
	size_t lo = 0, hi = n;

	/* The last range whose first address is <= v holds v, or none does. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u128_cmp(a[mid].first, v) <= 0) lo = mid + 1;
		else hi = mid;
	}
	return (lo > 0) && (u128_cmp(v, a[lo - 1].last) <= 0);
}

static bool set_holds_ip(twofa_netpolicy_set_t const *set, twofa_ip_t const *ip)
{
	if (!ip || !ip->af) return false;
	if (set->any) return true;
	if (ip->af == 4) return ranges_hold(set->v4, set->n4, ip_value(ip));
	return ranges_hold(set->v6, set->n6, ip_value(ip));
}

static bool set_holds_name(twofa_netpolicy_set_t const *set, char const *name)
{
	if (!name || !*name) return false;
	if (set->any) return true;
	return set->n_names &&
	       (bsearch(&name, set->names, set->n_names, sizeof(char *), name_cmp) != NULL);
}

/*
 *	Lists
 */
typedef enum {
	LIST_NAS,		//!< addresses, CIDRs, shortnames, "*"
	LIST_NAS_IP,		//!< addresses and CIDRs
	LIST_FROM,		//!< addresses, CIDRs, "*"
} list_kind_t;

static bool looks_like_address(char const *item)
{
	return ((*item >= '0') && (*item <= '9')) || strchr(item, ':') || strchr(item, '/');
}

static bool name_item_valid(char const *item)
{
	size_t len = strlen(item);

	if ((len == 0) || (len > NAME_ITEM_MAX)) return false;
	for (; *item; item++) {
		if ((*item <= ' ') || (*item >= 0x7f) || strchr("\",=#@*\\", *item)) return false;
	}
	return true;
}

static int add_item(parser_t *p, set_builder_t *b, list_kind_t kind, char const *key, char *item)
{
	char		why[200];
	twofa_ip_t	ip;
	unsigned int	prefix;
	range_t		r;

	if (looks_like_address(item)) {
		if (twofa_cidr_parse(item, &ip, &prefix, why, sizeof(why)) < 0) return fail(p, "%s: %s", key, why);
		r = cidr_range(&ip, prefix);
		if (((ip.af == 4) ? push_range(p->ctx, &b->v4, &b->n4, &b->cap4, r) :
				    push_range(p->ctx, &b->v6, &b->n6, &b->cap6, r)) < 0) {
			return fail(p, "out of memory");
		}
		b->items++;
		return 0;
	}
	if (kind != LIST_NAS) {
		return fail(p, "%s: \"%.60s\" is not an IPv4 or IPv6 address or CIDR", key, item);
	}
	if (!name_item_valid(item)) {
		return fail(p, "%s: \"%.60s\" is neither an address, a CIDR nor a client shortname", key, item);
	}
	if (b->n_names == b->cap_names) {
		size_t	ncap = b->cap_names ? b->cap_names * 2 : 8;
		char	**nn = talloc_realloc(p->ctx, b->names, char *, ncap);

		if (!nn) return fail(p, "out of memory");
		b->names = nn;
		b->cap_names = ncap;
	}
	if (!(b->names[b->n_names] = talloc_strdup(b->names, item))) return fail(p, "out of memory");
	b->n_names++;
	b->items++;
	return 0;
}

static int read_file(parser_t *p, char const *path, char **text, size_t *len);

/** Trim blanks at both ends, in place. */
static char *trim(char *s)
{
	char *end;

	while ((*s == ' ') || (*s == '\t') || (*s == '\r')) s++;
	end = s + strlen(s);
	while ((end > s) && ((end[-1] == ' ') || (end[-1] == '\t') || (end[-1] == '\r'))) *--end = '\0';
	return s;
}

/** Note a list file read, for whoever must watch it (the module: radiusd's HUP). */
static int remember_list(twofa_netpolicy_t *policy, char const *path)
{
	char const **lists = talloc_realloc(policy, policy->lists, char const *, policy->num_lists + 1);

	if (!lists) return -1;
	policy->lists = lists;
	lists[policy->num_lists++] = path;	/* a child of the policy, as the list */
	return 0;
}

/** @FILE: one item per line, blank lines and # comments skipped; errors name the list file's line. */
static int add_list_file(parser_t *p, set_builder_t *b, list_kind_t kind, char const *key, char const *name)
{
	char		*path, *text, *line, *next;
	char const	*slash = strrchr(p->file, '/');
	size_t		len;
	parser_t	lp = *p;
	int		ret = 0;

	if (p->flags & TWOFA_NETPOLICY_NO_LISTS) return fail(p, "%s: @FILE lists are not read here", key);
	if (!*name) return fail(p, "%s: \"@\" names no file", key);
	if ((name[0] == '/') || !slash) path = talloc_strdup(p->ctx, name);
	else path = talloc_asprintf(p->ctx, "%.*s/%s", (int) (slash - p->file), p->file, name);
	if (!path) return fail(p, "out of memory");
	if (read_file(p, path, &text, &len) < 0) return -1;
	if (remember_list(p->policy, path) < 0) {
		talloc_free(text);
		return fail(p, "out of memory");
	}

	lp.file = path;
	lp.line = 0;
	for (line = text; line && (ret == 0); line = next) {
		char *item;

		next = strchr(line, '\n');
		if (next) *next++ = '\0';
		lp.line++;
		item = trim(line);
		if (!*item || (*item == '#')) continue;
		if (strpbrk(item, " \t,")) {
			ret = fail(&lp, "%s: one address or CIDR per line, not \"%.60s\"", key, item);
		} else if ((*item == '*') || (*item == '@')) {
			ret = fail(&lp, "%s: \"%c\" cannot be used in a list file", key, *item);
		} else {
			ret = add_item(&lp, b, kind, key, item);
		}
	}
	talloc_free(text);
	return ret;
}

/** A comma list: items, "*" alone, @FILE. */
static int parse_list(parser_t *p, list_kind_t kind, char const *key, char *value,
		      twofa_netpolicy_set_t const **out)
{
	set_builder_t	b;
	char		*item, *save = NULL;
	int		ret = 0;

	memset(&b, 0, sizeof(b));
	if (!*value) return fail(p, "%s= is empty", key);
	if (strcmp(value, "*") == 0) {
		if (kind == LIST_NAS_IP) return fail(p, "nas_ip=* matches nothing more than leaving it out");
		b.any = true;
	} else {
		if (value[0] == ',' || value[strlen(value) - 1] == ',' || strstr(value, ",,")) {
			return fail(p, "%s: an empty item in the list", key);
		}
		for (item = strtok_r(value, ",", &save); item && (ret == 0); item = strtok_r(NULL, ",", &save)) {
			if (*item == '*') ret = fail(p, "%s: \"*\" must stand alone", key);
			else if (*item == '@') ret = add_list_file(p, &b, kind, key, item + 1);
			else ret = add_item(p, &b, kind, key, item);
		}
	}
	if (ret == 0) {
		*out = set_finish(p->policy, &b);
		if (!*out) ret = fail(p, "out of memory");
		p->policy->entries += b.items;
	}
	if (ret != 0) {
		talloc_free(b.v4);
		talloc_free(b.v6);
		talloc_free(b.names);
	}
	return ret;
}

/*
 *	Lines
 */
static bool rule_name_valid(char const *name)
{
	size_t len = strlen(name);

	if ((len == 0) || (len > TWOFA_NETPOLICY_NAME_MAX)) return false;
	for (; *name; name++) {
		if (!(((*name >= 'a') && (*name <= 'z')) || ((*name >= 'A') && (*name <= 'Z')) ||
		      ((*name >= '0') && (*name <= '9')) || strchr("_.-", *name))) return false;
	}
	return true;
}

/** The next token of *pos: a bare word, or key="quoted \" value".  NULL at the end of the line. */
static int next_token(parser_t *p, char **pos, char **token)
{
	char *s = *pos, *out;

	while ((*s == ' ') || (*s == '\t') || (*s == '\r')) s++;
	if (!*s || (*s == '#')) {
		*token = NULL;
		return 0;
	}
	*token = out = s;
	while (*s && (*s != ' ') && (*s != '\t') && (*s != '\r')) {
		if (*s != '"') {
			*out++ = *s++;
			continue;
		}
		/* A quoted part: \" and \\ are the only escapes. */
		for (s++; *s != '"'; s++) {
			if (!*s) return fail(p, "a quote is not closed");
			if (*s == '\\') {
				s++;
				if ((*s != '"') && (*s != '\\')) return fail(p, "only \\\" and \\\\ may follow a backslash");
			}
			*out++ = *s;
		}
		s++;
		if (*s && (*s != ' ') && (*s != '\t') && (*s != '\r')) return fail(p, "text right after a closing quote");
	}
	if (*s) s++;
	*out = '\0';
	*pos = s;
	return 0;
}

static int parse_flag(parser_t *p, char const *key, char const *value, twofa_netpolicy_flag_t *out)
{
	if (strcmp(value, "yes") == 0) *out = TWOFA_NETPOLICY_YES;
	else if (strcmp(value, "no") == 0) *out = TWOFA_NETPOLICY_NO;
	else return fail(p, "%s must be yes or no, not \"%.60s\"", key, value);
	return 0;
}

/** A challenge text: printable UTF-8, no control characters, fits a Reply-Message. */
static int parse_message(parser_t *p, char const *value, char const **out)
{
	size_t len = strlen(value), i, n;

	if (len == 0) return fail(p, "message is empty");
	if (len > TWOFA_REPLY_MESSAGE_MAX) {
		return fail(p, "message is %zu bytes; a Reply-Message holds %d", len, TWOFA_REPLY_MESSAGE_MAX);
	}
	for (i = 0; i < len; i += n) {
		uint8_t c = (uint8_t) value[i];

		n = twofa_utf8_len((uint8_t const *) value + i, len - i);
		if (!n) return fail(p, "message is not valid UTF-8");
		if ((n == 1) && ((c < 0x20) || (c == 0x7f))) return fail(p, "message holds a control character");
	}
	if (!(*out = talloc_strdup(p->policy, value))) return fail(p, "out of memory");
	return 0;
}

/*
 *	reply="Class=vpn-users, Filter-Id=std": attributes an Accept through
 *	the rule carries.  Names as the dictionary spells them (the module
 *	checks them there); a value is printable UTF-8 without a comma; the
 *	first '=' ends the name (a value may hold more: Cisco-AVPair=a=b).
 */
static bool attribute_name_valid(char const *name, size_t len)
{
	size_t i;

	if ((len == 0) || (len > 64)) return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!(((c >= 'a') && (c <= 'z')) || ((c >= 'A') && (c <= 'Z')) || ((c >= '0') && (c <= '9')) ||
		      (c == '-') || (c == '_') || (c == '.'))) return false;
	}
	return true;
}

static char *trimmed(char *s)
{
	char *end;

	while ((*s == ' ') || (*s == '\t')) s++;
	end = s + strlen(s);
	while ((end > s) && ((end[-1] == ' ') || (end[-1] == '\t'))) *--end = '\0';
	return s;
}

/* An error of twofa_netpolicy_reply_parse, into err. */
static int reply_fail(char *err, size_t err_len, char const *fmt, ...) __attribute__((format(printf, 3, 4)));
static int reply_fail(char *err, size_t err_len, char const *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -1;
}

int twofa_netpolicy_reply_parse(TALLOC_CTX *ctx, char const *text, twofa_netpolicy_reply_t const **out,
				unsigned int *count, char *err, size_t err_len)
{
	twofa_netpolicy_reply_t	*list;
	char			*value, *item, *save = NULL;
	unsigned int		n = 0;

	if (!*text) return reply_fail(err, err_len, "reply= is empty");
	if (!(list = talloc_zero_array(ctx, twofa_netpolicy_reply_t, TWOFA_NETPOLICY_REPLY_MAX)) ||
	    !(value = talloc_strdup(list, text))) {
		talloc_free(list);
		return reply_fail(err, err_len, "out of memory");
	}
	if ((value[0] == ',') || (value[strlen(value) - 1] == ',') || strstr(value, ",,")) {
		talloc_free(list);
		return reply_fail(err, err_len, "reply: an empty item in the list");
	}
	for (item = strtok_r(value, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char	*eq, *name, *val;
		size_t	i, len, k;

		item = trimmed(item);
		if (!(eq = strchr(item, '='))) {
			reply_fail(err, err_len, "reply: \"%.60s\" is not Attribute=value", item);
			goto error;
		}
		*eq = '\0';
		name = trimmed(item);
		val = trimmed(eq + 1);
		if (!attribute_name_valid(name, strlen(name))) {
			reply_fail(err, err_len, "reply: \"%.60s\" is not an attribute name", name);
			goto error;
		}
		len = strlen(val);
		if (!len) {
			reply_fail(err, err_len, "reply: %s has no value", name);
			goto error;
		}
		if (len > TWOFA_REPLY_MESSAGE_MAX) {
			reply_fail(err, err_len, "reply: %s's value is over 253 bytes", name);
			goto error;
		}
		for (i = 0; i < len; i += k) {
			uint8_t c = (uint8_t) val[i];

			k = twofa_utf8_len((uint8_t const *) val + i, len - i);
			if (!k) {
				reply_fail(err, err_len, "reply: %s's value is not valid UTF-8", name);
				goto error;
			}
			if ((k == 1) && ((c < 0x20) || (c == 0x7f))) {
				reply_fail(err, err_len, "reply: %s's value holds a control character", name);
				goto error;
			}
		}
		if (n == TWOFA_NETPOLICY_REPLY_MAX) {
			reply_fail(err, err_len, "reply: more than %d attributes", TWOFA_NETPOLICY_REPLY_MAX);
			goto error;
		}
		list[n].name = talloc_strdup(list, name);
		list[n].value = talloc_strdup(list, val);
		if (!list[n].name || !list[n].value) {
			reply_fail(err, err_len, "out of memory");
			goto error;
		}
		n++;
	}
	talloc_free(value);
	*out = list;
	*count = n;
	return 0;

error:
	talloc_free(list);
	return -1;
}

static int parse_reply(parser_t *p, twofa_netpolicy_rule_t *rule, char *value)
{
	char err[256];

	if (twofa_netpolicy_reply_parse(p->policy, value, &rule->reply, &rule->reply_count, err, sizeof(err)) < 0) {
		return fail(p, "rule %s: %s", rule->name, err);
	}
	return 0;
}

/** One key=value of a rule; seen[] refuses a key given twice. */
static int parse_option(parser_t *p, twofa_netpolicy_rule_t *rule, char *token, unsigned int *seen)
{
	static char const *keys[] = { "nas", "nas_ip", "from", "action", "message", "append", "remember", "reply",
				      "eap_tls" };
	char		*eq = strchr(token, '='), *value;
	unsigned int	k;

	if (!eq || (eq == token)) return fail(p, "rule %s: \"%.60s\" is not key=value", rule->name, token);
	*eq = '\0';
	value = eq + 1;
	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (strcmp(token, keys[k]) == 0) break;
	}
	if (k == sizeof(keys) / sizeof(keys[0])) {
		return fail(p, "rule %s: unknown key \"%.40s\" (nas, nas_ip, from, action, message, append, remember, "
			    "reply, eap_tls)",
			    rule->name, token);
	}
	if (*seen & (1u << k)) return fail(p, "rule %s: %s given twice", rule->name, token);
	*seen |= 1u << k;

	switch (k) {
	case 0: return parse_list(p, LIST_NAS, "nas", value, &rule->nas);
	case 1: return parse_list(p, LIST_NAS_IP, "nas_ip", value, &rule->nas_ip);
	case 2:
		if (parse_list(p, LIST_FROM, "from", value, &rule->from) < 0) return -1;
		if (rule->from->any) rule->from = NULL;		/* from=* is from= left out */
		return 0;
	case 3:
		if (strcmp(value, "skip") == 0) rule->action = TWOFA_NETPOLICY_SKIP;
		else if (strcmp(value, "require") == 0) rule->action = TWOFA_NETPOLICY_REQUIRE;
		else if (strcmp(value, "reject") == 0) rule->action = TWOFA_NETPOLICY_REJECT;
		else return fail(p, "rule %s: action must be skip, require or reject, not \"%.40s\"", rule->name, value);
		return 0;
	case 4: return parse_message(p, value, &rule->message);
	case 5: return parse_flag(p, "append", value, &rule->append);
	case 6: return parse_flag(p, "remember", value, &rule->remember);
	case 7: return parse_reply(p, rule, value);
	default:
		if (strcmp(value, "skip") == 0) rule->eap_tls = TWOFA_NETPOLICY_YES;
		else if (strcmp(value, "require") == 0) rule->eap_tls = TWOFA_NETPOLICY_NO;
		else return fail(p, "rule %s: eap_tls must be skip or require, not \"%.40s\"", rule->name, value);
		return 0;
	}
}

static int parse_rule(parser_t *p, char *line)
{
	twofa_netpolicy_t	*policy = p->policy;
	twofa_netpolicy_rule_t	rule;
	char			*pos = line, *token;
	unsigned int		seen = 0, i;

	memset(&rule, 0, sizeof(rule));
	if (next_token(p, &pos, &token) < 0) return -1;
	if (!token) return 0;				/* blank or comment */
	if (!rule_name_valid(token)) {
		if (strchr(token, '=')) return fail(p, "a rule starts with its name, then key=value options");
		return fail(p, "rule name \"%.60s\": 1 to %d letters, digits, '_', '.' or '-'", token,
			    TWOFA_NETPOLICY_NAME_MAX);
	}
	for (i = 0; i < policy->count; i++) {
		if (strcmp(policy->rules[i].name, token) == 0) {
			return fail(p, "rule %s is defined twice (first at line %u)", token, policy->rules[i].line);
		}
	}
	if (!(rule.name = talloc_strdup(policy, token))) return fail(p, "out of memory");
	rule.file = policy->file;
	rule.line = p->line;
	rule.index = policy->count;

	for (;;) {
		if (next_token(p, &pos, &token) < 0) return -1;
		if (!token) break;
		if (parse_option(p, &rule, token, &seen) < 0) return -1;
	}
	if (!rule.action) return fail(p, "rule %s: no action= (skip, require or reject)", rule.name);
	/* nas_ip= alone would trust what any client claims: the client that vouches for it is named. */
	if (!(seen & 0x1)) return fail(p, "rule %s: no nas= (write nas=* for every NAS)", rule.name);
	if (rule.message && (rule.action != TWOFA_NETPOLICY_REQUIRE)) {
		return fail(p, "rule %s: message is the challenge's text, only with action=require", rule.name);
	}
	if (rule.reply && (rule.action == TWOFA_NETPOLICY_REJECT)) {
		return fail(p, "rule %s: reply= is for an Accept, not with action=reject", rule.name);
	}

	if (!(policy->count % 16)) {
		twofa_netpolicy_rule_t *nr = talloc_realloc(policy, policy->rules, twofa_netpolicy_rule_t,
							    policy->count + 16);
		if (!nr) return fail(p, "out of memory");
		policy->rules = nr;
	}
	policy->rules[policy->count++] = rule;
	return 0;
}

int twofa_netpolicy_parse(TALLOC_CTX *ctx, char const *file, char const *text, size_t len, int flags,
			  twofa_netpolicy_t **out, char *err, size_t err_len)
{
	parser_t	p = { .file = file, .flags = flags, .err = err, .err_len = err_len };
	char		*copy, *line, *next;

	*out = NULL;
	if (err_len) err[0] = '\0';
	if (!(p.policy = talloc_zero(ctx, twofa_netpolicy_t))) return fail(&p, "out of memory");
	p.ctx = p.policy;
	if (!(p.policy->file = talloc_strdup(p.policy, file))) goto oom;
	p.file = p.policy->file;
	if (memchr(text, '\0', len)) {
		char const *nul = memchr(text, '\0', len), *c;

		for (p.line = 1, c = text; c < nul; c++) {
			if (*c == '\n') p.line++;
		}
		fail(&p, "a NUL byte: not a text file");
		goto error;
	}
	if (!(copy = talloc_strndup(p.policy, text, len))) goto oom;

	for (line = copy; line; line = next) {
		next = strchr(line, '\n');
		if (next) *next++ = '\0';
		p.line++;
		if (parse_rule(&p, line) < 0) goto error;
	}
	talloc_free(copy);
	*out = p.policy;
	return 0;

oom:
	fail(&p, "out of memory");
error:
	talloc_free(p.policy);
	return -1;
}

/** The whole of a regular file, at most TWOFA_NETPOLICY_FILE_MAX bytes, NUL-terminated. */
static int read_file(parser_t *p, char const *path, char **text, size_t *len)
{
	struct stat	st;
	ssize_t		n;
	size_t		got = 0;
	int		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) return fail(p, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		close(fd);
		return fail(p, "cannot read %s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(p, "%s is not a regular file", path);
	}
	if (st.st_size > TWOFA_NETPOLICY_FILE_MAX) {
		close(fd);
		return fail(p, "%s is larger than %d bytes", path, TWOFA_NETPOLICY_FILE_MAX);
	}
	if (!(*text = talloc_array(p->ctx, char, (size_t) st.st_size + 1))) {
		close(fd);
		return fail(p, "out of memory");
	}
	while (got < (size_t) st.st_size) {
		n = read(fd, *text + got, (size_t) st.st_size - got);
		if ((n < 0) && (errno == EINTR)) continue;
		if (n <= 0) break;
		got += (size_t) n;
	}
	close(fd);
	if (got != (size_t) st.st_size) {
		talloc_free(*text);
		return fail(p, "cannot read %s: it changed while read", path);
	}
	(*text)[got] = '\0';
	*len = got;
	if (memchr(*text, '\0', got)) {
		talloc_free(*text);
		return fail(p, "%s holds a NUL byte: not a text file", path);
	}
	return 0;
}

int twofa_netpolicy_load(TALLOC_CTX *ctx, char const *path, twofa_netpolicy_t **out, char *err, size_t err_len)
{
	parser_t	p = { .ctx = ctx, .file = path, .line = 0, .err = err, .err_len = err_len };
	char		*text;
	size_t		len;
	int		ret;

	*out = NULL;
	if (read_file(&p, path, &text, &len) < 0) return -1;
	ret = twofa_netpolicy_parse(ctx, path, text, len, 0, out, err, err_len);
	talloc_free(text);
	return ret;
}

twofa_netpolicy_rule_t const *twofa_netpolicy_match(twofa_netpolicy_t const *policy, twofa_netpolicy_query_t const *q)
{
	twofa_ip_t	src = { 0 }, ip4 = { 0 }, ip6 = { 0 }, from = { 0 };
	unsigned int	i;

	if (!policy) return NULL;
	/* IPv4-mapped IPv6 (an IPv4 client on an IPv6 socket) is matched as IPv4. */
	if (q->src) { src = *q->src; twofa_ip_unmap(&src); }
	if (q->nas_ip4) ip4 = *q->nas_ip4;
	if (q->nas_ip6) { ip6 = *q->nas_ip6; twofa_ip_unmap(&ip6); }
	if (q->from) { from = *q->from; twofa_ip_unmap(&from); }

	for (i = 0; i < policy->count; i++) {
		twofa_netpolicy_rule_t const *rule = &policy->rules[i];

		if (rule->nas && !rule->nas->any && !set_holds_ip(rule->nas, &src) &&
		    !set_holds_name(rule->nas, q->shortname)) continue;
		if (rule->nas_ip && !set_holds_ip(rule->nas_ip, &ip4) && !set_holds_ip(rule->nas_ip, &ip6)) continue;
		if (rule->from && !set_holds_ip(rule->from, &from)) continue;
		return rule;
	}
	return NULL;
}
