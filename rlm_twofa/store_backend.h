/*
 * store_backend.h	What a store backend provides (store_sqlite.c,
 *			store_pg.c): a table of operations, one per call of
 *			store.h.  store.c picks the backend by the store's URL
 *			and calls through the table; only backends and store.c
 *			include this file.
 *
 *		A backend's handle starts with a twofa_store_t (its first
 *		member), and its transaction handle with a twofa_store_txn_t,
 *		so store.c reaches the table through either.
 */
#ifndef TWOFA_STORE_BACKEND_H
#define TWOFA_STORE_BACKEND_H

#include "store.h"

typedef struct twofa_store_ops twofa_store_ops_t;

struct twofa_store {
	twofa_store_ops_t const	*ops;
};

struct twofa_store_txn {
	twofa_store_t		*store;
};

struct twofa_store_ops {
	char const	*scheme;	//!< "sqlite", "postgresql"

	/** location: the URL without the scheme's prefix (SQLite: the file's path).
	 *  As twofa_store_open(): *out is set, when possible, even on failure. */
	twofa_rcode_t	(*open)(TALLOC_CTX *ctx, char const *location, twofa_store_config_t const *config,
				twofa_store_t **out);
	char const	*(*errmsg)(twofa_store_t *store);
	int		(*schema_version)(twofa_store_t *store);

	twofa_rcode_t	(*get_user)(twofa_store_t *store, TALLOC_CTX *ctx, char const *name, twofa_user_t **out);
	twofa_rcode_t	(*add_user)(twofa_store_t *store, char const *name, char const *password_hash);
	twofa_rcode_t	(*set_password)(twofa_store_t *store, char const *name, char const *password_hash);
	twofa_rcode_t	(*delete_user)(twofa_store_t *store, char const *name);
	twofa_rcode_t	(*set_exempt)(twofa_store_t *store, char const *name, bool exempt);
	twofa_rcode_t	(*reset_user)(twofa_store_t *store, char const *name, unsigned int *factors_removed,
				      unsigned int *codes_voided);
	twofa_rcode_t	(*list_users)(twofa_store_t *store, TALLOC_CTX *ctx, twofa_user_t ***out, size_t *count);

	twofa_rcode_t	(*factor_set)(twofa_store_t *store, char const *name, twofa_factor_t const *factor);
	twofa_rcode_t	(*factor_confirm)(twofa_store_t *store, char const *name, twofa_factor_kind_t kind,
					  int64_t step);
	twofa_rcode_t	(*factor_remove)(twofa_store_t *store, char const *name, twofa_factor_kind_t kind);
	twofa_rcode_t	(*factor_enrol)(twofa_store_t *store, int64_t user_id, twofa_factor_t const *factor,
					int64_t step, time_t now, twofa_login_t const *login);
	twofa_rcode_t	(*factor_consume_step)(twofa_store_t *store, int64_t user_id, int64_t factor_id,
					       int64_t step, time_t now, twofa_login_t const *login);

	twofa_rcode_t	(*backup_set)(twofa_store_t *store, char const *name, twofa_backup_hash_t const *codes,
				      unsigned int count, unsigned int *voided);
	twofa_rcode_t	(*backup_consume)(twofa_store_t *store, int64_t user_id,
					  uint8_t const bkey[TWOFA_BACKUP_KEY_LEN], char const *code,
					  time_t now, unsigned int *left, twofa_login_t const *login);

	twofa_rcode_t	(*record_failure)(twofa_store_t *store, int64_t user_id, twofa_lockout_t const *policy,
					  time_t now, time_t *locked_until);
	twofa_rcode_t	(*record_success)(twofa_store_t *store, int64_t user_id);
	twofa_rcode_t	(*record_password_failure)(twofa_store_t *store, int64_t user_id,
						   twofa_password_throttle_t const *policy, time_t now,
						   time_t *next_try);
	twofa_rcode_t	(*record_password_success)(twofa_store_t *store, int64_t user_id);
	twofa_rcode_t	(*unlock)(twofa_store_t *store, char const *name);

	twofa_rcode_t	(*audit)(twofa_store_t *store, char const *actor, char const *action,
				 char const *user, char const *detail);
	twofa_rcode_t	(*log_login)(twofa_store_t *store, twofa_login_t const *login);
	twofa_rcode_t	(*list_logins)(twofa_store_t *store, TALLOC_CTX *ctx, char const *user, time_t since,
				       twofa_login_t **out, size_t *count);

	twofa_rcode_t	(*dump)(twofa_store_t *store, TALLOC_CTX *ctx, twofa_store_dump_t **out);
	twofa_rcode_t	(*load)(twofa_store_t *store, twofa_store_dump_t const *dump);	//!< NULL: not supported

	twofa_rcode_t	(*begin)(twofa_store_t *store, twofa_store_txn_t **txn);
	twofa_rcode_t	(*commit)(twofa_store_txn_t *txn);
	twofa_rcode_t	(*rollback)(twofa_store_txn_t *txn);

	twofa_rcode_t	(*state_use)(twofa_store_t *store, uint8_t const *nonce, size_t len, time_t expires,
				     time_t now);

	/*
	 *	SMS and email codes, send limits, the preferred method (store.h
	 *	says what each promises).  A backend's schema: a table of codes
	 *	keyed by factor id (user id, salt, hash, expires, used_at; gone
	 *	with its factor or user), a table of sends (user id, NAS, time),
	 *	and users.preferred (a kind's name, or NULL); get_user fills
	 *	twofa_user_t.preferred.
	 */
	twofa_rcode_t	(*oob_set)(twofa_store_t *store, int64_t user_id, int64_t factor_id,
				   twofa_oob_hash_t const *code, time_t expires);
	twofa_rcode_t	(*oob_consume)(twofa_store_t *store, int64_t user_id, int64_t factor_id,
				       uint8_t const okey[TWOFA_OOB_KEY_LEN], char const *answer, unsigned int digits,
				       time_t now, twofa_login_t const *login);
	twofa_rcode_t	(*send_allow)(twofa_store_t *store, int64_t user_id, char const *nas, time_t now,
				      unsigned int per_user, unsigned int per_nas);
	twofa_rcode_t	(*set_preferred)(twofa_store_t *store, char const *name, twofa_factor_kind_t kind);
	/* Schema 11: users.reply (TEXT, NULL = none), also read by get_user into twofa_user_t.reply. */
	twofa_rcode_t	(*set_reply)(twofa_store_t *store, char const *name, char const *reply);

	/* Remembered devices (devices.h). */
	twofa_rcode_t	(*device_remember)(twofa_store_t *store, int64_t user_id,
					   uint8_t const hash[TWOFA_DEVICE_HASH_LEN], time_t now, time_t expires,
					   char const *nas);
	twofa_rcode_t	(*device_known)(twofa_store_t *store, int64_t user_id,
					uint8_t const hash[TWOFA_DEVICE_HASH_LEN], time_t now);
	twofa_rcode_t	(*device_list)(twofa_store_t *store, TALLOC_CTX *ctx, char const *name, time_t now,
				       twofa_device_t **out, size_t *count);
	twofa_rcode_t	(*device_forget)(twofa_store_t *store, char const *name, int64_t id, unsigned int *forgotten);
};

extern twofa_store_ops_t const twofa_store_sqlite_ops;
extern twofa_store_ops_t const twofa_store_pg_ops;

#endif
