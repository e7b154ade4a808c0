/*
 * user_import.c	twofa-admin user import: users from CSV, in batches.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "admin.h"
#include "../../rlm_twofa/base32.h"
#include "../../rlm_twofa/totp.h"
#include "../import_csv.h"

#define IMPORT_BATCH_ROWS	1000		//!< rows per transaction at most
#define IMPORT_BATCH_HASHES	32		//!< passwords per transaction at most (~1 s of yescrypt)
#define IMPORT_PROGRESS_SECONDS	2		//!< at most one progress line this often

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
		rc = twofa_store_factor_set(a->store, row->name, &(twofa_factor_t) {
			.kind = TWOFA_FACTOR_TOTP, .confirmed = true, .sealed = row->sealed,
			.sealed_len = row->sealed_len, .totp = params });
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
	twofa_store_txn_t	*txn = NULL;
	size_t			i, imported = 0, with_password = 0, with_totp = 0, skipped = 0;
	int			ret = ADMIN_OK;

	if (!im->in_batch) return ADMIN_OK;
	if (twofa_store_begin(a->store, &txn) != TWOFA_OK) {
		return say(ADMIN_ERROR, "store: %s", twofa_store_errmsg(a->store));
	}
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
		twofa_store_rollback(&txn);
		return ret;
	}
	if (twofa_store_commit(&txn) != TWOFA_OK) {
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

int cmd_user_import(admin_t *a, command_t const *cmd, int argc, char **argv)
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

