/*
 * test_netpolicy.c	Per-NAS rules (netpolicy.h): the file format, CIDRs,
 *			the first match in file order, and lists of any size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "netpolicy.h"

static char err[512];

static twofa_netpolicy_t *parse(char const *text)
{
	twofa_netpolicy_t *p = NULL;

	if (twofa_netpolicy_parse(NULL, "policy", text, strlen(text), 0, &p, err, sizeof(err)) < 0) return NULL;
	return p;
}

/** The error text parsing gives, "" if it parsed. */
static char const *error_of(char const *text)
{
	twofa_netpolicy_t *p = parse(text);

	if (p) {
		talloc_free(p);
		return "";
	}
	return err;
}

static twofa_ip_t ip(char const *text)
{
	twofa_ip_t a;

	if (!twofa_ip_parse(text, &a)) memset(&a, 0, sizeof(a));
	return a;
}

/** The name of the rule matching NAS source address nas and user address from (either NULL), or "-". */
static char const *who(twofa_netpolicy_t const *p, char const *nas, char const *shortname, char const *from)
{
	twofa_ip_t			n = nas ? ip(nas) : (twofa_ip_t) { 0 }, f = from ? ip(from) : (twofa_ip_t) { 0 };
	twofa_netpolicy_query_t		q = { .src = nas ? &n : NULL, .shortname = shortname, .from = from ? &f : NULL };
	twofa_netpolicy_rule_t const	*r = twofa_netpolicy_match(p, &q);

	return r ? r->name : "-";
}

static void the_admins_sentence_is_two_rules(void)
{
	/* "Wi-Fi controller 10.1.2.3: no second factor for users from 192.168.0.0/16, required for everyone else." */
	twofa_netpolicy_t *p = parse(
		"# the Wi-Fi controller\n"
		"wifi-office nas=10.1.2.3 from=192.168.0.0/16 action=skip\n"
		"wifi-rest   nas=10.1.2.3 action=require\n");

	CHECK(p != NULL);
	if (!p) return;
	CHECK(p->count == 2);
	CHECK_STR(who(p, "10.1.2.3", NULL, "192.168.4.5"), "wifi-office");
	CHECK_STR(who(p, "10.1.2.3", NULL, "192.169.0.1"), "wifi-rest");
	CHECK_STR(who(p, "10.1.2.3", NULL, NULL), "wifi-rest");		/* no address: from= cannot match */
	CHECK_STR(who(p, "10.1.2.4", NULL, "192.168.4.5"), "-");
	CHECK(p->rules[0].action == TWOFA_NETPOLICY_SKIP);
	CHECK(p->rules[1].action == TWOFA_NETPOLICY_REQUIRE);
	CHECK(p->rules[0].line == 2);
	CHECK(p->rules[1].line == 3);
	talloc_free(p);
}

static void first_match_wins_in_file_order(void)
{
	twofa_netpolicy_t *p = parse(
		"broad nas=10.0.0.0/8 action=reject\n"
		"narrow nas=10.1.2.3 action=skip\n");

	CHECK_STR(who(p, "10.1.2.3", NULL, NULL), "broad");
	talloc_free(p);
	p = parse("narrow nas=10.1.2.3 action=skip\nbroad nas=10.0.0.0/8 action=reject\n");
	CHECK_STR(who(p, "10.1.2.3", NULL, NULL), "narrow");
	CHECK_STR(who(p, "10.9.9.9", NULL, NULL), "broad");
	talloc_free(p);
}

static void nas_matches_address_cidr_or_shortname(void)
{
	twofa_netpolicy_t *p = parse(
		"v6 nas=2001:db8::/32,::1 action=require\n"
		"byname nas=wlc1,vpn-gw action=skip\n"
		"any nas=* from=172.16.0.0/12 action=reject\n");

	CHECK(p != NULL);
	if (!p) return;
	CHECK_STR(who(p, "2001:db8:1::5", NULL, NULL), "v6");
	CHECK_STR(who(p, "::1", NULL, NULL), "v6");
	CHECK_STR(who(p, "2001:db9::1", NULL, NULL), "-");
	CHECK_STR(who(p, "192.0.2.1", "wlc1", NULL), "byname");
	CHECK_STR(who(p, "192.0.2.1", "wlc2", NULL), "-");
	CHECK_STR(who(p, "192.0.2.1", NULL, "172.20.1.1"), "any");
	/* An IPv4 client seen on an IPv6 socket is matched as IPv4. */
	CHECK_STR(who(p, "::ffff:192.0.2.1", NULL, "::ffff:172.20.1.1"), "any");
	talloc_free(p);
}

/* nas_ip= is what the NAS claims (NAS-IP-Address, NAS-IPv6-Address); with nas= both must hold. */
static void nas_ip_matches_the_claimed_address_and_nas_too(void)
{
	twofa_netpolicy_t		*p = parse("proxied nas=proxy1 nas_ip=10.1.2.3,2001:db8::3 action=skip\n");
	twofa_ip_t			src = ip("192.0.2.9"), claim4 = ip("10.1.2.3"), claim6 = ip("2001:db8::3");
	twofa_netpolicy_query_t		q = { .src = &src, .shortname = "proxy1", .nas_ip4 = &claim4 };

	CHECK(p != NULL);
	if (!p) return;
	CHECK(twofa_netpolicy_match(p, &q) == &p->rules[0]);
	q.shortname = "other";
	CHECK(twofa_netpolicy_match(p, &q) == NULL);		/* another client claiming the address */
	q.shortname = "proxy1";
	q.nas_ip4 = NULL;
	CHECK(twofa_netpolicy_match(p, &q) == NULL);
	q.nas_ip6 = &claim6;
	CHECK(twofa_netpolicy_match(p, &q) == &p->rules[0]);
	talloc_free(p);
}

static void options_are_parsed_and_kept(void)
{
	twofa_netpolicy_t *p = parse(
		"kiosk nas=10.0.0.1 action=require message=\"Code, please: \\\"6 digits\\\" \\\\ ok\" append=yes remember=no\n"
		"plain nas=10.0.0.2 action=skip # a trailing comment\n");

	CHECK(p != NULL);
	if (!p) return;
	CHECK_STR(p->rules[0].message, "Code, please: \"6 digits\" \\ ok");
	CHECK(p->rules[0].append == TWOFA_NETPOLICY_YES);
	CHECK(p->rules[0].remember == TWOFA_NETPOLICY_NO);
	CHECK(p->rules[1].message == NULL);
	CHECK(p->rules[1].append == TWOFA_NETPOLICY_UNSET);
	CHECK(p->rules[1].remember == TWOFA_NETPOLICY_UNSET);
	talloc_free(p);
}

static void an_empty_file_has_no_rule(void)
{
	twofa_netpolicy_t *p = parse("# nothing yet\n\n   \n");

	CHECK(p != NULL);
	if (!p) return;
	CHECK(p->count == 0);
	CHECK_STR(who(p, "10.1.2.3", "x", "10.0.0.1"), "-");
	talloc_free(p);
}

static void bad_cidrs_are_refused_with_line_and_why(void)
{
	CHECK_STR(error_of("ok nas=10.0.0.1 action=skip\nbad nas=10.1.2.300 action=skip\n"),
		  "policy:2: nas: \"10.1.2.300\" is not an IPv4 or IPv6 address or CIDR");
	CHECK(strstr(error_of("bad nas=10.0.0.0/33 action=skip\n"), "policy:1: nas: \"10.0.0.0/33\": prefix /33 is longer"));
	CHECK(strstr(error_of("bad nas=::/129 action=skip\n"), "prefix /129 is longer than an IPv6"));
	CHECK(strstr(error_of("bad nas=10.1.2.3/16 action=skip\n"), "has bits set past the /16 prefix: write 10.1.0.0/16"));
	CHECK(strstr(error_of("bad nas=2001:db8::1/32 action=skip\n"), "write 2001:db8::/32"));
	CHECK(strstr(error_of("bad nas=10.0.0.0/ action=skip\n"), "prefix length must be a number"));
	CHECK(strstr(error_of("bad nas=10.0.0.0/08 action=skip\n"), "prefix length must be a number"));
	CHECK(strstr(error_of("bad nas=10.0.0.0/-1 action=skip\n"), "prefix length must be a number"));
	CHECK(strstr(error_of("bad nas=010.0.0.1 action=skip\n"), "not an IPv4 or IPv6"));
	CHECK(strstr(error_of("bad nas=10.0.0 action=skip\n"), "not an IPv4 or IPv6"));
	CHECK(strstr(error_of("bad nas=fe80::1%eth0 action=skip\n"), "not an IPv4 or IPv6"));
	CHECK(strstr(error_of("bad nas=::ffff:10.0.0.1 action=skip\n"), "write the IPv4 form"));
	CHECK(strstr(error_of("bad nas=x from=wlc1 action=skip\n"), "from: \"wlc1\" is not an IPv4"));
	CHECK(strstr(error_of("bad nas=x nas_ip=wlc1 action=skip\n"), "nas_ip: \"wlc1\" is not an IPv4"));
}

static void bad_rules_are_refused_with_line_and_why(void)
{
	CHECK_STR(error_of("\n\nr nas=10.0.0.1\n"), "policy:3: rule r: no action= (skip, require or reject)");
	CHECK_STR(error_of("r from=10.0.0.1 action=skip\n"), "policy:1: rule r: no nas= (write nas=* for every NAS)");
	/* nas_ip= alone is only what any client claims: the client vouching for it must be named. */
	CHECK(strstr(error_of("r nas_ip=10.0.0.1 action=skip\n"), "policy:1: rule r: no nas="));
	CHECK(strstr(error_of("r nas=10.0.0.1 action=allow\n"), "action must be skip, require or reject"));
	CHECK(strstr(error_of("r nas=10.0.0.1 action=skip color=red\n"), "unknown key \"color\""));
	CHECK(strstr(error_of("r nas=10.0.0.1 nas=10.0.0.2 action=skip\n"), "nas given twice"));
	CHECK(strstr(error_of("r nas=10.0.0.1 action=skip\nr nas=10.0.0.2 action=skip\n"),
		     "policy:2: rule r is defined twice (first at line 1)"));
	CHECK(strstr(error_of("nas=10.0.0.1 action=skip\n"), "a rule starts with its name"));
	CHECK(strstr(error_of("$INCLUDE other\n"), "rule name \"$INCLUDE\""));
	CHECK(strstr(error_of("r nas=10.0.0.1,,10.0.0.2 action=skip\n"), "an empty item"));
	CHECK(strstr(error_of("r nas= action=skip\n"), "nas= is empty"));
	CHECK(strstr(error_of("r nas=*,10.0.0.1 action=skip\n"), "must stand alone"));
	CHECK(strstr(error_of("r nas=10.0.0.1,* action=skip\n"), "must stand alone"));
	CHECK(strstr(error_of("r nas=10.0.0.1 action=require message=\"open\n"), "a quote is not closed"));
	CHECK(strstr(error_of("r nas=10.0.0.1 action=require message=\"a\\nb\"\n"), "only \\\" and \\\\"));
	CHECK(strstr(error_of("r nas=10.0.0.1 action=skip message=hello\n"), "only with action=require"));
	CHECK(strstr(error_of("r nas=10.0.0.1 action=require message=\"\xff\"\n"), "not valid UTF-8"));
	CHECK(strstr(error_of("r nas=10.0.0.1 action=require append=maybe\n"), "append must be yes or no"));
	CHECK(strstr(error_of("r nas=10.0.0.1 action=skip\x01\n"), "action must be"));
	{
		static char const nul[] = "r nas=10.0.0.1 action=skip\nx\0y\n";
		twofa_netpolicy_t *p = NULL;

		CHECK(twofa_netpolicy_parse(NULL, "policy", nul, sizeof(nul) - 1, 0, &p, err, sizeof(err)) < 0);
		CHECK_STR(err, "policy:2: a NUL byte: not a text file");
	}
}

/* A rule that looks fine but would surprise: refused rather than guessed at. */
static void a_message_longer_than_a_reply_message_is_refused(void)
{
	char line[600];

	snprintf(line, sizeof(line), "r nas=10.0.0.1 action=require message=\"%0254d\"\n", 0);
	CHECK(strstr(error_of(line), "message is 254 bytes; a Reply-Message holds 253"));
}

static void overlapping_and_adjacent_cidrs_merge(void)
{
	twofa_netpolicy_t *p = parse(
		"r nas=* from=10.0.0.0/25,10.0.0.128/25,10.0.0.64/26,10.0.2.0/24,0.0.0.0/32 action=skip\n"
		"s nas=* from=::/0 action=reject\n"
		"t nas=* from=255.255.255.255 action=require\n");

	CHECK(p != NULL);
	if (!p) return;
	CHECK_STR(who(p, "1.1.1.1", NULL, "10.0.0.0"), "r");
	CHECK_STR(who(p, "1.1.1.1", NULL, "10.0.0.255"), "r");
	CHECK_STR(who(p, "1.1.1.1", NULL, "10.0.1.0"), "-");
	CHECK_STR(who(p, "1.1.1.1", NULL, "10.0.2.77"), "r");
	CHECK_STR(who(p, "1.1.1.1", NULL, "0.0.0.0"), "r");
	CHECK_STR(who(p, "1.1.1.1", NULL, "255.255.255.255"), "t");
	CHECK_STR(who(p, "1.1.1.1", NULL, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "s");
	CHECK_STR(who(p, "1.1.1.1", NULL, "::"), "s");
	talloc_free(p);
}

/* Every other /24 of 10.0.0.0/8 up to 20 000 of them, and 10 000 IPv6 /48s: each one in, each gap out. */
static void large_lists_match_every_entry_and_nothing_between(void)
{
	size_t			 size = 64 * 40000, n = 0;
	char			*text = malloc(size);
	twofa_netpolicy_t	*p;
	unsigned int		 i, misses = 0;
	char			 a[64];

	if (!text) return;
	n += snprintf(text + n, size - n, "big nas=* from=");
	for (i = 0; i < 20000; i++) n += snprintf(text + n, size - n, "%s10.%u.%u.0/24", i ? "," : "", (2 * i) / 256, (2 * i) % 256);
	for (i = 0; i < 10000; i++) n += snprintf(text + n, size - n, ",2001:db8:%x::/48", 2 * i);
	n += snprintf(text + n, size - n, " action=skip\n");
	p = parse(text);
	CHECK(p != NULL);
	if (p) {
		CHECK(p->entries == 30000);
		for (i = 0; i < 20000; i++) {
			snprintf(a, sizeof(a), "10.%u.%u.%u", (2 * i) / 256, (2 * i) % 256, i % 256);
			if (strcmp(who(p, "1.1.1.1", NULL, a), "big") != 0) misses++;
			snprintf(a, sizeof(a), "10.%u.%u.%u", (2 * i + 1) / 256, (2 * i + 1) % 256, i % 256);
			if (strcmp(who(p, "1.1.1.1", NULL, a), "-") != 0) misses++;
		}
		for (i = 0; i < 10000; i++) {
			snprintf(a, sizeof(a), "2001:db8:%x:ffff::1", 2 * i);
			if (strcmp(who(p, "1.1.1.1", NULL, a), "big") != 0) misses++;
			snprintf(a, sizeof(a), "2001:db8:%x::", 2 * i + 1);
			if (strcmp(who(p, "1.1.1.1", NULL, a), "-") != 0) misses++;
		}
		CHECK(misses == 0);
		talloc_free(p);
	}
	free(text);
}

static char dir[] = "/tmp/test_netpolicy.XXXXXX";

static void write_file(char const *name, char const *text)
{
	char	path[256];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	if (!fp) return;
	fputs(text, fp);
	fclose(fp);
}

static void list_files_hold_one_cidr_per_line_beside_the_policy(void)
{
	char			path[256];
	twofa_netpolicy_t	*p = NULL;

	write_file("campus.list", "# the campus\n192.168.0.0/16\n\n  10.20.0.0/16  \r\n2001:db8::/32\n");
	write_file("policy", "campus nas=10.1.2.3 from=@campus.list,172.16.0.1 action=skip\n");
	snprintf(path, sizeof(path), "%s/policy", dir);
	CHECK(twofa_netpolicy_load(NULL, path, &p, err, sizeof(err)) == 0);
	if (!p) {
		printf("  %s\n", err);
		return;
	}
	CHECK(p->entries == 5);		/* 10.1.2.3, three from the list, 172.16.0.1 */
	CHECK_STR(who(p, "10.1.2.3", NULL, "10.20.3.4"), "campus");
	CHECK_STR(who(p, "10.1.2.3", NULL, "2001:db8::7"), "campus");
	CHECK_STR(who(p, "10.1.2.3", NULL, "172.16.0.1"), "campus");
	CHECK_STR(who(p, "10.1.2.3", NULL, "10.21.0.1"), "-");
	talloc_free(p);

	/* An error in the list names the list's own line. */
	write_file("campus.list", "192.168.0.0/16\n192.168.1.1/16\n");
	CHECK(twofa_netpolicy_load(NULL, path, &p, err, sizeof(err)) < 0);
	CHECK(strstr(err, "campus.list:2: from: \"192.168.1.1/16\" has bits set") != NULL);
	write_file("campus.list", "192.168.0.0/16 10.0.0.0/8\n");
	CHECK(twofa_netpolicy_load(NULL, path, &p, err, sizeof(err)) < 0);
	CHECK(strstr(err, "campus.list:1: from: one address or CIDR per line") != NULL);
	write_file("policy", "campus nas=10.1.2.3 from=@missing.list action=skip\n");
	CHECK(twofa_netpolicy_load(NULL, path, &p, err, sizeof(err)) < 0);
	CHECK(strstr(err, "/policy:1: cannot open ") && strstr(err, "missing.list: No such file"));

	/* The fuzzer's parse reads no file. */
	CHECK(twofa_netpolicy_parse(NULL, "policy", "r nas=* from=@x action=skip", 27, TWOFA_NETPOLICY_NO_LISTS,
				    &p, err, sizeof(err)) < 0);
	CHECK(strstr(err, "@FILE lists are not read here") != NULL);
}

static void a_missing_policy_file_says_so(void)
{
	twofa_netpolicy_t *p = NULL;

	CHECK(twofa_netpolicy_load(NULL, "/nonexistent/policy", &p, err, sizeof(err)) < 0);
	CHECK_STR(err, "cannot open /nonexistent/policy: No such file or directory");
}

/* reply= and eap_tls=: what the module applies (it checks the names in the dictionary). */
static void reply_and_eap_tls_options_parse(void)
{
	twofa_netpolicy_t *p = parse("vpn nas=10.0.0.1 action=require reply=\"Class=vpn-users, Cisco-AVPair=shell:priv-lvl=1\" "
				     "eap_tls=skip\nwifi nas=10.0.0.2 action=skip eap_tls=require\n");

	CHECK(p != NULL);
	if (!p) return;
	CHECK(p->rules[0].reply_count == 2);
	if (p->rules[0].reply_count == 2) {
		CHECK_STR(p->rules[0].reply[0].name, "Class");
		CHECK_STR(p->rules[0].reply[0].value, "vpn-users");
		CHECK_STR(p->rules[0].reply[1].name, "Cisco-AVPair");
		CHECK_STR(p->rules[0].reply[1].value, "shell:priv-lvl=1");
	}
	CHECK(p->rules[0].eap_tls == TWOFA_NETPOLICY_YES);
	CHECK(p->rules[1].eap_tls == TWOFA_NETPOLICY_NO);
	CHECK(p->rules[1].reply == NULL);
	talloc_free(p);
	CHECK(strstr(error_of("r nas=* action=skip reply=Class\n"), "policy:1: rule r: reply: \"Class\" is not Attribute=value"));
	CHECK(strstr(error_of("r nas=* action=skip reply=\"Class=a,,Filter-Id=b\"\n"), "an empty item"));
	CHECK(strstr(error_of("r nas=* action=skip reply=\"Cl ass=a\"\n"), "is not an attribute name"));
	CHECK(strstr(error_of("r nas=* action=skip reply=Class=\n"), "Class has no value"));
	CHECK(strstr(error_of("r nas=* action=reject reply=Class=a\n"), "not with action=reject"));
	CHECK(strstr(error_of("r nas=* action=skip eap_tls=maybe\n"), "eap_tls must be skip or require"));
}

int main(void)
{
	if (!mkdtemp(dir)) return 1;
	RUN(the_admins_sentence_is_two_rules);
	RUN(reply_and_eap_tls_options_parse);
	RUN(first_match_wins_in_file_order);
	RUN(nas_matches_address_cidr_or_shortname);
	RUN(nas_ip_matches_the_claimed_address_and_nas_too);
	RUN(options_are_parsed_and_kept);
	RUN(an_empty_file_has_no_rule);
	RUN(bad_cidrs_are_refused_with_line_and_why);
	RUN(bad_rules_are_refused_with_line_and_why);
	RUN(a_message_longer_than_a_reply_message_is_refused);
	RUN(overlapping_and_adjacent_cidrs_merge);
	RUN(large_lists_match_every_entry_and_nothing_between);
	RUN(list_files_hold_one_cidr_per_line_beside_the_policy);
	RUN(a_missing_policy_file_says_so);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0) return 1;
	}
	CHECK_EXIT();
}
