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

#include "../rlm_twofa/backup.h"
#include "../rlm_twofa/base32.h"
#include "../rlm_twofa/crypto.h"
#include "../rlm_twofa/policy.h"
#include "../rlm_twofa/store.h"
#include "../rlm_twofa/totp.h"
#include "../rlm_twofa/twofa.h"
#include "import_csv.h"
#include "qr.h"
#include "since.h"

#ifndef PACKAGE_VERSION
#  define PACKAGE_VERSION "unknown"
#endif

#define PROGNAME		"twofa-admin"
#define DEFAULT_STORE		"/var/lib/freeradius/twofa/twofa.db"
#define DEFAULT_OWNER		"freerad"	//!< the user radiusd runs as on Debian
#define DEFAULT_ISSUER		"rlm_twofa"
#define BUSY_TIMEOUT_MS		5000
#define PASSWORD_MAX		1024		//!< bytes, newline included
#define IMPORT_BATCH_ROWS	1000		//!< rows per transaction at most
#define IMPORT_BATCH_HASHES	32		//!< passwords per transaction at most (~1 s of yescrypt)
#define IMPORT_PROGRESS_SECONDS	2		//!< at most one progress line this often
#define PERIOD_MAX		300
#define BACKUP_COUNT_DEFAULT	10

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

/** Drop root for good: uid and gid, supplementary groups only gid. */
static int become(uid_t uid, gid_t gid)
{
	if ((setgroups(1, &gid) < 0) || (setgid(gid) < 0) || (setuid(uid) < 0) || (setuid(0) == 0)) {
		return say(ADMIN_ERROR, "cannot become the store's owner (uid %u): %s", (unsigned int) uid, strerror(errno));
	}
	return ADMIN_OK;
}

/** As root, become the owner of the store's directory before SQLite opens the
 *  store, so that its -wal and -shm files are never created as root: radiusd,
 *  running as that owner, could not open them.
 */
static int drop_to_store_owner(admin_t *a)
{
	struct stat	st;
	struct passwd	*pw;

	if (geteuid() != 0) return ADMIN_OK;
	if (stat(dir_of(a->ctx, store_file(a)), &st) < 0) return ADMIN_OK;	/* opening will say why */
	if (st.st_uid == 0) return ADMIN_OK;

	pw = getpwuid(st.st_uid);
	return become(st.st_uid, pw ? pw->pw_gid : st.st_gid);
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

/** Options of a command that has none but --help; then exactly nargs arguments
 *  (any number for -1: the caller counts them).
 */
static int plain_args(command_t const *cmd, int argc, char **argv, int nargs)
{
	static struct option const opts[] = { OPT_HELP, OPT_END };
	int c;

	if ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) return usage_of(cmd, c);
	if ((nargs >= 0) && (argc - optind != nargs)) return usage_of(cmd, '?');
	return ADMIN_OK;
}

/** A command that takes one user NAME and nothing else: check it, open the store. */
static int name_and_store(admin_t *a, command_t const *cmd, int argc, char **argv, char **name)
{
	int ret;

	if ((ret = plain_args(cmd, argc, argv, 1)) != ADMIN_OK) return ret;
	*name = argv[optind];
	if ((ret = check_name(*name)) != ADMIN_OK) return ret;
	return open_store(a, false);
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
 *
 *	Run as root over a directory whose parent (or itself, on a second run)
 *	belongs to another account, such as freerad: that account can plant a
 *	symlink or a hard link where the directory, the key or the store should
 *	be, so that root hands it the link's target.  So every name is opened
 *	without following a symlink, checked, and changed through its
 *	descriptor (fchown, fchmod), never by path.
 */
typedef struct {
	char const	*path;			//!< as given, for messages
	int		dfd;			//!< its directory, opened O_NOFOLLOW
	char const	*base;			//!< its name in that directory
} entry_t;

/** "is a symbolic link" or "is not a directory": why path cannot be opened as one. */
static int not_a_directory(char const *path)
{
	struct stat st;

	if ((lstat(path, &st) == 0) && S_ISLNK(st.st_mode)) {
		return say(ADMIN_ERROR, "%s is a symbolic link: refused, give the real path", path);
	}
	return say(ADMIN_ERROR, "%s is not a directory", path);
}

/** Open the directory path itself, never what a symlink in its place points to. */
static int open_dir_nofollow(char const *path, int *fd)
{
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd >= 0) return ADMIN_OK;
	if ((errno == ELOOP) || (errno == ENOTDIR)) return not_a_directory(path);
	return say(ADMIN_ERROR, "cannot open directory %s: %s", path, strerror(errno));
}

/** mkdir -p: missing parents 0755, the directory itself 0750.  Each new
 *  directory gets its mode through a descriptor (the umask takes bits off
 *  mkdir's).  What exists is left as it is: open_dir_nofollow judges it.
 */
static int make_dirs(TALLOC_CTX *ctx, char const *dir, mode_t mode)
{
	struct stat	st;
	char		*parent;
	int		fd, ret;

	if (lstat(dir, &st) == 0) return ADMIN_OK;
	parent = dir_of(ctx, dir);
	if ((strcmp(parent, dir) != 0) && ((ret = make_dirs(ctx, parent, 0755)) != ADMIN_OK)) return ret;
	if (mkdir(dir, mode) < 0) return say(ADMIN_ERROR, "cannot create directory %s: %s", dir, strerror(errno));
	if ((ret = open_dir_nofollow(dir, &fd)) != ADMIN_OK) return ret;
	if (fchmod(fd, mode) < 0) ret = say(ADMIN_ERROR, "cannot chmod %s: %s", dir, strerror(errno));
	close(fd);
	return ret;
}

/** Open e's file for fchown: a regular file with one link, not a symlink.
 *  *fd is -1 if there is no such file.
 */
static int open_entry(entry_t const *e, int *fd)
{
	struct stat st;

	*fd = -1;
	if (fstatat(e->dfd, e->base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT) return ADMIN_OK;
		return say(ADMIN_ERROR, "cannot stat %s: %s", e->path, strerror(errno));
	}
	if (S_ISLNK(st.st_mode)) {
		return say(ADMIN_ERROR, "%s is a symbolic link: refused, remove it or give the real path", e->path);
	}
	if (!S_ISREG(st.st_mode)) return say(ADMIN_ERROR, "%s is not a regular file", e->path);

	*fd = openat(e->dfd, e->base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (*fd < 0) {
		if (errno == ELOOP) return say(ADMIN_ERROR, "%s is a symbolic link: refused", e->path);
		return say(ADMIN_ERROR, "cannot open %s: %s", e->path, strerror(errno));
	}
	/* A hard link can be to anyone's file, /etc/shadow included. */
	if ((fstat(*fd, &st) < 0) || !S_ISREG(st.st_mode) || (st.st_nlink != 1)) {
		close(*fd);
		*fd = -1;
		return say(ADMIN_ERROR, "%s has other hard links or is not a regular file: refused", e->path);
	}
	return ADMIN_OK;
}

/** Check e's file, if there is one, and hand it to owner (may be NULL: check only). */
static int check_entry(entry_t const *e, struct passwd const *owner)
{
	int fd, ret;

	if (((ret = open_entry(e, &fd)) != ADMIN_OK) || (fd < 0)) return ret;
	if (owner && (fchown(fd, owner->pw_uid, owner->pw_gid) < 0)) {
		ret = say(ADMIN_ERROR, "cannot chown %s: %s", e->path, strerror(errno));
	}
	close(fd);
	return ret;
}

/** The key file, the store and SQLite's files beside it. */
#define INIT_ENTRIES 5

static void init_entries(admin_t *a, int store_dfd, int key_dfd, entry_t entries[INIT_ENTRIES])
{
	static char const *suffixes[] = { "", "-wal", "-shm", "-journal" };
	char const	*store = store_file(a), *slash;
	size_t		i;

	slash = strrchr(a->key_path, '/');
	entries[0] = (entry_t) { .path = a->key_path, .dfd = key_dfd, .base = slash ? slash + 1 : a->key_path };
	for (i = 0; i < INIT_ENTRIES - 1; i++) {
		char const *path = talloc_asprintf(a->ctx, "%s%s", store, suffixes[i]);

		slash = strrchr(path, '/');
		entries[i + 1] = (entry_t) { .path = path, .dfd = store_dfd, .base = slash ? slash + 1 : path };
	}
}

/** Create the key file in the directory open as e->dfd, whatever its path points to by now. */
static twofa_rcode_t create_key_in(entry_t const *e, char *err, size_t err_len)
{
	twofa_rcode_t	rc;
	int		cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if ((cwd < 0) || (fchdir(e->dfd) < 0)) {
		snprintf(err, err_len, "cannot enter its directory: %s", strerror(errno));
		if (cwd >= 0) close(cwd);
		return TWOFA_ERR_IO;
	}
	rc = twofa_crypto_create_key_file(e->base, err, err_len);
	if (fchdir(cwd) < 0) {
		snprintf(err, err_len, "cannot return to the working directory: %s", strerror(errno));
		rc = TWOFA_ERR_IO;
	}
	close(cwd);
	return rc;
}

/** An empty store file, created in the checked directory, never through a symlink;
 *  SQLite makes the schema in it.  *created says whether there was none.
 */
static int create_store_file(entry_t const *e, bool *created)
{
	int fd = openat(e->dfd, e->base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);

	*created = (fd >= 0);
	if (fd >= 0) {
		close(fd);
		return ADMIN_OK;
	}
	if (errno == EEXIST) return ADMIN_OK;		/* checked by open_entry already */
	return say(ADMIN_ERROR, "cannot create %s: %s", e->path, strerror(errno));
}

static int init_print(admin_t *a, struct passwd const *owner, bool store_created, bool key_created)
{
	if (a->json) {
		fputs("{\"store\":", stdout);
		json_escape(stdout, store_file(a));
		printf(",\"store_created\":%s,\"key_file\":", store_created ? "true" : "false");
		json_escape(stdout, a->key_path);
		printf(",\"key_created\":%s,\"owner\":", key_created ? "true" : "false");
		if (owner) json_escape(stdout, owner->pw_name);
		else fputs("null", stdout);
		fputs("}\n", stdout);
		return ADMIN_OK;
	}
	printf("store %s: %s (schema %d)\n", store_file(a), store_created ? "created" : "exists, kept",
	       twofa_store_schema_version(a->store));
	printf("key file %s: %s\n", a->key_path, key_created ? "created" : "exists, kept");
	if (owner) printf("owner: %s\n", owner->pw_name);
	return ADMIN_OK;
}

/** Directories, key and store file, each checked then handed to owner (if any). */
static int init_files(admin_t *a, struct passwd const *owner, bool *store_created, bool *key_created)
{
	char const	*dir = dir_of(a->ctx, store_file(a)), *key_dir = dir_of(a->ctx, a->key_path);
	entry_t		entries[INIT_ENTRIES];
	char		err[256] = "";
	int		store_dfd = -1, key_dfd = -1, ret;
	size_t		i;
	twofa_rcode_t	rc;

	if ((ret = make_dirs(a->ctx, dir, 0750)) != ADMIN_OK) return ret;
	if ((ret = open_dir_nofollow(dir, &store_dfd)) != ADMIN_OK) return ret;
	if ((strcmp(key_dir, dir) != 0) && ((ret = open_dir_nofollow(key_dir, &key_dfd)) != ADMIN_OK)) goto done;
	init_entries(a, store_dfd, (key_dfd >= 0) ? key_dfd : store_dfd, entries);

	/* Refuse a planted link before creating or changing anything. */
	for (i = 0; i < INIT_ENTRIES; i++) if ((ret = check_entry(&entries[i], NULL)) != ADMIN_OK) goto done;

	rc = create_key_in(&entries[0], err, sizeof(err));
	if ((rc != TWOFA_OK) && (rc != TWOFA_ERR_EXISTS)) {
		ret = say(ADMIN_ERROR, "key file %s: %s", a->key_path, err);
		goto done;
	}
	*key_created = (rc == TWOFA_OK);
	if ((ret = create_store_file(&entries[1], store_created)) != ADMIN_OK) goto done;

	if (owner && (fchown(store_dfd, owner->pw_uid, owner->pw_gid) < 0)) {
		ret = say(ADMIN_ERROR, "cannot chown %s: %s", dir, strerror(errno));
		goto done;
	}
	for (i = 0; i < INIT_ENTRIES; i++) if ((ret = check_entry(&entries[i], owner)) != ADMIN_OK) goto done;
done:
	if (key_dfd >= 0) close(key_dfd);
	close(store_dfd);
	return ret;
}

static int cmd_init(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = { { "owner", required_argument, NULL, 'o' }, OPT_HELP, OPT_END };
	char const	*owner_name = NULL;
	struct passwd	*owner = NULL;
	bool		key_created = false, store_created = false;
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

	if ((ret = init_files(a, owner, &store_created, &key_created)) != ADMIN_OK) return ret;
	/* SQLite creates the schema, -wal and -shm as the owner, not as root. */
	if (owner && (owner->pw_uid != 0) && ((ret = become(owner->pw_uid, owner->pw_gid)) != ADMIN_OK)) return ret;
	if ((ret = open_store(a, true)) != ADMIN_OK) return ret;
	if ((ret = audit(a, "init", NULL, store_created ? "store created" : "store kept")) != ADMIN_OK) return ret;
	return init_print(a, owner, store_created, key_created);
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

	if ((ret = name_and_store(a, cmd, argc, argv, &name)) != ADMIN_OK) return ret;

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

	if ((ret = name_and_store(a, cmd, argc, argv, &name)) != ADMIN_OK) return ret;

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

/** user 2fa NAME off|on: exempt a user from the second factor, or no longer. */
static int cmd_user_2fa(admin_t *a, command_t const *cmd, int argc, char **argv)
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
	if ((ret = open_store(a, false)) != ADMIN_OK) return ret;

	if ((rc = twofa_store_set_exempt(a->store, name, exempt)) != TWOFA_OK) return store_failed(a, rc, name);
	if ((ret = audit(a, "user 2fa", name, exempt ? "off: exempt" : "on: not exempt")) != ADMIN_OK) return ret;
	return done(a, name, exempt ? "exempt from the second factor" : "second factor required");
}

/** user reset NAME: every factor gone, every counter back to 0; the user enrolls again. */
static int cmd_user_reset(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	char		*name, detail[64];
	bool		totp_removed = false;
	unsigned int	voided = 0;
	twofa_rcode_t	rc;
	int		ret;

	if ((ret = name_and_store(a, cmd, argc, argv, &name)) != ADMIN_OK) return ret;

	rc = twofa_store_reset_user(a->store, name, &totp_removed, &voided);
	if (rc != TWOFA_OK) return store_failed(a, rc, name);
	snprintf(detail, sizeof(detail), "%s, %u unused backup codes voided, counters reset",
		 totp_removed ? "TOTP removed" : "no TOTP", voided);
	if ((ret = audit(a, "user reset", name, detail)) != ADMIN_OK) return ret;
	return done(a, name, "reset: factors removed, counters reset");
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
	if (u->locked_until > now) fprintf(out, "\"%s\"", time_text(buf, sizeof(buf), u->locked_until, true));
	else fputs("null", out);
	fprintf(out, ",\"backup_codes\":%u", u->backup_codes_left);
	fprintf(out, ",\"password_failures\":%u,\"password_wait_until\":", u->password_failures);
	if (u->password_next_try > now) fprintf(out, "\"%s\"", time_text(buf, sizeof(buf), u->password_next_try, true));
	else fputs("null", out);
	fprintf(out, ",\"exempt\":%s}", u->exempt ? "true" : "false");
}

/** No second factor in use (a confirmed TOTP or an unused backup code), and not exempt. */
static bool without_2fa(twofa_user_t const *u)
{
	return !u->exempt && (u->totp_state != TWOFA_TOTP_CONFIRMED) && (u->backup_codes_left == 0);
}

static int cmd_user_list(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = {
		{ "without-2fa", no_argument, NULL, 'w' }, { "locked", no_argument, NULL, 'l' }, OPT_HELP, OPT_END };
	twofa_user_t	**users;
	size_t		count, i, shown = 0, width = 4;
	time_t		now = time(NULL);
	char		params[32], until[64];
	bool		only_without_2fa = false, only_locked = false;
	twofa_rcode_t	rc;
	int		c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'w') only_without_2fa = true;
		else if (c == 'l') only_locked = true;
		else return usage_of(cmd, c);
	}
	if (argc != optind) return usage_of(cmd, '?');
	if ((ret = open_store(a, false)) != ADMIN_OK) return ret;
	rc = twofa_store_list_users(a->store, a->ctx, &users, &count);
	if (rc != TWOFA_OK) return store_failed(a, rc, "*");

	/* Keep the users every filter given lets through, in place. */
	for (i = 0; i < count; i++) {
		if (only_without_2fa && !without_2fa(users[i])) continue;
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
	printf("%-*s  %-9s  %-12s  %-6s  %-6s  %-23s  %s\n", (int) width, "NAME", "TOTP", "PARAMS", "BACKUP",
	       "EXEMPT", "LOCKED UNTIL", "FAILURES");
	for (i = 0; i < count; i++) {
		twofa_user_t const *u = users[i];

		printf("%-*s  %-9s  %-12s  %-6u  %-6s  %-23s  %u\n", (int) width, u->name, totp_state_name(u->totp_state),
		       totp_params_text(params, sizeof(params), u), u->backup_codes_left, u->exempt ? "yes" : "no",
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

	if ((ret = name_and_store(a, cmd, argc, argv, &name)) != ADMIN_OK) return ret;
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
	printf("backup codes:  %u left\n", u->backup_codes_left);
	printf("exempt:        %s\n", u->exempt ? "yes (first factor alone)" : "no");
	printf("failures:      %u\n", u->fail_count);
	printf("locks:         %u\n", u->lock_count);
	printf("locked until:  %s\n",
	       (u->locked_until > now) ? time_text(buf, sizeof(buf), u->locked_until, false) : "-");
	printf("bad passwords: %u\n", u->password_failures);
	printf("password wait: %s\n",
	       (u->password_next_try > now) ? time_text(buf, sizeof(buf), u->password_next_try, false) : "-");
	return ADMIN_OK;
}

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

static int cmd_log(admin_t *a, command_t const *cmd, int argc, char **argv)
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

/*
 *	user import: name,password,base32secret per line.
 *
 *	Each password costs a yescrypt hash (tens of milliseconds).  Rows are
 *	read, hashed and sealed with no transaction open, then inserted in one
 *	short transaction per batch, so that radiusd, which needs the write
 *	lock in round two, waits milliseconds for it, never the whole import.
 */
typedef struct {
	size_t		line;
	char		*name;
	char		*hash;			//!< NULL: no password
	uint8_t		*sealed;		//!< NULL: no TOTP
	size_t		sealed_len;
} import_row_t;

typedef struct {
	char const	*file;
	bool		progress;		//!< a line now and then on stderr
	time_t		last_progress;
	size_t		line;
	size_t		imported, with_password, with_totp, skipped;

	TALLOC_CTX	*batch;			//!< the rows below, freed after each commit
	import_row_t	rows[IMPORT_BATCH_ROWS];
	size_t		in_batch, hashed_in_batch;
} import_t;

/** Read one line into the batch: checked, hashed, sealed.  A bad row is
 *  reported and skipped (ADMIN_REFUSED); ADMIN_ERROR stops the import.
 */
static int import_read_row(admin_t *a, import_t *im, char *line)
{
	import_row_t		*row = &im->rows[im->in_batch];
	twofa_import_row_t	parsed;
	twofa_rcode_t		rc = TWOFA_OK;
	int			ret = ADMIN_OK;

	switch (twofa_import_parse_line(line, &parsed)) {
	case TWOFA_IMPORT_ROW:
		break;
	case TWOFA_IMPORT_NOTHING:
		return ADMIN_OK;
	case TWOFA_IMPORT_BAD_FORM:
		return say(ADMIN_REFUSED, "%s line %zu: want name,password,secret", im->file, im->line);
	case TWOFA_IMPORT_BAD_NAME:
		return say(ADMIN_REFUSED, "%s line %zu: invalid user name", im->file, im->line);
	case TWOFA_IMPORT_BAD_SECRET:
		return say(ADMIN_REFUSED, "%s line %zu: the secret must be %d to %d bytes of base32",
			   im->file, im->line, TWOFA_IMPORT_SECRET_MIN, TWOFA_SECRET_MAX);
	}

	*row = (import_row_t) { .line = im->line };
	if (parsed.secret_len) {
		if ((ret = load_key(a)) != ADMIN_OK) goto done;
		rc = twofa_crypto_seal(im->batch, a->key, parsed.name, parsed.secret, parsed.secret_len,
				       &row->sealed, &row->sealed_len);
	}
	if ((rc == TWOFA_OK) && *parsed.password) {
		rc = twofa_crypto_hash_password(im->batch, parsed.password, NULL, &row->hash);
	}
	if ((rc == TWOFA_OK) && !(row->name = talloc_strdup(im->batch, parsed.name))) rc = TWOFA_ERR_NO_MEMORY;
	if (rc != TWOFA_OK) {
		ret = say(ADMIN_ERROR, "%s line %zu: %s", im->file, im->line, twofa_strerror(rc));
		goto done;
	}
	im->in_batch++;
	if (row->hash) im->hashed_in_batch++;
done:
	OPENSSL_cleanse(parsed.secret, sizeof(parsed.secret));
	return ret;
}

/** Insert one prepared row; EXISTS is a skipped row, the rest stops the import. */
static int import_insert_row(admin_t *a, import_t const *im, import_row_t const *row)
{
	twofa_totp_params_t const params = { .hash = TWOFA_HASH_SHA1, .digits = 6, .period = 30 };
	twofa_rcode_t rc;

	rc = twofa_store_add_user(a->store, row->name, row->hash);
	if ((rc == TWOFA_OK) && row->sealed) {
		rc = twofa_store_totp_set_confirmed(a->store, row->name, row->sealed, row->sealed_len, &params);
	}
	switch (rc) {
	case TWOFA_OK:
		return ADMIN_OK;
	case TWOFA_ERR_EXISTS:
		return say(ADMIN_REFUSED, "%s line %zu: user \"%s\" already exists", im->file, row->line, row->name);
	case TWOFA_ERR_STORE:
	case TWOFA_ERR_BUSY:
		return say(ADMIN_ERROR, "%s line %zu: store: %s", im->file, row->line, twofa_store_errmsg(a->store));
	default:
		return say(ADMIN_ERROR, "%s line %zu: %s", im->file, row->line, twofa_strerror(rc));
	}
}

/** Insert the batch in one transaction and commit it.  On an error nothing of it stays. */
static int import_commit_batch(admin_t *a, import_t *im)
{
	size_t	i, imported = 0, with_password = 0, with_totp = 0, skipped = 0;
	int	ret = ADMIN_OK;

	if (!im->in_batch) return ADMIN_OK;
	if (twofa_store_begin(a->store) != TWOFA_OK) return say(ADMIN_ERROR, "store: %s", twofa_store_errmsg(a->store));
	for (i = 0; (i < im->in_batch) && (ret != ADMIN_ERROR); i++) {
		ret = import_insert_row(a, im, &im->rows[i]);
		if (ret == ADMIN_REFUSED) {
			skipped++;
			continue;
		}
		if (ret != ADMIN_OK) break;
		imported++;
		if (im->rows[i].hash) with_password++;
		if (im->rows[i].sealed) with_totp++;
	}
	if (ret == ADMIN_ERROR) {
		twofa_store_rollback(a->store);
		return ret;
	}
	if (twofa_store_commit(a->store) != TWOFA_OK) {
		twofa_store_rollback(a->store);
		return say(ADMIN_ERROR, "store: %s (the last %zu rows were not imported)",
			   twofa_store_errmsg(a->store), im->in_batch);
	}
	im->imported += imported;
	im->with_password += with_password;
	im->with_totp += with_totp;
	im->skipped += skipped;

	/* The hashes and sealed secrets go; the next batch starts empty. */
	talloc_free_children(im->batch);
	im->in_batch = im->hashed_in_batch = 0;

	if (im->progress && (time(NULL) >= im->last_progress + IMPORT_PROGRESS_SECONDS)) {
		im->last_progress = time(NULL);
		fprintf(stderr, PROGNAME ": %zu rows read, %zu users imported\n", im->line, im->imported);
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

/** A batch is full at IMPORT_BATCH_ROWS rows, or sooner at IMPORT_BATCH_HASHES
 *  passwords, so that the lock is free again about once a second.
 */
static bool import_batch_full(import_t const *im)
{
	return (im->in_batch == IMPORT_BATCH_ROWS) || (im->hashed_in_batch == IMPORT_BATCH_HASHES);
}

static int import_lines(admin_t *a, import_t *im, FILE *in)
{
	char	*line = NULL;
	size_t	cap = 0;
	ssize_t	len;
	int	ret = ADMIN_OK;

	while ((len = getline(&line, &cap, in)) >= 0) {
		im->line++;
		ret = import_read_row(a, im, line);
		OPENSSL_cleanse(line, (size_t) len);		/* it held a password */
		if (ret == ADMIN_ERROR) break;
		if (ret == ADMIN_REFUSED) im->skipped++;
		ret = ADMIN_OK;
		if (import_batch_full(im) && ((ret = import_commit_batch(a, im)) != ADMIN_OK)) break;
	}
	if ((ret == ADMIN_OK) && ferror(in)) ret = say(ADMIN_ERROR, "reading %s: %s", im->file, strerror(errno));
	if (ret == ADMIN_OK) ret = import_commit_batch(a, im);
	if (line) OPENSSL_cleanse(line, cap);
	free(line);
	return ret;
}

static int cmd_user_import(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = { { "progress", no_argument, NULL, 'p' }, OPT_HELP, OPT_END };
	import_t	*im;
	FILE		*in;
	int		c, ret;

	if (!(im = talloc_zero(a->ctx, import_t)) || !(im->batch = talloc_new(im))) return say(ADMIN_ERROR, "out of memory");
	im->progress = isatty(STDERR_FILENO);
	im->last_progress = time(NULL);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'p') return usage_of(cmd, c);
		im->progress = true;
	}
	if (argc - optind != 1) return usage_of(cmd, '?');
	im->file = argv[optind];

	/* Opened before privileges are dropped: root may read what the store's owner cannot. */
	in = (strcmp(im->file, "-") == 0) ? stdin : fopen(im->file, "r");
	if (!in) return say(ADMIN_REFUSED, "cannot read %s: %s", im->file, strerror(errno));
	if (in == stdin) im->file = "stdin";

	if ((ret = open_store(a, false)) == ADMIN_OK) {
		ret = import_lines(a, im, in);
		if (ret == ADMIN_ERROR) {
			say(ADMIN_ERROR, "stopped at %s line %zu; %zu users of earlier batches stay imported",
			    im->file, im->line, im->imported);
			if (im->imported) audit(a, "user import", NULL, "stopped by an error");
		} else {
			ret = import_summary(a, im);
		}
	}
	if (in != stdin) fclose(in);
	talloc_free(im);
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
	       "  " PROGNAME " totp confirm NAME\n"
	       "and the first code the app shows.\n");
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

/** Replace path by a new empty owner-only file, atomically: whoever had the old
 *  one open, or a hard link to it, never sees what is written to the new one.
 *  A symlink in path's place is replaced, never followed.
 */
static int replace_png(char const *path, int *fd)
{
	char *tmp = talloc_asprintf(NULL, "%s.XXXXXX", path);
	int ret = ADMIN_OK;

	if (!tmp) return say(ADMIN_ERROR, "out of memory");
	if ((*fd = mkstemp(tmp)) < 0) {
		ret = say(ADMIN_REFUSED, "cannot write %s: %s", tmp, strerror(errno));
	} else if ((fchmod(*fd, 0600) < 0) || (rename(tmp, path) < 0)) {
		ret = say(ADMIN_REFUSED, "cannot replace %s: %s", path, strerror(errno));
		unlink(tmp);
		close(*fd);
		*fd = -1;
	}
	talloc_free(tmp);
	return ret;
}

/** The PNG holds the secret: a new file, mode 0600, never through a symlink.
 *  An existing file only with force, and then replaced, not rewritten.
 */
static int open_png(char const *path, bool force, FILE **out)
{
	struct stat	st;
	int		fd, ret;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if ((fd < 0) && (errno == EEXIST)) {
		if (lstat(path, &st) < 0) return say(ADMIN_REFUSED, "cannot write %s: %s", path, strerror(errno));
		if (S_ISLNK(st.st_mode)) return say(ADMIN_REFUSED, "%s is a symbolic link: refused", path);
		if (!force) return say(ADMIN_REFUSED, "%s exists (--force replaces it)", path);
		if (S_ISDIR(st.st_mode)) return say(ADMIN_REFUSED, "%s is a directory", path);
		if ((ret = replace_png(path, &fd)) != ADMIN_OK) return ret;
	}
	if (fd < 0) return say(ADMIN_REFUSED, "cannot write %s: %s", path, strerror(errno));
	if ((fchmod(fd, 0600) < 0) || !(*out = fdopen(fd, "wb"))) {
		ret = say(ADMIN_ERROR, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		return ret;
	}
	return ADMIN_OK;
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
	int		c, ret = ADMIN_OK;

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

	/* Opened before privileges are dropped: root may write where the store's owner cannot. */
	if (png_path && ((ret = open_png(png_path, force, &png)) != ADMIN_OK)) return ret;
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
	if (png && (ret != ADMIN_OK)) unlink(png_path);	/* no empty or half a QR code left behind */
	return ret;
}

/** The code for "totp confirm": asked for on a terminal, else the first line of
 *  standard input.  Never argv, which every local user can read in /proc.
 */
static int read_code(char *buf, size_t len)
{
	setvbuf(stdin, NULL, _IONBF, 0);
	if (isatty(STDIN_FILENO)) {
		fputs("Code from the app: ", stderr);
		fflush(stderr);
	}
	if (!read_line(stdin, buf, len)) return say(ADMIN_REFUSED, "no code on standard input");
	return ADMIN_OK;
}

static int cmd_totp_confirm(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	twofa_user_t	*user;
	twofa_secret_t	*secret;
	int64_t		step;
	char		*name, code[16];
	twofa_rcode_t	rc;
	int		ret;

	if ((ret = plain_args(cmd, argc, argv, -1)) != ADMIN_OK) return ret;
	if (argc - optind == 2) {
		return say(ADMIN_REFUSED, "the code is read from standard input, not the command line, "
			   "where other users can see it: echo CODE | " PROGNAME " totp confirm NAME");
	}
	if (argc - optind != 1) return usage_of(cmd, '?');
	name = argv[optind];
	if ((ret = check_name(name)) != ADMIN_OK) return ret;
	if (((ret = open_store(a, false)) != ADMIN_OK) || ((ret = load_key(a)) != ADMIN_OK)) return ret;

	/* Refuse before asking for a code nobody will check. */
	if ((rc = twofa_store_get_user(a->store, a->ctx, name, &user)) != TWOFA_OK) return store_failed(a, rc, name);
	if (user->totp_state != TWOFA_TOTP_PENDING) {
		return say(ADMIN_REFUSED, "user \"%s\" has no pending enrolment (see \"totp enroll\")", name);
	}
	if ((ret = read_code(code, sizeof(code))) != ADMIN_OK) return ret;
	if (!twofa_code_well_formed(code, strlen(code), user->totp.digits)) {
		OPENSSL_cleanse(code, sizeof(code));
		return say(ADMIN_REFUSED, "the code must be %u digits", user->totp.digits);
	}
	rc = twofa_crypto_open(a->ctx, a->key, name, user->totp_sealed, user->totp_sealed_len, &secret);
	if (rc != TWOFA_OK) {
		OPENSSL_cleanse(code, sizeof(code));
		return say(ADMIN_ERROR, "cannot decrypt the secret of \"%s\" (another key file?)", name);
	}

	rc = twofa_totp_verify_code(secret->data, secret->len, &user->totp, 1, time(NULL), user->totp_last_step,
				    code, &step);
	OPENSSL_cleanse(code, sizeof(code));
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
 *	backup generate | remove
 */
/** The new codes, once: one per line, or a JSON object with the list. */
static void print_backup_codes(admin_t *a, char const *name, char codes[][TWOFA_BACKUP_SHOWN_LEN + 1],
			       unsigned int count, unsigned int voided)
{
	unsigned int i;

	if (!a->json) {
		for (i = 0; i < count; i++) printf("%s\n", codes[i]);
		fprintf(stderr, PROGNAME ": %u backup codes for \"%s\", each works once; they are shown only now%s\n",
			count, name, voided ? " (the old ones no longer work)" : "");
		return;
	}
	fputs("{\"user\":", stdout);
	json_escape(stdout, name);
	fputs(",\"codes\":[", stdout);
	for (i = 0; i < count; i++) printf("%s\"%s\"", i ? "," : "", codes[i]);	/* alphabet and '-' only */
	printf("],\"voided\":%u}\n", voided);
}

static int cmd_backup_generate(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = { { "count", required_argument, NULL, 'c' }, OPT_HELP, OPT_END };
	char			codes[TWOFA_BACKUP_COUNT_MAX][TWOFA_BACKUP_SHOWN_LEN + 1], detail[64], *name;
	twofa_backup_hash_t	hashes[TWOFA_BACKUP_COUNT_MAX];
	uint8_t			bkey[TWOFA_BACKUP_KEY_LEN];
	unsigned int		count = BACKUP_COUNT_DEFAULT, voided = 0, i;
	twofa_rcode_t		rc = TWOFA_OK;
	int			c, ret = ADMIN_OK;

	while ((ret == ADMIN_OK) && ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)) {
		if (c != 'c') return usage_of(cmd, c);
		ret = parse_uint(optarg, "--count", 1, TWOFA_BACKUP_COUNT_MAX, &count);
	}
	if (ret != ADMIN_OK) return ret;
	if (argc - optind != 1) return usage_of(cmd, '?');
	name = argv[optind];
	if ((ret = check_name(name)) != ADMIN_OK) return ret;
	if (((ret = open_store(a, false)) != ADMIN_OK) || ((ret = load_key(a)) != ADMIN_OK)) return ret;

	if (twofa_backup_key_derive(a->key, bkey) != TWOFA_OK) return say(ADMIN_ERROR, "cannot derive the backup-code key");
	for (i = 0; (i < count) && (rc == TWOFA_OK); i++) {
		rc = twofa_backup_code_generate(codes[i]);
		if (rc == TWOFA_OK) rc = twofa_backup_code_seal(bkey, codes[i], &hashes[i]);
	}
	OPENSSL_cleanse(bkey, sizeof(bkey));
	/* The new set replaces the old in one transaction; printed only once stored. */
	if (rc == TWOFA_OK) rc = twofa_store_backup_set(a->store, name, hashes, count, &voided);
	if (rc != TWOFA_OK) {
		OPENSSL_cleanse(codes, sizeof(codes));
		if (rc == TWOFA_ERR_CRYPTO) return say(ADMIN_ERROR, "cannot make backup codes: %s", twofa_strerror(rc));
		return store_failed(a, rc, name);
	}
	snprintf(detail, sizeof(detail), "%u codes, %u unused voided", count, voided);
	ret = audit(a, "backup generate", name, detail);
	/* Shown even if the audit row failed: the codes are stored, and lost if not shown now. */
	print_backup_codes(a, name, codes, count, voided);
	OPENSSL_cleanse(codes, sizeof(codes));
	return ret;
}

static int cmd_backup_remove(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	char		detail[32], *name;
	unsigned int	voided = 0;
	twofa_rcode_t	rc;
	int		ret;

	if ((ret = name_and_store(a, cmd, argc, argv, &name)) != ADMIN_OK) return ret;

	if ((rc = twofa_store_backup_set(a->store, name, NULL, 0, &voided)) != TWOFA_OK) return store_failed(a, rc, name);
	if (!voided) return say(ADMIN_REFUSED, "user \"%s\" has no unused backup codes", name);
	snprintf(detail, sizeof(detail), "%u unused voided", voided);
	if ((ret = audit(a, "backup remove", name, detail)) != ADMIN_OK) return ret;
	return done(a, name, "backup codes removed");
}

/*
 *	The commands, and main.
 */
static command_t const commands[] = {
	{ "init", NULL, cmd_init, "[--owner USER]", "create the store and the key file, keep existing ones" },
	{ "user", "add", cmd_user_add, "NAME [--no-password]", "add a user; password from the terminal or stdin" },
	{ "user", "passwd", cmd_user_passwd, "NAME", "set a user's password" },
	{ "user", "del", cmd_user_del, "NAME", "delete a user and their enrolment" },
	{ "user", "list", cmd_user_list, "[--without-2fa] [--locked]",
	  "list users: TOTP, backup codes, exempt, lock, failures; only those without a second factor or locked" },
	{ "user", "show", cmd_user_show, "NAME", "show one user" },
	{ "user", "unlock", cmd_user_unlock, "NAME", "lift a lockout and reset the failure count" },
	{ "user", "2fa", cmd_user_2fa, "NAME off|on", "off: exempt the user, the first factor alone lets them in; on: no longer" },
	{ "user", "reset", cmd_user_reset, "NAME", "remove every factor and reset the counters: the user enrolls again" },
	{ "user", "import", cmd_user_import, "FILE|- [--progress]", "add users from CSV: name,password,base32secret" },
	{ "totp", "enroll", cmd_totp_enroll, "NAME [--issuer ISSUER] [--digits 6|8] [--algorithm SHA1|SHA256|SHA512] "
	  "[--period SECONDS] [--png FILE] [--force]", "new secret, pending: URI, secret, QR code" },
	{ "totp", "confirm", cmd_totp_confirm, "NAME", "confirm a pending enrolment: a code from the app, on stdin" },
	{ "totp", "remove", cmd_totp_remove, "NAME", "remove a user's authenticator (lost phone)" },
	{ "backup", "generate", cmd_backup_generate, "NAME [--count 1..20]",
	  "new one-time backup codes (10 by default), shown once; the old ones stop working" },
	{ "backup", "remove", cmd_backup_remove, "NAME", "void a user's backup codes" },
	{ "log", NULL, cmd_log, "[NAME] [--since TIME] [--json]",
	  "logins, oldest first: time, user, result, reason, method, NAS address, Calling-Station-Id" },
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
