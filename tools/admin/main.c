/*
 * main.c	twofa-admin, the administrator's tool for rlm_twofa: the
 *		command table, global options, and dispatch.
 *
 *		Arguments in, store calls, output.  Every change goes
 *		through store.h and leaves a row in the audit log.  No
 *		password, hash or secret is ever printed, except the new
 *		secret shown once by "totp enroll" to the admin enrolling.
 *
 *		Exit status: 0 done; 1 bad usage or refused (no such
 *		user, exists, wrong code, invalid name); 2 the store, the
 *		key file or the crypto failed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "admin.h"

/*
 *	The commands, and main.
 */
static command_t const commands[] = {
	{ "init", NULL, cmd_init, "[--owner USER]", "create the store and the key file, keep existing ones" },
	{ "user", "add", cmd_user_add, "NAME [--no-password]", "add a user; password from the terminal or stdin" },
	{ "user", "passwd", cmd_user_passwd, "NAME", "set a user's password" },
	{ "user", "del", cmd_user_del, "NAME", "delete a user and their enrolment" },
	{ "user", "list", cmd_user_list, "[--without-2fa] [--locked] [--ldap [--config FILE] [--page-size N]]",
	  "list users: TOTP, backup codes, exempt, lock, failures; only those without a second factor or locked" },
	{ "user", "show", cmd_user_show, "NAME", "show one user" },
	{ "user", "unlock", cmd_user_unlock, "NAME", "lift a lockout and reset the failure count" },
	{ "user", "2fa", cmd_user_2fa, "NAME off|on", "off: exempt the user, the first factor alone lets them in; on: no longer" },
	{ "user", "reset", cmd_user_reset, "NAME", "remove every factor and reset the counters: the user enrolls again" },
	{ "user", "set", cmd_user_set, "NAME [--phone E164|none] [--email ADDR|none] [--email2 ADDR|none] "
	  "[--email-to first|second|both] [--method totp|sms|email|none] [--reply \"Attr=value, ...\"|none]",
	  "a user's phone number and email addresses (codes by SMS and email), the method offered first, "
	  "and reply attributes on Accept" },
	{ "user", "import", cmd_user_import, "FILE|- [--progress]", "add users from CSV: name,password,base32secret" },
	{ "totp", "enroll", cmd_totp_enroll, "NAME [--issuer ISSUER] [--digits 6|8] [--algorithm SHA1|SHA256|SHA512] "
	  "[--period SECONDS] [--png FILE] [--force]", "new secret, pending: URI, secret, QR code" },
	{ "totp", "confirm", cmd_totp_confirm, "NAME", "confirm a pending enrolment: a code from the app, on stdin" },
	{ "totp", "remove", cmd_totp_remove, "NAME", "remove a user's authenticator (lost phone)" },
	{ "backup", "generate", cmd_backup_generate, "NAME [--count 1..20]",
	  "new one-time backup codes (10 by default), shown once; the old ones stop working" },
	{ "backup", "remove", cmd_backup_remove, "NAME", "void a user's backup codes" },
	{ "policy", "test", cmd_policy_test, "--nas IP|SHORTNAME [--nas-ip IP] [--from IP] [--user NAME] "
	  "[--policy-file FILE] [--json]", "which per-NAS rule a request matches, and what would happen (to NAME)" },
	{ "policy", "check", cmd_policy_check, "[--policy-file FILE]",
	  "read the per-NAS rule file as radiusd would: errors with file, line and why (exit 1)" },
	{ "devices", NULL, cmd_devices, "NAME [--forget ID|--all] [--json]",
	  "a user's remembered devices (remember_days); --forget ID or --all forgets them" },
	{ "test-send", NULL, cmd_test_send, "NAME sms|email [--config FILE] [--verbose]",
	  "send a test message (no code) to the user's number or address(es) through the sms { } or email { } "
	  "gateway of the module's file (default " DEFAULT_MODULE_CONFIG "); --verbose: curl's trace, secrets masked; "
	  "exit 2 if the gateway fails" },
	{ "log", NULL, cmd_log, "[NAME] [--since TIME] [--json]",
	  "logins, oldest first: time, user, result, reason, method, NAS address, Calling-Station-Id" },
	{ "migrate", NULL, cmd_migrate, "--from URL --to URL",
	  "copy every row of a store into a new, empty one (sqlite:PATH to postgresql://...), then verify the copy" },
};
#define NUM_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out, char const *group)
{
	size_t i;

	fputs("Usage: " PROGNAME " [OPTIONS] COMMAND [ARGS]\n\nCommands:\n", out);
	for (i = 0; i < NUM_COMMANDS; i++) {
		if (group && (strcmp(group, commands[i].name) != 0)) continue;
		fprintf(out, "  %s%s%s%s%s\n      %s\n", commands[i].name, commands[i].sub ? " " : "",
			commands[i].sub ? commands[i].sub : "", *commands[i].args ? " " : "", commands[i].args,
			commands[i].help);
	}
	if (group) return;
	fputs("\nOptions (before the command):\n"
	      "  -s, --store PATH     the store (default $TWOFA_STORE, else " DEFAULT_STORE ")\n"
	      "  -k, --key-file PATH  the key file (default $TWOFA_KEY, else twofa.key beside the store;\n"
	      "                       for a postgresql:// store, in " DEFAULT_KEY_DIR ")\n"
	      "      --db-password-file FILE  PostgreSQL: the role's password, mode 0600\n"
	      "                       (default $TWOFA_DB_PASSWORD_FILE, else libpq's PGPASSFILE or ~/.pgpass)\n"
	      "      --json           print data as JSON\n"
	      "  -h, --help           this text;  --version  the version\n"
	      "\nExit status: 0 done, 1 bad usage or refused, 2 store, key or crypto error.\n", out);
}

/** The command named by argv[0] (and argv[1]); *words says how many words it took. */
static command_t const *find_command(int argc, char **argv, int *words)
{
	size_t i;
	bool group = false;

	if (argc < 1) {
		usage(stderr, NULL);
		return NULL;
	}
	for (i = 0; i < NUM_COMMANDS; i++) {
		if (strcmp(argv[0], commands[i].name) != 0) continue;
		group = true;
		*words = commands[i].sub ? 2 : 1;
		if (!commands[i].sub || ((argc > 1) && (strcmp(argv[1], commands[i].sub) == 0))) return &commands[i];
	}
	if (group) {
		say(ADMIN_REFUSED, "%s: which subcommand?", argv[0]);
		usage(stderr, argv[0]);
	} else {
		say(ADMIN_REFUSED, "unknown command \"%s\" (see " PROGNAME " --help)", argv[0]);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static struct option const opts[] = {
		{ "store", required_argument, NULL, 's' }, { "key-file", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' }, { "version", no_argument, NULL, 'V' },
		{ "db-password-file", required_argument, NULL, 'P' }, OPT_HELP, OPT_END };
	admin_t			a = { .json = false };
	command_t const		*cmd;
	char const		*env;
	int			c, words = 0, ret;

	umask(027);		/* the store holds password hashes: nothing for others */
	if (!(a.ctx = talloc_new(NULL))) return ADMIN_ERROR;
	a.store_path = ((env = getenv("TWOFA_STORE")) && *env) ? env : DEFAULT_STORE;
	a.key_path = ((env = getenv("TWOFA_KEY")) && *env) ? env : NULL;
	a.db_password_file = ((env = getenv("TWOFA_DB_PASSWORD_FILE")) && *env) ? env : NULL;

	while ((c = getopt_long(argc, argv, "+s:k:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': a.store_path = optarg; break;
		case 'k': a.key_path = optarg; break;
		case 'j': a.json = true; break;
		case 'P': a.db_password_file = optarg; break;
		case 'V': printf(PROGNAME " (rlm_twofa) " PACKAGE_VERSION "\n"); return ADMIN_OK;
		case 'h': usage(stdout, NULL); return ADMIN_OK;
		default: usage(stderr, NULL); return ADMIN_REFUSED;
		}
	}
	if (!a.key_path) {
		a.key_path = talloc_asprintf(a.ctx, "%s/twofa.key", store_is_server(a.store_path) ? DEFAULT_KEY_DIR :
					     dir_of(a.ctx, store_file(&a)));
	}
	a.actor = invoking_user(a.ctx);		/* before any privilege drop changes getuid() */

	if (!(cmd = find_command(argc - optind, argv + optind, &words))) {
		talloc_free(a.ctx);
		return ADMIN_REFUSED;
	}
	/* The command sees its last word as argv[0], as getopt expects; messages say twofa-admin. */
	argv += optind + words - 1;
	argc -= optind + words - 1;
	argv[0] = (char *) PROGNAME;
	optind = 0;
	ret = cmd->run(&a, cmd, argc, argv);

	if ((fflush(stdout) != 0) && (ret == ADMIN_OK)) ret = say(ADMIN_ERROR, "writing output: %s", strerror(errno));
	OPENSSL_cleanse(a.key, sizeof(a.key));
	talloc_free(a.ctx);
	return ret;
}

