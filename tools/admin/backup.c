/*
 * backup.c	twofa-admin backup generate | remove.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin.h"
#include "../../rlm_twofa/backup.h"

#define BACKUP_COUNT_DEFAULT	10

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

int cmd_backup_generate(admin_t *a, command_t const *cmd, int argc, char **argv)
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
	if (((ret = open_store(a, false)) != ADMIN_OK) || ((ret = stored_name(a, &name, NULL)) != ADMIN_OK) ||
	    ((ret = load_key(a)) != ADMIN_OK)) return ret;

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

int cmd_backup_remove(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	char		detail[32], *name;
	unsigned int	voided = 0;
	twofa_rcode_t	rc;
	int		ret;

	if ((ret = name_and_store(a, cmd, argc, argv, &name, NULL)) != ADMIN_OK) return ret;

	if ((rc = twofa_store_backup_set(a->store, name, NULL, 0, &voided)) != TWOFA_OK) return store_failed(a, rc, name);
	if (!voided) return say(ADMIN_REFUSED, "user \"%s\" has no unused backup codes", name);
	snprintf(detail, sizeof(detail), "%u unused voided", voided);
	if ((ret = audit(a, "backup remove", name, detail)) != ADMIN_OK) return ret;
	return done(a, name, "backup codes removed");
}

