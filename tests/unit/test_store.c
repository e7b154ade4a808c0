/*
 * test_store.c	The SQLite store: schema, users, enrolment, used steps, lockout.
 *
 *		Real SQLite files in a temporary directory.
 */
#define _GNU_SOURCE	/* pthread_timedjoin_np */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sqlite3.h>

#include "check.h"
#include "store.h"
#include "backup.h"

static char dir[] = "/tmp/twofa-store-XXXXXX";
static int seq;

static twofa_totp_params_t const params = { TWOFA_HASH_SHA1, 6, 30 };
static uint8_t const sealed[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
				  21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34 };
static uint8_t const resealed[] = { 9, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
				    21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34 };
#define NOW	((time_t) 1000000)
#define S0	(NOW / 30)		/* the step of NOW at params' period */

/* A fresh store file for one case. */
static char *new_path(TALLOC_CTX *ctx)
{
	return talloc_asprintf(ctx, "%s/store-%d.db", dir, ++seq);
}

static twofa_store_t *open_path(TALLOC_CTX *ctx, char const *path, bool create, unsigned int busy_ms)
{
	twofa_store_config_t	config = { .url = path, .sqlite.busy_timeout_ms = busy_ms, .create = create };
	twofa_store_t		*store = NULL;

	if (twofa_store_open(ctx, &config, &store) != TWOFA_OK) {
		printf("  open %s: %s\n", path, store ? twofa_store_errmsg(store) : "?");
		talloc_free(store);
		return NULL;
	}
	return store;
}

/*
 *	The tests name a TOTP factor by the secret it was set with (`sealed`,
 *	`resealed`), as the store once did; the store names it by its id, a
 *	new one each time a factor is set.  This table remembers which id
 *	a user id last got with which secret, for consume() and
 *	consume_with().  Not by store handle: a test may reopen its file
 *	(a new handle), and each test sets the factors it consumes.
 */
static struct {
	int64_t		user_id;
	uint8_t const	*blob;
	int64_t		factor_id;
} factor_ids[1024];
static size_t num_factor_ids;

/* The user's TOTP factor as stored now: its id and last step (-1, -2 if none). */
static void totp_read(twofa_store_t *store, char const *name, int64_t *user_id, int64_t *factor_id,
		      int64_t *last_step)
{
	twofa_user_t		*u;
	twofa_factor_t const	*f;

	*user_id = *factor_id = -1;
	*last_step = -2;
	if (twofa_store_get_user(store, NULL, name, &u) != TWOFA_OK) return;
	*user_id = u->id;
	if ((f = twofa_user_factor(u, TWOFA_FACTOR_TOTP))) {
		*factor_id = f->id;
		*last_step = f->last_step;
	}
	talloc_free(u);
}

/* Remember that name's TOTP factor now is the one set with blob. */
static void remember_factor(twofa_store_t *store, char const *name, uint8_t const *blob)
{
	int64_t user_id, factor_id, last_step;

	size_t	i;

	totp_read(store, name, &user_id, &factor_id, &last_step);
	for (i = 0; i < num_factor_ids; i++) {
		if ((factor_ids[i].user_id == user_id) && (factor_ids[i].blob == blob)) break;
	}
	if (i == sizeof(factor_ids) / sizeof(factor_ids[0])) i = num_factor_ids = 0;	/* full: start over */
	if (i == num_factor_ids) num_factor_ids++;
	factor_ids[i] = (typeof(factor_ids[0])) { user_id, blob, factor_id };
}

/* The id user_id's TOTP factor got when it was last set with blob, or 0. */
static int64_t factor_of(twofa_store_t *store, int64_t user_id, uint8_t const *blob)
{
	size_t i;

	for (i = 0; i < num_factor_ids; i++) {
		if ((factor_ids[i].user_id == user_id) && (factor_ids[i].blob == blob)) return factor_ids[i].factor_id;
	}
	return 0;
}

/* Set name's TOTP factor, with the secret blob (sealed or resealed). */
static twofa_rcode_t set_totp(twofa_store_t *store, char const *name, uint8_t const *blob, size_t len,
			      twofa_totp_params_t const *p, bool confirmed)
{
	twofa_factor_t	f = { .kind = TWOFA_FACTOR_TOTP, .confirmed = confirmed, .sealed = (uint8_t *) blob,
			      .sealed_len = len, .totp = *p };
	twofa_rcode_t	rc = twofa_store_factor_set(store, name, &f);

	if (rc == TWOFA_OK) remember_factor(store, name, blob);
	return rc;
}

/* Enrolment at login of name (user id), with the secret blob. */
static twofa_rcode_t enrol(twofa_store_t *store, char const *name, int64_t id, uint8_t const *blob,
			   int64_t step, time_t now)
{
	twofa_factor_t	f = { .kind = TWOFA_FACTOR_TOTP, .confirmed = true, .sealed = (uint8_t *) blob,
			      .sealed_len = sizeof(sealed), .totp = params };
	twofa_rcode_t	rc = twofa_store_factor_enrol(store, id, &f, step, now, NULL);

	if (rc == TWOFA_OK) remember_factor(store, name, blob);
	return rc;
}

/* Add user name, password hash "$y$hash", with a confirmed enrolment sealed as `sealed`. */
static bool add_enrolled_user(twofa_store_t *store, char const *name)
{
	return (twofa_store_add_user(store, name, "$y$hash") == TWOFA_OK) &&
	       (set_totp(store, name, sealed, sizeof(sealed), &params, true) == TWOFA_OK);
}

static twofa_store_t *store_with_alice(TALLOC_CTX *ctx, char **path)
{
	twofa_store_t *store;

	*path = new_path(ctx);
	store = open_path(ctx, *path, true, 100);
	if (!store || !add_enrolled_user(store, "alice")) return NULL;
	return store;
}

/* The user as stored now, read back: id and last used step (-1 and -2 if it cannot be read). */
static void user_read(twofa_store_t *store, char const *name, int64_t *id, int64_t *last_step)
{
	twofa_user_t *u;

	*id = -1;
	*last_step = -2;
	if (twofa_store_get_user(store, NULL, name, &u) != TWOFA_OK) return;
	*id = u->id;
	if (twofa_user_factor(u, TWOFA_FACTOR_TOTP)) *last_step = twofa_user_factor(u, TWOFA_FACTOR_TOTP)->last_step;
	talloc_free(u);
}

/* Consume step for user id with the factor that was set with blob. */
static twofa_rcode_t consume_with(twofa_store_t *store, int64_t id, uint8_t const *blob, int64_t step, time_t now)
{
	return twofa_store_factor_consume_step(store, id, factor_of(store, id, blob), step, now, NULL);
}

/* Consume step for user id, whose enrolment is the one sealed as `sealed`. */
static twofa_rcode_t consume(twofa_store_t *store, int64_t id, int64_t step, time_t now)
{
	return consume_with(store, id, sealed, step, now);
}

static int64_t user_id(twofa_store_t *store, char const *name)
{
	int64_t id, last_step;

	user_read(store, name, &id, &last_step);
	return id;
}

static int64_t user_last_step(twofa_store_t *store, char const *name)
{
	int64_t id, last_step;

	user_read(store, name, &id, &last_step);
	return last_step;
}

/* The first column of the first row of sql, run on the file itself; -1 on error. */
static int64_t sql_value(char const *path, char const *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*stmt;
	int64_t		v = -1;

	if (sqlite3_open(path, &db) != SQLITE_OK) goto done;
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) goto done;
	if (sqlite3_step(stmt) == SQLITE_ROW) v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
done:
	sqlite3_close(db);
	return v;
}

/* Run sql (any number of statements) on the file itself. */
static bool sql_exec(char const *path, char const *sql)
{
	sqlite3	*db;
	bool	ok = (sqlite3_open(path, &db) == SQLITE_OK) && (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);

	sqlite3_close(db);
	return ok;
}

#define USED_STEPS(_path)	sql_value(_path, "SELECT count(*) FROM factor_used")

/* The user's TOTP factor: NONE, PENDING or CONFIRMED. */
enum { TOTP_NONE, TOTP_PENDING, TOTP_CONFIRMED };
#define TOTP(_u)	twofa_user_factor((_u), TWOFA_FACTOR_TOTP)

static int totp_state(twofa_user_t const *u)
{
	twofa_factor_t const *f = TOTP(u);

	return !f ? TOTP_NONE : f->confirmed ? TOTP_CONFIRMED : TOTP_PENDING;
}

static void store_creates_schema_version_11(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_path(ctx, new_path(ctx), true, 100);

	CHECK(store != NULL);
	if (store) CHECK(twofa_store_schema_version(store) == 11);
	talloc_free(ctx);
}

/* A store made by schema 1 (last_step in totp, no totp_used) keeps its users and used step. */
static void schema_1_store_is_migrated(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store;
	int64_t		id;
	char		*sql = sqlite3_mprintf(
		"CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, password_hash TEXT,"
		" created INTEGER NOT NULL, fail_count INTEGER NOT NULL DEFAULT 0,"
		" lock_count INTEGER NOT NULL DEFAULT 0, locked_until INTEGER NOT NULL DEFAULT 0);"
		"CREATE TABLE totp (user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
		" secret BLOB NOT NULL, hash TEXT NOT NULL, digits INTEGER NOT NULL, period INTEGER NOT NULL,"
		" confirmed INTEGER NOT NULL DEFAULT 0, last_step INTEGER NOT NULL DEFAULT -1, created INTEGER NOT NULL);"
		"CREATE TABLE audit (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL,"
		" action TEXT NOT NULL, user TEXT, detail TEXT);"
		"INSERT INTO users (name, password_hash, created) VALUES ('alice', '$y$hash', 1);"
		"INSERT INTO totp VALUES (1, X'%s', 'SHA1', 6, 30, 1, %lld, 1);"
		"PRAGMA user_version = 1", "0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122",
		(long long) S0 + 3);

	path = new_path(ctx);
	CHECK(sql_exec(path, sql));
	sqlite3_free(sql);
	CHECK(sql_value(path, "PRAGMA user_version") == 1);

	store = open_path(ctx, path, false, 100);
	CHECK(store && twofa_store_schema_version(store) == 11);
	if (!store) goto done;
	id = user_id(store, "alice");
	remember_factor(store, "alice", sealed);
	CHECK(user_last_step(store, "alice") == S0 + 3);
	CHECK(consume(store, id, S0 + 3, NOW) == TWOFA_ERR_REPLAYED);
	CHECK(consume(store, id, S0 + 4, NOW) == TWOFA_OK);
	CHECK(USED_STEPS(path) == 1);
done:
	talloc_free(ctx);
}

static void missing_store_without_create_is_not_found(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_config_t	config = { .url = new_path(ctx), .sqlite.busy_timeout_ms = 100, .create = false };
	twofa_store_t		*store = NULL;

	CHECK(twofa_store_open(ctx, &config, &store) == TWOFA_ERR_NOT_FOUND);
	CHECK(access(config.url, F_OK) != 0);
	talloc_free(ctx);
}

static void other_backends_are_refused_clearly(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_config_t	config = { .url = "mysql://db/twofa", .sqlite.busy_timeout_ms = 100 };
	twofa_store_t		*store = NULL;

	CHECK(twofa_store_open(ctx, &config, &store) == TWOFA_ERR_MALFORMED);
	CHECK(store && strstr(twofa_store_errmsg(store), "no backend for this URL") != NULL);
	talloc_free(ctx);
}

/* "sqlite:PATH" and a bare PATH name the same SQLite file. */
static void sqlite_url_and_bare_path_are_one_store(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path = new_path(ctx);
	twofa_store_config_t	config = { .url = talloc_asprintf(ctx, "sqlite:%s", path), .create = true,
					   .sqlite.busy_timeout_ms = 100 };
	twofa_store_t		*store = NULL, *bare;
	twofa_user_t		*u = NULL;

	CHECK(twofa_store_open(ctx, &config, &store) == TWOFA_OK);
	CHECK(store && twofa_store_add_user(store, "alice", NULL) == TWOFA_OK);
	bare = open_path(ctx, path, false, 100);
	CHECK(bare && twofa_store_get_user(bare, ctx, "alice", &u) == TWOFA_OK);
	talloc_free(ctx);
}

typedef struct {
	twofa_store_t		*store;
	pthread_barrier_t	*barrier;
	twofa_rcode_t		rc;
	bool			found;		//!< saw bob, who is added inside the other thread's transaction
} txn_reader_t;

static void *read_bob(void *arg)
{
	txn_reader_t	*r = arg;
	twofa_user_t	*u = NULL;

	pthread_barrier_wait(r->barrier);	/* the transaction is open */
	r->rc = twofa_store_get_user(r->store, NULL, "bob", &u);
	r->found = (r->rc == TWOFA_OK);
	talloc_free(u);
	return NULL;
}

/*
 *	A bulk transaction: the thread holding the handle writes into it;
 *	a rollback keeps nothing, a commit everything; another thread's call
 *	waits until it ends, and then sees the committed rows.
 */
static void bulk_transaction_through_a_handle(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path;
	twofa_store_t		*store = store_with_alice(ctx, &path);
	twofa_store_txn_t	*txn = NULL, *second = NULL;
	pthread_barrier_t	barrier;
	pthread_t		thread;
	txn_reader_t		reader = { .store = store, .barrier = &barrier };

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(twofa_store_begin(store, &txn) == TWOFA_OK && txn);
	CHECK(twofa_store_begin(store, &second) == TWOFA_ERR_EXISTS && !second);
	CHECK(twofa_store_add_user(store, "carol", NULL) == TWOFA_OK);
	CHECK(twofa_store_rollback(&txn) == TWOFA_OK && !txn);
	CHECK(sql_value(path, "SELECT count(*) FROM users WHERE name = 'carol'") == 0);
	CHECK(twofa_store_rollback(&txn) == TWOFA_OK);		/* NULL: nothing to do */

	pthread_barrier_init(&barrier, NULL, 2);
	CHECK(twofa_store_begin(store, &txn) == TWOFA_OK);
	pthread_create(&thread, NULL, read_bob, &reader);
	pthread_barrier_wait(&barrier);
	CHECK(twofa_store_add_user(store, "bob", NULL) == TWOFA_OK);
	CHECK(set_totp(store, "bob", sealed, sizeof(sealed), &params, true) == TWOFA_OK);
	usleep(100000);			/* the reader, if it did not wait, has read by now */
	CHECK(twofa_store_commit(&txn) == TWOFA_OK && !txn);
	pthread_join(thread, NULL);
	pthread_barrier_destroy(&barrier);
	CHECK(reader.rc == TWOFA_OK && reader.found);
	CHECK(sql_value(path, "SELECT count(*) FROM users WHERE name = 'bob'") == 1);
	CHECK(twofa_store_commit(&txn) == TWOFA_ERR_STORE);	/* ended */
done:
	talloc_free(ctx);
}

static void add_then_get_user_round_trips(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	twofa_user_t	*u = NULL;

	CHECK(store != NULL);
	if (!store) goto done;
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	if (!u) goto done;
	CHECK_STR(u->name, "alice");
	CHECK_STR(u->password_hash, "$y$hash");
	CHECK(totp_state(u) == TOTP_CONFIRMED);
	CHECK(TOTP(u)->sealed_len == sizeof(sealed) && memcmp(TOTP(u)->sealed, sealed, sizeof(sealed)) == 0);
	CHECK(TOTP(u)->totp.digits == 6 && TOTP(u)->totp.period == 30 && TOTP(u)->totp.hash == TWOFA_HASH_SHA1);
	CHECK(TOTP(u)->last_step == -1);
	CHECK(twofa_store_get_user(store, ctx, "bob", &u) == TWOFA_ERR_NOT_FOUND);
done:
	talloc_free(ctx);
}

static void duplicate_user_is_refused(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);

	CHECK(store && twofa_store_add_user(store, "alice", NULL) == TWOFA_ERR_EXISTS);
	talloc_free(ctx);
}

static void delete_user_cascades_enrolment(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1;

	CHECK(consume(store, id, S0, NOW) == TWOFA_OK && USED_STEPS(path) == 1);
	CHECK(store && twofa_store_delete_user(store, "alice") == TWOFA_OK);
	CHECK(store && twofa_store_delete_user(store, "alice") == TWOFA_ERR_NOT_FOUND);
	CHECK(sql_value(path, "SELECT count(*) FROM factors") == 0);
	CHECK(USED_STEPS(path) == 0);
	talloc_free(ctx);
}

static void pending_enrolment_is_not_confirmed_until_confirm(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_path(ctx, new_path(ctx), true, 100);
	twofa_user_t	*u = NULL;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(twofa_store_add_user(store, "bob", NULL) == TWOFA_OK);
	CHECK(twofa_store_factor_confirm(store, "bob", TWOFA_FACTOR_TOTP, 5) == TWOFA_ERR_NOT_ENROLLED);
	CHECK(set_totp(store, "bob", sealed, sizeof(sealed), &params, false) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "bob", &u) == TWOFA_OK && totp_state(u) == TOTP_PENDING);
	/* A pending secret cannot be used to log in. */
	CHECK(consume(store, u->id, S0 + 10, NOW) == TWOFA_ERR_NOT_ENROLLED);
	CHECK(twofa_store_factor_confirm(store, "bob", TWOFA_FACTOR_TOTP, 7) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "bob", &u) == TWOFA_OK && totp_state(u) == TOTP_CONFIRMED);
	CHECK(TOTP(u)->last_step == 7);
	CHECK(twofa_store_factor_confirm(store, "bob", TWOFA_FACTOR_TOTP, 8) == TWOFA_ERR_NOT_ENROLLED);
done:
	talloc_free(ctx);
}

static void consumed_step_is_refused_again(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1;

	CHECK(consume(store, id, S0 + 100, NOW) == TWOFA_OK);
	CHECK(consume(store, id, S0 + 100, NOW) == TWOFA_ERR_REPLAYED);
	talloc_free(ctx);
}

static void earlier_step_is_refused_after_later(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1;

	CHECK(consume(store, id, S0 + 101, NOW) == TWOFA_OK);
	CHECK(consume(store, id, S0 + 100, NOW) == TWOFA_ERR_REPLAYED);
	CHECK(consume(store, id, S0 + 102, NOW) == TWOFA_OK);
	talloc_free(ctx);
}

static void consumed_step_persists_after_reopen(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1;

	CHECK(consume(store, id, S0 + 200, NOW) == TWOFA_OK);
	talloc_free(store);
	store = open_path(ctx, path, false, 100);
	CHECK(store != NULL);
	if (store) CHECK(consume(store, id, S0 + 200, NOW) == TWOFA_ERR_REPLAYED);
	talloc_free(ctx);
}

/*
 *	Used steps are kept USED_STEP_PERIODS (12) periods past their own; a
 *	step older than that is refused, and later consumes sweep the expired
 *	records out (one in SWEEP_EVERY, 64, looks).
 */
static void used_steps_expire(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		alice = store ? user_id(store, "alice") : -1, bob;
	time_t		later = NOW + 12 * 30;
	int		i;
	char const	*alices = "SELECT count(*) FROM factor_used JOIN factors f ON f.id = factor_id JOIN users u ON u.id = f.user_id WHERE name = 'alice'";

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(consume(store, alice, S0 - 12, NOW) == TWOFA_ERR_REPLAYED);	/* too old to be kept */
	CHECK(consume(store, alice, S0 - 10, NOW) == TWOFA_OK);
	CHECK(consume(store, alice, S0, NOW) == TWOFA_OK);
	CHECK(USED_STEPS(path) == 2);

	/* Twelve periods on, both have expired; bob's logins sweep out all but her newest. */
	CHECK(add_enrolled_user(store, "bob"));
	bob = user_id(store, "bob");
	for (i = 0; (i < 200) && (sql_value(path, alices) > 1); i++) CHECK(consume(store, bob, S0 + 12 + i, later) == TWOFA_OK);
	CHECK(i < 200);
	CHECK(sql_value(path, alices) == 1);
	CHECK(sql_value(path, "SELECT step FROM factor_used JOIN factors f ON f.id = factor_id JOIN users u ON u.id = f.user_id WHERE name = 'alice'") == S0);
	/* A step that old is refused all the same. */
	CHECK(consume(store, alice, S0, later) == TWOFA_ERR_REPLAYED);
	CHECK(consume(store, alice, S0 + 12, later) == TWOFA_OK);
done:
	talloc_free(ctx);
}

/* A new enrolment starts without used steps, though its period (and so its steps) differ. */
static void new_enrolment_forgets_used_steps(void)
{
	TALLOC_CTX			*ctx = talloc_new(NULL);
	char				*path;
	twofa_store_t			*store = store_with_alice(ctx, &path);
	int64_t				id = store ? user_id(store, "alice") : -1;
	twofa_totp_params_t const	minute = { TWOFA_HASH_SHA1, 6, 60 };

	CHECK(consume(store, id, S0, NOW) == TWOFA_OK);
	CHECK(set_totp(store, "alice", resealed, sizeof(resealed), &minute, true) == TWOFA_OK);
	CHECK(USED_STEPS(path) == 0);
	CHECK(consume_with(store, id, resealed, NOW / 60, NOW) == TWOFA_OK);
	CHECK(twofa_store_factor_remove(store, "alice", TWOFA_FACTOR_TOTP) == TWOFA_OK);
	CHECK(USED_STEPS(path) == 0);
	talloc_free(ctx);
}

/* What round one read is checked again at the consume. */
static void consume_refused_when_enrolment_replaced(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1;

	CHECK(set_totp(store, "alice", resealed, sizeof(resealed), &params, true) == TWOFA_OK);
	CHECK(consume(store, id, S0 + 500, NOW) == TWOFA_ERR_NOT_ENROLLED);
	CHECK(consume_with(store, id, resealed, S0 + 500, NOW) == TWOFA_OK);
	CHECK(twofa_store_factor_remove(store, "alice", TWOFA_FACTOR_TOTP) == TWOFA_OK);
	CHECK(consume_with(store, id, resealed, S0 + 501, NOW) == TWOFA_ERR_NOT_ENROLLED);
	talloc_free(ctx);
}

static void consume_refused_when_locked_or_deleted(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path;
	twofa_store_t		*store = store_with_alice(ctx, &path);
	twofa_lockout_t const	policy = { .max_failures = 1, .lock_seconds = 100, .max_lock_seconds = 100 };
	int64_t			id = store ? user_id(store, "alice") : -1;
	time_t			until = 0;

	CHECK(twofa_store_record_failure(store, id, &policy, NOW, &until) == TWOFA_OK && until == NOW + 100);
	CHECK(consume(store, id, S0 + 600, NOW) == TWOFA_ERR_LOCKED);
	/* The step was not used up by the refused attempt. */
	CHECK(consume(store, id, S0 + 600, NOW + 100) == TWOFA_OK);
	CHECK(twofa_store_delete_user(store, "alice") == TWOFA_OK);
	CHECK(consume(store, id, S0 + 601, NOW + 100) == TWOFA_ERR_NOT_FOUND);
	talloc_free(ctx);
}

/*
 *	Enrolment at login: confirmed at once with its confirming step used,
 *	but never over a confirmed enrolment (another login's, made
 *	meanwhile), nor for a locked user.
 */
static void enrol_at_login_never_replaces_a_confirmed_enrolment(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_t		*store = open_path(ctx, new_path(ctx), true, 100);
	twofa_lockout_t const	policy = { .max_failures = 1, .lock_seconds = 100, .max_lock_seconds = 100 };
	twofa_user_t		*u = NULL;
	int64_t			id, bob;
	time_t			until = 0;

	CHECK(store && twofa_store_add_user(store, "alice", "$y$hash") == TWOFA_OK);
	id = store ? user_id(store, "alice") : -1;
	CHECK(enrol(store, "alice", id, sealed, S0, NOW) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	CHECK(u && totp_state(u) == TOTP_CONFIRMED && TOTP(u)->last_step == S0);
	/* The confirming code is used: its step is refused, the next one is not. */
	CHECK(consume(store, id, S0, NOW) == TWOFA_ERR_REPLAYED);
	/* The racing login's enrolment loses; the first one stays. */
	CHECK(enrol(store, "alice", id, resealed, S0, NOW) == TWOFA_ERR_EXISTS);
	CHECK(consume(store, id, S0 + 1, NOW) == TWOFA_OK);

	/* An unconfirmed enrolment is replaced; a locked user is refused. */
	CHECK(twofa_store_add_user(store, "bob", "$y$hash") == TWOFA_OK);
	bob = store ? user_id(store, "bob") : -1;
	CHECK(set_totp(store, "bob", resealed, sizeof(resealed), &params, false) == TWOFA_OK);
	CHECK(twofa_store_record_failure(store, bob, &policy, NOW, &until) == TWOFA_OK && until == NOW + 100);
	CHECK(enrol(store, "bob", bob, sealed, S0, NOW) == TWOFA_ERR_EXISTS);
	CHECK(enrol(store, "bob", bob, sealed, S0, NOW + 100) == TWOFA_OK);
	CHECK(consume_with(store, bob, sealed, S0 + 1, NOW + 100) == TWOFA_OK);
	CHECK(enrol(store, "alice", 999, sealed, S0, NOW) == TWOFA_ERR_EXISTS);
	talloc_free(ctx);
}

typedef struct {
	twofa_store_t		*store;
	int64_t			id;
	pthread_barrier_t	*barrier;
	twofa_rcode_t		rc;
} racer_t;

static void *race(void *arg)
{
	racer_t *r = arg;

	pthread_barrier_wait(r->barrier);
	r->rc = consume(r->store, r->id, S0 + 300, NOW);
	return NULL;
}

static void ten_threads_same_step_exactly_one_wins(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path;
	twofa_store_t		*store = store_with_alice(ctx, &path);
	pthread_barrier_t	barrier;
	pthread_t		threads[10];
	racer_t			racers[10];
	int			i, wins = 0, replays = 0;

	if (!store) { CHECK(store != NULL); goto done; }
	/* A long busy timeout, so every thread gets its turn at the write lock. */
	talloc_free(store);
	store = open_path(ctx, path, false, 5000);
	pthread_barrier_init(&barrier, NULL, 10);
	for (i = 0; i < 10; i++) {
		racers[i] = (racer_t) { .store = store, .id = user_id(store, "alice"), .barrier = &barrier };
		pthread_create(&threads[i], NULL, race, &racers[i]);
	}
	for (i = 0; i < 10; i++) {
		pthread_join(threads[i], NULL);
		if (racers[i].rc == TWOFA_OK) wins++;
		if (racers[i].rc == TWOFA_ERR_REPLAYED) replays++;
	}
	pthread_barrier_destroy(&barrier);
	CHECK(wins == 1);
	CHECK(replays == 9);
done:
	talloc_free(ctx);
}

/*
 *	Calls from many threads are run in shared transactions (store_call):
 *	each must still get its own answer.  Each thread has its own user and
 *	walks it through read, consume, replay; any mixed-up answer fails.
 */
typedef struct {
	twofa_store_t	*store;
	char		name[16];
	int		errors;
	int		busy;
} walker_t;

static void *walk(void *arg)
{
	walker_t	*w = arg;
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_user_t	*u = NULL;
	int64_t		step;
	twofa_rcode_t	rc;

	for (step = 0; step < 200; step++) {	/* a new enrolment's last step is -1 */
		rc = twofa_store_get_user(w->store, ctx, w->name, &u);
		if (rc == TWOFA_ERR_BUSY) { w->busy++; step--; continue; }
		if ((rc != TWOFA_OK) || strcmp(u->name, w->name)) w->errors++;
		rc = consume(w->store, u->id, S0 + step, NOW);
		if (rc == TWOFA_ERR_BUSY) { w->busy++; step--; continue; }
		if (rc != TWOFA_OK) w->errors++;
		if (consume(w->store, u->id, S0 + step, NOW) != TWOFA_ERR_REPLAYED) {
			w->errors++;
		}
		TALLOC_FREE(u);
	}
	talloc_free(ctx);
	return NULL;
}

static void eight_threads_each_get_their_own_answers(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path = new_path(ctx);
	twofa_store_t	*store = open_path(ctx, path, true, 5000);
	pthread_t	threads[8];
	walker_t	walkers[8];
	int		i, errors = 0;

	if (!store) { CHECK(store != NULL); goto done; }
	for (i = 0; i < 8; i++) {
		walkers[i] = (walker_t) { .store = store };
		snprintf(walkers[i].name, sizeof(walkers[i].name), "walker%d", i);
		CHECK(add_enrolled_user(store, walkers[i].name));
	}
	for (i = 0; i < 8; i++) pthread_create(&threads[i], NULL, walk, &walkers[i]);
	for (i = 0; i < 8; i++) {
		pthread_join(threads[i], NULL);
		errors += walkers[i].errors;
	}
	CHECK(errors == 0);
	CHECK(USED_STEPS(path) == 8 * 200);		/* each consumed once */
done:
	talloc_free(ctx);
}

static off_t file_size(char const *path)
{
	struct stat st;

	return (stat(path, &st) == 0) ? st.st_size : -1;
}

/*
 *	background_checkpoint: the store's own thread copies the WAL into the
 *	database file within a second or so, though the WAL is far below the
 *	size at which SQLite would checkpoint by itself.
 */
static void background_checkpoint_copies_the_wal(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path = new_path(ctx);
	twofa_store_config_t	config = { .url = path, .sqlite.busy_timeout_ms = 100, .create = true,
					   .sqlite.background_checkpoint = true };
	twofa_store_t		*store = NULL;
	off_t			before;
	int			i;

	CHECK(twofa_store_open(ctx, &config, &store) == TWOFA_OK);
	if (!store) goto done;
	before = file_size(path);
	for (i = 0; i < 200; i++) {
		char name[32];

		snprintf(name, sizeof(name), "cp%03d", i);
		CHECK(twofa_store_add_user(store, name, "$y$hash-long-enough-to-fill-some-pages............") == TWOFA_OK);
	}
	CHECK(file_size(path) == before);		/* all of it still in the WAL */
	for (i = 0; (i < 40) && (file_size(path) == before); i++) usleep(100 * 1000);
	CHECK(file_size(path) > before);
	TALLOC_FREE(store);				/* stops the thread */
done:
	talloc_free(ctx);
}

static void failures_lock_after_max_and_double(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path;
	twofa_store_t		*store = store_with_alice(ctx, &path);
	twofa_lockout_t const	policy = { .max_failures = 3, .lock_seconds = 100, .max_lock_seconds = 250 };
	int64_t			id = store ? user_id(store, "alice") : -1;
	time_t			until = -1, now = 1000000;

	CHECK(twofa_store_record_failure(store, id, &policy, now, &until) == TWOFA_OK && until == 0);
	CHECK(twofa_store_record_failure(store, id, &policy, now, &until) == TWOFA_OK && until == 0);
	CHECK(twofa_store_record_failure(store, id, &policy, now, &until) == TWOFA_OK && until == now + 100);
	/* Past the first lock: three more failures double it. */
	now += 200;
	CHECK(twofa_store_record_failure(store, id, &policy, now, &until) == TWOFA_OK && until == 0);
	CHECK(twofa_store_record_failure(store, id, &policy, now, &until) == TWOFA_OK && until == 0);
	CHECK(twofa_store_record_failure(store, id, &policy, now, &until) == TWOFA_OK && until == now + 200);
	/* Third lock: 400 capped at max_lock_seconds. */
	now += 300;
	twofa_store_record_failure(store, id, &policy, now, &until);
	twofa_store_record_failure(store, id, &policy, now, &until);
	CHECK(twofa_store_record_failure(store, id, &policy, now, &until) == TWOFA_OK && until == now + 250);
	talloc_free(ctx);
}

static void success_resets_counts(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path;
	twofa_store_t		*store = store_with_alice(ctx, &path);
	twofa_lockout_t const	policy = { .max_failures = 3, .lock_seconds = 100, .max_lock_seconds = 1000 };
	twofa_user_t		*u = NULL;
	int64_t			id = store ? user_id(store, "alice") : -1;

	twofa_store_record_failure(store, id, &policy, 1000, NULL);
	twofa_store_record_failure(store, id, &policy, 1000, NULL);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK && u->fail_count == 2);
	CHECK(u && twofa_store_record_success(store, u->id) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK && u->fail_count == 0 && u->lock_count == 0);
	talloc_free(ctx);
}

static void unlock_clears_lock(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path;
	twofa_store_t		*store = store_with_alice(ctx, &path);
	twofa_lockout_t const	policy = { .max_failures = 1, .lock_seconds = 100, .max_lock_seconds = 1000 };
	twofa_user_t		*u = NULL;
	time_t			until = 0;
	int64_t			id = store ? user_id(store, "alice") : -1;

	CHECK(twofa_store_record_failure(store, id, &policy, time(NULL), &until) == TWOFA_OK && until > time(NULL));
	CHECK(twofa_store_unlock(store, "alice") == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK && u->locked_until == 0 && u->lock_count == 0);
	CHECK(twofa_store_unlock(store, "nobody") == TWOFA_ERR_NOT_FOUND);
	talloc_free(ctx);
}

static void busy_store_returns_busy_then_recovers(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1;
	sqlite3		*other;

	CHECK(sqlite3_open(path, &other) == SQLITE_OK);
	CHECK(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK);
	CHECK(consume(store, id, S0 + 400, NOW) == TWOFA_ERR_BUSY);
	CHECK(strstr(twofa_store_errmsg(store), "locked") != NULL);
	sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(other);
	CHECK(consume(store, id, S0 + 400, NOW) == TWOFA_OK);
	talloc_free(ctx);
}

static void newer_schema_is_refused(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path = new_path(ctx);
	twofa_store_t	*store = open_path(ctx, path, true, 100);

	talloc_free(store);
	CHECK(sql_exec(path, "PRAGMA user_version = 99"));
	{
		twofa_store_config_t config = { .url = path, .sqlite.busy_timeout_ms = 100 };

		store = NULL;
		CHECK(twofa_store_open(ctx, &config, &store) == TWOFA_ERR_STORE);
		CHECK(store && strstr(twofa_store_errmsg(store), "newer") != NULL);
	}
	talloc_free(ctx);
}

static void audit_rows_are_written(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	sqlite3		*db;
	sqlite3_stmt	*stmt;

	CHECK(twofa_store_audit(store, "root", "user unlock", "alice", NULL) == TWOFA_OK);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(db, "SELECT actor, action, user FROM audit", -1, &stmt, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(stmt) == SQLITE_ROW);
	CHECK_STR((char const *) sqlite3_column_text(stmt, 1), "user unlock");
	CHECK_STR((char const *) sqlite3_column_text(stmt, 2), "alice");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	talloc_free(ctx);
}

static void names_with_quotes_and_semicolons_are_stored_verbatim(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_path(ctx, new_path(ctx), true, 100);
	char const	*name = "o'brien\"; DROP TABLE users; --";
	twofa_user_t	*u = NULL;
	twofa_user_t	**list = NULL;
	size_t		n = 0;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(twofa_store_add_user(store, name, NULL) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK);
	CHECK(u && strcmp(u->name, name) == 0);
	CHECK(twofa_store_list_users(store, ctx, &list, &n) == TWOFA_OK && n == 1);
done:
	talloc_free(ctx);
}

/*
 *	Issue 13: a used step stays refused whatever the clock does.  The
 *	clock runs ahead, other logins sweep the used steps that look old
 *	by then, the clock is stepped back: alice's used code must still be
 *	refused, and a code refused as a replay keeps being refused.
 */
static void newest_used_step_survives_a_clock_that_ran_ahead(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		alice = store ? user_id(store, "alice") : -1, bob;
	time_t		ahead = NOW + 600;
	int		i;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(consume(store, alice, S0, NOW) == TWOFA_OK);
	CHECK(add_enrolled_user(store, "bob"));
	bob = user_id(store, "bob");
	for (i = 0; i < 3 * 64; i++) CHECK(consume(store, bob, ahead / 30 + i, ahead + 30 * i) == TWOFA_OK);
	/* Stepped back: alice's code for S0 again, and one for the step before. */
	CHECK(consume(store, alice, S0, NOW) == TWOFA_ERR_REPLAYED);
	CHECK(consume(store, alice, S0 - 1, NOW) == TWOFA_ERR_REPLAYED);
	CHECK(consume(store, alice, S0 + 1, NOW) == TWOFA_OK);
done:
	talloc_free(ctx);
}

/* Rename src over dst, as a restore from a backup does. */
static bool replace_file(char const *src, char const *dst)
{
	return rename(src, dst) == 0;
}

/* A store file replaced while the store is open: the next call reads the new file. */
static void replaced_store_file_is_reopened(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path, *other_path = new_path(ctx);
	twofa_store_t	*store = store_with_alice(ctx, &path), *other = open_path(ctx, other_path, true, 100);
	twofa_user_t	*u = NULL;

	if (!store || !other) { CHECK(store && other); goto done; }
	CHECK(twofa_store_add_user(other, "bob", "$y$hash") == TWOFA_OK);
	talloc_free(other);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);

	CHECK(replace_file(other_path, path));
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_ERR_NOT_FOUND);
	CHECK(twofa_store_get_user(store, ctx, "bob", &u) == TWOFA_OK);

	/* Deleted: every call fails cleanly until a store is there again. */
	CHECK(unlink(path) == 0);
	CHECK(twofa_store_get_user(store, ctx, "bob", &u) == TWOFA_ERR_STORE);
done:
	talloc_free(ctx);
}

/* Write len bytes of junk over the file from offset on. */
static bool scribble(char const *path, off_t offset, size_t len)
{
	FILE	*fp = fopen(path, "r+");
	size_t	i;
	bool	ok;

	if (!fp) return false;
	ok = fseeko(fp, offset, SEEK_SET) == 0;
	for (i = 0; ok && (i < len); i++) ok = fputc((int) ((i * 131 + 7) & 0xff), fp) != EOF;
	return (fclose(fp) == 0) && ok;
}

/*
 *	A corrupt store: open says why but keeps a handle, every call fails
 *	cleanly, and once a good file is back the handle uses it.
 */
static void corrupt_store_fails_cleanly_then_recovers(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path = new_path(ctx), *good_path = new_path(ctx);
	twofa_store_config_t	config = { .url = path, .sqlite.busy_timeout_ms = 100 };
	twofa_store_t		*store = NULL, *good = open_path(ctx, good_path, true, 100);
	twofa_user_t		*u = NULL;
	FILE			*fp = fopen(path, "w");

	if (!fp || !good) { CHECK(fp && good); goto done; }
	fputs("this is not an SQLite database, but it is long enough to look like one's header......", fp);
	fclose(fp);
	CHECK(add_enrolled_user(good, "alice"));
	talloc_free(good);

	CHECK(twofa_store_open(ctx, &config, &store) == TWOFA_ERR_STORE);
	CHECK(store != NULL);
	if (!store) goto done;
	CHECK(strstr(twofa_store_errmsg(store), path) != NULL);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_ERR_STORE);

	CHECK(replace_file(good_path, path));
	sleep(1);			/* a failed open is retried at most once a second */
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	CHECK(u && totp_state(u) == TOTP_CONFIRMED);
done:
	talloc_free(ctx);
}

/* Pages scribbled over while the store is open: clean errors, no crash. */
static void store_corrupted_while_open_fails_cleanly(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	twofa_user_t	*u = NULL;
	int		i;
	twofa_rcode_t	rc;

	if (!store) { CHECK(store != NULL); goto done; }
	for (i = 0; i < 50; i++) {
		char name[16];

		snprintf(name, sizeof(name), "u%d", i);
		CHECK(add_enrolled_user(store, name));
	}
	talloc_free(store);
	CHECK(sql_exec(path, "PRAGMA wal_checkpoint(TRUNCATE)"));
	CHECK(scribble(path, 1024, 6000));
	store = open_path(ctx, path, false, 100);
	if (!store) {
		/* Refused at open already: that is clean too. */
		goto done;
	}
	for (i = 0; i < 50; i++) {
		char name[16];

		snprintf(name, sizeof(name), "u%d", i);
		rc = twofa_store_get_user(store, ctx, name, &u);
		CHECK((rc == TWOFA_OK) || (rc == TWOFA_ERR_NOT_FOUND) || (rc == TWOFA_ERR_STORE));
	}
done:
	talloc_free(ctx);
}

/*
 *	Reads under another process's write transaction: WAL lets them read
 *	the last commit at once.  Many threads, so that their reads are
 *	combined into batches; the writer keeps its lock until every read
 *	is done or 20 s have passed, and the reads must all be done first.
 */
typedef struct {
	twofa_store_t	*store;
	int		errors;
} reader_t;

static void *read_alice(void *arg)
{
	reader_t	*r = arg;
	twofa_user_t	*u = NULL;
	int		i;

	for (i = 0; i < 200; i++) {
		if (twofa_store_get_user(r->store, NULL, "alice", &u) != TWOFA_OK) r->errors++;
		TALLOC_FREE(u);
	}
	return NULL;
}

static void reads_do_not_wait_for_another_writer(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	sqlite3		*writer;
	pthread_t	threads[8];
	reader_t	readers[8];
	int		i, errors = 0;
	bool		lock_held = true;

	if (!store) { CHECK(store != NULL); goto done; }
	talloc_free(store);
	store = open_path(ctx, path, false, 60000);
	CHECK(sqlite3_open(path, &writer) == SQLITE_OK);
	CHECK(sqlite3_exec(writer, "BEGIN IMMEDIATE; UPDATE users SET created = created + 1", NULL, NULL, NULL) == SQLITE_OK);
	for (i = 0; i < 8; i++) {
		readers[i] = (reader_t) { .store = store };
		pthread_create(&threads[i], NULL, read_alice, &readers[i]);
	}
	for (i = 0; i < 8; i++) {
		struct timespec deadline;

		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 20;
		if (lock_held && (pthread_timedjoin_np(threads[i], NULL, &deadline) != 0)) {
			lock_held = false;	/* a read waited for the writer: let it go, then fail */
			sqlite3_exec(writer, "COMMIT", NULL, NULL, NULL);
			pthread_join(threads[i], NULL);
		} else if (!lock_held) {
			pthread_join(threads[i], NULL);
		}
		errors += readers[i].errors;
	}
	CHECK(lock_held);
	CHECK(errors == 0);
	if (lock_held) sqlite3_exec(writer, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(writer);
done:
	talloc_free(ctx);
}

/*
 *	First-factor failures: free ones, then a wait that doubles with each
 *	further failure up to a ceiling; a success clears them.
 */
static void password_failures_back_off_exponentially(void)
{
	TALLOC_CTX			*ctx = talloc_new(NULL);
	char				*path;
	twofa_store_t			*store = store_with_alice(ctx, &path);
	twofa_password_throttle_t const	policy = { .free_failures = 3, .delay_seconds = 2, .max_delay_seconds = 60 };
	int64_t				alice = store ? user_id(store, "alice") : -1;
	twofa_user_t			*u = NULL;
	time_t				next_try;
	int				i;
	time_t const			expect[] = { 0, 0, 0, NOW + 2, NOW + 4, NOW + 8, NOW + 16, NOW + 32, NOW + 60, NOW + 60 };

	if (!store) { CHECK(store != NULL); goto done; }
	for (i = 0; i < 10; i++) {
		CHECK(twofa_store_record_password_failure(store, alice, &policy, NOW, &next_try) == TWOFA_OK);
		CHECK(next_try == expect[i]);
	}
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	CHECK(u && (u->password_failures == 10) && (u->password_next_try == NOW + 60));
	/* Code failures and locks are a separate count. */
	CHECK(u && (u->fail_count == 0) && (u->locked_until == 0));

	CHECK(twofa_store_record_password_success(store, alice) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	CHECK(u && (u->password_failures == 0) && (u->password_next_try == 0));
	/* Unlock clears them too. */
	CHECK(twofa_store_record_password_failure(store, alice, &policy, NOW, &next_try) == TWOFA_OK);
	CHECK(twofa_store_unlock(store, "alice") == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	CHECK(u && (u->password_failures == 0));
done:
	talloc_free(ctx);
}

/* Copy the file at from to to; false on any error. */
static bool copy_file(char const *from, char const *to)
{
	FILE	*in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
	char	buf[8192];
	size_t	n;
	bool	ok = in && out;

	while (ok && ((n = fread(buf, 1, sizeof(buf), in)) > 0)) ok = fwrite(buf, 1, n, out) == n;
	if (in) fclose(in);
	if (out && (fclose(out) != 0)) ok = false;
	return ok;
}

/*
 *	tests/fixtures/schema2.db was made by the release before schema 3
 *	(twofa-admin of commit 9604ba7: init, import of alice and bob with
 *	TOTP and carol without, then a used step for alice and a lock on
 *	bob).  Opening it migrates it with every user, secret, used step and
 *	lock kept.
 */
static void schema_2_store_is_migrated(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char const	*vectors = getenv("TWOFA_VECTORS");
	char		*path = new_path(ctx);
	char		*fixture = talloc_asprintf(ctx, "%s/../fixtures/schema2.db", vectors ? vectors : "tests/vectors");
	int64_t		secrets_before, secrets_after;
	twofa_store_t	*store;
	twofa_user_t	*u = NULL;
	char const	*secrets = "SELECT sum(length(secret) * user_id) + sum(unicode(hex(secret))) FROM totp";
	char const	*secrets_now = "SELECT sum(length(secret) * user_id) + sum(unicode(hex(secret))) FROM factors";

	CHECK(copy_file(fixture, path));
	CHECK(sql_value(path, "PRAGMA user_version") == 2);
	secrets_before = sql_value(path, secrets);
	store = open_path(ctx, path, false, 100);
	CHECK(store && twofa_store_schema_version(store) == 11);
	if (!store) goto done;

	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	CHECK(u && u->backup_codes_left == 0);
	CHECK(u && totp_state(u) == TOTP_CONFIRMED && u->password_hash && u->locked_until == 0);
	CHECK(u && u->password_failures == 0 && u->password_next_try == 0);
	if (u) CHECK(twofa_store_factor_consume_step(store, u->id, TOTP(u)->id, 58000000, 1740000000, NULL) == TWOFA_ERR_REPLAYED);
	if (u) CHECK(twofa_store_factor_consume_step(store, u->id, TOTP(u)->id, 58000001, 1740000030, NULL) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "bob", &u) == TWOFA_OK);
	CHECK(u && totp_state(u) == TOTP_CONFIRMED && u->locked_until == 4000000000 &&
	      u->fail_count == 2 && u->lock_count == 1);
	CHECK(twofa_store_get_user(store, ctx, "carol", &u) == TWOFA_OK);
	CHECK(u && totp_state(u) == TOTP_NONE && u->password_hash);
	secrets_after = sql_value(path, secrets_now);
	CHECK(secrets_before > 0 && secrets_before == secrets_after);
done:
	talloc_free(ctx);
}

/* A name is found in any ASCII case, the exact spelling first; add refuses another case. */
static void names_are_found_in_any_case(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	twofa_user_t	*u = NULL;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(twofa_store_get_user(store, ctx, "ALICE", &u) == TWOFA_OK);
	CHECK(u && strcmp(u->name, "alice") == 0 && totp_state(u) == TOTP_CONFIRMED);
	CHECK(twofa_store_add_user(store, "Alice", "$y$other") == TWOFA_ERR_EXISTS);
	/* An older store may hold two spellings: the exact one wins. */
	CHECK(sql_exec(path, "INSERT INTO users (name, created) VALUES ('ALICE', 1)"));
	CHECK(twofa_store_get_user(store, ctx, "ALICE", &u) == TWOFA_OK);
	CHECK(u && strcmp(u->name, "ALICE") == 0);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	CHECK(u && strcmp(u->name, "alice") == 0);
	CHECK(twofa_store_get_user(store, ctx, "aLiCe", &u) == TWOFA_OK);
	CHECK(u && strcmp(u->name, "alice") == 0);	/* the older of the two */
	CHECK(twofa_store_get_user(store, ctx, "alic", &u) == TWOFA_ERR_NOT_FOUND);
done:
	talloc_free(ctx);
}

/*
 *	Two radiusd (or radiusd and twofa-admin) share one file: the one-winner
 *	promise must hold across processes, each with its own handle, not only
 *	across threads on one handle.  Each child opens the store, says it is
 *	ready, waits for the start (a pipe the parent closes once all are
 *	ready) and consumes; its exit status
 *	is the answer: 0 TWOFA_OK, 1 TWOFA_ERR_REPLAYED, 2 anything else.
 */
#define RACE_USERS	3
#define RACE_STEPS	4
#define RACE_PROCS	2

static void race_child(char const *path, char const *name, int64_t step, int ready_fd, int start_fd)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_path(ctx, path, false, 5000);
	int64_t		id;
	char		go;
	twofa_rcode_t	rc;

	if (!store) _exit(2);
	id = user_id(store, name);
	if (write(ready_fd, "r", 1) != 1) _exit(2);
	if (read(start_fd, &go, 1) != 0) _exit(2);		/* EOF: the parent closed the pipe */
	rc = consume(store, id, step, NOW);
	if ((rc != TWOFA_OK) && (rc != TWOFA_ERR_REPLAYED)) printf("  child: %s\n", twofa_store_errmsg(store));
	talloc_free(ctx);
	_exit((rc == TWOFA_OK) ? 0 : (rc == TWOFA_ERR_REPLAYED) ? 1 : 2);
}

static void two_processes_same_step_exactly_one_wins(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path = new_path(ctx), name[16];
	twofa_store_t	*store = open_path(ctx, path, true, 100);
	pid_t		pids[RACE_PROCS];
	int		u, s, i, ready[2], start[2], status, wins, replays;
	char		go;

	if (!store) { CHECK(store != NULL); goto done; }
	for (u = 0; u < RACE_USERS; u++) {
		snprintf(name, sizeof(name), "racer%d", u);
		CHECK(add_enrolled_user(store, name));
	}
	talloc_free(store);		/* no handle may cross a fork */
	fflush(stdout);

	for (u = 0; u < RACE_USERS; u++) {
		snprintf(name, sizeof(name), "racer%d", u);
		for (s = 0; s < RACE_STEPS; s++) {
			if ((pipe(ready) < 0) || (pipe(start) < 0)) { CHECK(0); goto done; }
			for (i = 0; i < RACE_PROCS; i++) {
				pids[i] = fork();
				if (pids[i] == 0) {
					close(start[1]);
					close(ready[0]);
					race_child(path, name, S0 + s, ready[1], start[0]);
				}
				CHECK(pids[i] > 0);
			}
			close(start[0]);
			close(ready[1]);
			/* A child that died before saying so gives EOF, not a hang. */
			for (i = 0; (i < RACE_PROCS) && (read(ready[0], &go, 1) == 1); i++);
			CHECK(i == RACE_PROCS);
			close(ready[0]);
			close(start[1]);
			wins = replays = 0;
			for (i = 0; i < RACE_PROCS; i++) {
				if ((pids[i] <= 0) || (waitpid(pids[i], &status, 0) != pids[i]) || !WIFEXITED(status)) continue;
				if (WEXITSTATUS(status) == 0) wins++;
				if (WEXITSTATUS(status) == 1) replays++;
			}
			if ((wins != 1) || (replays != RACE_PROCS - 1)) {
				printf("  %s step S0+%d: %d won, %d replayed\n", name, s, wins, replays);
				check_failed++;
			}
		}
	}
	/* Every step recorded, once. */
	CHECK(USED_STEPS(path) == RACE_USERS * RACE_STEPS);
	CHECK(sql_value(path, "SELECT count(DISTINCT factor_id || ':' || step) FROM factor_used") == RACE_USERS * RACE_STEPS);
done:
	talloc_free(ctx);
}

/*
 *	Backup codes.
 */
static uint8_t const bkey[TWOFA_BACKUP_KEY_LEN] = { 0xb4, 0xc1, 0x0d, 0xe5 };

/* count new codes for name under bkey: the codes in canonical form into codes[]. */
static twofa_rcode_t set_backup_codes(twofa_store_t *store, char const *name, unsigned int count,
				      char codes[][TWOFA_BACKUP_CODE_LEN + 1], unsigned int *voided)
{
	twofa_backup_hash_t	hashes[TWOFA_BACKUP_COUNT_MAX];
	char			shown[TWOFA_BACKUP_SHOWN_LEN + 1];
	unsigned int		i;

	for (i = 0; i < count; i++) {
		if ((twofa_backup_code_generate(shown) != TWOFA_OK) ||
		    !twofa_backup_code_normalise(shown, strlen(shown), codes[i]) ||
		    (twofa_backup_code_seal(bkey, shown, &hashes[i]) != TWOFA_OK)) return TWOFA_ERR_CRYPTO;
	}
	return twofa_store_backup_set(store, name, hashes, count, voided);
}

static unsigned int backup_left(twofa_store_t *store, char const *name)
{
	twofa_user_t	*u;
	unsigned int	left = 9999;

	if (twofa_store_get_user(store, NULL, name, &u) != TWOFA_OK) return left;
	left = u->backup_codes_left;
	talloc_free(u);
	return left;
}

static void backup_codes_are_used_once(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path, codes[3][TWOFA_BACKUP_CODE_LEN + 1];
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1;
	uint8_t		other_key[TWOFA_BACKUP_KEY_LEN] = { 1 };
	unsigned int	voided = 99, left = 99;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(backup_left(store, "alice") == 0);
	CHECK(set_backup_codes(store, "alice", 3, codes, &voided) == TWOFA_OK && voided == 0);
	CHECK(backup_left(store, "alice") == 3);
	/* Salted and keyed: no code, no unsalted hash of it, in the file. */
	CHECK(sql_value(path, "SELECT count(DISTINCT salt) FROM backup_codes WHERE length(salt) = 16 AND length(hash) = 32") == 3);

	CHECK(twofa_store_backup_consume(store, id, bkey, codes[1], NOW, &left, NULL) == TWOFA_OK && left == 2);
	CHECK(twofa_store_backup_consume(store, id, bkey, codes[1], NOW + 1, &left, NULL) == TWOFA_ERR_BAD_CODE);
	CHECK(backup_left(store, "alice") == 2);
	CHECK(sql_value(path, "SELECT used_at FROM backup_codes WHERE used_at IS NOT NULL") == NOW);
	/* Under another key, or not one of hers, nothing matches. */
	CHECK(twofa_store_backup_consume(store, id, other_key, codes[0], NOW, &left, NULL) == TWOFA_ERR_BAD_CODE);
	CHECK(twofa_store_backup_consume(store, id, bkey, "2222222222", NOW, &left, NULL) == TWOFA_ERR_BAD_CODE);
	CHECK(twofa_store_backup_consume(store, id, bkey, "22222", NOW, &left, NULL) == TWOFA_ERR_MALFORMED);
	CHECK(twofa_store_backup_consume(store, id, bkey, codes[0], NOW, &left, NULL) == TWOFA_OK && left == 1);
	CHECK(twofa_store_backup_consume(store, id, bkey, codes[2], NOW, &left, NULL) == TWOFA_OK && left == 0);
	CHECK(backup_left(store, "alice") == 0);
	/* The TOTP enrolment is untouched. */
	CHECK(consume(store, id, S0, NOW) == TWOFA_OK);
done:
	talloc_free(ctx);
}

static void new_backup_set_voids_the_old(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path, old[4][TWOFA_BACKUP_CODE_LEN + 1], new[2][TWOFA_BACKUP_CODE_LEN + 1];
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1;
	unsigned int	voided = 0, left = 0;
	twofa_backup_hash_t too_many[TWOFA_BACKUP_COUNT_MAX + 1];

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(set_backup_codes(store, "alice", 4, old, NULL) == TWOFA_OK);
	CHECK(twofa_store_backup_consume(store, id, bkey, old[0], NOW, &left, NULL) == TWOFA_OK);
	CHECK(set_backup_codes(store, "alice", 2, new, &voided) == TWOFA_OK && voided == 3);
	CHECK(backup_left(store, "alice") == 2);
	CHECK(twofa_store_backup_consume(store, id, bkey, old[1], NOW, &left, NULL) == TWOFA_ERR_BAD_CODE);
	CHECK(twofa_store_backup_consume(store, id, bkey, new[1], NOW, &left, NULL) == TWOFA_OK && left == 1);
	CHECK(sql_value(path, "SELECT count(*) FROM backup_codes") == 2);

	/* Refused whole: too many, or no such user; the set on file stays. */
	memset(too_many, 0, sizeof(too_many));
	CHECK(twofa_store_backup_set(store, "alice", too_many, TWOFA_BACKUP_COUNT_MAX + 1, NULL) == TWOFA_ERR_MALFORMED);
	CHECK(set_backup_codes(store, "nobody", 2, old, NULL) == TWOFA_ERR_NOT_FOUND);
	CHECK(backup_left(store, "alice") == 1);

	/* A set of none voids them; the user's deletion takes the rows with it. */
	CHECK(twofa_store_backup_set(store, "alice", NULL, 0, &voided) == TWOFA_OK && voided == 1);
	CHECK(backup_left(store, "alice") == 0);
	CHECK(set_backup_codes(store, "alice", 2, new, NULL) == TWOFA_OK);
	CHECK(twofa_store_delete_user(store, "alice") == TWOFA_OK);
	CHECK(sql_value(path, "SELECT count(*) FROM backup_codes") == 0);
	CHECK(twofa_store_backup_consume(store, id, bkey, new[0], NOW, &left, NULL) == TWOFA_ERR_NOT_FOUND);
done:
	talloc_free(ctx);
}

static void backup_code_refused_while_locked_and_kept(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path, codes[1][TWOFA_BACKUP_CODE_LEN + 1];
	twofa_store_t		*store = store_with_alice(ctx, &path);
	twofa_lockout_t const	policy = { .max_failures = 1, .lock_seconds = 100, .max_lock_seconds = 100 };
	int64_t			id = store ? user_id(store, "alice") : -1;
	time_t			until = 0;
	unsigned int		left = 0;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(set_backup_codes(store, "alice", 1, codes, NULL) == TWOFA_OK);
	CHECK(twofa_store_record_failure(store, id, &policy, NOW, &until) == TWOFA_OK && until == NOW + 100);
	CHECK(twofa_store_backup_consume(store, id, bkey, codes[0], NOW, &left, NULL) == TWOFA_ERR_LOCKED);
	CHECK(backup_left(store, "alice") == 1);		/* not used up by the refused attempt */
	CHECK(twofa_store_backup_consume(store, id, bkey, codes[0], NOW + 100, &left, NULL) == TWOFA_OK && left == 0);
done:
	talloc_free(ctx);
}

/*
 *	tests/fixtures/schema3.db: schema2.db with schema 3's migration
 *	applied as that release did (migrations[2] of commit ea044bd), then
 *	7 failed passwords for carol.  Opening it adds the backup codes
 *	table and keeps every user, secret, used step, lock and count.
 */
static void schema_3_store_is_migrated(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char const	*vectors = getenv("TWOFA_VECTORS");
	char		*path = new_path(ctx), codes[1][TWOFA_BACKUP_CODE_LEN + 1];
	char		*fixture = talloc_asprintf(ctx, "%s/../fixtures/schema3.db", vectors ? vectors : "tests/vectors");
	char const	*secrets = "SELECT sum(length(secret) * user_id) + sum(unicode(hex(secret))) FROM totp";
	char const	*secrets_now = "SELECT sum(length(secret) * user_id) + sum(unicode(hex(secret))) FROM factors";
	int64_t		secrets_before;
	twofa_store_t	*store;
	twofa_user_t	*u = NULL;
	unsigned int	left = 9;

	CHECK(copy_file(fixture, path));
	CHECK(sql_value(path, "PRAGMA user_version") == 3);
	secrets_before = sql_value(path, secrets);
	store = open_path(ctx, path, false, 100);
	CHECK(store && twofa_store_schema_version(store) == 11);
	if (!store) goto done;

	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	CHECK(u && totp_state(u) == TOTP_CONFIRMED && u->password_hash && u->backup_codes_left == 0);
	CHECK(u && !u->exempt);
	if (u) CHECK(twofa_store_factor_consume_step(store, u->id, TOTP(u)->id, 58000000, 1740000000, NULL) == TWOFA_ERR_REPLAYED);
	CHECK(twofa_store_get_user(store, ctx, "bob", &u) == TWOFA_OK);
	CHECK(u && u->locked_until == 4000000000 && u->fail_count == 2 && u->lock_count == 1 && !u->exempt);
	CHECK(twofa_store_get_user(store, ctx, "carol", &u) == TWOFA_OK);
	CHECK(u && totp_state(u) == TOTP_NONE && u->password_failures == 7 && u->password_next_try == 4000000000);
	CHECK(secrets_before > 0 && secrets_before == sql_value(path, secrets_now));

	/* And the new table works, with its cascade. */
	CHECK(set_backup_codes(store, "carol", 1, codes, NULL) == TWOFA_OK);
	CHECK(u && twofa_store_backup_consume(store, u->id, bkey, codes[0], NOW, &left, NULL) == TWOFA_OK && left == 0);
	CHECK(twofa_store_delete_user(store, "carol") == TWOFA_OK);
	CHECK(sql_value(path, "SELECT count(*) FROM backup_codes") == 0);
done:
	talloc_free(ctx);
}

/* twofa-admin user 2fa: the exemption is read by every get and list, and set by exact name. */
static void exempt_is_set_and_read(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	twofa_user_t	*u = NULL, **list = NULL;
	size_t		count = 0;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(twofa_store_add_user(store, "bob", NULL) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK && u && !u->exempt);

	CHECK(twofa_store_set_exempt(store, "alice", true) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK && u && u->exempt);
	CHECK(twofa_store_get_user(store, ctx, "ALICE", &u) == TWOFA_OK && u && u->exempt);
	CHECK(twofa_store_get_user(store, ctx, "bob", &u) == TWOFA_OK && u && !u->exempt);
	CHECK(twofa_store_list_users(store, ctx, &list, &count) == TWOFA_OK && count == 2);
	if (count == 2) CHECK(list[0]->exempt && !list[1]->exempt);
	/* The enrolment is untouched by it. */
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK && u && totp_state(u) == TOTP_CONFIRMED);

	CHECK(twofa_store_set_exempt(store, "alice", false) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK && u && !u->exempt);
	CHECK(twofa_store_set_exempt(store, "nobody", true) == TWOFA_ERR_NOT_FOUND);
	CHECK(twofa_store_set_exempt(store, "Alice", true) == TWOFA_ERR_NOT_FOUND);	/* exact name only */
	CHECK(sql_value(path, "SELECT count(*) FROM users WHERE exempt <> 0") == 0);
done:
	talloc_free(ctx);
}

/* twofa-admin user reset: TOTP, backup codes and every counter go together; the rest stays. */
static void reset_removes_factors_and_counters(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path, codes[3][TWOFA_BACKUP_CODE_LEN + 1];
	twofa_store_t		*store = store_with_alice(ctx, &path);
	twofa_lockout_t const	lockout = { .max_failures = 1, .lock_seconds = 100, .max_lock_seconds = 100 };
	twofa_password_throttle_t const throttle = { .free_failures = 0, .delay_seconds = 10, .max_delay_seconds = 10 };
	int64_t			id = store ? user_id(store, "alice") : -1;
	twofa_user_t		*u = NULL;
	unsigned int		removed = 0, voided = 0, left = 0;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(add_enrolled_user(store, "bob"));
	CHECK(set_backup_codes(store, "alice", 3, codes, NULL) == TWOFA_OK);
	CHECK(set_backup_codes(store, "bob", 2, codes, NULL) == TWOFA_OK);
	CHECK(twofa_store_set_exempt(store, "alice", true) == TWOFA_OK);
	CHECK(consume(store, id, S0, NOW) == TWOFA_OK);
	CHECK(twofa_store_record_failure(store, id, &lockout, NOW, NULL) == TWOFA_OK);
	CHECK(twofa_store_record_password_failure(store, id, &throttle, NOW, NULL) == TWOFA_OK);

	CHECK(twofa_store_reset_user(store, "alice", &removed, &voided) == TWOFA_OK);
	CHECK(removed == 1 && voided == 3);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	CHECK(u && totp_state(u) == TOTP_NONE && !TOTP(u) && u->backup_codes_left == 0);
	CHECK(u && u->fail_count == 0 && u->lock_count == 0 && u->locked_until == 0);
	CHECK(u && u->password_failures == 0 && u->password_next_try == 0);
	CHECK(u && u->password_hash && u->id == id && u->exempt);	/* the user and the exemption stay */
	CHECK(sql_value(path, "SELECT count(*) FROM factor_used WHERE factor_id NOT IN (SELECT id FROM factors)") == 0);
	CHECK(sql_value(path, "SELECT count(*) FROM backup_codes WHERE user_id = (SELECT id FROM users WHERE name = 'alice')") == 0);

	/* A round two read before the reset finds the enrolment gone. */
	CHECK(consume(store, id, S0 + 1, NOW) == TWOFA_ERR_NOT_ENROLLED);
	CHECK(twofa_store_backup_consume(store, id, bkey, codes[0], NOW, &left, NULL) == TWOFA_ERR_BAD_CODE);

	/* Bob is untouched. */
	CHECK(twofa_store_get_user(store, ctx, "bob", &u) == TWOFA_OK);
	CHECK(u && totp_state(u) == TOTP_CONFIRMED && u->backup_codes_left == 2);

	/* Again: nothing left to remove, still done; no such user: refused. */
	CHECK(twofa_store_reset_user(store, "alice", &removed, &voided) == TWOFA_OK && !removed && voided == 0);
	CHECK(twofa_store_reset_user(store, "nobody", &removed, &voided) == TWOFA_ERR_NOT_FOUND);
	CHECK(twofa_store_reset_user(store, "bob", NULL, NULL) == TWOFA_OK);
done:
	talloc_free(ctx);
}

/* One transaction: if any part fails, none of it is kept. */
static void reset_is_all_or_nothing(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path, codes[2][TWOFA_BACKUP_CODE_LEN + 1];
	twofa_store_t	*store = store_with_alice(ctx, &path);
	twofa_user_t	*u = NULL;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(set_backup_codes(store, "alice", 2, codes, NULL) == TWOFA_OK);
	/* The counters' reset, the last step, fails. */
	CHECK(sql_exec(path, "CREATE TRIGGER no_reset BEFORE UPDATE OF fail_count ON users "
			     "BEGIN SELECT RAISE(ABORT, 'refused'); END"));
	CHECK(twofa_store_reset_user(store, "alice", NULL, NULL) != TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	CHECK(u && totp_state(u) == TOTP_CONFIRMED && u->backup_codes_left == 2);
	CHECK(sql_exec(path, "DROP TRIGGER no_reset"));
	CHECK(twofa_store_reset_user(store, "alice", NULL, NULL) == TWOFA_OK);
done:
	talloc_free(ctx);
}

/*
 *	Schema 8's devices dropped, schema 7's factors back to schema 6's totp tables, with every secret
 *	and used step, as a store of release 6 held them: for the tests that
 *	make an older store out of a new one.
 */
#define BACK_TO_SCHEMA_10 "ALTER TABLE users DROP COLUMN reply;"
#define BACK_TO_SCHEMA_9 BACK_TO_SCHEMA_10 "DROP TABLE devices;"
#define BACK_TO_SCHEMA_8 BACK_TO_SCHEMA_9 "DROP TABLE used_states;"
#define BACK_TO_SCHEMA_7 BACK_TO_SCHEMA_8 \
	"DROP TRIGGER factor_removed_oob; DROP TABLE oob_codes; DROP TABLE sends; ALTER TABLE users DROP COLUMN preferred;"
#define BACK_TO_SCHEMA_6 BACK_TO_SCHEMA_7 \
	"CREATE TABLE totp (user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE," \
	" secret BLOB NOT NULL, hash TEXT NOT NULL, digits INTEGER NOT NULL, period INTEGER NOT NULL," \
	" confirmed INTEGER NOT NULL DEFAULT 0, last_step INTEGER NOT NULL DEFAULT -1, created INTEGER NOT NULL);" \
	"INSERT INTO totp SELECT user_id, secret, hash, digits, period, confirmed, last_step, created " \
	" FROM factors WHERE kind = 'totp';" \
	"CREATE TABLE totp_used (user_id INTEGER NOT NULL, step INTEGER NOT NULL, expires INTEGER NOT NULL," \
	" PRIMARY KEY (user_id, step)) WITHOUT ROWID;" \
	"INSERT INTO totp_used SELECT f.user_id, u.step, u.expires FROM factor_used u JOIN factors f ON f.id = u.factor_id;" \
	"CREATE TRIGGER totp_enrolled AFTER INSERT ON totp BEGIN DELETE FROM totp_used WHERE user_id = NEW.user_id; END;" \
	"CREATE TRIGGER totp_removed AFTER DELETE ON totp BEGIN DELETE FROM totp_used WHERE user_id = OLD.user_id; END;" \
	"DROP TRIGGER factor_removed; DROP TABLE factor_used; DROP TABLE factors;"

/* A schema 6 store: its TOTP enrolments become factors with their used steps; a new id each. */
static void schema_6_store_is_migrated(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1, old_factor;
	twofa_user_t	*u = NULL;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(add_enrolled_user(store, "bob"));
	CHECK(twofa_store_add_user(store, "carol", NULL) == TWOFA_OK);
	CHECK(consume(store, id, S0, NOW) == TWOFA_OK);
	old_factor = factor_of(store, id, sealed);
	talloc_free(store);
	CHECK(sql_exec(path, BACK_TO_SCHEMA_6 "PRAGMA user_version = 6"));
	CHECK(sql_value(path, "SELECT count(*) FROM totp_used") == 1);

	store = open_path(ctx, path, false, 100);
	CHECK(store && twofa_store_schema_version(store) == 11);
	if (!store) goto done;
	CHECK(sql_value(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('totp', 'totp_used')") == 0);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	CHECK(u && u->num_factors == 1 && totp_state(u) == TOTP_CONFIRMED && TOTP(u)->sealed_len == sizeof(sealed));
	CHECK(u && TOTP(u) && memcmp(TOTP(u)->sealed, sealed, sizeof(sealed)) == 0);
	remember_factor(store, "alice", sealed);
	/* The used step came along: refused again; the next one is taken. */
	CHECK(consume(store, id, S0, NOW) == TWOFA_ERR_REPLAYED);
	CHECK(consume(store, id, S0 + 1, NOW) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "bob", &u) == TWOFA_OK && u && totp_state(u) == TOTP_CONFIRMED);
	CHECK(twofa_store_get_user(store, ctx, "carol", &u) == TWOFA_OK && u && u->num_factors == 0);
	(void) old_factor;
done:
	talloc_free(ctx);
}

/* A replaced factor gets an id never used before, even when the old one was the newest. */
static void replaced_factor_gets_a_new_id(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1, first, second;

	if (!store) { CHECK(store != NULL); goto done; }
	first = factor_of(store, id, sealed);
	CHECK(twofa_store_factor_remove(store, "alice", TWOFA_FACTOR_TOTP) == TWOFA_OK);
	CHECK(set_totp(store, "alice", resealed, sizeof(resealed), &params, true) == TWOFA_OK);
	second = factor_of(store, id, resealed);
	CHECK(first > 0 && second > first);
	CHECK(consume_with(store, id, sealed, S0, NOW) == TWOFA_ERR_NOT_ENROLLED);
	CHECK(consume_with(store, id, resealed, S0, NOW) == TWOFA_OK);
done:
	talloc_free(ctx);
}

/* A successful consume writes its login's row in its own call; a refused one none.  The
 * user list gives each user's newest Accept from the log, in any case of the name. */
static void consume_writes_the_login_and_list_shows_last_accept(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path, codes[1][TWOFA_BACKUP_CODE_LEN + 1];
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1;
	twofa_login_t	row = { .at = NOW, .user = "ALICE", .nas = "192.0.2.1", .method = "totp",
				.result = "accept", .reason = "ok" };
	twofa_user_t	**users = NULL;
	size_t		n = 0;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(twofa_store_add_user(store, "bob", NULL) == TWOFA_OK);
	CHECK(twofa_store_factor_consume_step(store, id, factor_of(store, id, sealed), S0, NOW, &row) == TWOFA_OK);
	CHECK(sql_value(path, "SELECT count(*) FROM logins") == 1);
	CHECK(twofa_store_factor_consume_step(store, id, factor_of(store, id, sealed), S0, NOW, &row) ==
	      TWOFA_ERR_REPLAYED);
	CHECK(sql_value(path, "SELECT count(*) FROM logins") == 1);

	CHECK(set_backup_codes(store, "alice", 1, codes, NULL) == TWOFA_OK);
	row.at = NOW + 50;
	row.method = "backup";
	CHECK(twofa_store_backup_consume(store, id, bkey, codes[0], NOW + 50, NULL, &row) == TWOFA_OK);
	CHECK(twofa_store_backup_consume(store, id, bkey, codes[0], NOW + 60, NULL, &row) != TWOFA_OK);
	CHECK(sql_value(path, "SELECT count(*) FROM logins WHERE method = 'backup'") == 1);
	row.at = NOW + 99;
	row.result = "reject";
	CHECK(twofa_store_log_login(store, &row) == TWOFA_OK);		/* a reject is no last login */

	CHECK(twofa_store_list_users(store, ctx, &users, &n) == TWOFA_OK && n == 2);
	if (n == 2) {
		CHECK_STR(users[0]->name, "alice");
		CHECK(users[0]->last_accept == NOW + 50);
		CHECK(users[1]->last_accept == 0);
	}
done:
	talloc_free(ctx);
}

/* A sealed State's nonce is taken once, by one of racing callers; expired ones are pruned. */
static void state_nonce_is_used_once(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path = new_path(ctx);
	twofa_store_t	*store = open_path(ctx, path, true, 100);
	uint8_t		nonce[12] = { 1, 2, 3 }, other[12] = { 4, 5, 6 };
	int		i;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(twofa_store_state_use(store, nonce, sizeof(nonce), NOW + 60, NOW) == TWOFA_OK);
	CHECK(twofa_store_state_use(store, nonce, sizeof(nonce), NOW + 60, NOW + 1) == TWOFA_ERR_REPLAYED);
	CHECK(twofa_store_state_use(store, other, sizeof(other), NOW + 60, NOW) == TWOFA_OK);
	CHECK(twofa_store_state_use(store, NULL, 0, NOW + 60, NOW) == TWOFA_ERR_MALFORMED);
	/* Kept until the deadline, then pruned a few at a time. */
	for (i = 0; i < TWOFA_STATE_PRUNE_EVERY; i++) {
		other[11] = (uint8_t) (i + 1);
		CHECK(twofa_store_state_use(store, other, sizeof(other), NOW + 200, NOW + 100) == TWOFA_OK);
	}
	CHECK(sql_value(path, "SELECT count(*) FROM used_states WHERE expires = 1000060") == 0);
	CHECK(sql_value(path, "SELECT count(*) FROM used_states") == TWOFA_STATE_PRUNE_EVERY);
done:
	talloc_free(ctx);
}

/* A consume given the sealed State it answers records the State in its own write, first. */
static void consume_records_the_state_it_answers(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1;
	uint8_t		nonce[12] = { 9, 8, 7 };
	twofa_login_t	row = { .at = NOW, .user = "alice", .method = "totp", .result = "accept", .reason = "ok",
				.state_nonce = nonce, .state_nonce_len = sizeof(nonce), .state_expires = NOW + 60 };

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(twofa_store_factor_consume_step(store, id, factor_of(store, id, sealed), S0, NOW, &row) == TWOFA_OK);
	CHECK(sql_value(path, "SELECT count(*) FROM used_states") == 1);
	/* The same State again, with another good step: the challenge is over, the step not taken. */
	CHECK(twofa_store_factor_consume_step(store, id, factor_of(store, id, sealed), S0 + 1, NOW, &row) ==
	      TWOFA_ERR_EXPIRED);
	CHECK(twofa_store_state_use(store, nonce, sizeof(nonce), NOW + 60, NOW) == TWOFA_ERR_REPLAYED);
	CHECK(consume(store, id, S0 + 1, NOW) == TWOFA_OK);
	/* A failed code spends the State all the same. */
	nonce[0] = 1;
	CHECK(twofa_store_factor_consume_step(store, id, factor_of(store, id, sealed), S0, NOW, &row) ==
	      TWOFA_ERR_REPLAYED);
	CHECK(twofa_store_state_use(store, nonce, sizeof(nonce), NOW + 60, NOW) == TWOFA_ERR_REPLAYED);
done:
	talloc_free(ctx);
}

/* A schema 4 store (before the exemption) keeps every user, factor and count; nobody is exempt. */
static void schema_4_store_is_migrated(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path, codes[2][TWOFA_BACKUP_CODE_LEN + 1];
	twofa_store_t		*store = store_with_alice(ctx, &path);
	twofa_lockout_t const	lockout = { .max_failures = 1, .lock_seconds = 100, .max_lock_seconds = 100 };
	int64_t			id = store ? user_id(store, "alice") : -1;
	twofa_user_t		*u = NULL;
	unsigned int		left = 0;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(set_backup_codes(store, "alice", 2, codes, NULL) == TWOFA_OK);
	CHECK(consume(store, id, S0, NOW) == TWOFA_OK);
	CHECK(twofa_store_record_failure(store, id, &lockout, NOW, NULL) == TWOFA_OK);
	talloc_free(store);
	CHECK(sql_exec(path, BACK_TO_SCHEMA_6 "ALTER TABLE users DROP COLUMN exempt; DROP TABLE logins; PRAGMA user_version = 4"));
	CHECK(sql_value(path, "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'exempt'") == 0);

	store = open_path(ctx, path, false, 100);
	CHECK(store && twofa_store_schema_version(store) == 11);
	if (!store) goto done;
	CHECK(sql_value(path, "PRAGMA user_version") == 11);
	remember_factor(store, "alice", sealed);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	CHECK(u && u->id == id && !u->exempt && totp_state(u) == TOTP_CONFIRMED && u->backup_codes_left == 2);
	CHECK(u && u->locked_until == NOW + 100 && u->lock_count == 1);
	CHECK(consume(store, id, S0, NOW + 100) == TWOFA_ERR_REPLAYED);
	CHECK(twofa_store_backup_consume(store, id, bkey, codes[1], NOW + 100, &left, NULL) == TWOFA_OK && left == 1);
	CHECK(twofa_store_set_exempt(store, "alice", true) == TWOFA_OK);
done:
	talloc_free(ctx);
}

/* Two processes, one handle each, the same backup code at once: exactly one gets it. */
static void backup_race_child(char const *path, int64_t id, char const *code, int ready_fd, int start_fd)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_path(ctx, path, false, 5000);
	char		go;
	twofa_rcode_t	rc;

	if (!store) _exit(3);
	if (write(ready_fd, "r", 1) != 1) _exit(3);
	if (read(start_fd, &go, 1) != 0) _exit(3);
	rc = twofa_store_backup_consume(store, id, bkey, code, NOW, NULL, NULL);
	talloc_free(ctx);
	/* The loser finds it used (REPLAYED) or, if the winner committed first, no longer unused (BAD_CODE). */
	_exit((rc == TWOFA_OK) ? 0 : ((rc == TWOFA_ERR_REPLAYED) || (rc == TWOFA_ERR_BAD_CODE)) ? 1 : 2);
}

#define BACKUP_RACE_ROUNDS	6

static void two_processes_same_backup_code_exactly_one_wins(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path, codes[BACKUP_RACE_ROUNDS][TWOFA_BACKUP_CODE_LEN + 1];
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1;
	pid_t		pids[RACE_PROCS];
	int		r, i, ready[2], start[2], status, wins, losses;
	char		go;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(set_backup_codes(store, "alice", BACKUP_RACE_ROUNDS, codes, NULL) == TWOFA_OK);
	talloc_free(store);		/* no handle may cross a fork */
	fflush(stdout);

	for (r = 0; r < BACKUP_RACE_ROUNDS; r++) {
		if ((pipe(ready) < 0) || (pipe(start) < 0)) { CHECK(0); goto done; }
		for (i = 0; i < RACE_PROCS; i++) {
			pids[i] = fork();
			if (pids[i] == 0) {
				close(start[1]);
				close(ready[0]);
				backup_race_child(path, id, codes[r], ready[1], start[0]);
			}
			CHECK(pids[i] > 0);
		}
		close(start[0]);
		close(ready[1]);
		for (i = 0; (i < RACE_PROCS) && (read(ready[0], &go, 1) == 1); i++);
		CHECK(i == RACE_PROCS);
		close(ready[0]);
		close(start[1]);
		wins = losses = 0;
		for (i = 0; i < RACE_PROCS; i++) {
			if ((pids[i] <= 0) || (waitpid(pids[i], &status, 0) != pids[i]) || !WIFEXITED(status)) continue;
			if (WEXITSTATUS(status) == 0) wins++;
			if (WEXITSTATUS(status) == 1) losses++;
		}
		if ((wins != 1) || (losses != RACE_PROCS - 1)) {
			printf("  code %d: %d won, %d lost\n", r, wins, losses);
			check_failed++;
		}
	}
	CHECK(sql_value(path, "SELECT count(*) FROM backup_codes WHERE used_at IS NOT NULL") == BACKUP_RACE_ROUNDS);
done:
	talloc_free(ctx);
}

/* One login row, as the module writes it. */
static twofa_rcode_t log_login(twofa_store_t *store, char const *user, time_t at, char const *result,
			       char const *reason)
{
	twofa_login_t l = { .at = at, .user = user, .nas = "192.0.2.7", .calling_station_id = "02-00-00-00-00-01",
			    .method = "totp", .result = result, .reason = reason };

	return twofa_store_log_login(store, &l);
}

/* Logins are kept in order, with every field, and read back by name (any case) and time. */
static void logins_are_written_and_filtered(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_path(ctx, new_path(ctx), true, 100);
	twofa_login_t	*l = NULL;
	size_t		n = 0;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(log_login(store, "alice", NOW, "reject", "bad_password") == TWOFA_OK);
	CHECK(log_login(store, "bob", NOW + 10, "accept", "ok") == TWOFA_OK);
	CHECK(log_login(store, "Alice", NOW + 20, "accept", "ok") == TWOFA_OK);
	CHECK(log_login(store, NULL, NOW + 30, "reject", "unknown_user") == TWOFA_OK);

	CHECK(twofa_store_list_logins(store, ctx, NULL, 0, &l, &n) == TWOFA_OK);
	CHECK(n == 4);
	if (n == 4) {
		CHECK_STR(l[0].user, "alice");
		CHECK(l[0].at == NOW);
		CHECK_STR(l[0].nas, "192.0.2.7");
		CHECK_STR(l[0].calling_station_id, "02-00-00-00-00-01");
		CHECK_STR(l[0].method, "totp");
		CHECK_STR(l[0].result, "reject");
		CHECK_STR(l[0].reason, "bad_password");
		CHECK(l[0].id < l[1].id && l[1].id < l[2].id && l[2].id < l[3].id);
		CHECK(l[3].user == NULL);
	}

	CHECK(twofa_store_list_logins(store, ctx, "ALICE", 0, &l, &n) == TWOFA_OK);
	CHECK(n == 2);
	if (n == 2) CHECK(l[0].at == NOW && l[1].at == NOW + 20);

	CHECK(twofa_store_list_logins(store, ctx, "alice", NOW + 1, &l, &n) == TWOFA_OK);
	CHECK(n == 1);
	if (n == 1) CHECK_STR(l[0].user, "Alice");

	CHECK(twofa_store_list_logins(store, ctx, NULL, NOW + 31, &l, &n) == TWOFA_OK);
	CHECK(n == 0);
	CHECK(twofa_store_list_logins(store, ctx, "carol", 0, &l, &n) == TWOFA_OK);
	CHECK(n == 0);
done:
	talloc_free(ctx);
}

/* Rows older than login_keep_days go a few at a time, the young stay; 0 days keeps every row. */
static void old_logins_are_pruned_young_kept(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path = new_path(ctx);
	twofa_store_config_t	config = { .url = path, .sqlite.busy_timeout_ms = 100, .create = true,
					   .login_keep_days = 90 };
	twofa_store_t		*store = open_path(ctx, path, true, 100);
	time_t			old = NOW - 91 * 86400;
	int			i;

	if (!store) { CHECK(store != NULL); goto done; }
	/* More old rows than one prune deletes: the first prunes take TWOFA_LOGIN_PRUNE_ROWS each. */
	for (i = 0; i < TWOFA_LOGIN_PRUNE_ROWS + 10; i++) CHECK(log_login(store, "old", old, "reject", "bad_code") == TWOFA_OK);
	CHECK(log_login(store, "edge", NOW - 89 * 86400, "accept", "ok") == TWOFA_OK);
	/* keep_days 0: no prune, whatever the count. */
	for (i = 0; i < TWOFA_LOGIN_PRUNE_EVERY; i++) CHECK(log_login(store, "young", NOW, "accept", "ok") == TWOFA_OK);
	CHECK(sql_value(path, "SELECT count(*) FROM logins WHERE user = 'old'") == TWOFA_LOGIN_PRUNE_ROWS + 10);

	/* The same file kept 90 days: its first row written prunes. */
	talloc_free(store);
	if (twofa_store_open(ctx, &config, &store) != TWOFA_OK) { CHECK(0); goto done; }

	for (i = 0; i < TWOFA_LOGIN_PRUNE_EVERY; i++) CHECK(log_login(store, "young", NOW, "accept", "ok") == TWOFA_OK);
	/* One prune ran: at most TWOFA_LOGIN_PRUNE_ROWS rows went, all of them old. */
	CHECK(sql_value(path, "SELECT count(*) FROM logins WHERE user = 'old'") == 10);
	CHECK(sql_value(path, "SELECT count(*) FROM logins WHERE user = 'young'") == 2 * TWOFA_LOGIN_PRUNE_EVERY);
	for (i = 0; i < TWOFA_LOGIN_PRUNE_EVERY; i++) CHECK(log_login(store, "young", NOW, "accept", "ok") == TWOFA_OK);
	CHECK(sql_value(path, "SELECT count(*) FROM logins WHERE user = 'old'") == 0);
	CHECK(sql_value(path, "SELECT count(*) FROM logins WHERE user = 'edge'") == 1);
	CHECK(sql_value(path, "SELECT count(*) FROM logins WHERE user = 'young'") == 3 * TWOFA_LOGIN_PRUNE_EVERY);
done:
	talloc_free(ctx);
}

/* A schema 5 store keeps its users and factors at 6, and starts an empty login log. */
static void schema_5_store_is_migrated(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1;
	twofa_user_t	*u = NULL;
	twofa_login_t	*l = NULL;
	size_t		n = 1;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(twofa_store_set_exempt(store, "alice", true) == TWOFA_OK);
	CHECK(consume(store, id, S0, NOW) == TWOFA_OK);
	talloc_free(store);
	CHECK(sql_exec(path, BACK_TO_SCHEMA_6 "DROP TABLE logins; PRAGMA user_version = 5"));

	store = open_path(ctx, path, false, 100);
	CHECK(store && twofa_store_schema_version(store) == 11);
	if (!store) goto done;
	CHECK(sql_value(path, "PRAGMA user_version") == 11);
	remember_factor(store, "alice", sealed);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	CHECK(u && u->id == id && u->exempt && totp_state(u) == TOTP_CONFIRMED);
	CHECK(consume(store, id, S0, NOW) == TWOFA_ERR_REPLAYED);
	CHECK(twofa_store_list_logins(store, ctx, NULL, 0, &l, &n) == TWOFA_OK && n == 0);
	CHECK(log_login(store, "alice", NOW, "accept", "ok") == TWOFA_OK);
	CHECK(twofa_store_list_logins(store, ctx, "alice", 0, &l, &n) == TWOFA_OK && n == 1);
done:
	talloc_free(ctx);
}

/*
 *	SMS and email codes, send limits, the preferred method (schema 8).
 */
static uint8_t const okey[TWOFA_OOB_KEY_LEN] = { 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
						 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7 };

/* A store with alice and bob, each with a confirmed SMS factor; their ids. */
static twofa_store_t *store_with_sms_users(TALLOC_CTX *ctx, char **path, int64_t ids[2], int64_t factors[2])
{
	char const	*names[2] = { "alice", "bob" };
	twofa_store_t	*store;
	int		i;

	*path = new_path(ctx);
	store = open_path(ctx, *path, true, 100);
	if (!store) return NULL;
	for (i = 0; i < 2; i++) {
		twofa_factor_t		f = { .kind = TWOFA_FACTOR_SMS, .confirmed = true, .address = "+441234567890" };
		twofa_user_t		*u = NULL;
		twofa_factor_t const	*got;

		if ((twofa_store_add_user(store, names[i], NULL) != TWOFA_OK) ||
		    (twofa_store_factor_set(store, names[i], &f) != TWOFA_OK) ||
		    (twofa_store_get_user(store, ctx, names[i], &u) != TWOFA_OK) ||
		    !(got = twofa_user_factor(u, TWOFA_FACTOR_SMS))) return NULL;
		ids[i] = u->id;
		factors[i] = got->id;
	}
	return store;
}

static twofa_rcode_t set_code(twofa_store_t *store, int64_t user_id, int64_t factor_id, char const *code, time_t expires)
{
	twofa_oob_hash_t h;

	if (twofa_oob_code_seal(okey, code, &h) != TWOFA_OK) return TWOFA_ERR_CRYPTO;
	return twofa_store_oob_set(store, user_id, factor_id, &h, expires);
}

static twofa_rcode_t take_code(twofa_store_t *store, int64_t user_id, int64_t factor_id, char const *code, time_t now)
{
	return twofa_store_oob_consume(store, user_id, factor_id, okey, code, 6, now, NULL);
}

static void oob_code_is_taken_once(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	int64_t		id[2], f[2];
	twofa_store_t	*store = store_with_sms_users(ctx, &path, id, f);

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(take_code(store, id[0], f[0], "123456", NOW) == TWOFA_ERR_BAD_CODE);	/* none sent */
	CHECK(set_code(store, id[0], f[0], "123456", NOW + 300) == TWOFA_OK);
	CHECK(take_code(store, id[0], f[0], "654321", NOW) == TWOFA_ERR_BAD_CODE);
	CHECK(take_code(store, id[0], f[0], "12345", NOW) == TWOFA_ERR_MALFORMED);
	CHECK(take_code(store, id[0], f[0], "123456", NOW) == TWOFA_OK);
	CHECK(take_code(store, id[0], f[0], "123456", NOW + 1) == TWOFA_ERR_REPLAYED);
	/* Only the hash is kept. */
	CHECK(sql_value(path, "SELECT count(*) FROM oob_codes WHERE instr(hex(hash), hex('123456')) > 0 "
			"OR instr(hex(salt), hex('123456')) > 0") == 0);
done:
	talloc_free(ctx);
}

static void oob_code_expires_and_a_new_one_voids_the_old(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	int64_t		id[2], f[2];
	twofa_store_t	*store = store_with_sms_users(ctx, &path, id, f);

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(set_code(store, id[0], f[0], "111111", NOW + 300) == TWOFA_OK);
	CHECK(take_code(store, id[0], f[0], "111111", NOW + 300) == TWOFA_ERR_EXPIRED);
	CHECK(set_code(store, id[0], f[0], "222222", NOW + 300) == TWOFA_OK);
	CHECK(set_code(store, id[0], f[0], "333333", NOW + 300) == TWOFA_OK);
	CHECK(sql_value(path, "SELECT count(*) FROM oob_codes") == 1);
	CHECK(take_code(store, id[0], f[0], "222222", NOW) == TWOFA_ERR_BAD_CODE);
	CHECK(take_code(store, id[0], f[0], "333333", NOW) == TWOFA_OK);
done:
	talloc_free(ctx);
}

static void oob_code_of_another_factor_or_user_is_refused(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	int64_t		id[2], f[2];
	twofa_store_t	*store = store_with_sms_users(ctx, &path, id, f);
	twofa_factor_t	email = { .kind = TWOFA_FACTOR_EMAIL, .confirmed = true, .address = "a@example.org" };
	twofa_user_t	*u = NULL;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(set_code(store, id[1], f[1], "444444", NOW + 300) == TWOFA_OK);
	/* Bob's code, as alice (her factor, or his factor under her id). */
	CHECK(take_code(store, id[0], f[0], "444444", NOW) == TWOFA_ERR_BAD_CODE);
	CHECK(take_code(store, id[0], f[1], "444444", NOW) != TWOFA_OK);
	CHECK(set_code(store, id[0], f[1], "444444", NOW + 300) == TWOFA_ERR_NOT_ENROLLED);
	/* Alice's other factor (email) does not take her SMS code. */
	CHECK(twofa_store_factor_set(store, "alice", &email) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK);
	CHECK(set_code(store, id[0], f[0], "555555", NOW + 300) == TWOFA_OK);
	if (u && twofa_user_factor(u, TWOFA_FACTOR_EMAIL)) {
		CHECK(take_code(store, id[0], twofa_user_factor(u, TWOFA_FACTOR_EMAIL)->id, "555555", NOW) ==
		      TWOFA_ERR_BAD_CODE);
	}
	CHECK(take_code(store, id[1], f[1], "444444", NOW) == TWOFA_OK);
done:
	talloc_free(ctx);
}

static void oob_code_refused_while_locked_and_gone_with_its_factor(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	char			*path;
	int64_t			id[2], f[2];
	twofa_store_t		*store = store_with_sms_users(ctx, &path, id, f);
	twofa_lockout_t const	lock = { .max_failures = 1, .lock_seconds = 60, .max_lock_seconds = 60 };
	twofa_factor_t		sms = { .kind = TWOFA_FACTOR_SMS, .confirmed = true, .address = "+441234567891" };

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(set_code(store, id[0], f[0], "666666", NOW + 300) == TWOFA_OK);
	CHECK(twofa_store_record_failure(store, id[0], &lock, NOW, NULL) == TWOFA_OK);
	CHECK(take_code(store, id[0], f[0], "666666", NOW + 1) == TWOFA_ERR_LOCKED);
	CHECK(twofa_store_unlock(store, "alice") == TWOFA_OK);
	/* Kept through the lock: still unused. */
	CHECK(take_code(store, id[0], f[0], "666666", NOW + 2) == TWOFA_OK);

	CHECK(set_code(store, id[1], f[1], "777777", NOW + 300) == TWOFA_OK);
	CHECK(twofa_store_factor_set(store, "bob", &sms) == TWOFA_OK);		/* a new number: a new factor */
	CHECK(sql_value(path, "SELECT count(*) FROM oob_codes WHERE user_id = (SELECT id FROM users WHERE name = 'bob')") == 0);
	CHECK(take_code(store, id[1], f[1], "777777", NOW) == TWOFA_ERR_NOT_ENROLLED);
	CHECK(twofa_store_delete_user(store, "alice") == TWOFA_OK);
	CHECK(sql_value(path, "SELECT count(*) FROM oob_codes") == 0);
done:
	talloc_free(ctx);
}

typedef struct {
	twofa_store_t	*store;
	int64_t		user_id, factor_id;
	twofa_rcode_t	rc;
} oob_race_t;

static void *oob_race(void *arg)
{
	oob_race_t *r = arg;

	r->rc = take_code(r->store, r->user_id, r->factor_id, "888888", NOW);
	return NULL;
}

static void ten_threads_same_oob_code_exactly_one_wins(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	int64_t		id[2], f[2];
	twofa_store_t	*store = store_with_sms_users(ctx, &path, id, f);
	oob_race_t	r[10];
	pthread_t	t[10];
	int		i, wins = 0, replays = 0;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(set_code(store, id[0], f[0], "888888", NOW + 300) == TWOFA_OK);
	for (i = 0; i < 10; i++) {
		r[i] = (oob_race_t) { .store = store, .user_id = id[0], .factor_id = f[0] };
		pthread_create(&t[i], NULL, oob_race, &r[i]);
	}
	for (i = 0; i < 10; i++) {
		pthread_join(t[i], NULL);
		if (r[i].rc == TWOFA_OK) wins++;
		if (r[i].rc == TWOFA_ERR_REPLAYED) replays++;
	}
	CHECK(wins == 1);
	CHECK(replays == 9);
done:
	talloc_free(ctx);
}

static void oob_consume_writes_the_login(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	int64_t		id[2], f[2];
	twofa_store_t	*store = store_with_sms_users(ctx, &path, id, f);
	twofa_login_t	row = { .at = NOW, .user = "alice", .nas = "192.0.2.1", .method = "sms", .result = "accept",
				.reason = "ok" };
	twofa_login_t	*l = NULL;
	size_t		n = 0;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(set_code(store, id[0], f[0], "121212", NOW + 300) == TWOFA_OK);
	CHECK(twofa_store_oob_consume(store, id[0], f[0], okey, "999999", 6, NOW, &row) == TWOFA_ERR_BAD_CODE);
	CHECK(twofa_store_list_logins(store, ctx, "alice", 0, &l, &n) == TWOFA_OK && n == 0);
	CHECK(twofa_store_oob_consume(store, id[0], f[0], okey, "121212", 6, NOW, &row) == TWOFA_OK);
	CHECK(twofa_store_list_logins(store, ctx, "alice", 0, &l, &n) == TWOFA_OK && n == 1);
	if (n == 1) CHECK_STR(l[0].method, "sms");
done:
	talloc_free(ctx);
}

static void sends_are_limited_per_user_and_per_nas(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	int64_t		id[2], f[2];
	twofa_store_t	*store = store_with_sms_users(ctx, &path, id, f);
	int		i;

	if (!store) { CHECK(store != NULL); goto done; }
	for (i = 0; i < 3; i++) CHECK(twofa_store_send_allow(store, id[0], "192.0.2.1", NOW + i, 3, 5) == TWOFA_OK);
	CHECK(twofa_store_send_allow(store, id[0], "192.0.2.2", NOW + 10, 3, 5) == TWOFA_ERR_THROTTLED);
	/* Bob is not alice: two more through the same NAS, then the NAS is full. */
	CHECK(twofa_store_send_allow(store, id[1], "192.0.2.1", NOW + 10, 3, 5) == TWOFA_OK);
	CHECK(twofa_store_send_allow(store, id[1], "192.0.2.1", NOW + 11, 3, 5) == TWOFA_OK);
	CHECK(twofa_store_send_allow(store, id[1], "192.0.2.1", NOW + 12, 3, 5) == TWOFA_ERR_THROTTLED);
	CHECK(twofa_store_send_allow(store, id[1], "192.0.2.9", NOW + 12, 3, 5) == TWOFA_OK);
	/* A refused send is not counted; an hour later the first ones no longer count. */
	CHECK(sql_value(path, "SELECT count(*) FROM sends") == 6);
	CHECK(twofa_store_send_allow(store, id[0], "192.0.2.1", NOW + TWOFA_SEND_WINDOW, 3, 5) == TWOFA_OK);
	CHECK(twofa_store_send_allow(store, id[0], "192.0.2.1", NOW + TWOFA_SEND_WINDOW, 3, 5) == TWOFA_ERR_THROTTLED);
	/* 0: no limit. */
	for (i = 0; i < 10; i++) CHECK(twofa_store_send_allow(store, id[1], "192.0.2.3", NOW + 20, 0, 0) == TWOFA_OK);
done:
	talloc_free(ctx);
}

static void old_sends_are_pruned(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	int64_t		id[2], f[2];
	twofa_store_t	*store = store_with_sms_users(ctx, &path, id, f);
	int		i;

	if (!store) { CHECK(store != NULL); goto done; }
	for (i = 0; i < TWOFA_SEND_PRUNE_EVERY; i++) CHECK(twofa_store_send_allow(store, id[0], "n", NOW, 0, 0) == TWOFA_OK);
	for (i = 0; i < TWOFA_SEND_PRUNE_EVERY; i++) {
		CHECK(twofa_store_send_allow(store, id[1], "n", NOW + TWOFA_SEND_WINDOW + 1, 0, 0) == TWOFA_OK);
	}
	CHECK(sql_value(path, "SELECT count(*) FROM sends WHERE at = 1000000") == 0);
	CHECK(sql_value(path, "SELECT count(*) FROM sends") == TWOFA_SEND_PRUNE_EVERY);
done:
	talloc_free(ctx);
}

static void preferred_method_is_set_and_read(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	int64_t		id[2], f[2];
	twofa_store_t	*store = store_with_sms_users(ctx, &path, id, f);
	twofa_user_t	*u = NULL;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK && u && u->preferred == 0);
	CHECK(twofa_store_set_preferred(store, "alice", TWOFA_FACTOR_EMAIL) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK && u && u->preferred == TWOFA_FACTOR_EMAIL);
	CHECK(twofa_store_get_user(store, ctx, "bob", &u) == TWOFA_OK && u && u->preferred == 0);
	CHECK(twofa_store_set_preferred(store, "alice", 0) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK && u && u->preferred == 0);
	CHECK(twofa_store_set_preferred(store, "nobody", TWOFA_FACTOR_SMS) == TWOFA_ERR_NOT_FOUND);
done:
	talloc_free(ctx);
}

/* users.reply (schema 11): set, read by get_user, cleared; a schema 10 store gains the column. */
static void user_reply_is_set_and_read(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	int64_t		id[2], f[2];
	twofa_store_t	*store = store_with_sms_users(ctx, &path, id, f);
	twofa_user_t	*u = NULL;

	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK && u && !u->reply);
	CHECK(twofa_store_set_reply(store, "alice", "Class=vpn-users, Filter-Id=x") == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK && u && u->reply &&
	      strcmp(u->reply, "Class=vpn-users, Filter-Id=x") == 0);
	CHECK(twofa_store_get_user(store, ctx, "bob", &u) == TWOFA_OK && u && !u->reply);
	CHECK(twofa_store_set_reply(store, "alice", "") == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK && u && !u->reply);
	CHECK(twofa_store_set_reply(store, "nobody", "Class=x") == TWOFA_ERR_NOT_FOUND);
	CHECK(twofa_store_set_reply(store, "bob", "Class=kept") == TWOFA_OK);
	talloc_free(store);
	CHECK(sql_exec(path, BACK_TO_SCHEMA_10 "PRAGMA user_version = 10"));
	store = open_path(ctx, path, false, 100);
	CHECK(store && twofa_store_schema_version(store) == 11);
	if (!store) goto done;
	CHECK(twofa_store_get_user(store, ctx, "bob", &u) == TWOFA_OK && u && !u->reply);
	CHECK(twofa_store_set_reply(store, "bob", "Class=again") == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, "bob", &u) == TWOFA_OK && u && u->reply && strcmp(u->reply, "Class=again") == 0);
done:
	talloc_free(ctx);
}

static void schema_7_store_is_migrated(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	int64_t		id[2], f[2];
	twofa_store_t	*store = store_with_sms_users(ctx, &path, id, f);
	twofa_user_t	*u = NULL;

	if (!store) { CHECK(store != NULL); goto done; }
	talloc_free(store);
	CHECK(sql_exec(path, BACK_TO_SCHEMA_7 "PRAGMA user_version = 7"));
	store = open_path(ctx, path, false, 100);
	CHECK(store && twofa_store_schema_version(store) == 11);
	if (!store) goto done;
	CHECK(twofa_store_get_user(store, ctx, "alice", &u) == TWOFA_OK && u && twofa_user_factor(u, TWOFA_FACTOR_SMS));
	CHECK(set_code(store, id[0], f[0], "131313", NOW + 300) == TWOFA_OK);
	CHECK(take_code(store, id[0], f[0], "131313", NOW) == TWOFA_OK);
done:
	talloc_free(ctx);
}

/*
 *	user del takes everything of the user with it: factors, their used
 *	steps and codes, backup codes, devices, and the sends counted for
 *	the hourly limits.  SQLite gives a new user the id after the largest,
 *	so a new user of the deleted newest user's name gets the old id: it
 *	must inherit nothing (here: a send limit already reached).
 */
static void deleted_user_leaves_nothing_to_a_new_one(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path, codes[2][TWOFA_BACKUP_CODE_LEN + 1];
	int64_t		id[2], f[2], again;
	uint8_t		device[TWOFA_DEVICE_HASH_LEN];
	twofa_store_t	*store = store_with_sms_users(ctx, &path, id, f);
	char		*sql;

	if (!store) { CHECK(store != NULL); goto done; }
	memset(device, 0xd5, sizeof(device));
	CHECK(set_totp(store, "bob", sealed, sizeof(sealed), &params, true) == TWOFA_OK);
	CHECK(consume(store, id[1], S0, NOW) == TWOFA_OK);
	CHECK(set_code(store, id[1], f[1], "123456", NOW + 300) == TWOFA_OK);
	CHECK(set_backup_codes(store, "bob", 2, codes, NULL) == TWOFA_OK);
	CHECK(twofa_store_device_remember(store, id[1], device, NOW, NOW + 86400, "192.0.2.1") == TWOFA_OK);
	CHECK(twofa_store_send_allow(store, id[1], "192.0.2.1", NOW, 2, 0) == TWOFA_OK);
	CHECK(twofa_store_send_allow(store, id[1], "192.0.2.1", NOW, 2, 0) == TWOFA_OK);
	CHECK(twofa_store_send_allow(store, id[1], "192.0.2.1", NOW, 2, 0) == TWOFA_ERR_THROTTLED);

	CHECK(twofa_store_delete_user(store, "bob") == TWOFA_OK);
	sql = talloc_asprintf(ctx, "SELECT (SELECT count(*) FROM factors WHERE user_id = %1$lld) + "
			      "(SELECT count(*) FROM factor_used WHERE factor_id NOT IN (SELECT id FROM factors)) + "
			      "(SELECT count(*) FROM oob_codes WHERE user_id = %1$lld) + "
			      "(SELECT count(*) FROM backup_codes WHERE user_id = %1$lld) + "
			      "(SELECT count(*) FROM devices WHERE user_id = %1$lld) + "
			      "(SELECT count(*) FROM sends WHERE user_id = %1$lld)", (long long) id[1]);
	CHECK(sql_value(path, sql) == 0);

	CHECK(twofa_store_add_user(store, "bob", NULL) == TWOFA_OK);
	again = user_id(store, "bob");
	CHECK(again == id[1]);		/* what makes an inheritance possible at all */
	CHECK(twofa_store_send_allow(store, again, "192.0.2.2", NOW + 1, 2, 0) == TWOFA_OK);
	CHECK(twofa_store_device_known(store, again, device, NOW + 1) == TWOFA_ERR_NOT_FOUND);
	/* alice's are hers still. */
	CHECK(twofa_store_send_allow(store, id[0], "192.0.2.1", NOW, 1, 0) == TWOFA_OK);
	CHECK(twofa_store_send_allow(store, id[0], "192.0.2.1", NOW, 1, 0) == TWOFA_ERR_THROTTLED);
done:
	talloc_free(ctx);
}

/*
 *	Another process holds the write lock for longer than busy_timeout:
 *	each login's write gives up after about busy_timeout, however its
 *	calls were combined.  A batch whose transaction could not start must
 *	not then run its writes one by one, each waiting busy_timeout again
 *	(the last of n would wait n + 1 times as long, and every login queued
 *	behind it too).  Twelve writers, busy_timeout 1.5 s: all answered in
 *	well under 10 s (one by one: about 20 s); reads still answered.
 */
typedef struct {
	twofa_store_t	*store;
	int64_t		id;
	bool		read;
	twofa_rcode_t	rc;
} locked_call_t;

static void *locked_call(void *arg)
{
	locked_call_t	*l = arg;
	twofa_user_t	*u = NULL;

	if (l->read) {
		l->rc = twofa_store_get_user(l->store, NULL, "alice", &u);
		talloc_free(u);
	} else {
		l->rc = twofa_store_record_failure(l->store, l->id, &(twofa_lockout_t) { 100, 60, 3600 }, NOW, NULL);
	}
	return NULL;
}

static void locked_store_costs_a_batch_one_busy_timeout(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		id = store ? user_id(store, "alice") : -1;
	sqlite3		*other = NULL;
	pthread_t	threads[16];
	locked_call_t	calls[16];
	struct timespec	deadline;
	int		i, busy = 0, read = 0, late = 0;

	if (!store) { CHECK(store != NULL); goto done; }
	talloc_free(store);
	store = open_path(ctx, path, false, 1500);
	CHECK(sqlite3_open(path, &other) == SQLITE_OK);
	CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE; UPDATE users SET created = created + 1", NULL, NULL, NULL) == SQLITE_OK);
	for (i = 0; i < 16; i++) {
		calls[i] = (locked_call_t) { .store = store, .id = id, .read = (i % 4 == 3) };
		pthread_create(&threads[i], NULL, locked_call, &calls[i]);
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	for (i = 0; i < 16; i++) {
		if (pthread_timedjoin_np(threads[i], NULL, &deadline) != 0) {
			late++;
			pthread_join(threads[i], NULL);
		}
		if (calls[i].read && (calls[i].rc == TWOFA_OK)) read++;
		if (!calls[i].read && (calls[i].rc == TWOFA_ERR_BUSY)) busy++;
	}
	CHECK(late == 0);
	CHECK(busy == 12);
	CHECK(read == 4);
	sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
	CHECK(sql_value(path, "SELECT fail_count FROM users WHERE name = 'alice'") == 0);
	CHECK(twofa_store_record_failure(store, id, &(twofa_lockout_t) { 100, 60, 3600 }, NOW, NULL) == TWOFA_OK);
done:
	sqlite3_close(other);
	talloc_free(ctx);
}

/*
 *	A store error while an admin change looks its user up is a store
 *	error (twofa-admin: exit status 2), never "no such user" (exit 1):
 *	here the index of names is a scribbled page.
 */
static void unreadable_user_is_a_store_error_not_no_such_user(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		*path;
	twofa_store_t	*store = store_with_alice(ctx, &path);
	int64_t		page, size;

	if (!store) { CHECK(store != NULL); goto done; }
	talloc_free(store);
	CHECK(sql_exec(path, "PRAGMA wal_checkpoint(TRUNCATE)"));
	page = sql_value(path, "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_users_1'");
	size = sql_value(path, "PRAGMA page_size");
	CHECK(page > 1 && size > 0);
	CHECK(scribble(path, (off_t) ((page - 1) * size), (size_t) size));
	store = open_path(ctx, path, false, 100);
	if (!store) { CHECK(store != NULL); goto done; }
	CHECK(twofa_store_reset_user(store, "alice", NULL, NULL) == TWOFA_ERR_STORE);
	CHECK(twofa_store_backup_set(store, "alice", NULL, 0, NULL) == TWOFA_ERR_STORE);
	CHECK(twofa_store_delete_user(store, "alice") == TWOFA_ERR_STORE);
done:
	talloc_free(ctx);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(store_creates_schema_version_11);
	RUN(user_reply_is_set_and_read);
	RUN(schema_1_store_is_migrated);
	RUN(missing_store_without_create_is_not_found);
	RUN(other_backends_are_refused_clearly);
	RUN(add_then_get_user_round_trips);
	RUN(duplicate_user_is_refused);
	RUN(delete_user_cascades_enrolment);
	RUN(pending_enrolment_is_not_confirmed_until_confirm);
	RUN(consumed_step_is_refused_again);
	RUN(earlier_step_is_refused_after_later);
	RUN(consumed_step_persists_after_reopen);
	RUN(used_steps_expire);
	RUN(new_enrolment_forgets_used_steps);
	RUN(consume_refused_when_enrolment_replaced);
	RUN(consume_refused_when_locked_or_deleted);
	RUN(enrol_at_login_never_replaces_a_confirmed_enrolment);
	RUN(ten_threads_same_step_exactly_one_wins);
	RUN(eight_threads_each_get_their_own_answers);
	RUN(background_checkpoint_copies_the_wal);
	RUN(failures_lock_after_max_and_double);
	RUN(success_resets_counts);
	RUN(unlock_clears_lock);
	RUN(busy_store_returns_busy_then_recovers);
	RUN(newer_schema_is_refused);
	RUN(audit_rows_are_written);
	RUN(names_with_quotes_and_semicolons_are_stored_verbatim);
	RUN(newest_used_step_survives_a_clock_that_ran_ahead);
	RUN(replaced_store_file_is_reopened);
	RUN(corrupt_store_fails_cleanly_then_recovers);
	RUN(store_corrupted_while_open_fails_cleanly);
	RUN(reads_do_not_wait_for_another_writer);
	RUN(password_failures_back_off_exponentially);
	RUN(schema_2_store_is_migrated);
	RUN(names_are_found_in_any_case);
	RUN(two_processes_same_step_exactly_one_wins);
	RUN(backup_codes_are_used_once);
	RUN(new_backup_set_voids_the_old);
	RUN(backup_code_refused_while_locked_and_kept);
	RUN(schema_3_store_is_migrated);
	RUN(two_processes_same_backup_code_exactly_one_wins);
	RUN(exempt_is_set_and_read);
	RUN(reset_removes_factors_and_counters);
	RUN(reset_is_all_or_nothing);
	RUN(schema_4_store_is_migrated);
	RUN(logins_are_written_and_filtered);
	RUN(old_logins_are_pruned_young_kept);
	RUN(schema_5_store_is_migrated);
	RUN(schema_6_store_is_migrated);
	RUN(replaced_factor_gets_a_new_id);
	RUN(consume_writes_the_login_and_list_shows_last_accept);
	RUN(sqlite_url_and_bare_path_are_one_store);
	RUN(bulk_transaction_through_a_handle);
	RUN(state_nonce_is_used_once);
	RUN(consume_records_the_state_it_answers);
	RUN(oob_code_is_taken_once);
	RUN(oob_code_expires_and_a_new_one_voids_the_old);
	RUN(oob_code_of_another_factor_or_user_is_refused);
	RUN(oob_code_refused_while_locked_and_gone_with_its_factor);
	RUN(ten_threads_same_oob_code_exactly_one_wins);
	RUN(oob_consume_writes_the_login);
	RUN(sends_are_limited_per_user_and_per_nas);
	RUN(old_sends_are_pruned);
	RUN(preferred_method_is_set_and_read);
	RUN(schema_7_store_is_migrated);
	RUN(deleted_user_leaves_nothing_to_a_new_one);
	RUN(locked_store_costs_a_batch_one_busy_timeout);
	RUN(unreadable_user_is_a_store_error_not_no_such_user);
	{
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0) printf("  could not remove %s\n", dir);
	}
	CHECK_EXIT();
}
