/*
 * common.c	What every twofa-admin command uses: messages and exit
 *		status, argument checks, output helpers, the store, the key
 *		file, privileges, the audit log, passwords from the terminal.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "admin.h"
#include "../radconf.h"
#include "../../rlm_twofa/policy.h"

/*
 *	Messages and exit status.
 */
int exit_status(twofa_rcode_t rc)
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
	case TWOFA_ERR_DENIED:		/* the directory's, not the store's */
	case TWOFA_ERR_UNAVAILABLE:
		return ADMIN_ERROR;
	}
	return ADMIN_ERROR;
}

/** "twofa-admin: MESSAGE" on stderr; returns status for the caller to return. */
int say(int status, char const *fmt, ...)
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
int store_failed(admin_t *a, twofa_rcode_t rc, char const *name)
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

int usage_of(command_t const *cmd, int opt)
{
	FILE *out = (opt == 'h') ? stdout : stderr;

	fprintf(out, "Usage: " PROGNAME " %s%s%s%s%s\n", cmd->name, cmd->sub ? " " : "",
		cmd->sub ? cmd->sub : "", *cmd->args ? " " : "", cmd->args);
	return (opt == 'h') ? ADMIN_OK : ADMIN_REFUSED;
}

int check_name(char const *name)
{
	if (twofa_user_name_valid(name, strlen(name))) return ADMIN_OK;
	return say(ADMIN_REFUSED, "invalid user name: 1 to %d bytes of UTF-8, no control characters",
		   TWOFA_USER_NAME_MAX);
}

/*
 *	Output helpers.
 */
/** s as a JSON string, quotes included.  Names may hold quotes, backslashes, anything. */
void json_escape(FILE *out, char const *s)
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
char *uri_encode(TALLOC_CTX *ctx, char const *s)
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
char const *time_text(char *buf, size_t len, time_t t, bool utc)
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

/** "none", "pending" or "confirmed": the state of the user's factor of kind. */
char const *factor_state_name(twofa_user_t const *u, twofa_factor_kind_t kind)
{
	twofa_factor_t const *f = twofa_user_factor(u, kind);

	if (!f) return "none";
	return f->confirmed ? "confirmed" : "pending";
}

/** "SHA1/6/30", or "-" without a TOTP factor. */
char const *totp_params_text(char *buf, size_t len, twofa_user_t const *u)
{
	twofa_factor_t const *f = twofa_user_factor(u, TWOFA_FACTOR_TOTP);

	if (!f) return "-";
	snprintf(buf, len, "%s/%u/%u", twofa_hash_name(f->totp.hash), f->totp.digits, f->totp.period);
	return buf;
}

/** A change done: one line, or one JSON object. */
int done(admin_t *a, char const *name, char const *what)
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
char const *store_file(admin_t const *a)
{
	return (strncmp(a->store_path, "sqlite:", 7) == 0) ? a->store_path + 7 : a->store_path;
}

bool store_is_server(char const *url)
{
	return strncmp(url, "postgresql:", 11) == 0;
}

char *dir_of(TALLOC_CTX *ctx, char const *path)
{
	char const *slash = strrchr(path, '/');

	if (!slash) return talloc_strdup(ctx, ".");
	if (slash == path) return talloc_strdup(ctx, "/");
	return talloc_strndup(ctx, path, slash - path);
}

/** Drop root for good: uid and gid, supplementary groups only gid. */
int become(uid_t uid, gid_t gid)
{
	if ((setgroups(1, &gid) < 0) || (setgid(gid) < 0) || (setuid(uid) < 0) || (setuid(0) == 0)) {
		return say(ADMIN_ERROR, "cannot become the store's owner (uid %u): %s", (unsigned int) uid, strerror(errno));
	}
	return ADMIN_OK;
}

/** As root, become the owner of the store's directory before SQLite opens the
 *  store, so that its -wal and -shm files are never created as root: radiusd,
 *  running as that owner, could not open them.  For a postgresql:// store, the
 *  owner of the key file's directory: the key and the database's password file
 *  are radiusd's, mode 0600.
 */
int drop_to_store_owner(admin_t *a)
{
	struct stat	st;
	struct passwd	*pw;

	/* A database server's store has no folder here: the key's folder says whose it is. */
	char const	*dir = dir_of(a->ctx, store_is_server(a->store_path) ? a->key_path : store_file(a));

	if (geteuid() != 0) return ADMIN_OK;
	if (stat(dir, &st) < 0) return ADMIN_OK;	/* opening will say why */
	if (st.st_uid == 0) return ADMIN_OK;

	pw = getpwuid(st.st_uid);
	return become(st.st_uid, pw ? pw->pw_gid : st.st_gid);
}

int open_store(admin_t *a, bool create)
{
	twofa_store_config_t	config = {
		.url = a->store_path, .create = create, .sqlite.busy_timeout_ms = BUSY_TIMEOUT_MS,
		.postgresql.password_file = a->db_password_file, .postgresql.statement_timeout_ms = BUSY_TIMEOUT_MS,
		.postgresql.pool_size = 2
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

int load_key(admin_t *a)
{
	char err[256] = "";

	if (a->key_loaded) return ADMIN_OK;
	if (twofa_crypto_load_key(a->key_path, a->key, err, sizeof(err)) != TWOFA_OK) {
		return say(ADMIN_ERROR, "key file %s: %s", a->key_path, err);
	}
	a->key_loaded = true;
	return ADMIN_OK;
}

int audit(admin_t *a, char const *action, char const *name, char const *detail)
{
	if (twofa_store_audit(a->store, a->actor, action, name, detail) == TWOFA_OK) return ADMIN_OK;
	return say(ADMIN_ERROR, "%s done, but the audit log was not written: %s", action,
		   twofa_store_errmsg(a->store));
}

/** The login name of whoever invoked us, through sudo or not. */
char const *invoking_user(TALLOC_CTX *ctx)
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
bool read_line(FILE *fp, char *buf, size_t len)
{
	size_t n;

	if (!fgets(buf, (int) len, fp)) return false;
	n = strcspn(buf, "\r\n");
	if ((buf[n] == '\0') && (n == len - 1) && !feof(fp)) return false;
	buf[n] = '\0';
	return true;
}

bool prompt_hidden(char const *prompt, char *buf, size_t len)
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
int read_password(char const *name, char *buf)
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
int new_password_hash(TALLOC_CTX *ctx, char const *name, char **hash)
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

/** Options of a command that has none but --help; then exactly nargs arguments
 *  (any number for -1: the caller counts them).
 */
int plain_args(command_t const *cmd, int argc, char **argv, int nargs)
{
	static struct option const opts[] = { OPT_HELP, OPT_END };
	int c;

	if ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) return usage_of(cmd, c);
	if ((nargs >= 0) && (argc - optind != nargs)) return usage_of(cmd, '?');
	return ADMIN_OK;
}

/*
 *	A login finds a user by the name's bytes, then in any ASCII case
 *	(store.h); so does every command on a user: "user reset ALICE"
 *	resets the alice who logs in as ALICE, and the audit names alice.
 *	A name found neither way stays as typed (the command then says there
 *	is no such user).
 */
int stored_name(admin_t *a, char **name, twofa_user_t **out)
{
	twofa_user_t	*user = NULL;
	twofa_rcode_t	rc = twofa_store_get_user(a->store, a->ctx, *name, &user);

	if (out) *out = NULL;
	if (rc == TWOFA_ERR_NOT_FOUND) return ADMIN_OK;
	if (rc != TWOFA_OK) return store_failed(a, rc, *name);
	if ((strcmp(user->name, *name) != 0) && !(*name = talloc_strdup(a->ctx, user->name))) {
		return say(ADMIN_ERROR, "out of memory");
	}
	if (out) *out = user;
	return ADMIN_OK;
}

int name_and_store(admin_t *a, command_t const *cmd, int argc, char **argv, char **name, twofa_user_t **user)
{
	int ret;

	if ((ret = plain_args(cmd, argc, argv, 1)) != ADMIN_OK) return ret;
	*name = argv[optind];
	if ((ret = check_name(*name)) != ADMIN_OK) return ret;
	if ((ret = open_store(a, false)) != ADMIN_OK) return ret;
	return stored_name(a, name, user);
}

int parse_uint(char const *text, char const *what, unsigned int min, unsigned int max, unsigned int *out)
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

/** A command that is one store call on one user: del, unlock, totp remove. */
int one_call(admin_t *a, command_t const *cmd, int argc, char **argv,
		    twofa_rcode_t (*call)(twofa_store_t *, char const *), char const *what)
{
	char		*name, action[32];
	twofa_rcode_t	rc;
	int		ret;

	if ((ret = name_and_store(a, cmd, argc, argv, &name, NULL)) != ADMIN_OK) return ret;

	if ((rc = call(a->store, name)) != TWOFA_OK) return store_failed(a, rc, name);
	snprintf(action, sizeof(action), "%s %s", cmd->name, cmd->sub);
	if ((ret = audit(a, action, name, NULL)) != ADMIN_OK) return ret;
	return done(a, name, what);
}

#define MODULE_CONFIG_MAX	(1024 * 1024)	//!< bytes of the module's file read

int module_subsection(admin_t *a, char const *path, char const *name, radconf_item_t const **section)
{
	FILE			*fp = fopen(path, "r");
	char			*text, err[256];
	size_t			len;
	radconf_item_t const	*root, *module;

	*section = NULL;
	if (!fp) return say(ADMIN_REFUSED, "cannot read the module's configuration %s: %s", path, strerror(errno));
	text = talloc_array(a->ctx, char, MODULE_CONFIG_MAX + 1);
	len = text ? fread(text, 1, MODULE_CONFIG_MAX + 1, fp) : 0;
	fclose(fp);
	if (!text) return say(ADMIN_ERROR, "out of memory");
	if (len > MODULE_CONFIG_MAX) {
		OPENSSL_cleanse(text, MODULE_CONFIG_MAX + 1);
		return say(ADMIN_REFUSED, "%s: larger than %d bytes", path, MODULE_CONFIG_MAX);
	}

	root = radconf_parse(a->ctx, text, len, err, sizeof(err));
	OPENSSL_cleanse(text, len);		/* it holds the gateways' and the directory's secrets */
	if (!root) return say(ADMIN_REFUSED, "%s: %s", path, err);
	if (!(module = radconf_section(root, "twofa", NULL))) {
		return say(ADMIN_REFUSED, "%s: no \"twofa { }\" section", path);
	}
	*section = radconf_section(module, name, NULL);
	return ADMIN_OK;
}
