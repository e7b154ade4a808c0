/*
 * store.c	The store's front: picks the backend by the store's URL and
 *		calls it through its table of operations (store_backend.h);
 *		and what every backend shares: the factor kinds' names, the
 *		lookups on a user read by any of them.
 */
#include <stdio.h>
#include <string.h>

#include "store_backend.h"

/* The backends this build has, by URL scheme.  A bare path is an SQLite file. */
static twofa_store_ops_t const *const backends[] = {
	&twofa_store_sqlite_ops,
	&twofa_store_pg_ops,
};

/* A store that is no store: it only says why (an unknown scheme); no other call may be made on it. */
typedef struct {
	twofa_store_t	handle;
	char		errmsg[320];
} failed_store_t;

static char const *failed_errmsg(twofa_store_t *store)
{
	return ((failed_store_t *) store)->errmsg;
}

static twofa_store_ops_t const failed_ops = { .scheme = "", .errmsg = failed_errmsg };

static twofa_rcode_t open_failed(TALLOC_CTX *ctx, twofa_store_t **out, char const *url)
{
	failed_store_t *store = talloc_zero(ctx, failed_store_t);

	if (!store) return TWOFA_ERR_NO_MEMORY;
	store->handle.ops = &failed_ops;
	snprintf(store->errmsg, sizeof(store->errmsg), "store %.200s: no backend for this URL in this build "
		 "(sqlite:PATH, a path, or postgresql://USER@HOST:PORT/DB)", url);
	*out = &store->handle;
	return TWOFA_ERR_MALFORMED;
}

/*
 *	A backend may lack a late operation (a table grown before its backend
 *	caught up): the call then fails as a store error would, closed, never
 *	through a NULL pointer.
 */
#define OP_OR_FAIL(_store, _op) do { if (!(_store)->ops->_op) return TWOFA_ERR_STORE; } while (0)

twofa_rcode_t twofa_store_open(TALLOC_CTX *ctx, twofa_store_config_t const *config, twofa_store_t **out)
{
	char const	*url = config->url, *colon;
	size_t		i;

	*out = NULL;
	colon = strchr(url, ':');
	/* "scheme:..." names a backend; anything else (a path, even one holding a ':' after a '/') is SQLite's. */
	if (!colon || (strcspn(url, "/") < (size_t) (colon - url))) return twofa_store_sqlite_ops.open(ctx, url, config, out);
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		size_t len = strlen(backends[i]->scheme);

		if ((len == (size_t) (colon - url)) && (strncmp(url, backends[i]->scheme, len) == 0)) {
			return backends[i]->open(ctx, colon + 1, config, out);
		}
	}
	return open_failed(ctx, out, url);
}

char const *twofa_store_errmsg(twofa_store_t *store)
{
	if (!store) return "no detail";
	return store->ops->errmsg(store);
}

int twofa_store_schema_version(twofa_store_t *store)
{
	return store->ops->schema_version(store);
}

/*
 *	Every other call: through the backend's table.
 */
twofa_rcode_t twofa_store_get_user(twofa_store_t *store, TALLOC_CTX *ctx, char const *name, twofa_user_t **out)
{
	return store->ops->get_user(store, ctx, name, out);
}

twofa_rcode_t twofa_store_add_user(twofa_store_t *store, char const *name, char const *password_hash)
{
	return store->ops->add_user(store, name, password_hash);
}

twofa_rcode_t twofa_store_set_password(twofa_store_t *store, char const *name, char const *password_hash)
{
	return store->ops->set_password(store, name, password_hash);
}

twofa_rcode_t twofa_store_delete_user(twofa_store_t *store, char const *name)
{
	return store->ops->delete_user(store, name);
}

twofa_rcode_t twofa_store_set_exempt(twofa_store_t *store, char const *name, bool exempt)
{
	return store->ops->set_exempt(store, name, exempt);
}

twofa_rcode_t twofa_store_reset_user(twofa_store_t *store, char const *name, unsigned int *factors_removed,
				     unsigned int *codes_voided)
{
	return store->ops->reset_user(store, name, factors_removed, codes_voided);
}

twofa_rcode_t twofa_store_list_users(twofa_store_t *store, TALLOC_CTX *ctx, twofa_user_t ***out, size_t *count)
{
	return store->ops->list_users(store, ctx, out, count);
}

twofa_rcode_t twofa_store_factor_set(twofa_store_t *store, char const *name, twofa_factor_t const *factor)
{
	return store->ops->factor_set(store, name, factor);
}

twofa_rcode_t twofa_store_factor_confirm(twofa_store_t *store, char const *name, twofa_factor_kind_t kind,
					 int64_t step)
{
	return store->ops->factor_confirm(store, name, kind, step);
}

twofa_rcode_t twofa_store_factor_remove(twofa_store_t *store, char const *name, twofa_factor_kind_t kind)
{
	return store->ops->factor_remove(store, name, kind);
}

twofa_rcode_t twofa_store_factor_enrol(twofa_store_t *store, int64_t user_id, twofa_factor_t const *factor,
				       int64_t step, time_t now, twofa_login_t const *login)
{
	return store->ops->factor_enrol(store, user_id, factor, step, now, login);
}

twofa_rcode_t twofa_store_factor_consume_step(twofa_store_t *store, int64_t user_id, int64_t factor_id,
					      int64_t step, time_t now, twofa_login_t const *login)
{
	return store->ops->factor_consume_step(store, user_id, factor_id, step, now, login);
}

twofa_rcode_t twofa_store_backup_set(twofa_store_t *store, char const *name, twofa_backup_hash_t const *codes,
				     unsigned int count, unsigned int *voided)
{
	return store->ops->backup_set(store, name, codes, count, voided);
}

twofa_rcode_t twofa_store_backup_consume(twofa_store_t *store, int64_t user_id,
					 uint8_t const bkey[TWOFA_BACKUP_KEY_LEN], char const *code,
					 time_t now, unsigned int *left, twofa_login_t const *login)
{
	return store->ops->backup_consume(store, user_id, bkey, code, now, left, login);
}

twofa_rcode_t twofa_store_record_failure(twofa_store_t *store, int64_t user_id, twofa_lockout_t const *policy,
					 time_t now, time_t *locked_until)
{
	return store->ops->record_failure(store, user_id, policy, now, locked_until);
}

twofa_rcode_t twofa_store_record_success(twofa_store_t *store, int64_t user_id)
{
	return store->ops->record_success(store, user_id);
}

twofa_rcode_t twofa_store_record_password_failure(twofa_store_t *store, int64_t user_id,
						  twofa_password_throttle_t const *policy, time_t now, time_t *next_try)
{
	return store->ops->record_password_failure(store, user_id, policy, now, next_try);
}

twofa_rcode_t twofa_store_record_password_success(twofa_store_t *store, int64_t user_id)
{
	return store->ops->record_password_success(store, user_id);
}

twofa_rcode_t twofa_store_unlock(twofa_store_t *store, char const *name)
{
	return store->ops->unlock(store, name);
}

twofa_rcode_t twofa_store_audit(twofa_store_t *store, char const *actor, char const *action,
				char const *user, char const *detail)
{
	return store->ops->audit(store, actor, action, user, detail);
}

twofa_rcode_t twofa_store_log_login(twofa_store_t *store, twofa_login_t const *login)
{
	return store->ops->log_login(store, login);
}

twofa_rcode_t twofa_store_list_logins(twofa_store_t *store, TALLOC_CTX *ctx, char const *user, time_t since,
				      twofa_login_t **out, size_t *count)
{
	return store->ops->list_logins(store, ctx, user, since, out, count);
}

twofa_rcode_t twofa_store_state_use(twofa_store_t *store, uint8_t const *nonce, size_t len, time_t expires,
				    time_t now)
{
	if (!nonce || !len || (len > 64)) return TWOFA_ERR_MALFORMED;
	OP_OR_FAIL(store, state_use);
	return store->ops->state_use(store, nonce, len, expires, now);
}

twofa_rcode_t twofa_store_dump(twofa_store_t *store, TALLOC_CTX *ctx, twofa_store_dump_t **out)
{
	*out = NULL;
	OP_OR_FAIL(store, dump);
	return store->ops->dump(store, ctx, out);
}

twofa_rcode_t twofa_store_load(twofa_store_t *store, twofa_store_dump_t const *dump)
{
	if (!store->ops->load) return TWOFA_ERR_MALFORMED;
	return store->ops->load(store, dump);
}

twofa_rcode_t twofa_store_begin(twofa_store_t *store, twofa_store_txn_t **txn)
{
	*txn = NULL;
	return store->ops->begin(store, txn);
}

twofa_rcode_t twofa_store_commit(twofa_store_txn_t **txn)
{
	twofa_rcode_t rc;

	if (!*txn) return TWOFA_ERR_STORE;
	rc = (*txn)->store->ops->commit(*txn);
	*txn = NULL;
	return rc;
}

twofa_rcode_t twofa_store_rollback(twofa_store_txn_t **txn)
{
	twofa_rcode_t rc;

	if (!*txn) return TWOFA_OK;
	rc = (*txn)->store->ops->rollback(*txn);
	*txn = NULL;
	return rc;
}

twofa_rcode_t twofa_store_oob_set(twofa_store_t *store, int64_t user_id, int64_t factor_id,
				  twofa_oob_hash_t const *code, time_t expires)
{
	OP_OR_FAIL(store, oob_set);
	return store->ops->oob_set(store, user_id, factor_id, code, expires);
}

twofa_rcode_t twofa_store_oob_consume(twofa_store_t *store, int64_t user_id, int64_t factor_id,
				      uint8_t const okey[TWOFA_OOB_KEY_LEN], char const *answer, unsigned int digits,
				      time_t now, twofa_login_t const *login)
{
	OP_OR_FAIL(store, oob_consume);
	return store->ops->oob_consume(store, user_id, factor_id, okey, answer, digits, now, login);
}

twofa_rcode_t twofa_store_send_allow(twofa_store_t *store, int64_t user_id, char const *nas, time_t now,
				     unsigned int per_user, unsigned int per_nas)
{
	OP_OR_FAIL(store, send_allow);
	return store->ops->send_allow(store, user_id, nas, now, per_user, per_nas);
}

twofa_rcode_t twofa_store_set_reply(twofa_store_t *store, char const *name, char const *reply)
{
	OP_OR_FAIL(store, set_reply);
	return store->ops->set_reply(store, name, reply);
}

twofa_rcode_t twofa_store_set_preferred(twofa_store_t *store, char const *name, twofa_factor_kind_t kind)
{
	OP_OR_FAIL(store, set_preferred);
	return store->ops->set_preferred(store, name, kind);
}

twofa_rcode_t twofa_store_device_remember(twofa_store_t *store, int64_t user_id,
					  uint8_t const hash[TWOFA_DEVICE_HASH_LEN], time_t now, time_t expires,
					  char const *nas)
{
	OP_OR_FAIL(store, device_remember);
	return store->ops->device_remember(store, user_id, hash, now, expires, nas);
}

twofa_rcode_t twofa_store_device_known(twofa_store_t *store, int64_t user_id,
				       uint8_t const hash[TWOFA_DEVICE_HASH_LEN], time_t now)
{
	OP_OR_FAIL(store, device_known);
	return store->ops->device_known(store, user_id, hash, now);
}

twofa_rcode_t twofa_store_device_list(twofa_store_t *store, TALLOC_CTX *ctx, char const *name, time_t now,
				      twofa_device_t **out, size_t *count)
{
	OP_OR_FAIL(store, device_list);
	return store->ops->device_list(store, ctx, name, now, out, count);
}

twofa_rcode_t twofa_store_device_forget(twofa_store_t *store, char const *name, int64_t id, unsigned int *forgotten)
{
	OP_OR_FAIL(store, device_forget);
	return store->ops->device_forget(store, name, id, forgotten);
}

static char const *const kind_names[] = {
	[TWOFA_FACTOR_TOTP]	= "totp",
	[TWOFA_FACTOR_SMS]	= "sms",
	[TWOFA_FACTOR_EMAIL]	= "email",
};

char const *twofa_factor_kind_name(twofa_factor_kind_t kind)
{
	if ((kind < TWOFA_FACTOR_TOTP) || (kind > TWOFA_FACTOR_KIND_LAST)) return "unknown";
	return kind_names[kind];
}

bool twofa_factor_kind_from_name(char const *name, twofa_factor_kind_t *kind)
{
	int k;

	for (k = TWOFA_FACTOR_TOTP; k <= TWOFA_FACTOR_KIND_LAST; k++) {
		if (strcmp(name, kind_names[k]) == 0) {
			*kind = (twofa_factor_kind_t) k;
			return true;
		}
	}
	return false;
}

twofa_factor_t const *twofa_user_factor(twofa_user_t const *user, twofa_factor_kind_t kind)
{
	unsigned int i;

	for (i = 0; i < user->num_factors; i++) if (user->factors[i].kind == kind) return &user->factors[i];
	return NULL;
}
