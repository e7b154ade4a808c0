/*
 * method_backup.c	Backup codes (backup.h): one-time codes printed once by
 *			"twofa-admin backup generate", for a lost phone.
 *
 *		A user who holds unused codes and no TOTP enrolment is
 *		challenged for one; at any other method's prompt a backup code
 *		works too (twofa_method_alternate).  The challenge carries no
 *		factor part: the codes live in the store as salted keyed
 *		hashes, and the consume finds the matching unused one and
 *		marks it used in one conditional UPDATE, which also checks that
 *		the user is not locked; of two logins with the same code, one
 *		gets it.  The check in memory only normalises the answer.
 */
#include <string.h>
#include <openssl/crypto.h>

#include "method.h"
#include "backup.h"

static bool backup_held(twofa_user_t const *user)
{
	return user->backup_codes_left > 0;
}

static twofa_rcode_t backup_start(twofa_method_ctx_t const *mctx, twofa_user_t const *user, twofa_pending_t *pending)
{
	pending->sealed_len = 0;
	memset(&pending->totp, 0, sizeof(pending->totp));
	return TWOFA_OK;
}

static bool backup_looks_like(char const *answer, size_t len)
{
	char	code[TWOFA_BACKUP_CODE_LEN + 1];
	bool	shaped = twofa_backup_code_normalise(answer, len, code);

	OPENSSL_cleanse(code, sizeof(code));
	return shaped;
}

/* The proof is the normalised code as a number (backup.h): consume hashes it in the store. */
static twofa_rcode_t backup_check(TALLOC_CTX *ctx, twofa_method_ctx_t const *mctx, twofa_pending_t const *pending,
				  char const *answer, size_t len, int64_t *proof)
{
	char code[TWOFA_BACKUP_CODE_LEN + 1];

	if (!answer || !twofa_backup_code_normalise(answer, len, code)) return TWOFA_ERR_MALFORMED;
	*proof = twofa_backup_code_to_number(code);
	OPENSSL_cleanse(code, sizeof(code));
	return (*proof < 0) ? TWOFA_ERR_MALFORMED : TWOFA_OK;
}

static twofa_rcode_t backup_consume(twofa_method_ctx_t const *mctx, twofa_pending_t const *pending, int64_t proof)
{
	char		code[TWOFA_BACKUP_CODE_LEN + 1];
	uint8_t		bkey[TWOFA_BACKUP_KEY_LEN];
	unsigned int	left = 0;
	twofa_rcode_t	rc;

	if (!twofa_backup_code_from_number(proof, code)) return TWOFA_ERR_MALFORMED;
	/* Derived per use (microseconds, backup logins only), wiped after: no second long-lived key. */
	rc = twofa_backup_key_derive(mctx->key, bkey);
	if (rc == TWOFA_OK) rc = twofa_store_backup_consume(mctx->store, pending->user_id, bkey, code, mctx->now, &left,
							 mctx->login);
	OPENSSL_cleanse(bkey, sizeof(bkey));
	OPENSSL_cleanse(code, sizeof(code));
	if ((rc == TWOFA_OK) && mctx->left) *mctx->left = (int) left;
	return rc;
}

twofa_method_t const twofa_method_backup = {
	.name		= "backup",
	.id		= TWOFA_METHOD_BACKUP,
	.unit		= "backup code",
	.held		= backup_held,
	.start		= backup_start,
	.check		= backup_check,
	.consume	= backup_consume,
	.looks_like	= backup_looks_like,
};
