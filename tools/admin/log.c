/*
 * log.c		twofa-admin log: the module's login log.
 */
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "../since.h"

/*
 *	log: the module's login log, oldest first (newest last, as a log file).
 */
/** s, or "-" for none, with any control character shown as '?': a
 *  Calling-Station-Id is whatever the NAS sent, and must not drive the terminal. */
static void print_field(char const *s)
{
	unsigned char const *p;

	if (!s || !*s) {
		putchar('-');
		return;
	}
	for (p = (unsigned char const *) s; *p; p++) putchar(((*p < 0x20) || (*p == 0x7f)) ? '?' : *p);
}

static void json_field(char const *key, char const *s)
{
	printf(",\"%s\":", key);
	if (s) json_escape(stdout, s);
	else fputs("null", stdout);
}

static void login_json(twofa_login_t const *l)
{
	char buf[64];

	printf("{\"at\":\"%s\"", time_text(buf, sizeof(buf), l->at, true));
	json_field("user", l->user);
	json_field("nas", l->nas);
	json_field("calling_station_id", l->calling_station_id);
	json_field("method", l->method);
	json_field("result", l->result);
	json_field("reason", l->reason);
	putchar('}');
}

int cmd_log(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = {
		{ "since", required_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' }, OPT_HELP, OPT_END };
	twofa_login_t	*logins;
	size_t		count, i;
	char const	*name = NULL;
	char		buf[64];
	time_t		since = 0;
	twofa_rcode_t	rc;
	int		c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'j') {
			a->json = true;
		} else if (c == 's') {
			if (!twofa_since_parse(optarg, time(NULL), &since)) {
				return say(ADMIN_REFUSED, "--since: not a time: YYYY-MM-DD[THH:MM[:SS]][Z], "
					   "or an age such as 90m, 1h, 2d, 1w");
			}
		} else {
			return usage_of(cmd, c);
		}
	}
	if (argc - optind > 1) return usage_of(cmd, '?');
	if (argc - optind == 1) {
		name = argv[optind];
		if ((ret = check_name(name)) != ADMIN_OK) return ret;
	}
	if ((ret = open_store(a, false)) != ADMIN_OK) return ret;
	rc = twofa_store_list_logins(a->store, a->ctx, name, since, &logins, &count);
	if (rc != TWOFA_OK) return store_failed(a, rc, name ? name : "*");

	if (a->json) {
		fputs("[", stdout);
		for (i = 0; i < count; i++) {
			fputs(i ? ",\n" : "\n", stdout);
			login_json(&logins[i]);
		}
		fputs("\n]\n", stdout);
		return ADMIN_OK;
	}
	for (i = 0; i < count; i++) {
		twofa_login_t const *l = &logins[i];
		char const *fields[] = { l->user, l->result, l->reason, l->method, l->nas, l->calling_station_id };
		size_t f;

		fputs(time_text(buf, sizeof(buf), l->at, false), stdout);
		for (f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
			fputs("  ", stdout);
			print_field(fields[f]);
		}
		putchar('\n');
	}
	return ADMIN_OK;
}

