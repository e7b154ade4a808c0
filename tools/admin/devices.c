/*
 * devices.c	twofa-admin devices NAME [--forget ID | --all] [--json]:
 *		a user's remembered devices (devices.h), and forgetting them.
 *
 *		The store holds no device's address, only its keyed hash:
 *		a device is shown by its id, when it was first and last
 *		remembered, until when, and the NAS that remembered it.
 */
#include <stdlib.h>
#include <string.h>

#include "admin.h"

static void devices_json(char const *name, twofa_device_t const *list, size_t count)
{
	char	buf[64];
	size_t	i;

	fputs("{\"user\":", stdout);
	json_escape(stdout, name);
	fputs(",\"devices\":[", stdout);
	for (i = 0; i < count; i++) {
		printf("%s{\"id\":%lld,\"created\":\"%s\"", i ? "," : "", (long long) list[i].id,
		       time_text(buf, sizeof(buf), list[i].created, true));
		printf(",\"last_used\":\"%s\"", time_text(buf, sizeof(buf), list[i].last_used, true));
		printf(",\"expires\":\"%s\",\"nas\":", time_text(buf, sizeof(buf), list[i].expires, true));
		if (list[i].nas) json_escape(stdout, list[i].nas);
		else fputs("null", stdout);
		fputc('}', stdout);
	}
	fputs("]}\n", stdout);
}

static void devices_text(char const *name, twofa_device_t const *list, size_t count)
{
	char	created[64], last[64], expires[64];
	size_t	i;

	if (!count) {
		printf("user %s: no remembered device\n", name);
		return;
	}
	printf("%-6s  %-20s  %-20s  %-20s  %s\n", "ID", "REMEMBERED", "LAST", "UNTIL", "NAS");
	for (i = 0; i < count; i++) {
		printf("%-6lld  %-20s  %-20s  %-20s  %s\n", (long long) list[i].id,
		       time_text(created, sizeof(created), list[i].created, false),
		       time_text(last, sizeof(last), list[i].last_used, false),
		       time_text(expires, sizeof(expires), list[i].expires, false), list[i].nas ? list[i].nas : "-");
	}
}

static int forget(admin_t *a, char const *name, int64_t id)
{
	char		detail[64];
	unsigned int	gone = 0;
	twofa_rcode_t	rc;
	int		ret;

	if ((rc = twofa_store_device_forget(a->store, name, id, &gone)) != TWOFA_OK) return store_failed(a, rc, name);
	if (id && !gone) return say(ADMIN_REFUSED, "user \"%s\" has no remembered device %lld", name, (long long) id);
	if (id) snprintf(detail, sizeof(detail), "device %lld forgotten", (long long) id);
	else snprintf(detail, sizeof(detail), "%u device%s forgotten", gone, (gone == 1) ? "" : "s");
	if ((ret = audit(a, "devices forget", name, detail)) != ADMIN_OK) return ret;
	return done(a, name, detail);
}

int cmd_devices(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = { { "forget", required_argument, NULL, 'f' }, { "all", no_argument, NULL, 'a' },
					      { "json", no_argument, NULL, 'j' }, OPT_HELP, OPT_END };
	twofa_device_t	*list = NULL;
	size_t		count = 0;
	unsigned int	id = 0;
	bool		all = false;
	char		*name;
	twofa_rcode_t	rc;
	int		c, ret = ADMIN_OK;

	while ((ret == ADMIN_OK) && ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)) {
		if (c == 'f') ret = parse_uint(optarg, "--forget", 1, UINT32_MAX, &id);
		else if (c == 'a') all = true;
		else if (c == 'j') a->json = true;
		else return usage_of(cmd, c);
	}
	if (ret != ADMIN_OK) return ret;
	if (argc - optind != 1) return usage_of(cmd, '?');
	if (id && all) return say(ADMIN_REFUSED, "devices: --forget ID or --all, not both");
	name = argv[optind];
	if ((ret = check_name(name)) != ADMIN_OK) return ret;
	if (((ret = open_store(a, false)) != ADMIN_OK) || ((ret = stored_name(a, &name, NULL)) != ADMIN_OK)) return ret;

	if (id || all) return forget(a, name, id);
	rc = twofa_store_device_list(a->store, a->ctx, name, time(NULL), &list, &count);
	if (rc != TWOFA_OK) return store_failed(a, rc, name);
	if (a->json) devices_json(name, list, count);
	else devices_text(name, list, count);
	return ADMIN_OK;
}

/*
 *	user reset, user passwd, user 2fa, totp remove: the user's remembered
 *	devices go too (a new password or a new second factor must be shown
 *	again from every device; a lost phone may be one of them).  After the
 *	change itself: a failure here is said, and the exit status says so.
 */
int forget_user_devices(admin_t *a, char const *name)
{
	unsigned int	gone = 0;
	twofa_rcode_t	rc = twofa_store_device_forget(a->store, name, 0, &gone);
	char		detail[64];

	if (rc != TWOFA_OK) return store_failed(a, rc, name);
	if (!gone) return ADMIN_OK;
	snprintf(detail, sizeof(detail), "%u device%s forgotten", gone, (gone == 1) ? "" : "s");
	return audit(a, "devices forget", name, detail);
}

/*
 *	The audit row of such a change, and the devices forgotten even if
 *	that row could not be written: the change is made, and a device
 *	remembered before it must not let the user in without it.
 */
int audit_and_forget_devices(admin_t *a, char const *action, char const *name, char const *detail)
{
	int audited = audit(a, action, name, detail);
	int forgot = forget_user_devices(a, name);

	return (audited != ADMIN_OK) ? audited : forgot;
}
