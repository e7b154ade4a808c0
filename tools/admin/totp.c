/*
 * totp.c	twofa-admin totp enroll | confirm | remove.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "admin.h"
#include "../../rlm_twofa/base32.h"
#include "../../rlm_twofa/policy.h"
#include "../../rlm_twofa/totp.h"
#include "../qr.h"

#define PERIOD_MAX		300		//!< seconds, the longest --period

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
	} else if ((rc = twofa_store_factor_set(a->store, name, &(twofa_factor_t) {
			.kind = TWOFA_FACTOR_TOTP, .sealed = sealed, .sealed_len = sealed_len, .totp = *params,
		    })) != TWOFA_OK) {
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

int cmd_totp_enroll(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = {
		{ "issuer", required_argument, NULL, 'i' }, { "digits", required_argument, NULL, 'd' },
		{ "algorithm", required_argument, NULL, 'a' }, { "period", required_argument, NULL, 'p' },
		{ "png", required_argument, NULL, 'P' }, { "force", no_argument, NULL, 'f' },
		OPT_HELP, OPT_END };
	twofa_totp_params_t params = { .hash = TWOFA_HASH_SHA1, .digits = 6, .period = 30 };
	char const	*issuer = DEFAULT_ISSUER, *png_path = NULL;
	char		*name;
	bool		force = false;
	FILE		*png = NULL;
	twofa_user_t	*user;
	twofa_factor_t const *totp;
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
	if (((ret = open_store(a, false)) != ADMIN_OK) || ((ret = stored_name(a, &name, &user)) != ADMIN_OK) ||
	    ((ret = load_key(a)) != ADMIN_OK)) goto done;

	if (!user) {
		ret = store_failed(a, TWOFA_ERR_NOT_FOUND, name);
	} else if ((totp = twofa_user_factor(user, TWOFA_FACTOR_TOTP)) && totp->confirmed && !force) {
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

int cmd_totp_confirm(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	twofa_user_t	*user;
	twofa_factor_t const *totp;
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
	if (((ret = open_store(a, false)) != ADMIN_OK) || ((ret = stored_name(a, &name, &user)) != ADMIN_OK) ||
	    ((ret = load_key(a)) != ADMIN_OK)) return ret;

	/* Refuse before asking for a code nobody will check. */
	if (!user) return store_failed(a, TWOFA_ERR_NOT_FOUND, name);
	totp = twofa_user_factor(user, TWOFA_FACTOR_TOTP);
	if (!totp || totp->confirmed) {
		return say(ADMIN_REFUSED, "user \"%s\" has no pending enrolment (see \"totp enroll\")", name);
	}
	if ((ret = read_code(code, sizeof(code))) != ADMIN_OK) return ret;
	if (!twofa_code_well_formed(code, strlen(code), totp->totp.digits)) {
		OPENSSL_cleanse(code, sizeof(code));
		return say(ADMIN_REFUSED, "the code must be %u digits", totp->totp.digits);
	}
	rc = twofa_crypto_open(a->ctx, a->key, name, totp->sealed, totp->sealed_len, &secret);
	if (rc != TWOFA_OK) {
		OPENSSL_cleanse(code, sizeof(code));
		return say(ADMIN_ERROR, "cannot decrypt the secret of \"%s\" (another key file?)", name);
	}

	rc = twofa_totp_verify_code(secret->data, secret->len, &totp->totp, 1, time(NULL), totp->last_step,
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
	rc = twofa_store_factor_confirm(a->store, name, TWOFA_FACTOR_TOTP, step);
	if (rc != TWOFA_OK) return store_failed(a, rc, name);
	if ((ret = audit(a, "totp confirm", name, NULL)) != ADMIN_OK) return ret;
	return done(a, name, "TOTP enrolment confirmed");
}

/* A lost phone: the enrolment goes, and the devices remembered by it with it (forget_user_devices). */
int cmd_totp_remove(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	char		*name;
	twofa_rcode_t	rc;
	int		ret;

	if ((ret = name_and_store(a, cmd, argc, argv, &name, NULL)) != ADMIN_OK) return ret;
	if ((rc = twofa_store_factor_remove(a->store, name, TWOFA_FACTOR_TOTP)) != TWOFA_OK) {
		return store_failed(a, rc, name);
	}
	if ((ret = audit_and_forget_devices(a, "totp remove", name, NULL)) != ADMIN_OK) return ret;
	return done(a, name, "TOTP enrolment removed");
}
