/*
 * twofa-admin.c	The administrator's tool for rlm_twofa: create the store
 *			and key, manage users, enrol TOTP authenticators.
 *
 *			Arguments in, store calls, output.  Every change goes
 *			through store.h and leaves a row in the audit log.  No
 *			password, hash or secret is ever printed, except the new
 *			secret shown once by "totp enroll" to the admin enrolling.
 *
 *			Exit status: 0 done; 1 bad usage or refused (no such
 *			user, exists, wrong code, invalid name); 2 the store, the
 *			key file or the crypto failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <talloc.h>

#include "../rlm_twofa/base32.h"
#include "../rlm_twofa/crypto.h"
#include "../rlm_twofa/policy.h"
#include "../rlm_twofa/store.h"
#include "../rlm_twofa/totp.h"
#include "../rlm_twofa/twofa.h"
#include "qr.h"

#ifndef PACKAGE_VERSION
#  define PACKAGE_VERSION "unknown"
#endif

#define PROGNAME		"twofa-admin"
#define DEFAULT_STORE		"/var/lib/freeradius/twofa/twofa.db"
#define DEFAULT_OWNER		"freerad"	//!< the user radiusd runs as on Debian
#define DEFAULT_ISSUER		"rlm_twofa"
#define BUSY_TIMEOUT_MS		5000
#define PASSWORD_MAX		1024		//!< bytes, newline included
#define IMPORT_BATCH		10000		//!< rows per transaction and per progress line
#define IMPORT_SECRET_MIN	10		//!< bytes: 80-bit secrets of older tools still import
#define PERIOD_MAX		300

enum {
	ADMIN_OK	= 0,
	ADMIN_REFUSED	= 1,	//!< bad usage, or the request makes no sense for this store
	ADMIN_ERROR	= 2,	//!< store, key file or crypto failure
};

typedef struct {
	TALLOC_CTX	*ctx;
	char const	*store_path;
	char const	*key_path;
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
 *	Messages and exit status.
 */
static int exit_status(twofa_rcode_t rc)
{
	switch (rc) {
	case TWOFA_OK:
		return ADMIN_OK;
	case TWOFA_ERR_NOT_FOUND:
	case TWOFA_ERR_NOT_ENROLLED:
	case TWOFA_ERR_BAD_PASSWORD:
	case TWOFA_ERR_BAD_CODE:
	case TWOFA_ERR_MALFORMED:
	case TWOFA_ERR_REPLAYED:
	case TWOFA_ERR_LOCKED:
	case TWOFA_ERR_EXPIRED:
	case TWOFA_ERR_EXISTS:
	case TWOFA_ERR_THROTTLED:
		return ADMIN_REFUSED;
	case TWOFA_ERR_STORE:
	case TWOFA_ERR_BUSY:
	case TWOFA_ERR_CRYPTO:
	case TWOFA_ERR_IO:
	case TWOFA_ERR_NO_MEMORY:
		return ADMIN_ERROR;
	}
	return ADMIN_ERROR;
}

/** "twofa-admin: MESSAGE" on stderr; returns status for the caller to return. */
static int say(int status, char const *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(int status, char const *fmt, ...)
{
	va_list ap;

	fputs(PROGNAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/** Report a failed store call about user name, with the store's detail where it has one. */
static int store_failed(admin_t *a, twofa_rcode_t rc, char const *name)
{
	switch (rc) {
	case TWOFA_ERR_NOT_FOUND:
		return say(ADMIN_REFUSED, "no such user \"%s\"", name);
	case TWOFA_ERR_EXISTS:
		return say(ADMIN_REFUSED, "user \"%s\" already exists", name);
	case TWOFA_ERR_NOT_ENROLLED:
		return say(ADMIN_REFUSED, "user \"%s\" has no TOTP enrolment", name);
	case TWOFA_ERR_STORE:
	case TWOFA_ERR_BUSY:
		return say(ADMIN_ERROR, "store %s: %s", a->store_path, twofa_store_errmsg(a->store));
	default:
		return say(exit_status(rc), "user \"%s\": %s", name, twofa_strerror(rc));
	}
}

static int usage_of(command_t const *cmd, int opt)
{
	FILE *out = (opt == 'h') ? stdout : stderr;

	fprintf(out, "Usage: " PROGNAME " %s%s%s%s%s\n", cmd->name, cmd->sub ? " " : "",
		cmd->sub ? cmd->sub : "", *cmd->args ? " " : "", cmd->args);
	return (opt == 'h') ? ADMIN_OK : ADMIN_REFUSED;
}

static int check_name(char const *name)
{
	if (twofa_user_name_valid(name, strlen(name))) return ADMIN_OK;
	return say(ADMIN_REFUSED, "invalid user name: 1 to %d bytes of UTF-8, no control characters",
		   TWOFA_USER_NAME_MAX);
}

/*
 *	Output helpers.
 */
/** s as a JSON string, quotes included.  Names may hold quotes, backslashes, anything. */
static void json_escape(FILE *out, char const *s)
{
	unsigned char const *p;

	putc('"', out);
	for (p = (unsigned char const *) s; *p; p++) {
		switch (*p) {
		case '"':	fputs("\\\"", out); break;
		case '\\':	fputs("\\\\", out); break;
		case '\n':	fputs("\\n", out); break;
		case '\r':	fputs("\\r", out); break;
		case '\t':	fputs("\\t", out); break;
		default:
			if ((*p < 0x20) || (*p == 0x7f)) fprintf(out, "\\u%04x", *p);
			else putc(*p, out);
		}
	}
	putc('"', out);
}

/** RFC 3986 percent-encoding: everything but the unreserved characters.
 *  @return a talloc string under ctx, or NULL.
 */
static char *uri_encode(TALLOC_CTX *ctx, char const *s)
{
	static char const hex[] = "0123456789ABCDEF";
	unsigned char const *p;
	char *out, *o;

	if (!(out = o = talloc_array(ctx, char, strlen(s) * 3 + 1))) return NULL;
	for (p = (unsigned char const *) s; *p; p++) {
		if (((*p >= 'A') && (*p <= 'Z')) || ((*p >= 'a') && (*p <= 'z')) ||
		    ((*p >= '0') && (*p <= '9')) || (*p == '-') || (*p == '.') || (*p == '_') || (*p == '~')) {
			*o++ = (char) *p;
			continue;
		}
		*o++ = '%';
		*o++ = hex[*p >> 4];
		*o++ = hex[*p & 0x0f];
	}
	*o = '\0';
	return out;
}

/** t as "2026-11-22 23:40:00 CET" (local) or, for JSON, "2026-11-22T22:40:00Z". */
static char const *time_text(char *buf, size_t len, time_t t, bool utc)
{
	struct tm tm;

	if (utc) {
		gmtime_r(&t, &tm);
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	} else {
		localtime_r(&t, &tm);
		strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm);
	}
	return buf;
}

static char const *totp_state_name(twofa_totp_state_t state)
{
	switch (state) {
	case TWOFA_TOTP_NONE:		return "none";
	case TWOFA_TOTP_PENDING:	return "pending";
	case TWOFA_TOTP_CONFIRMED:	return "confirmed";
	}
	return "?";
}

/** "SHA1/6/30", or "-" without an enrolment. */
static char const *totp_params_text(char *buf, size_t len, twofa_user_t const *u)
{
	if (u->totp_state == TWOFA_TOTP_NONE) return "-";
	snprintf(buf, len, "%s/%u/%u", twofa_hash_name(u->totp.hash), u->totp.digits, u->totp.period);
	return buf;
}

/** A change done: one line, or one JSON object. */
static int done(admin_t *a, char const *name, char const *what)
{
	if (!a->json) {
		printf("user \"%s\" %s\n", name, what);
		return ADMIN_OK;
	}
	fputs("{\"user\":", stdout);
	json_escape(stdout, name);
	fputs(",\"result\":", stdout);
	json_escape(stdout, what);
	fputs("}\n", stdout);
	return ADMIN_OK;
}

/*
 *	Store, key, privileges, audit.
 */
/** The store's file name without an optional "sqlite:" prefix. */
static char const *store_file(admin_t const *a)
{
	return (strncmp(a->store_path, "sqlite:", 7) == 0) ? a->store_path + 7 : a->store_path;
}

static char *dir_of(TALLOC_CTX *ctx, char const *path)
{
	char const *slash = strrchr(path, '/');

	if (!slash) return talloc_strdup(ctx, ".");
	if (slash == path) return talloc_strdup(ctx, "/");
	return talloc_strndup(ctx, path, slash - path);
}

/** As root, become the owner of the store's directory before SQLite opens the
 *  store, so that its -wal and -shm files are never created as root: radiusd,
 *  running as that owner, could not open them.
 */
static int drop_to_store_owner(admin_t *a)
{
	struct stat	st;
	struct passwd	*pw;
	gid_t		gid;

	if (geteuid() != 0) return ADMIN_OK;
	if (stat(dir_of(a->ctx, store_file(a)), &st) < 0) return ADMIN_OK;	/* opening will say why */
	if (st.st_uid == 0) return ADMIN_OK;

	pw = getpwuid(st.st_uid);
	gid = pw ? pw->pw_gid : st.st_gid;
	if ((setgroups(1, &gid) < 0) || (setgid(gid) < 0) || (setuid(st.st_uid) < 0) || (setuid(0) == 0)) {
		return say(ADMIN_ERROR, "cannot become the store's owner (uid %u): %s",
			   (unsigned int) st.st_uid, strerror(errno));
	}
	return ADMIN_OK;
}

static int open_store(admin_t *a, bool create)
{
	twofa_store_config_t	config = {
		.path = a->store_path, .busy_timeout_ms = BUSY_TIMEOUT_MS, .create = create
	};
	twofa_rcode_t		rc;
	int			ret;

	if ((ret = drop_to_store_owner(a)) != ADMIN_OK) return ret;

	rc = twofa_store_open(a->ctx, &config, &a->store);
	if (rc == TWOFA_OK) return ADMIN_OK;

	if (rc == TWOFA_ERR_NOT_FOUND) {
		ret = say(ADMIN_ERROR, "no store at %s (see \"" PROGNAME " init\")", store_file(a));
	} else {
		ret = say(ADMIN_ERROR, "cannot open store %s: %s", store_file(a),
			  a->store ? twofa_store_errmsg(a->store) : twofa_strerror(rc));
	}
	TALLOC_FREE(a->store);
	return ret;
}

static int load_key(admin_t *a)
{
	char err[256] = "";

	if (a->key_loaded) return ADMIN_OK;
	if (twofa_crypto_load_key(a->key_path, a->key, err, sizeof(err)) != TWOFA_OK) {
		return say(ADMIN_ERROR, "key file %s: %s", a->key_path, err);
	}
	a->key_loaded = true;
	return ADMIN_OK;
}

static int audit(admin_t *a, char const *action, char const *name, char const *detail)
{
	if (twofa_store_audit(a->store, a->actor, action, name, detail) == TWOFA_OK) return ADMIN_OK;
	return say(ADMIN_ERROR, "%s done, but the audit log was not written: %s", action,
		   twofa_store_errmsg(a->store));
}

/** The login name of whoever invoked us, through sudo or not. */
static char const *invoking_user(TALLOC_CTX *ctx)
{
	char const	*sudo = getenv("SUDO_USER");
	struct passwd	*pw;

	if (sudo && *sudo) return sudo;
	if ((pw = getpwuid(getuid()))) return talloc_strdup(ctx, pw->pw_name);
	return talloc_asprintf(ctx, "uid %u", (unsigned int) getuid());
}

/*
 *	Passwords: from the terminal without echo, or the first line of stdin.
 */
static struct termios	saved_tty;
static volatile sig_atomic_t tty_changed;

static void restore_tty(int sig)
{
	if (tty_changed) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

/** One line of fp into buf, newline stripped.  false at EOF or for a line too long. */
static bool read_line(FILE *fp, char *buf, size_t len)
{
	size_t n;

	if (!fgets(buf, (int) len, fp)) return false;
	n = strcspn(buf, "\r\n");
	if ((buf[n] == '\0') && (n == len - 1) && !feof(fp)) return false;
	buf[n] = '\0';
	return true;
}

static bool prompt_hidden(char const *prompt, char *buf, size_t len)
{
	struct termios	quiet;
	bool		ok;
	int const	sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
	size_t		i;

	if (tcgetattr(STDIN_FILENO, &saved_tty) < 0) return false;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) signal(sigs[i], restore_tty);
	quiet = saved_tty;
	quiet.c_lflag &= ~(tcflag_t) ECHO;
	fputs(prompt, stderr);
	fflush(stderr);
	tty_changed = (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0);
	ok = read_line(stdin, buf, len);
	if (tty_changed) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	tty_changed = 0;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) signal(sigs[i], SIG_DFL);
	fputc('\n', stderr);
	return ok;
}

/** Read a new password into buf (PASSWORD_MAX bytes), never from argv. */
static int read_password(char const *name, char *buf)
{
	char	again[PASSWORD_MAX];
	char	prompt[TWOFA_USER_NAME_MAX + 32];
	int	ret = ADMIN_OK;

	setvbuf(stdin, NULL, _IONBF, 0);	/* no copy left in stdio's buffer */
	if (!isatty(STDIN_FILENO)) {
		if (!read_line(stdin, buf, PASSWORD_MAX)) {
			return say(ADMIN_REFUSED, "no password on standard input (one line, at most %d bytes)",
				   PASSWORD_MAX - 2);
		}
	} else {
		snprintf(prompt, sizeof(prompt), "Password for %s: ", name);
		if (!prompt_hidden(prompt, buf, PASSWORD_MAX) || !prompt_hidden("Again: ", again, sizeof(again))) {
			ret = say(ADMIN_REFUSED, "no password read");
		} else if (strcmp(buf, again) != 0) {
			ret = say(ADMIN_REFUSED, "the passwords do not match");
		}
		OPENSSL_cleanse(again, sizeof(again));
	}
	if ((ret == ADMIN_OK) && (buf[0] == '\0')) {
		ret = say(ADMIN_REFUSED, "empty password (\"user add --no-password\" makes a user without one)");
	}
	return ret;
}

/** Read, hash with yescrypt, wipe.  *hash is a talloc string under ctx. */
static int new_password_hash(TALLOC_CTX *ctx, char const *name, char **hash)
{
	char		password[PASSWORD_MAX];
	twofa_rcode_t	rc;
	int		ret;

	ret = read_password(name, password);
	if (ret == ADMIN_OK) {
		rc = twofa_crypto_hash_password(ctx, password, NULL, hash);
		if (rc != TWOFA_OK) ret = say(ADMIN_ERROR, "cannot hash the password: %s", twofa_strerror(rc));
	}
	OPENSSL_cleanse(password, sizeof(password));
	return ret;
}

/*
 *	Command-line parsing shared by the commands.  Options may come before or
 *	after the arguments; "--" ends them (for a name starting with '-').
 */
#define OPT_HELP	{ "help", no_argument, NULL, 'h' }
#define OPT_END		{ NULL, 0, NULL, 0 }

/** Options of a command that has none but --help; then exactly nargs arguments. */
static int plain_args(command_t const *cmd, int argc, char **argv, int nargs)
{
	static struct option const opts[] = { OPT_HELP, OPT_END };
	int c;

	if ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) return usage_of(cmd, c);
	if (argc - optind != nargs) return usage_of(cmd, '?');
	return ADMIN_OK;
}

static int parse_uint(char const *text, char const *what, unsigned int min, unsigned int max, unsigned int *out)
{
	char		*end;
	unsigned long	v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if ((text[0] < '0') || (text[0] > '9') || *end || errno || (v < min) || (v > max)) {
		return say(ADMIN_REFUSED, "%s must be a number from %u to %u", what, min, max);
	}
	*out = (unsigned int) v;
	return ADMIN_OK;
}

/*
 *	init
 */
/** mkdir -p: missing parents 0755, the directory itself 0750. */
static int make_dirs(TALLOC_CTX *ctx, char const *dir)
{
	struct stat st;
	char *parent;
	int ret;

	if (stat(dir, &st) == 0) return S_ISDIR(st.st_mode) ? ADMIN_OK : say(ADMIN_ERROR, "%s is not a directory", dir);
	parent = dir_of(ctx, dir);
	if ((strcmp(parent, dir) != 0) && (stat(parent, &st) < 0)) {
		if ((ret = make_dirs(ctx, parent)) != ADMIN_OK) return ret;
		chmod(parent, 0755);
	}
	if (mkdir(dir, 0750) < 0) return say(ADMIN_ERROR, "cannot create directory %s: %s", dir, strerror(errno));
	return ADMIN_OK;
}

/** Hand the directory, the key file and whatever store files exist to owner.
 *  Files get lchown: the directory's owner could have planted symlinks in it.
 */
static int hand_over(admin_t *a, char const *dir, struct passwd const *owner)
{
	static char const *suffixes[] = { "", "-wal", "-shm", "-journal" };
	char const *path;
	size_t i;

	if (chown(dir, owner->pw_uid, owner->pw_gid) < 0) {
		return say(ADMIN_ERROR, "cannot chown %s: %s", dir, strerror(errno));
	}
	if (lchown(a->key_path, owner->pw_uid, owner->pw_gid) < 0) {
		return say(ADMIN_ERROR, "cannot chown %s: %s", a->key_path, strerror(errno));
	}
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		path = talloc_asprintf(a->ctx, "%s%s", store_file(a), suffixes[i]);
		if ((lchown(path, owner->pw_uid, owner->pw_gid) < 0) && (errno != ENOENT)) {
			return say(ADMIN_ERROR, "cannot chown %s: %s", path, strerror(errno));
		}
	}
	return ADMIN_OK;
}

static int cmd_init(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = { { "owner", required_argument, NULL, 'o' }, OPT_HELP, OPT_END };
	char const	*owner_name = NULL;
	struct passwd	*owner = NULL;
	char		*dir, err[256] = "";
	bool		key_created, store_existed;
	struct stat	st;
	twofa_rcode_t	rc;
	int		c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'o') return usage_of(cmd, c);
		owner_name = optarg;
	}
	if (argc != optind) return usage_of(cmd, '?');

	if (owner_name && !(owner = getpwnam(owner_name))) {
		return say(ADMIN_REFUSED, "no such system user \"%s\"", owner_name);
	}
	if (!owner_name && (geteuid() == 0)) owner = getpwnam(DEFAULT_OWNER);	/* else stay root */
	if (owner && (geteuid() != 0)) {
		if (owner->pw_uid != geteuid()) return say(ADMIN_REFUSED, "--owner needs root");
		owner = NULL;		/* already ours */
	}

	dir = dir_of(a->ctx, store_file(a));
	if ((ret = make_dirs(a->ctx, dir)) != ADMIN_OK) return ret;

	rc = twofa_crypto_create_key_file(a->key_path, err, sizeof(err));
	if ((rc != TWOFA_OK) && (rc != TWOFA_ERR_EXISTS)) return say(ADMIN_ERROR, "key file %s: %s", a->key_path, err);
	key_created = (rc == TWOFA_OK);

	if (owner && ((ret = hand_over(a, dir, owner)) != ADMIN_OK)) return ret;

	store_existed = (stat(store_file(a), &st) == 0);
	if ((ret = open_store(a, true)) != ADMIN_OK) return ret;
	if ((ret = audit(a, "init", NULL, store_existed ? "store kept" : "store created")) != ADMIN_OK) return ret;

	if (a->json) {
		fputs("{\"store\":", stdout);
		json_escape(stdout, store_file(a));
		printf(",\"store_created\":%s,\"key_file\":", store_existed ? "false" : "true");
		json_escape(stdout, a->key_path);
		printf(",\"key_created\":%s,\"owner\":", key_created ? "true" : "false");
		if (owner) json_escape(stdout, owner->pw_name);
		else fputs("null", stdout);
		fputs("}\n", stdout);
		return ADMIN_OK;
	}
	printf("store %s: %s (schema %d)\n", store_file(a), store_existed ? "exists, kept" : "created",
	       twofa_store_schema_version(a->store));
	printf("key file %s: %s\n", a->key_path, key_created ? "created" : "exists, kept");
	if (owner) printf("owner: %s\n", owner->pw_name);
	return ADMIN_OK;
}

/*
 *	user add | passwd | del | unlock
 */
static int cmd_user_add(admin_t *a, command_t const *cmd, int argc, char **argv)
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

static int cmd_user_passwd(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	char		*hash, *name;
	twofa_user_t	*user;
	twofa_rcode_t	rc;
	int		ret;

	if ((ret = plain_args(cmd, argc, argv, 1)) != ADMIN_OK) return ret;
	name = argv[optind];
	if ((ret = check_name(name)) != ADMIN_OK) return ret;
	if ((ret = open_store(a, false)) != ADMIN_OK) return ret;

	if ((rc = twofa_store_get_user(a->store, a->ctx, name, &user)) != TWOFA_OK) return store_failed(a, rc, name);
	if ((ret = new_password_hash(a->ctx, name, &hash)) != ADMIN_OK) return ret;
	if ((rc = twofa_store_set_password(a->store, name, hash)) != TWOFA_OK) return store_failed(a, rc, name);
	if ((ret = audit(a, "user passwd", name, NULL)) != ADMIN_OK) return ret;
	return done(a, name, "password changed");
}

/** A command that is one store call on one user: del, unlock, totp remove. */
static int one_call(admin_t *a, command_t const *cmd, int argc, char **argv,
		    twofa_rcode_t (*call)(twofa_store_t *, char const *), char const *what)
{
	char		*name, action[32];
	twofa_rcode_t	rc;
	int		ret;

	if ((ret = plain_args(cmd, argc, argv, 1)) != ADMIN_OK) return ret;
	name = argv[optind];
	if ((ret = check_name(name)) != ADMIN_OK) return ret;
	if ((ret = open_store(a, false)) != ADMIN_OK) return ret;

	if ((rc = call(a->store, name)) != TWOFA_OK) return store_failed(a, rc, name);
	snprintf(action, sizeof(action), "%s %s", cmd->name, cmd->sub);
	if ((ret = audit(a, action, name, NULL)) != ADMIN_OK) return ret;
	return done(a, name, what);
}

static int cmd_user_del(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	return one_call(a, cmd, argc, argv, twofa_store_delete_user, "deleted");
}

static int cmd_user_unlock(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	return one_call(a, cmd, argc, argv, twofa_store_unlock, "unlocked");
}

static int cmd_totp_remove(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	return one_call(a, cmd, argc, argv, twofa_store_totp_remove, "TOTP enrolment removed");
}

/*
 *	user list | show
 */
static void user_json(FILE *out, twofa_user_t const *u, time_t now)
{
	char buf[64];

	fputs("{\"name\":", out);
	json_escape(out, u->name);
	fprintf(out, ",\"password\":%s,\"created\":\"%s\",\"totp\":\"%s\"", u->password_hash ? "true" : "false",
		time_text(buf, sizeof(buf), u->created, true), totp_state_name(u->totp_state));
	if (u->totp_state != TWOFA_TOTP_NONE) {
		fprintf(out, ",\"algorithm\":\"%s\",\"digits\":%u,\"period\":%u", twofa_hash_name(u->totp.hash),
			u->totp.digits, u->totp.period);
	} else {
		fputs(",\"algorithm\":null,\"digits\":null,\"period\":null", out);
	}
	fprintf(out, ",\"failures\":%u,\"locks\":%u,\"locked_until\":", u->fail_count, u->lock_count);
	if (u->locked_until > now) fprintf(out, "\"%s\"}", time_text(buf, sizeof(buf), u->locked_until, true));
	else fputs("null}", out);
}

static int cmd_user_list(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	twofa_user_t	**users;
	size_t		count, i, width = 4;
	time_t		now = time(NULL);
	char		params[32], until[64];
	twofa_rcode_t	rc;
	int		ret;

	if ((ret = plain_args(cmd, argc, argv, 0)) != ADMIN_OK) return ret;
	if ((ret = open_store(a, false)) != ADMIN_OK) return ret;
	rc = twofa_store_list_users(a->store, a->ctx, &users, &count);
	if (rc != TWOFA_OK) return store_failed(a, rc, "*");

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
	printf("%-*s  %-9s  %-12s  %-23s  %s\n", (int) width, "NAME", "2FA", "TOTP", "LOCKED UNTIL", "FAILURES");
	for (i = 0; i < count; i++) {
		twofa_user_t const *u = users[i];

		printf("%-*s  %-9s  %-12s  %-23s  %u\n", (int) width, u->name, totp_state_name(u->totp_state),
		       totp_params_text(params, sizeof(params), u),
		       (u->locked_until > now) ? time_text(until, sizeof(until), u->locked_until, false) : "-",
		       u->fail_count);
	}
	return ADMIN_OK;
}

static int cmd_user_show(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	twofa_user_t	*u;
	time_t		now = time(NULL);
	char		buf[64], *name;
	twofa_rcode_t	rc;
	int		ret;

	if ((ret = plain_args(cmd, argc, argv, 1)) != ADMIN_OK) return ret;
	name = argv[optind];
	if ((ret = check_name(name)) != ADMIN_OK) return ret;
	if ((ret = open_store(a, false)) != ADMIN_OK) return ret;
	if ((rc = twofa_store_get_user(a->store, a->ctx, name, &u)) != TWOFA_OK) return store_failed(a, rc, name);

	if (a->json) {
		user_json(stdout, u, now);
		fputc('\n', stdout);
		return ADMIN_OK;
	}
	printf("name:          %s\n", u->name);
	printf("password:      %s\n", u->password_hash ? "set" : "none");
	printf("created:       %s\n", time_text(buf, sizeof(buf), u->created, false));
	printf("2fa:           %s\n", totp_state_name(u->totp_state));
	printf("totp:          %s\n", totp_params_text(buf, sizeof(buf), u));
	printf("failures:      %u\n", u->fail_count);
	printf("locks:         %u\n", u->lock_count);
	printf("locked until:  %s\n",
	       (u->locked_until > now) ? time_text(buf, sizeof(buf), u->locked_until, false) : "-");
	return ADMIN_OK;
}

/*
 *	user import: name,password,base32secret per line.
 */
typedef struct {
	char const	*file;
	bool		progress;		//!< a line per batch on stderr
	size_t		line;
	size_t		imported, with_password, with_totp, skipped;
	size_t		in_batch;		//!< rows read since the last commit
	size_t		committed;		//!< users imported by earlier batches
} import_t;

/** Store the TOTP secret of an imported row as a confirmed SHA1/6/30 enrolment. */
static twofa_rcode_t import_secret(admin_t *a, TALLOC_CTX *tmp, char const *name, uint8_t const *raw, size_t len)
{
	twofa_totp_params_t const params = { .hash = TWOFA_HASH_SHA1, .digits = 6, .period = 30 };
	uint8_t		*sealed;
	size_t		sealed_len;
	twofa_rcode_t	rc;

	rc = twofa_crypto_seal(tmp, a->key, name, raw, len, &sealed, &sealed_len);
	if (rc != TWOFA_OK) return rc;
	return twofa_store_totp_set_confirmed(a->store, name, sealed, sealed_len, &params);
}

/** One row.  A bad row is reported and skipped (ADMIN_REFUSED); ADMIN_ERROR stops the import. */
static int import_row(admin_t *a, import_t *im, char *line)
{
	char		*password, *secret, *hash = NULL;
	uint8_t		raw[TWOFA_SECRET_MAX];
	ssize_t		raw_len = 0;
	TALLOC_CTX	*tmp = NULL;
	twofa_rcode_t	rc = TWOFA_OK;
	int		ret = ADMIN_OK;

	line[strcspn(line, "\r\n")] = '\0';
	if ((line[0] == '\0') || (line[0] == '#')) return ADMIN_OK;

	/* The name ends at the first comma, the secret starts after the last. */
	password = strchr(line, ',');
	secret = strrchr(line, ',');
	if (!password || (password == secret)) {
		return say(ADMIN_REFUSED, "%s line %zu: want name,password,secret", im->file, im->line);
	}
	*password++ = '\0';
	*secret++ = '\0';
	if (!twofa_user_name_valid(line, strlen(line))) {
		return say(ADMIN_REFUSED, "%s line %zu: invalid user name", im->file, im->line);
	}
	if (*secret) {
		raw_len = twofa_base32_decode(secret, raw, sizeof(raw));
		if (raw_len < IMPORT_SECRET_MIN) {
			ret = say(ADMIN_REFUSED, "%s line %zu: the secret must be %d to %d bytes of base32",
				  im->file, im->line, IMPORT_SECRET_MIN, TWOFA_SECRET_MAX);
			goto done;
		}
		if ((ret = load_key(a)) != ADMIN_OK) goto done;
	}

	tmp = talloc_new(a->ctx);
	if (*password) rc = twofa_crypto_hash_password(tmp, password, NULL, &hash);
	if (rc == TWOFA_OK) rc = twofa_store_add_user(a->store, line, hash);
	if ((rc == TWOFA_OK) && (raw_len > 0)) rc = import_secret(a, tmp, line, raw, (size_t) raw_len);

	switch (rc) {
	case TWOFA_OK:
		im->imported++;
		if (hash) im->with_password++;
		if (raw_len > 0) im->with_totp++;
		break;
	case TWOFA_ERR_EXISTS:
		ret = say(ADMIN_REFUSED, "%s line %zu: user \"%s\" already exists", im->file, im->line, line);
		break;
	case TWOFA_ERR_STORE:
	case TWOFA_ERR_BUSY:
		ret = say(ADMIN_ERROR, "%s line %zu: store: %s", im->file, im->line, twofa_store_errmsg(a->store));
		break;
	default:
		ret = say(ADMIN_ERROR, "%s line %zu: %s", im->file, im->line, twofa_strerror(rc));
		break;
	}
done:
	OPENSSL_cleanse(raw, sizeof(raw));
	talloc_free(tmp);
	return ret;
}

/** Commit the rows so far and start the next batch. */
static int import_batch(admin_t *a, import_t *im, bool last)
{
	if (twofa_store_commit(a->store) != TWOFA_OK) {
		return say(ADMIN_ERROR, "store: %s (the last %zu rows were not imported)",
			   twofa_store_errmsg(a->store), im->in_batch);
	}
	im->in_batch = 0;
	im->committed = im->imported;
	if (im->progress && !last) {
		fprintf(stderr, PROGNAME ": %zu rows read, %zu users imported\n", im->line, im->imported);
	}
	if (!last && (twofa_store_begin(a->store) != TWOFA_OK)) {
		return say(ADMIN_ERROR, "store: %s", twofa_store_errmsg(a->store));
	}
	return ADMIN_OK;
}

static int import_summary(admin_t *a, import_t const *im)
{
	char detail[128];

	snprintf(detail, sizeof(detail), "%zu users (%zu with a password, %zu with TOTP)",
		 im->imported, im->with_password, im->with_totp);
	if (im->imported && (audit(a, "user import", NULL, detail) != ADMIN_OK)) return ADMIN_ERROR;
	if (a->json) {
		printf("{\"imported\":%zu,\"with_password\":%zu,\"with_totp\":%zu,\"skipped\":%zu}\n",
		       im->imported, im->with_password, im->with_totp, im->skipped);
	} else {
		printf("imported %s, skipped %zu\n", detail, im->skipped);
	}
	return im->skipped ? ADMIN_REFUSED : ADMIN_OK;
}

static int cmd_user_import(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = { { "progress", no_argument, NULL, 'p' }, OPT_HELP, OPT_END };
	import_t	im = { .progress = isatty(STDERR_FILENO) };
	FILE		*in;
	char		*line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	int		c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'p') return usage_of(cmd, c);
		im.progress = true;
	}
	if (argc - optind != 1) return usage_of(cmd, '?');
	im.file = argv[optind];

	/* Opened before privileges are dropped: root may read what the store's owner cannot. */
	in = (strcmp(im.file, "-") == 0) ? stdin : fopen(im.file, "r");
	if (!in) return say(ADMIN_REFUSED, "cannot read %s: %s", im.file, strerror(errno));
	if (in == stdin) im.file = "stdin";
	if ((ret = open_store(a, false)) != ADMIN_OK) goto done;
	if (twofa_store_begin(a->store) != TWOFA_OK) {
		ret = say(ADMIN_ERROR, "store: %s", twofa_store_errmsg(a->store));
		goto done;
	}

	while ((len = getline(&line, &cap, in)) >= 0) {
		im.line++;
		im.in_batch++;
		ret = import_row(a, &im, line);
		OPENSSL_cleanse(line, (size_t) len);		/* it held a password */
		if (ret == ADMIN_ERROR) break;
		if (ret == ADMIN_REFUSED) im.skipped++;
		if ((im.in_batch == IMPORT_BATCH) && ((ret = import_batch(a, &im, false)) != ADMIN_OK)) break;
	}
	if (ret == ADMIN_ERROR) {
		twofa_store_rollback(a->store);
		say(ADMIN_ERROR, "stopped at %s line %zu; %zu users of earlier batches stay imported",
		    im.file, im.line, im.committed);
		if (im.committed) audit(a, "user import", NULL, "stopped by an error");
		goto done;
	}
	if (ferror(in)) {
		twofa_store_rollback(a->store);
		ret = say(ADMIN_ERROR, "reading %s: %s", im.file, strerror(errno));
		goto done;
	}
	if ((ret = import_batch(a, &im, true)) == ADMIN_OK) ret = import_summary(a, &im);

done:
	if (line) OPENSSL_cleanse(line, cap);
	free(line);
	if (in != stdin) fclose(in);
	return ret;
}

/*
 *	totp enroll | confirm
 */
/** otpauth://totp/ISSUER:NAME?secret=...&issuer=...&algorithm=...&digits=...&period=...
 *  (Google's Key Uri Format).  Holds the secret: wipe it.
 */
static char *otpauth_uri(TALLOC_CTX *ctx, char const *issuer, char const *name, char const *b32,
			 twofa_totp_params_t const *p)
{
	char *i = uri_encode(ctx, issuer), *n = uri_encode(ctx, name);

	if (!i || !n) return NULL;
	return talloc_asprintf(ctx, "otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=%s&digits=%u&period=%u",
			       i, n, b32, i, twofa_hash_name(p->hash), p->digits, p->period);
}

static int show_enrolment(admin_t *a, char const *name, char const *uri, char const *b32,
			  FILE *png, char const *png_path)
{
	size_t i;

	if (png && (qr_write_png(png, uri) != TWOFA_OK)) return say(ADMIN_ERROR, "cannot write %s", png_path);
	if (a->json) {
		fputs("{\"user\":", stdout);
		json_escape(stdout, name);
		fputs(",\"uri\":", stdout);
		json_escape(stdout, uri);
		fputs(",\"secret\":", stdout);
		json_escape(stdout, b32);
		fputs("}\n", stdout);
		return ADMIN_OK;
	}
	printf("%s\n\nsecret: ", uri);
	for (i = 0; b32[i]; i++) {
		if (i && !(i % 4)) putchar(' ');
		putchar(b32[i]);
	}
	fputs("\n\n", stdout);
	if (png) printf("QR code written to %s\n", png_path);
	else if (qr_print_terminal(stdout, uri) != TWOFA_OK) return say(ADMIN_ERROR, "cannot draw the QR code");
	printf("\nScan the code or type the secret into the authenticator app, then confirm with\n"
	       "  " PROGNAME " totp confirm NAME CODE\n");
	return ADMIN_OK;
}

/** Seal a new secret, store it pending, show it once. */
static int enroll(admin_t *a, char const *name, char const *issuer, twofa_totp_params_t const *params,
		  FILE *png, char const *png_path)
{
	twofa_secret_t	*secret;
	uint8_t		*sealed;
	size_t		sealed_len;
	char		b32[TWOFA_BASE32_ENCODED_LEN(TWOFA_SECRET_LEN) + 1], detail[32], *uri;
	twofa_rcode_t	rc;
	int		ret;

	if (!(secret = twofa_secret_alloc(a->ctx, TWOFA_SECRET_LEN))) return say(ADMIN_ERROR, "out of memory");
	rc = twofa_crypto_random(secret->data, secret->len);
	if (rc == TWOFA_OK) rc = twofa_crypto_seal(a->ctx, a->key, name, secret->data, secret->len, &sealed, &sealed_len);
	if (rc != TWOFA_OK) return say(ADMIN_ERROR, "cannot make a secret: %s", twofa_strerror(rc));
	if (twofa_base32_encode(secret->data, secret->len, b32, sizeof(b32)) < 0) {
		return say(ADMIN_ERROR, "cannot encode the secret");
	}
	talloc_free(secret);

	ret = ADMIN_ERROR;
	if (!(uri = otpauth_uri(a->ctx, issuer, name, b32, params))) {
		say(ADMIN_ERROR, "out of memory");
	} else if ((rc = twofa_store_totp_set_pending(a->store, name, sealed, sealed_len, params)) != TWOFA_OK) {
		ret = store_failed(a, rc, name);
	} else {
		snprintf(detail, sizeof(detail), "%s/%u/%u pending", twofa_hash_name(params->hash),
			 params->digits, params->period);
		if ((ret = audit(a, "totp enroll", name, detail)) == ADMIN_OK) {
			ret = show_enrolment(a, name, uri, b32, png, png_path);
		}
	}
	OPENSSL_cleanse(b32, sizeof(b32));
	if (uri) OPENSSL_cleanse(uri, strlen(uri));
	talloc_free(uri);
	return ret;
}

static int cmd_totp_enroll(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = {
		{ "issuer", required_argument, NULL, 'i' }, { "digits", required_argument, NULL, 'd' },
		{ "algorithm", required_argument, NULL, 'a' }, { "period", required_argument, NULL, 'p' },
		{ "png", required_argument, NULL, 'P' }, { "force", no_argument, NULL, 'f' },
		OPT_HELP, OPT_END };
	twofa_totp_params_t params = { .hash = TWOFA_HASH_SHA1, .digits = 6, .period = 30 };
	char const	*issuer = DEFAULT_ISSUER, *png_path = NULL, *name;
	bool		force = false;
	FILE		*png = NULL;
	twofa_user_t	*user;
	twofa_rcode_t	rc;
	int		c, fd, ret = ADMIN_OK;

	while ((ret == ADMIN_OK) && ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)) {
		switch (c) {
		case 'i': issuer = optarg; break;
		case 'd': ret = parse_uint(optarg, "--digits", 6, 8, &params.digits); break;
		case 'p': ret = parse_uint(optarg, "--period", 1, PERIOD_MAX, &params.period); break;
		case 'P': png_path = optarg; break;
		case 'f': force = true; break;
		case 'a':
			if (twofa_hash_from_name(optarg, &params.hash) < 0) {
				ret = say(ADMIN_REFUSED, "--algorithm must be SHA1, SHA256 or SHA512");
			}
			break;
		default: return usage_of(cmd, c);
		}
	}
	if (ret != ADMIN_OK) return ret;
	if (argc - optind != 1) return usage_of(cmd, '?');
	if (params.digits == 7) return say(ADMIN_REFUSED, "--digits must be 6 or 8");
	if (!*issuer || strchr(issuer, ':')) return say(ADMIN_REFUSED, "--issuer must not be empty or hold a ':'");
	name = argv[optind];
	if ((ret = check_name(name)) != ADMIN_OK) return ret;

	/* The PNG holds the secret: owner-only, and opened before privileges are dropped. */
	if (png_path) {
		fd = open(png_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
		if ((fd < 0) || !(png = fdopen(fd, "wb"))) {
			if (fd >= 0) close(fd);
			return say(ADMIN_REFUSED, "cannot write %s: %s", png_path, strerror(errno));
		}
	}
	if (((ret = open_store(a, false)) != ADMIN_OK) || ((ret = load_key(a)) != ADMIN_OK)) goto done;

	rc = twofa_store_get_user(a->store, a->ctx, name, &user);
	if (rc != TWOFA_OK) {
		ret = store_failed(a, rc, name);
	} else if ((user->totp_state == TWOFA_TOTP_CONFIRMED) && !force) {
		ret = say(ADMIN_REFUSED, "user \"%s\" already has a confirmed authenticator "
			  "(\"totp remove\" it first, or --force)", name);
	} else {
		ret = enroll(a, name, issuer, &params, png, png_path);
	}
done:
	if (png && (fclose(png) != 0) && (ret == ADMIN_OK)) ret = say(ADMIN_ERROR, "cannot write %s", png_path);
	return ret;
}

static int cmd_totp_confirm(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	twofa_user_t	*user;
	twofa_secret_t	*secret;
	int64_t		step;
	char		*name, *code;
	twofa_rcode_t	rc;
	int		ret;

	if ((ret = plain_args(cmd, argc, argv, 2)) != ADMIN_OK) return ret;
	name = argv[optind];
	code = argv[optind + 1];
	if ((ret = check_name(name)) != ADMIN_OK) return ret;
	if (((ret = open_store(a, false)) != ADMIN_OK) || ((ret = load_key(a)) != ADMIN_OK)) return ret;

	if ((rc = twofa_store_get_user(a->store, a->ctx, name, &user)) != TWOFA_OK) return store_failed(a, rc, name);
	if (user->totp_state != TWOFA_TOTP_PENDING) {
		return say(ADMIN_REFUSED, "user \"%s\" has no pending enrolment (see \"totp enroll\")", name);
	}
	if (!twofa_code_well_formed(code, strlen(code), user->totp.digits)) {
		return say(ADMIN_REFUSED, "the code must be %u digits", user->totp.digits);
	}
	rc = twofa_crypto_open(a->ctx, a->key, name, user->totp_sealed, user->totp_sealed_len, &secret);
	if (rc != TWOFA_OK) return say(ADMIN_ERROR, "cannot decrypt the secret of \"%s\" (another key file?)", name);

	rc = twofa_totp_verify_code(secret->data, secret->len, &user->totp, 1, time(NULL), user->totp_last_step,
				    code, &step);
	talloc_free(secret);
	switch (rc) {
	case TWOFA_OK:
		break;
	case TWOFA_ERR_BAD_CODE:
	case TWOFA_ERR_REPLAYED:
	case TWOFA_ERR_MALFORMED:
		return say(ADMIN_REFUSED, "code does not match; enrolment stays pending");
	default:
		return say(exit_status(rc), "cannot check the code: %s", twofa_strerror(rc));
	}
	if ((rc = twofa_store_totp_confirm(a->store, name, step)) != TWOFA_OK) return store_failed(a, rc, name);
	if ((ret = audit(a, "totp confirm", name, NULL)) != ADMIN_OK) return ret;
	return done(a, name, "TOTP enrolment confirmed");
}

/*
 *	The commands, and main.
 */
static command_t const commands[] = {
	{ "init", NULL, cmd_init, "[--owner USER]", "create the store and the key file, keep existing ones" },
	{ "user", "add", cmd_user_add, "NAME [--no-password]", "add a user; password from the terminal or stdin" },
	{ "user", "passwd", cmd_user_passwd, "NAME", "set a user's password" },
	{ "user", "del", cmd_user_del, "NAME", "delete a user and their enrolment" },
	{ "user", "list", cmd_user_list, "", "list users: 2FA state, lock, failures" },
	{ "user", "show", cmd_user_show, "NAME", "show one user" },
	{ "user", "unlock", cmd_user_unlock, "NAME", "lift a lockout and reset the failure count" },
	{ "user", "import", cmd_user_import, "FILE|- [--progress]", "add users from CSV: name,password,base32secret" },
	{ "totp", "enroll", cmd_totp_enroll, "NAME [--issuer ISSUER] [--digits 6|8] [--algorithm SHA1|SHA256|SHA512] "
	  "[--period SECONDS] [--png FILE] [--force]", "new secret, pending: URI, secret, QR code" },
	{ "totp", "confirm", cmd_totp_confirm, "NAME CODE", "confirm a pending enrolment with a code from the app" },
	{ "totp", "remove", cmd_totp_remove, "NAME", "remove a user's authenticator (lost phone)" },
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
	      "  -k, --key-file PATH  the key file (default $TWOFA_KEY, else twofa.key beside the store)\n"
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
		{ "json", no_argument, NULL, 'j' }, { "version", no_argument, NULL, 'V' }, OPT_HELP, OPT_END };
	admin_t			a = { .json = false };
	command_t const		*cmd;
	char const		*env;
	int			c, words = 0, ret;

	umask(027);		/* the store holds password hashes: nothing for others */
	if (!(a.ctx = talloc_new(NULL))) return ADMIN_ERROR;
	a.store_path = ((env = getenv("TWOFA_STORE")) && *env) ? env : DEFAULT_STORE;
	a.key_path = ((env = getenv("TWOFA_KEY")) && *env) ? env : NULL;

	while ((c = getopt_long(argc, argv, "+s:k:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': a.store_path = optarg; break;
		case 'k': a.key_path = optarg; break;
		case 'j': a.json = true; break;
		case 'V': printf(PROGNAME " (rlm_twofa) " PACKAGE_VERSION "\n"); return ADMIN_OK;
		case 'h': usage(stdout, NULL); return ADMIN_OK;
		default: usage(stderr, NULL); return ADMIN_REFUSED;
		}
	}
	if (!a.key_path) a.key_path = talloc_asprintf(a.ctx, "%s/twofa.key", dir_of(a.ctx, store_file(&a)));
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
