/*
 * migrate.c	twofa-admin migrate: copy a whole store into a new one
 *		(sqlite:PATH to postgresql://...), then read both and compare.
 *
 *		Every user (with its counters, lock, preferred method and reply attributes),
 *		factor, used step, backup code, remembered device, audit and
 *		login row goes over in one transaction on the target, with its
 *		id: sealed secrets are bound to their user's id (crypto.h), and
 *		device hashes to it (devices.h), so the key file stays the
 *		same.  Used steps go as the target keeps them (PostgreSQL: each
 *		factor's newest used step).  Not copied, as they live minutes:
 *		SMS and email codes not yet answered (the user asks for a new
 *		one), the sends counted for the hourly limits, and the nonces
 *		of answered States (store.h).  Then the counts are compared,
 *		and a SHA-256 over every password hash, preferred method,
 *		sealed secret, address, backup code hash and device hash of
 *		each side; the digest itself is never printed.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "admin.h"

typedef struct {
	size_t		users;
	size_t		factors;
	size_t		codes;
	size_t		unused_codes;
	size_t		audit;
	size_t		logins;
	size_t		devices;
	unsigned char	digest[32];	//!< over the secrets, in id order
} tally_t;

static int by_id(void const *a, void const *b)
{
	twofa_user_t const *x = *(twofa_user_t * const *) a, *y = *(twofa_user_t * const *) b;

	return (x->id > y->id) - (x->id < y->id);
}

static void digest_str(EVP_MD_CTX *md, char const *s)
{
	uint32_t len = s ? (uint32_t) strlen(s) + 1 : 0;	/* NULL and "" differ */

	EVP_DigestUpdate(md, &len, sizeof(len));
	if (s) EVP_DigestUpdate(md, s, len);
}

static void digest_bytes(EVP_MD_CTX *md, void const *data, size_t len)
{
	uint64_t n = len;

	EVP_DigestUpdate(md, &n, sizeof(n));
	if (len) EVP_DigestUpdate(md, data, len);
}

/* Counts and the digest of one side.  Users by id, factors by kind, codes by id (as dumped). */
static bool tally(twofa_store_dump_t *d, tally_t *t)
{
	EVP_MD_CTX	*md = EVP_MD_CTX_new();
	unsigned int	len = 0;
	size_t		i, j;
	bool		ok;

	memset(t, 0, sizeof(*t));
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return false;
	}
	if (d->num_users) qsort(d->users, d->num_users, sizeof(d->users[0]), by_id);
	for (i = 0; i < d->num_users; i++) {
		twofa_user_t const *u = d->users[i];

		EVP_DigestUpdate(md, &u->id, sizeof(u->id));
		digest_str(md, u->name);
		digest_str(md, u->password_hash);
		digest_str(md, u->preferred ? twofa_factor_kind_name(u->preferred) : NULL);
		digest_str(md, u->reply);
		for (j = 0; j < u->num_factors; j++) {
			EVP_DigestUpdate(md, &u->factors[j].id, sizeof(u->factors[j].id));
			digest_bytes(md, u->factors[j].sealed, u->factors[j].sealed_len);
			digest_str(md, u->factors[j].address);
		}
		t->factors += u->num_factors;
	}
	for (i = 0; i < d->num_codes; i++) {
		EVP_DigestUpdate(md, &d->codes[i].id, sizeof(d->codes[i].id));
		digest_bytes(md, d->codes[i].salt, d->codes[i].salt_len);
		digest_bytes(md, d->codes[i].hash, d->codes[i].hash_len);
		if (!d->codes[i].used_at) t->unused_codes++;
	}
	for (i = 0; i < d->num_devices; i++) {
		twofa_device_row_t const *v = &d->devices[i];

		EVP_DigestUpdate(md, &v->id, sizeof(v->id));
		EVP_DigestUpdate(md, &v->user_id, sizeof(v->user_id));
		digest_bytes(md, v->hash, v->hash_len);
		EVP_DigestUpdate(md, &v->expires, sizeof(v->expires));
	}
	ok = EVP_DigestFinal_ex(md, t->digest, &len) && (len == sizeof(t->digest));
	EVP_MD_CTX_free(md);
	t->users = d->num_users;
	t->codes = d->num_codes;
	t->audit = d->num_audit;
	t->logins = d->num_logins;
	t->devices = d->num_devices;
	return ok;
}

/* Every step the source had used is used on the target too: its factor's high-water mark is no lower. */
static size_t steps_not_kept(twofa_store_dump_t const *from, twofa_store_dump_t const *to)
{
	size_t i, j, k, missing = 0;

	for (i = 0; i < from->num_used; i++) {
		int64_t	id = from->used[i].factor_id;
		bool	kept = false;

		for (j = 0; !kept && (j < to->num_users); j++) {
			for (k = 0; k < to->users[j]->num_factors; k++) {
				if ((to->users[j]->factors[k].id == id) &&
				    (to->users[j]->factors[k].last_step >= from->used[i].step)) kept = true;
			}
		}
		if (!kept) missing++;
	}
	return missing;
}

static int open_side(admin_t *a, char const *url, bool create, twofa_store_t **store)
{
	twofa_store_config_t	config = {
		.url = url, .create = create, .sqlite.busy_timeout_ms = BUSY_TIMEOUT_MS,
		.postgresql.password_file = a->db_password_file, .postgresql.statement_timeout_ms = 30000,
		.postgresql.pool_size = 1
	};
	twofa_rcode_t		rc = twofa_store_open(a->ctx, &config, store);

	if (rc == TWOFA_OK) return ADMIN_OK;
	if ((rc == TWOFA_ERR_NOT_FOUND) && !create) return say(ADMIN_ERROR, "no store at %s", url);
	return say(ADMIN_ERROR, "cannot open store %s: %s", url, *store ? twofa_store_errmsg(*store) : twofa_strerror(rc));
}

static void print_tally(char const *what, tally_t const *t, size_t used)
{
	printf("%s: %zu users, %zu factors, %zu used steps, %zu backup codes (%zu unused), %zu audit rows, "
	       "%zu logins, %zu remembered devices\n", what, t->users, t->factors, used, t->codes, t->unused_codes,
	       t->audit, t->logins, t->devices);
}

int cmd_migrate(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = {
		{ "from", required_argument, NULL, 'f' }, { "to", required_argument, NULL, 't' }, OPT_HELP, OPT_END };
	char const		*from_url = NULL, *to_url = NULL;
	twofa_store_t		*from, *to;
	twofa_store_dump_t	*src, *before, *after;
	tally_t			ts, tt;
	size_t			missing;
	twofa_rcode_t		rc;
	int			c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'f') from_url = optarg;
		else if (c == 't') to_url = optarg;
		else return usage_of(cmd, c);
	}
	if (!from_url || !to_url || (argc != optind)) return usage_of(cmd, '?');
	if (strcmp(from_url, to_url) == 0) return say(ADMIN_REFUSED, "--from and --to name the same store");

	/* An SQLite source is opened as its owner, so that its -wal and -shm are never made as root. */
	a->store_path = from_url;
	if ((ret = drop_to_store_owner(a)) != ADMIN_OK) return ret;
	if ((ret = open_side(a, from_url, false, &from)) != ADMIN_OK) return ret;
	if ((ret = open_side(a, to_url, true, &to)) != ADMIN_OK) return ret;

	if ((rc = twofa_store_dump(from, a->ctx, &src)) != TWOFA_OK) {
		return say(ADMIN_ERROR, "reading %s: %s", from_url, twofa_store_errmsg(from));
	}
	if ((rc = twofa_store_dump(to, a->ctx, &before)) != TWOFA_OK) {
		return say(ADMIN_ERROR, "reading %s: %s", to_url, twofa_store_errmsg(to));
	}
	rc = twofa_store_load(to, src);
	if (rc != TWOFA_OK) {
		return say(exit_status(rc), "copying into %s: %s (nothing was copied)", to_url,
			   (rc == TWOFA_ERR_MALFORMED) && !strstr(twofa_store_errmsg(to), "schema") ?
			   "this store cannot be a target" : twofa_store_errmsg(to));
	}

	/* Read the target back and compare. */
	if ((rc = twofa_store_dump(to, a->ctx, &after)) != TWOFA_OK) {
		return say(ADMIN_ERROR, "copied, but reading %s back failed: %s", to_url, twofa_store_errmsg(to));
	}
	if (!tally(src, &ts) || !tally(after, &tt)) return say(ADMIN_ERROR, "cannot compute the digest");
	print_tally("copied", &ts, src->num_used);
	missing = steps_not_kept(src, after);
	tt.audit -= before->num_audit;		/* the target's own rows (its init) were there before */
	if ((ts.users != tt.users) || (ts.factors != tt.factors) || (ts.codes != tt.codes) ||
	    (ts.unused_codes != tt.unused_codes) || (ts.audit != tt.audit) || (ts.logins != tt.logins) || (ts.devices != tt.devices) || missing ||
	    (memcmp(ts.digest, tt.digest, sizeof(ts.digest)) != 0)) {
		print_tally("target holds", &tt, src->num_used - missing);
		return say(ADMIN_ERROR, "verification FAILED: the target differs from the source (%zu used steps "
			   "not kept%s)", missing, memcmp(ts.digest, tt.digest, sizeof(ts.digest)) ? ", secrets differ" : "");
	}
	printf("verified: the same counts on both sides, every used step kept, and the checksum (SHA-256) of "
	       "password hashes, secrets, backup codes and devices equal (SMS and email codes not yet answered "
	       "are not copied: they are sent again)\n");

	a->store = to;
	{
		char detail[512];

		snprintf(detail, sizeof(detail), "from %.400s: %zu users", from_url, ts.users);
		return audit(a, "migrate", NULL, detail);
	}
}
