/*
 * fuzz_netpolicy.c	The per-NAS rule file (netpolicy.c) over any bytes: the
 *			policy file an admin writes, read by radiusd at start
 *			and on HUP, and by twofa-admin policy.
 *
 *	Promises: parsing either succeeds or fails with "policy:LINE: why"
 *	(a line that exists); a parsed policy has rules with a name, an
 *	action and a NAS list, numbered in file order, at lines in the
 *	input; matching any address against it returns one of its rules or
 *	none, the same one each time.  No @FILE list is read (no file
 *	access).
 *
 * sources: rlm_twofa/netpolicy.c rlm_twofa/policy.c
 * max_len: 4096
 */
#include <string.h>

#include "fuzz.h"
#include "netpolicy.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	static char const		*probes[] = { "10.1.2.3", "192.168.4.5", "::1", "2001:db8::1", "0.0.0.0",
						      "255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" };
	twofa_netpolicy_t		*p = NULL;
	char				err[512];
	unsigned int			lines = 1, i, j;
	size_t				k;

	for (k = 0; k < size; k++) if (data[k] == '\n') lines++;
	if (twofa_netpolicy_parse(NULL, "policy", (char const *) data, size, TWOFA_NETPOLICY_NO_LISTS,
				  &p, err, sizeof(err)) < 0) {
		unsigned int line = 0;

		FUZZ_CHECK(p == NULL);
		FUZZ_CHECK(strncmp(err, "policy:", 7) == 0);
		line = (unsigned int) strtoul(err + 7, NULL, 10);
		FUZZ_CHECK((line >= 1) && (line <= lines));
		return 0;
	}
	FUZZ_CHECK(p != NULL);
	for (i = 0; i < p->count; i++) {
		twofa_netpolicy_rule_t const *r = &p->rules[i];

		FUZZ_CHECK(r->name && *r->name && (strlen(r->name) <= TWOFA_NETPOLICY_NAME_MAX));
		FUZZ_CHECK((r->action >= TWOFA_NETPOLICY_SKIP) && (r->action <= TWOFA_NETPOLICY_REJECT));
		FUZZ_CHECK(r->nas || r->nas_ip);
		FUZZ_CHECK(r->index == i);
		FUZZ_CHECK((r->line >= 1) && (r->line <= lines));
		FUZZ_CHECK(!i || (r->line > p->rules[i - 1].line));
		FUZZ_CHECK(!r->message || (r->action == TWOFA_NETPOLICY_REQUIRE));
	}
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		for (j = 0; j < sizeof(probes) / sizeof(probes[0]); j++) {
			twofa_ip_t			nas, from;
			twofa_netpolicy_query_t		q = { .src = &nas, .shortname = "wlc1", .nas_ip4 = NULL,
							      .nas_ip6 = NULL, .from = &from };
			twofa_netpolicy_rule_t const	*r;

			FUZZ_CHECK(twofa_ip_parse(probes[i], &nas) && twofa_ip_parse(probes[j], &from));
			r = twofa_netpolicy_match(p, &q);
			FUZZ_CHECK(!r || ((r >= p->rules) && (r < p->rules + p->count)));
			FUZZ_CHECK(twofa_netpolicy_match(p, &q) == r);		/* no state */
		}
	}
	talloc_free(p);
	return 0;
}
