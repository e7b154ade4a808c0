/*
 * policy.c	twofa-admin policy test | check: the module's per-NAS rule
 *		file (policy_file), read with the module's own parser
 *		(rlm_twofa/netpolicy.c).
 *
 *		test says which rule a request would match and what would
 *		happen, with --user for that user (their factors, exemption
 *		and lock, from the store), as rlm_twofa decides after the
 *		first factor.  check parses the file: run it before a HUP.
 */
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "../../rlm_twofa/method.h"
#include "../../rlm_twofa/netpolicy.h"

#define DEFAULT_POLICY	"/etc/freeradius/3.0/mods-config/twofa/policy"

static char const *policy_path(char const *given)
{
	char const *env = getenv("TWOFA_POLICY");

	if (given) return given;
	return (env && *env) ? env : DEFAULT_POLICY;
}

static int load(admin_t *a, char const *path, twofa_netpolicy_t **policy)
{
	char err[600];

	if (twofa_netpolicy_load(a->ctx, path, policy, err, sizeof(err)) < 0) return say(ADMIN_REFUSED, "%s", err);
	return ADMIN_OK;
}

/*
 *	What rlm_twofa does once the first factor passed (second_factor_or_not
 *	and post-auth), as a result word and a reason.  enforce is the
 *	module's setting, which this file does not know: "enforce" says so.
 */
typedef struct {
	char const	*result;	//!< accept, challenge, reject, enforce
	char const	*reason;
} outcome_t;

static outcome_t user_outcome(TALLOC_CTX *ctx, twofa_netpolicy_rule_t const *rule, twofa_user_t const *user)
{
	twofa_method_t const *method;

	if (!user) {
		if (!rule) return (outcome_t) { "enforce", "not in the store: rejected with enforce = required, "
						"the first factor alone with optional" };
		if (rule->action == TWOFA_NETPOLICY_SKIP) {
			return (outcome_t) { "accept", talloc_asprintf(ctx, "bypass:%s", rule->name) };
		}
		if (rule->action == TWOFA_NETPOLICY_REJECT) {
			return (outcome_t) { "reject", talloc_asprintf(ctx, "policy:%s", rule->name) };
		}
		return (outcome_t) { "reject", "not in the store, and the rule requires a second factor" };
	}
	if (user->locked_until > time(NULL)) return (outcome_t) { "reject", "locked" };
	if (rule && (rule->action == TWOFA_NETPOLICY_SKIP)) {
		return (outcome_t) { "accept", talloc_asprintf(ctx, "bypass:%s", rule->name) };
	}
	if (rule && (rule->action == TWOFA_NETPOLICY_REJECT)) {
		return (outcome_t) { "reject", talloc_asprintf(ctx, "policy:%s", rule->name) };
	}
	if (user->exempt) return (outcome_t) { "accept", "exempt (twofa-admin user 2fa off)" };
	method = twofa_method_for_user(user);
	if (method) return (outcome_t) { "challenge", method->name };
	if (rule) return (outcome_t) { "reject", "no second factor, and the rule requires one "
				       "(or enrolment, with enrol_at_login = yes)" };
	return (outcome_t) { "enforce", "no second factor: rejected with enforce = required, the first factor "
			     "alone with optional (or enrolment, with enrol_at_login = yes)" };
}

static char const *rule_effect(twofa_netpolicy_rule_t const *rule)
{
	if (!rule) return "no rule matches: the module's enforce setting applies";
	switch (rule->action) {
	case TWOFA_NETPOLICY_SKIP:	return "the second factor is not asked for: the first factor alone lets users in";
	case TWOFA_NETPOLICY_REQUIRE:	return "the second factor is asked for, whatever enforce says";
	case TWOFA_NETPOLICY_REJECT:	return "the login is refused after the first factor";
	}
	return "?";
}

static void print_json_string_or_null(char const *key, char const *s, bool comma)
{
	printf("%s\"%s\":", comma ? "," : "", key);
	if (s) json_escape(stdout, s);
	else fputs("null", stdout);
}

/* A rule's options, those it sets: append=, remember=, eap_tls=, reply=. */
static void print_options(twofa_netpolicy_rule_t const *rule, bool json)
{
	unsigned int i;

	if (rule->append != TWOFA_NETPOLICY_UNSET) {
		printf(json ? ",\"append\":%s" : "  append mode: %s\n", (rule->append == TWOFA_NETPOLICY_YES) ?
		       (json ? "true" : "yes (the code may follow the password)") : (json ? "false" : "no"));
	}
	if (rule->remember != TWOFA_NETPOLICY_UNSET) {
		printf(json ? ",\"remember\":%s" : "  remembered devices: %s\n", (rule->remember == TWOFA_NETPOLICY_YES) ?
		       (json ? "true" : "yes") : (json ? "false" : "no (none remembered or recognised here)"));
	}
	if (rule->eap_tls != TWOFA_NETPOLICY_UNSET) {
		printf(json ? ",\"eap_tls\":\"%s\"" : "  EAP-TLS: %s\n",
		       (rule->eap_tls == TWOFA_NETPOLICY_YES) ? "skip" : "require");
	}
	if (!rule->reply_count) return;
	fputs(json ? ",\"reply\":[" : "  reply:", stdout);
	for (i = 0; i < rule->reply_count; i++) {
		if (json) {
			fputs(i ? ",{" : "{", stdout);
			print_json_string_or_null("name", rule->reply[i].name, false);
			print_json_string_or_null("value", rule->reply[i].value, true);
			fputs("}", stdout);
		} else {
			printf("%s %s = %s", i ? "," : "", rule->reply[i].name, rule->reply[i].value);
		}
	}
	fputs(json ? "]" : " (unless the user, or their directory group, has reply attributes of its own)\n", stdout);
}

static void print_test(admin_t *a, twofa_netpolicy_rule_t const *rule, char const *name, twofa_user_t const *user,
		       outcome_t const *o)
{
	if (!a->json) {
		if (rule) {
			printf("rule %s (%s:%u): %s\n", rule->name, rule->file, rule->line,
			       twofa_netpolicy_action_name(rule->action));
			if (rule->message) printf("  challenge text: %s\n", rule->message);
			print_options(rule, false);
		}
		printf("  %s\n", rule_effect(rule));
		if (name) printf("user %s%s: %s (%s)\n", name, user ? "" : " (not in the store)", o->result, o->reason);
		return;
	}
	fputs("{\"rule\":", stdout);
	if (rule) {
		fputs("{", stdout);
		print_json_string_or_null("name", rule->name, false);
		print_json_string_or_null("file", rule->file, true);
		printf(",\"line\":%u", rule->line);
		print_json_string_or_null("message", rule->message, true);
		print_options(rule, true);
		fputs("}", stdout);
	} else {
		fputs("null", stdout);
	}
	printf(",\"action\":\"%s\"", rule ? twofa_netpolicy_action_name(rule->action) : "default");
	if (name) {
		print_json_string_or_null("user", name, true);
		printf(",\"in_store\":%s", user ? "true" : "false");
		print_json_string_or_null("result", o->result, true);
		print_json_string_or_null("reason", o->reason, true);
	}
	puts("}");
}

int cmd_policy_test(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = {
		{ "nas", required_argument, NULL, 'n' }, { "nas-ip", required_argument, NULL, 'i' },
		{ "from", required_argument, NULL, 'f' }, { "user", required_argument, NULL, 'u' },
		{ "policy-file", required_argument, NULL, 'p' }, { "json", no_argument, NULL, 'j' },
		OPT_HELP, OPT_END };
	char const			*nas = NULL, *nas_ip = NULL, *from = NULL, *name = NULL, *path = NULL;
	twofa_ip_t			src, claimed, user_ip;
	twofa_netpolicy_query_t		q = { 0 };
	twofa_netpolicy_t		*policy;
	twofa_netpolicy_rule_t const	*rule;
	twofa_user_t			*user = NULL;
	outcome_t			o = { NULL, NULL };
	twofa_rcode_t			rc;
	int				c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': nas = optarg; break;
		case 'i': nas_ip = optarg; break;
		case 'f': from = optarg; break;
		case 'u': name = optarg; break;
		case 'p': path = optarg; break;
		case 'j': a->json = true; break;
		default: return usage_of(cmd, c);
		}
	}
	if ((argc != optind) || !nas) return usage_of(cmd, '?');
	/* --nas: the client's source address, or its shortname (clients.conf). */
	if (twofa_ip_parse(nas, &src)) q.src = &src;
	else q.shortname = nas;
	if (nas_ip) {
		if (!twofa_ip_parse(nas_ip, &claimed)) return say(ADMIN_REFUSED, "--nas-ip: \"%s\" is not an address", nas_ip);
		if (claimed.af == 4) q.nas_ip4 = &claimed;
		else q.nas_ip6 = &claimed;
	}
	if (from) {
		if (!twofa_ip_parse(from, &user_ip)) return say(ADMIN_REFUSED, "--from: \"%s\" is not an address", from);
		q.from = &user_ip;
	}
	if (name && ((ret = check_name(name)) != ADMIN_OK)) return ret;

	if ((ret = load(a, policy_path(path), &policy)) != ADMIN_OK) return ret;
	rule = twofa_netpolicy_match(policy, &q);
	if (name) {
		if ((ret = open_store(a, false)) != ADMIN_OK) return ret;
		rc = twofa_store_get_user(a->store, a->ctx, name, &user);
		if ((rc != TWOFA_OK) && (rc != TWOFA_ERR_NOT_FOUND)) return store_failed(a, rc, name);
		o = user_outcome(a->ctx, rule, user);
	}
	print_test(a, rule, name, user, &o);
	return ADMIN_OK;
}

int cmd_policy_check(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = {
		{ "policy-file", required_argument, NULL, 'p' }, OPT_HELP, OPT_END };
	char const		*path = NULL;
	twofa_netpolicy_t	*policy;
	int			c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'p') return usage_of(cmd, c);
		path = optarg;
	}
	if (argc != optind) return usage_of(cmd, '?');
	if ((ret = load(a, policy_path(path), &policy)) != ADMIN_OK) return ret;
	printf("%s: %u rule%s, %zu address%s and name%s\n", policy->file, policy->count,
	       (policy->count == 1) ? "" : "s", policy->entries, (policy->entries == 1) ? "" : "es",
	       (policy->entries == 1) ? "" : "s");
	return ADMIN_OK;
}
