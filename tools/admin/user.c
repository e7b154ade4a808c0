/*
 * user.c	twofa-admin user add | passwd | del | unlock | 2fa | reset |
 *		list | show.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin.h"

/*
 *	user add | passwd | del | unlock
 */
int cmd_user_add(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = { { "no-password", no_argument, NULL, 'n' }, OPT_HELP, OPT_END };
	bool		no_password = false;
	char		*hash = NULL, *name;
	twofa_user_t	*user;
	twofa_rcode_t	rc;
	int		c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'n') return usage_of(cmd, c);
		no_password = true;
	}
	if (argc - optind != 1) return usage_of(cmd, '?');
	name = argv[optind];
	if ((ret = check_name(name)) != ADMIN_OK) return ret;
	if ((ret = open_store(a, false)) != ADMIN_OK) return ret;

	/* Refuse before asking for a password nobody will use. */
	rc = twofa_store_get_user(a->store, a->ctx, name, &user);
	if (rc == TWOFA_OK) return store_failed(a, TWOFA_ERR_EXISTS, name);
	if (rc != TWOFA_ERR_NOT_FOUND) return store_failed(a, rc, name);

	if (!no_password && ((ret = new_password_hash(a->ctx, name, &hash)) != ADMIN_OK)) return ret;
	if ((rc = twofa_store_add_user(a->store, name, hash)) != TWOFA_OK) return store_failed(a, rc, name);
	if ((ret = audit(a, "user add", name, hash ? "password set" : "no password")) != ADMIN_OK) return ret;
	return done(a, name, "added");
}

int cmd_user_passwd(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	char		*hash, *name;
	twofa_user_t	*user;
	twofa_rcode_t	rc;
	int		ret;

	if ((ret = name_and_store(a, cmd, argc, argv, &name, &user)) != ADMIN_OK) return ret;
	if (!user) return store_failed(a, TWOFA_ERR_NOT_FOUND, name);
	if ((ret = new_password_hash(a->ctx, name, &hash)) != ADMIN_OK) return ret;
	if ((rc = twofa_store_set_password(a->store, name, hash)) != TWOFA_OK) return store_failed(a, rc, name);
	if ((ret = audit_and_forget_devices(a, "user passwd", name, NULL)) != ADMIN_OK) return ret;
	return done(a, name, "password changed");
}

int cmd_user_del(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	return one_call(a, cmd, argc, argv, twofa_store_delete_user, "deleted");
}

int cmd_user_unlock(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	return one_call(a, cmd, argc, argv, twofa_store_unlock, "unlocked");
}

/** user 2fa NAME off|on: exempt a user from the second factor, or no longer. */
int cmd_user_2fa(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	char		*name, *mode;
	bool		exempt;
	twofa_rcode_t	rc;
	int		ret;

	if ((ret = plain_args(cmd, argc, argv, 2)) != ADMIN_OK) return ret;
	name = argv[optind];
	mode = argv[optind + 1];
	if (strcmp(mode, "off") == 0) exempt = true;
	else if (strcmp(mode, "on") == 0) exempt = false;
	else return say(ADMIN_REFUSED, "user 2fa: \"on\" or \"off\", not \"%s\"", mode);
	if ((ret = check_name(name)) != ADMIN_OK) return ret;
	if (((ret = open_store(a, false)) != ADMIN_OK) || ((ret = stored_name(a, &name, NULL)) != ADMIN_OK)) return ret;

	if ((rc = twofa_store_set_exempt(a->store, name, exempt)) != TWOFA_OK) return store_failed(a, rc, name);
	ret = audit_and_forget_devices(a, "user 2fa", name, exempt ? "off: exempt" : "on: not exempt");
	if (ret != ADMIN_OK) return ret;
	return done(a, name, exempt ? "exempt from the second factor" : "second factor required");
}

/** user reset NAME: every factor gone, every counter back to 0; the user enrolls again. */
int cmd_user_reset(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	char		*name, detail[64];
	unsigned int	removed = 0, voided = 0;
	twofa_rcode_t	rc;
	int		ret;

	if ((ret = name_and_store(a, cmd, argc, argv, &name, NULL)) != ADMIN_OK) return ret;

	rc = twofa_store_reset_user(a->store, name, &removed, &voided);
	if (rc != TWOFA_OK) return store_failed(a, rc, name);
	snprintf(detail, sizeof(detail), "%u factor%s removed, %u unused backup codes voided, counters reset",
		 removed, (removed == 1) ? "" : "s", voided);
	if ((ret = audit_and_forget_devices(a, "user reset", name, detail)) != ADMIN_OK) return ret;
	return done(a, name, "reset: factors removed, counters reset");
}

/*
 *	user list | show
 */
/** The user's factors as a JSON array: kind, state, id (its generation), address. */
static void factors_json(FILE *out, twofa_user_t const *u)
{
	unsigned int i;

	fputs(",\"factors\":[", out);
	for (i = 0; i < u->num_factors; i++) {
		twofa_factor_t const *f = &u->factors[i];

		fprintf(out, "%s{\"kind\":\"%s\",\"state\":\"%s\",\"id\":%lld,\"address\":", i ? "," : "",
			twofa_factor_kind_name(f->kind), f->confirmed ? "confirmed" : "pending", (long long) f->id);
		if (f->address) json_escape(out, f->address);
		else fputs("null", out);
		fputc('}', out);
	}
	fputc(']', out);
}

static void user_json(FILE *out, twofa_user_t const *u, time_t now)
{
	twofa_factor_t const	*totp = twofa_user_factor(u, TWOFA_FACTOR_TOTP);
	char			buf[64];

	fputs("{\"name\":", out);
	json_escape(out, u->name);
	fprintf(out, ",\"password\":%s,\"created\":\"%s\",\"totp\":\"%s\"", u->password_hash ? "true" : "false",
		time_text(buf, sizeof(buf), u->created, true), factor_state_name(u, TWOFA_FACTOR_TOTP));
	if (totp) {
		fprintf(out, ",\"algorithm\":\"%s\",\"digits\":%u,\"period\":%u", twofa_hash_name(totp->totp.hash),
			totp->totp.digits, totp->totp.period);
	} else {
		fputs(",\"algorithm\":null,\"digits\":null,\"period\":null", out);
	}
	factors_json(out, u);
	fprintf(out, ",\"failures\":%u,\"locks\":%u,\"locked_until\":", u->fail_count, u->lock_count);
	if (u->locked_until > now) fprintf(out, "\"%s\"", time_text(buf, sizeof(buf), u->locked_until, true));
	else fputs("null", out);
	fprintf(out, ",\"backup_codes\":%u", u->backup_codes_left);
	fprintf(out, ",\"password_failures\":%u,\"password_wait_until\":", u->password_failures);
	if (u->password_next_try > now) fprintf(out, "\"%s\"", time_text(buf, sizeof(buf), u->password_next_try, true));
	else fputs("null", out);
	fprintf(out, ",\"preferred\":");
	if (u->preferred) fprintf(out, "\"%s\"", twofa_factor_kind_name(u->preferred));
	else fputs("null", out);
	fprintf(out, ",\"exempt\":%s,\"last_login\":", u->exempt ? "true" : "false");
	if (u->last_accept) fprintf(out, "\"%s\"}", time_text(buf, sizeof(buf), u->last_accept, true));
	else fputs("null}", out);
}

/** No second factor in use (a confirmed factor or an unused backup code), and not exempt. */
bool user_without_2fa(twofa_user_t const *u)
{
	unsigned int i;

	if (u->exempt || u->backup_codes_left) return false;
	for (i = 0; i < u->num_factors; i++) if (u->factors[i].confirmed) return false;
	return true;
}

/** "totp,sms" for the confirmed factors (a pending one with a '?'), or "-". */
static char const *factors_text(char *buf, size_t len, twofa_user_t const *u)
{
	unsigned int	i;
	size_t		used = 0;

	buf[0] = '\0';
	for (i = 0; (i < u->num_factors) && (used < len); i++) {
		used += snprintf(buf + used, len - used, "%s%s%s", i ? "," : "",
				 twofa_factor_kind_name(u->factors[i].kind), u->factors[i].confirmed ? "" : "?");
	}
	return buf[0] ? buf : "-";
}

/** A factor's address (the phone, the mail addresses as stored), if the user holds one of kind.
 *  Printed through print_field's rule: what the admin typed, but no control character. */
static void print_address(twofa_user_t const *u, twofa_factor_kind_t kind, char const *label)
{
	twofa_factor_t const	*f = twofa_user_factor(u, kind);
	char			buf[TWOFA_LOGIN_FIELD_MAX + 1];
	size_t			i;

	if (!f || !f->address) return;
	snprintf(buf, sizeof(buf), "%s%s", f->address, f->confirmed ? "" : " (pending)");
	for (i = 0; buf[i]; i++) if ((unsigned char) buf[i] < 0x20 || buf[i] == 0x7f) buf[i] = '?';
	printf("%-15s%s\n", label, buf);
}

/** The newest Accept of name in the login log, 0 if none is kept. */
static time_t last_accept(admin_t *a, char const *name)
{
	twofa_login_t	*logins;
	size_t		count = 0, i;
	time_t		last = 0;

	if (twofa_store_list_logins(a->store, a->ctx, name, 0, &logins, &count) != TWOFA_OK) return 0;
	for (i = 0; i < count; i++) if (strcmp(logins[i].result, "accept") == 0) last = logins[i].at;
	talloc_free(logins);
	return last;
}

int cmd_user_list(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = {
		{ "without-2fa", no_argument, NULL, 'w' }, { "locked", no_argument, NULL, 'l' },
		{ "ldap", no_argument, NULL, 'L' }, { "config", required_argument, NULL, 'c' },
		{ "page-size", required_argument, NULL, 'p' }, OPT_HELP, OPT_END };
	twofa_user_t	**users;
	size_t		count, i, shown = 0, width = 4;
	time_t		now = time(NULL);
	char		params[32], until[64], factors[64], last[64];
	bool		only_without_2fa = false, only_locked = false, ldap = false;
	char const	*config = NULL, *page = NULL;
	unsigned int	page_size = LDAP_PAGE_SIZE_DEFAULT;
	twofa_rcode_t	rc;
	int		c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'w') only_without_2fa = true;
		else if (c == 'l') only_locked = true;
		else if (c == 'L') ldap = true;
		else if (c == 'c') config = optarg;
		else if (c == 'p') page = optarg;
		else return usage_of(cmd, c);
	}
	if (argc != optind) return usage_of(cmd, '?');
	if (ldap && only_locked) return say(ADMIN_REFUSED, "--ldap and --locked: list the locked users without --ldap");
	if ((config || page) && !ldap) return say(ADMIN_REFUSED, "--%s goes with --ldap", config ? "config" : "page-size");
	if (page && ((ret = parse_uint(page, "--page-size", 1, LDAP_PAGE_SIZE_MAX, &page_size)) != ADMIN_OK)) return ret;
	if (ldap) return user_list_ldap(a, config ? config : DEFAULT_MODULE_CONFIG, page_size, only_without_2fa);
	if ((ret = open_store(a, false)) != ADMIN_OK) return ret;
	rc = twofa_store_list_users(a->store, a->ctx, &users, &count);
	if (rc != TWOFA_OK) return store_failed(a, rc, "*");

	/* Keep the users every filter given lets through, in place. */
	for (i = 0; i < count; i++) {
		if (only_without_2fa && !user_without_2fa(users[i])) continue;
		if (only_locked && (users[i]->locked_until <= now)) continue;
		users[shown++] = users[i];
	}
	count = shown;

	if (a->json) {
		fputs("[", stdout);
		for (i = 0; i < count; i++) {
			fputs(i ? ",\n" : "\n", stdout);
			user_json(stdout, users[i], now);
		}
		fputs("\n]\n", stdout);
		return ADMIN_OK;
	}

	for (i = 0; i < count; i++) if (strlen(users[i]->name) > width) width = strlen(users[i]->name);
	printf("%-*s  %-9s  %-12s  %-10s  %-6s  %-6s  %-23s  %-8s  %s\n", (int) width, "NAME", "TOTP", "PARAMS",
	       "FACTORS", "BACKUP", "EXEMPT", "LOCKED UNTIL", "FAILURES", "LAST LOGIN");
	for (i = 0; i < count; i++) {
		twofa_user_t const *u = users[i];

		printf("%-*s  %-9s  %-12s  %-10s  %-6u  %-6s  %-23s  %-8u  %s\n", (int) width, u->name,
		       factor_state_name(u, TWOFA_FACTOR_TOTP), totp_params_text(params, sizeof(params), u),
		       factors_text(factors, sizeof(factors), u), u->backup_codes_left, u->exempt ? "yes" : "no",
		       (u->locked_until > now) ? time_text(until, sizeof(until), u->locked_until, false) : "-",
		       u->fail_count, u->last_accept ? time_text(last, sizeof(last), u->last_accept, false) : "-");
	}
	return ADMIN_OK;
}

int cmd_user_show(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	twofa_user_t	*u;
	time_t		now = time(NULL);
	char		buf[64], *name;
	int		ret;

	if ((ret = name_and_store(a, cmd, argc, argv, &name, &u)) != ADMIN_OK) return ret;
	if (!u) return store_failed(a, TWOFA_ERR_NOT_FOUND, name);
	u->last_accept = last_accept(a, u->name);

	if (a->json) {
		user_json(stdout, u, now);
		fputc('\n', stdout);
		return ADMIN_OK;
	}
	printf("name:          %s\n", u->name);
	printf("password:      %s\n", u->password_hash ? "set" : "none");
	printf("created:       %s\n", time_text(buf, sizeof(buf), u->created, false));
	printf("2fa:           %s\n", factor_state_name(u, TWOFA_FACTOR_TOTP));
	printf("totp:          %s\n", totp_params_text(buf, sizeof(buf), u));
	printf("factors:       %s\n", factors_text(buf, sizeof(buf), u));
	print_address(u, TWOFA_FACTOR_SMS, "phone:");
	print_address(u, TWOFA_FACTOR_EMAIL, "email:");
	printf("method:        %s\n", u->preferred ? twofa_factor_kind_name(u->preferred) : "default order");
	printf("reply:         %s\n", u->reply ? u->reply : "-");
	printf("backup codes:  %u left\n", u->backup_codes_left);
	printf("exempt:        %s\n", u->exempt ? "yes (first factor alone)" : "no");
	printf("failures:      %u\n", u->fail_count);
	printf("locks:         %u\n", u->lock_count);
	printf("locked until:  %s\n",
	       (u->locked_until > now) ? time_text(buf, sizeof(buf), u->locked_until, false) : "-");
	printf("bad passwords: %u\n", u->password_failures);
	printf("password wait: %s\n",
	       (u->password_next_try > now) ? time_text(buf, sizeof(buf), u->password_next_try, false) : "-");
	printf("last login:    %s\n", u->last_accept ? time_text(buf, sizeof(buf), u->last_accept, false) : "-");
	return ADMIN_OK;
}

