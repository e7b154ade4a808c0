/*
 * admin.h	What the files of twofa-admin share: the run's state, the
 *		command table's entry, exit statuses, and the helpers every
 *		command group uses (messages, argument checks, the store, the
 *		key, the audit log, passwords from the terminal).
 *
 *		main.c has the command table; one file per command group
 *		(init.c, user.c, user_import.c, contact.c, totp.c, backup.c, log.c, policy.c,
 *		devices.c, migrate.c, testsend.c);
 *		common.c the helpers.
 */
#ifndef TWOFA_ADMIN_H
#define TWOFA_ADMIN_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include <talloc.h>

#include "../../rlm_twofa/crypto.h"
#include "../../rlm_twofa/store.h"
#include "../../rlm_twofa/twofa.h"

#ifndef PACKAGE_VERSION
#  define PACKAGE_VERSION "unknown"
#endif

#define PROGNAME		"twofa-admin"
#define DEFAULT_STORE		"/var/lib/freeradius/twofa/twofa.db"
#define DEFAULT_KEY_DIR		"/var/lib/freeradius/twofa"	//!< the key's folder for a postgresql:// store
#define DEFAULT_OWNER		"freerad"	//!< the user radiusd runs as on Debian
#define DEFAULT_ISSUER		"rlm_twofa"
#define DEFAULT_MODULE_CONFIG	"/etc/freeradius/3.0/mods-available/twofa"	//!< test-send reads sms { } and email { } there, user list --ldap ldap { }
#define BUSY_TIMEOUT_MS		5000
#define PASSWORD_MAX		1024		//!< bytes, newline included

enum {
	ADMIN_OK	= 0,
	ADMIN_REFUSED	= 1,	//!< bad usage, or the request makes no sense for this store
	ADMIN_ERROR	= 2,	//!< store, key file or crypto failure
};

typedef struct {
	TALLOC_CTX	*ctx;
	char const	*store_path;
	char const	*key_path;
	char const	*db_password_file;	//!< PostgreSQL: the role's password (--db-password-file)
	char const	*actor;			//!< who runs us, for the audit log
	bool		json;
	twofa_store_t	*store;
	uint8_t		key[TWOFA_KEY_LEN];
	bool		key_loaded;
} admin_t;

typedef struct command command_t;
struct command {
	char const	*name;
	char const	*sub;			//!< NULL for a command without subcommands
	int		(*run)(admin_t *a, command_t const *cmd, int argc, char **argv);
	char const	*args;			//!< what follows the command words
	char const	*help;			//!< one line for the usage text
};

/*
 *	Command-line parsing shared by the commands.  Options may come before or
 *	after the arguments; "--" ends them (for a name starting with '-').
 */
#define OPT_HELP	{ "help", no_argument, NULL, 'h' }
#define OPT_END		{ NULL, 0, NULL, 0 }

/*
 *	common.c
 */
/** "twofa-admin: MESSAGE" on stderr; returns status for the caller to return. */
int say(int status, char const *fmt, ...) __attribute__((format(printf, 2, 3)));
int exit_status(twofa_rcode_t rc);
/** Report a failed store call about user name, with the store's detail where it has one. */
int store_failed(admin_t *a, twofa_rcode_t rc, char const *name);
int usage_of(command_t const *cmd, int opt);
int check_name(char const *name);
/** Options of a command that has none but --help; then exactly nargs arguments (-1: any). */
int plain_args(command_t const *cmd, int argc, char **argv, int nargs);
/** *name as stored (found exactly, else in any ASCII case, as a login finds it), and *user (may be
 *  NULL) as read; as typed, and *user NULL, if there is no such user. */
int stored_name(admin_t *a, char **name, twofa_user_t **user);
/** A command that takes one user NAME and nothing else: check it, open the store, stored_name(). */
int name_and_store(admin_t *a, command_t const *cmd, int argc, char **argv, char **name, twofa_user_t **user);
/** A command that is one store call on one user: del, unlock, totp remove. */
int one_call(admin_t *a, command_t const *cmd, int argc, char **argv,
	     twofa_rcode_t (*call)(twofa_store_t *, char const *), char const *what);
int parse_uint(char const *text, char const *what, unsigned int min, unsigned int max, unsigned int *out);

void json_escape(FILE *out, char const *s);
char *uri_encode(TALLOC_CTX *ctx, char const *s);
char const *time_text(char *buf, size_t len, time_t t, bool utc);
char const *factor_state_name(twofa_user_t const *u, twofa_factor_kind_t kind);
char const *totp_params_text(char *buf, size_t len, twofa_user_t const *u);
int done(admin_t *a, char const *name, char const *what);

char const *store_file(admin_t const *a);
/** The store is a database server's (postgresql://...), not a file. */
bool store_is_server(char const *url);
char *dir_of(TALLOC_CTX *ctx, char const *path);
int become(uid_t uid, gid_t gid);
int drop_to_store_owner(admin_t *a);
int open_store(admin_t *a, bool create);
int load_key(admin_t *a);
int audit(admin_t *a, char const *action, char const *name, char const *detail);
char const *invoking_user(TALLOC_CTX *ctx);

bool read_line(FILE *fp, char *buf, size_t len);
bool prompt_hidden(char const *prompt, char *buf, size_t len);
int read_password(char const *name, char *buf);
int new_password_hash(TALLOC_CTX *ctx, char const *name, char **hash);

/*
 *	The commands, one file per group.
 */
int cmd_init(admin_t *a, command_t const *cmd, int argc, char **argv);		/* init.c */

int cmd_user_add(admin_t *a, command_t const *cmd, int argc, char **argv);	/* user.c */
int cmd_user_passwd(admin_t *a, command_t const *cmd, int argc, char **argv);
int cmd_user_del(admin_t *a, command_t const *cmd, int argc, char **argv);
int cmd_user_unlock(admin_t *a, command_t const *cmd, int argc, char **argv);
int cmd_user_2fa(admin_t *a, command_t const *cmd, int argc, char **argv);
int cmd_user_reset(admin_t *a, command_t const *cmd, int argc, char **argv);
int cmd_user_list(admin_t *a, command_t const *cmd, int argc, char **argv);
int cmd_user_show(admin_t *a, command_t const *cmd, int argc, char **argv);
/** No second factor in use (a confirmed factor or an unused backup code), and not exempt. */
bool user_without_2fa(twofa_user_t const *u);
/** user list --ldap: the directory's users (config: the module's file), with their second factor,
 *  read in pages of at most page_size entries (RFC 2696). */
#define LDAP_PAGE_SIZE_DEFAULT	500	//!< under Active Directory's MaxPageSize (1000)
#define LDAP_PAGE_SIZE_MAX	100000
int user_list_ldap(admin_t *a, char const *config, unsigned int page_size, bool only_without_2fa);	/* ldap_list.c */
int cmd_user_import(admin_t *a, command_t const *cmd, int argc, char **argv);	/* user_import.c */
int cmd_user_set(admin_t *a, command_t const *cmd, int argc, char **argv);	/* contact.c */

int cmd_totp_enroll(admin_t *a, command_t const *cmd, int argc, char **argv);	/* totp.c */
int cmd_totp_confirm(admin_t *a, command_t const *cmd, int argc, char **argv);
int cmd_totp_remove(admin_t *a, command_t const *cmd, int argc, char **argv);

int cmd_backup_generate(admin_t *a, command_t const *cmd, int argc, char **argv);	/* backup.c */
int cmd_backup_remove(admin_t *a, command_t const *cmd, int argc, char **argv);

int cmd_log(admin_t *a, command_t const *cmd, int argc, char **argv);		/* log.c */

int cmd_migrate(admin_t *a, command_t const *cmd, int argc, char **argv);	/* migrate.c */

int cmd_policy_test(admin_t *a, command_t const *cmd, int argc, char **argv);	/* policy.c */
int cmd_policy_check(admin_t *a, command_t const *cmd, int argc, char **argv);

int cmd_devices(admin_t *a, command_t const *cmd, int argc, char **argv);	/* devices.c */

int cmd_test_send(admin_t *a, command_t const *cmd, int argc, char **argv);	/* testsend.c */

struct radconf_item;
/** Read the module's configuration file path (tools/radconf.c, at most 1 MiB; the
 *  text wiped once parsed: it holds secrets) and find the first "twofa [NAME] { }"
 *  section's subsection name: *section, or NULL if there is none (the caller says
 *  what that means).  @return ADMIN_OK, or what say() returned for a file that
 *  cannot be read or parsed, or has no twofa { } section. */
int module_subsection(admin_t *a, char const *path, char const *name, struct radconf_item const **section);
/** Forget every remembered device of name (after reset, passwd, 2fa, totp remove), with an audit row. */
int forget_user_devices(admin_t *a, char const *name);
/** action's audit row, then forget_user_devices() whether or not the row was written. */
int audit_and_forget_devices(admin_t *a, char const *action, char const *name, char const *detail);

#endif
