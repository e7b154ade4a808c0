/*
 * pg_store_probe.c	The PostgreSQL store (store_pg.c) against a real server:
 *			tests/integration/test_pg.sh starts one (pg.sh) and runs
 *			this with the store's URL in the environment.
 *
 *	TWOFA_PG_URL		a database of its own for these cases
 *	TWOFA_PG_EMPTY_URL	an empty database (migrations from nothing)
 *	TWOFA_PG_PASSWORD_FILE	the role's password
 *
 *	Prints "ok NAME" or "FAIL NAME" per case, as the unit tests do.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include "check.h"
#include "store.h"
#include "backup.h"
#include "oob.h"
#include "devices.h"

static char const	*url, *empty_url, *password_file;
static int		seq;

static twofa_totp_params_t const params = { TWOFA_HASH_SHA1, 6, 30 };
static uint8_t const sealed[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
				  21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34 };

static twofa_store_t *open_url(TALLOC_CTX *ctx, char const *which, bool create, unsigned int timeout_ms)
{
	twofa_store_config_t	config = { .url = which, .create = create,
					   .postgresql = { .password_file = password_file,
							   .statement_timeout_ms = timeout_ms, .pool_size = 4 } };
	twofa_store_t		*store = NULL;
	twofa_rcode_t		rc = twofa_store_open(ctx, &config, &store);

	if (rc != TWOFA_OK) {
		printf("  open: %s: %s\n", twofa_strerror(rc), store ? twofa_store_errmsg(store) : "?");
		fflush(stdout);		/* racers leave by _exit */
		return NULL;
	}
	return store;
}

static twofa_store_t *open_store(TALLOC_CTX *ctx)
{
	return open_url(ctx, url, true, 2000);
}

/* A new user with a confirmed TOTP factor; *user_id and *factor_id (may be NULL) get their ids. */
static char const *new_user(TALLOC_CTX *ctx, twofa_store_t *store, int64_t *user_id, int64_t *factor_id)
{
	char const		*name = talloc_asprintf(ctx, "user-%d-%d", (int) getpid(), ++seq);
	twofa_factor_t		f = { .kind = TWOFA_FACTOR_TOTP, .confirmed = true, .sealed = (uint8_t *) sealed,
				      .sealed_len = sizeof(sealed), .totp = params };
	twofa_user_t		*u;
	twofa_factor_t const	*got;

	CHECK(twofa_store_add_user(store, name, "$y$hash") == TWOFA_OK);
	CHECK(twofa_store_factor_set(store, name, &f) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK);
	if (user_id) *user_id = u ? u->id : 0;
	got = u ? twofa_user_factor(u, TWOFA_FACTOR_TOTP) : NULL;
	if (factor_id) *factor_id = got ? got->id : 0;
	return name;
}

static int64_t step_now(void)
{
	return (int64_t) time(NULL) / 30;
}

static void schema_is_version_11_and_opens_again(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_store(ctx);

	CHECK(store && twofa_store_schema_version(store) == 11);
	store = open_url(ctx, url, false, 2000);
	CHECK(store && twofa_store_schema_version(store) == 11);
	talloc_free(ctx);
}

/* Four servers start at once on an empty database: one makes the schema, the others wait and use it. */
static void migrations_from_empty_run_once_under_the_lock(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_config_t	config = { .url = empty_url, .create = false,
					   .postgresql = { .password_file = password_file } };
	twofa_store_t		*store = NULL;
	int			go[2], i, status, ok = 0;
	pid_t			pids[4];

	/* No schema and no create: not found, and nothing made. */
	CHECK(twofa_store_open(ctx, &config, &store) == TWOFA_ERR_NOT_FOUND);
	CHECK(store && strstr(twofa_store_errmsg(store), "twofa-admin init") != NULL);
	TALLOC_FREE(store);

	CHECK(pipe(go) == 0);
	for (i = 0; i < 4; i++) {
		if ((pids[i] = fork()) == 0) {
			char b;

			close(go[1]);
			if (read(go[0], &b, 1) < 0) _exit(3);
			store = open_url(NULL, empty_url, true, 2000);
			_exit(store && (twofa_store_schema_version(store) == 11) ? 0 : 1);
		}
	}
	close(go[0]);
	close(go[1]);		/* all start together */
	for (i = 0; i < 4; i++) {
		if ((waitpid(pids[i], &status, 0) == pids[i]) && WIFEXITED(status) && (WEXITSTATUS(status) == 0)) ok++;
	}
	CHECK(ok == 4);
	store = open_url(ctx, empty_url, false, 2000);
	CHECK(store && twofa_store_schema_version(store) == 11);
	talloc_free(ctx);
}

static void password_in_the_url_is_refused(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_config_t	config = { .url = "postgresql://twofa:secret@127.0.0.1:1/twofa" };
	twofa_store_t		*store = NULL;

	CHECK(twofa_store_open(ctx, &config, &store) == TWOFA_ERR_MALFORMED);
	CHECK(store && strstr(twofa_store_errmsg(store), "password_file") != NULL);
	CHECK(store && !strstr(twofa_store_errmsg(store), "secret"));
	talloc_free(ctx);
}

static void users_round_trip_in_any_case(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_store(ctx);
	twofa_user_t	*u;
	char const	*name;

	if (!store) goto done;
	name = talloc_asprintf(ctx, "Zoë-%d", (int) getpid());
	CHECK(twofa_store_add_user(store, name, "$y$h") == TWOFA_OK);
	CHECK(twofa_store_add_user(store, name, "$y$h") == TWOFA_ERR_EXISTS);
	CHECK(twofa_store_add_user(store, talloc_asprintf(ctx, "zoë-%d", (int) getpid()), NULL) == TWOFA_ERR_EXISTS);
	CHECK(twofa_store_get_user(store, ctx, talloc_asprintf(ctx, "ZOë-%d", (int) getpid()), &u) == TWOFA_OK);
	CHECK(u && strcmp(u->name, name) == 0 && u->password_hash && strcmp(u->password_hash, "$y$h") == 0);
	CHECK(twofa_store_set_exempt(store, name, true) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK && u->exempt);
	CHECK(twofa_store_delete_user(store, name) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_ERR_NOT_FOUND);
	CHECK(twofa_store_delete_user(store, name) == TWOFA_ERR_NOT_FOUND);
done:
	talloc_free(ctx);
}

static void consumed_step_is_refused_again_and_earlier_ones_too(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_store(ctx);
	int64_t		uid, fid, s = step_now();
	time_t		now = time(NULL);
	twofa_user_t	*u;

	if (!store) goto done;
	new_user(ctx, store, &uid, &fid);
	CHECK(twofa_store_factor_consume_step(store, uid, fid, s, now, NULL) == TWOFA_OK);
	CHECK(twofa_store_factor_consume_step(store, uid, fid, s, now, NULL) == TWOFA_ERR_REPLAYED);
	CHECK(twofa_store_factor_consume_step(store, uid, fid, s - 1, now, NULL) == TWOFA_ERR_REPLAYED);
	CHECK(twofa_store_factor_consume_step(store, uid, fid, s + 1, now, NULL) == TWOFA_OK);
	/* Older than the store remembers: refused, whatever the high-water mark. */
	CHECK(twofa_store_factor_consume_step(store, uid, fid, s - 100, now, NULL) == TWOFA_ERR_REPLAYED);
	CHECK(twofa_store_factor_consume_step(store, uid, fid + 1000000, s + 2, now, NULL) == TWOFA_ERR_NOT_ENROLLED);
	CHECK(twofa_store_factor_consume_step(store, uid + 1000000, fid, s + 2, now, NULL) == TWOFA_ERR_NOT_FOUND);
	CHECK(twofa_store_get_user(store, ctx, "nobody-here", &u) == TWOFA_ERR_NOT_FOUND);
done:
	talloc_free(ctx);
}

static void replaced_factor_is_not_consumed(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_store(ctx);
	int64_t		uid, fid, fid2;
	char const	*name;
	twofa_factor_t	f = { .kind = TWOFA_FACTOR_TOTP, .confirmed = true, .sealed = (uint8_t *) sealed,
			      .sealed_len = sizeof(sealed), .totp = params };
	twofa_user_t	*u;

	if (!store) goto done;
	name = new_user(ctx, store, &uid, &fid);
	CHECK(twofa_store_factor_set(store, name, &f) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK);
	fid2 = twofa_user_factor(u, TWOFA_FACTOR_TOTP)->id;
	CHECK(fid2 > fid);
	CHECK(twofa_store_factor_consume_step(store, uid, fid, step_now(), time(NULL), NULL) == TWOFA_ERR_NOT_ENROLLED);
	CHECK(twofa_store_factor_consume_step(store, uid, fid2, step_now(), time(NULL), NULL) == TWOFA_OK);
done:
	talloc_free(ctx);
}

/* N processes, each with its own store (and connections), consume the same step at once. */
static int race_processes(int n, int (*each)(twofa_store_t *store, void *arg), void *arg)
{
	int	go[2], ready[2], i, status, wins = 0;
	pid_t	pids[16];
	char	b;

	if ((pipe(go) < 0) || (pipe(ready) < 0)) return -1;
	for (i = 0; i < n; i++) {
		if ((pids[i] = fork()) == 0) {
			twofa_store_t *store;

			close(go[1]);
			close(ready[0]);
			store = open_url(NULL, url, false, 5000);
			if (!store) _exit(2);
			if (write(ready[1], "r", 1) != 1) _exit(2);
			if (read(go[0], &b, 1) < 0) _exit(2);		/* EOF: go */
			_exit(each(store, arg));	/* _exit: the parent's connections are not touched */
		}
	}
	close(go[0]);
	close(ready[1]);
	for (i = 0; i < n; i++) if (read(ready[0], &b, 1) != 1) break;
	close(go[1]);
	close(ready[0]);
	for (i = 0; i < n; i++) {
		if ((waitpid(pids[i], &status, 0) == pids[i]) && WIFEXITED(status)) {
			if (WEXITSTATUS(status) == 0) wins++;
			else if (WEXITSTATUS(status) != 1) printf("  a racer failed: %d\n", WEXITSTATUS(status));
		}
	}
	return wins;
}

typedef struct {
	int64_t		user_id;
	int64_t		factor_id;
	int64_t		step;
	uint8_t		bkey[TWOFA_BACKUP_KEY_LEN];
	char		code[TWOFA_BACKUP_CODE_LEN + 1];
} race_t;

static int consume_one(twofa_store_t *store, void *arg)
{
	race_t const	*r = arg;
	twofa_rcode_t	rc = twofa_store_factor_consume_step(store, r->user_id, r->factor_id, r->step, time(NULL), NULL);

	if (rc == TWOFA_OK) return 0;
	return (rc == TWOFA_ERR_REPLAYED) ? 1 : 2;
}

static void same_step_from_four_processes_exactly_one_wins(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_store(ctx);
	race_t		r;
	int		round;

	if (!store) goto done;
	new_user(ctx, store, &r.user_id, &r.factor_id);
	for (round = 0; round < 5; round++) {
		r.step = step_now() + round;
		CHECK(race_processes(4, consume_one, &r) == 1);
	}
done:
	talloc_free(ctx);
}

typedef struct {
	twofa_store_t	*store;
	race_t const	*race;
	pthread_barrier_t *barrier;
	twofa_rcode_t	rc;
} thread_arg_t;

static void *consume_thread(void *p)
{
	thread_arg_t *t = p;

	pthread_barrier_wait(t->barrier);
	t->rc = twofa_store_factor_consume_step(t->store, t->race->user_id, t->race->factor_id, t->race->step,
						time(NULL), NULL);
	return NULL;
}

/* Eight threads of one process share its pool (4 connections): one wins, the others wait their turn. */
static void same_step_from_eight_threads_exactly_one_wins(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_t		*store = open_store(ctx);
	race_t			r;
	pthread_t		th[8];
	thread_arg_t		args[8];
	pthread_barrier_t	barrier;
	int			i, wins = 0, replayed = 0;

	if (!store) goto done;
	new_user(ctx, store, &r.user_id, &r.factor_id);
	r.step = step_now();
	pthread_barrier_init(&barrier, NULL, 8);
	for (i = 0; i < 8; i++) {
		args[i] = (thread_arg_t) { .store = store, .race = &r, .barrier = &barrier };
		pthread_create(&th[i], NULL, consume_thread, &args[i]);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		if (args[i].rc == TWOFA_OK) wins++;
		if (args[i].rc == TWOFA_ERR_REPLAYED) replayed++;
	}
	pthread_barrier_destroy(&barrier);
	CHECK(wins == 1);
	CHECK(replayed == 7);
done:
	talloc_free(ctx);
}

/*
 *	The login path's calls combined into pipelines (store_pg.c,
 *	login_call): sixteen threads, each its own user, read and consume at
 *	once, so that batches form.  Every answer must reach its own call:
 *	each read gives the thread's own user, each consume of a new step is
 *	taken, each second consume of it refused, each login row written.
 */
#define PIPE_THREADS	16
#define PIPE_ROUNDS	25

/* Failures counted, never a lock: every round's failure is one more. */
static twofa_lockout_t const lenient = { .max_failures = 100, .lock_seconds = 60, .max_lock_seconds = 60 };

typedef struct {
	twofa_store_t	*store;
	char const	*name;
	int64_t		user_id, factor_id, first_step;
	int		wrong;		//!< answers not the call's own
	pthread_barrier_t *barrier;
} pipe_arg_t;

static void *pipe_thread(void *p)
{
	pipe_arg_t	*t = p;
	int		i;

	for (i = 0; i < PIPE_ROUNDS; i++) {
		TALLOC_CTX		*ctx = talloc_new(NULL);
		twofa_user_t		*u = NULL;
		time_t			until = -1;
		uint8_t			nonce[16];
		twofa_login_t		login = { .at = time(NULL), .user = t->name, .nas = "127.0.0.1",
						  .method = "totp", .result = "accept", .reason = "ok",
						  .state_nonce = nonce, .state_nonce_len = sizeof(nonce),
						  .state_expires = time(NULL) + 60 };

		memset(nonce, 0, sizeof(nonce));
		memcpy(nonce, &t->user_id, sizeof(t->user_id));
		memcpy(nonce + 8, &i, sizeof(i));
		pthread_barrier_wait(t->barrier);
		if ((twofa_store_get_user(t->store, ctx, t->name, &u) != TWOFA_OK) || (u->id != t->user_id)) t->wrong++;
		pthread_barrier_wait(t->barrier);
		if (twofa_store_factor_consume_step(t->store, t->user_id, t->factor_id, t->first_step + i,
						    time(NULL), &login) != TWOFA_OK) t->wrong++;
		pthread_barrier_wait(t->barrier);
		if (twofa_store_factor_consume_step(t->store, t->user_id, t->factor_id, t->first_step + i,
						    time(NULL), NULL) != TWOFA_ERR_REPLAYED) t->wrong++;
		/* The rest of a login's calls: a failure counted, a State spent once, a reject's row. */
		pthread_barrier_wait(t->barrier);
		if ((twofa_store_record_failure(t->store, t->user_id, &lenient, time(NULL), &until) != TWOFA_OK) ||
		    (until != 0)) t->wrong++;
		nonce[15] = 1;
		pthread_barrier_wait(t->barrier);
		if (twofa_store_state_use(t->store, nonce, sizeof(nonce), time(NULL) + 60, time(NULL)) != TWOFA_OK) t->wrong++;
		pthread_barrier_wait(t->barrier);
		if (twofa_store_state_use(t->store, nonce, sizeof(nonce), time(NULL) + 60, time(NULL)) !=
		    TWOFA_ERR_REPLAYED) t->wrong++;
		login.result = "reject";
		login.reason = "bad_code";
		login.state_nonce = NULL;
		pthread_barrier_wait(t->barrier);
		if (twofa_store_log_login(t->store, &login) != TWOFA_OK) t->wrong++;
		talloc_free(ctx);
	}
	return NULL;
}

static void pipelined_calls_each_get_their_own_answer(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_t		*store = open_store(ctx);
	pipe_arg_t		args[PIPE_THREADS];
	pthread_t		th[PIPE_THREADS];
	pthread_barrier_t	barrier;
	twofa_login_t		*logins = NULL;
	size_t			count = 0, rows = 0, rejects = 0, j;
	int			i, wrong = 0, counted_wrong = 0;

	if (!store) goto done;
	pthread_barrier_init(&barrier, NULL, PIPE_THREADS);
	for (i = 0; i < PIPE_THREADS; i++) {
		args[i] = (pipe_arg_t) { .store = store, .barrier = &barrier, .first_step = step_now() };
		args[i].name = new_user(ctx, store, &args[i].user_id, &args[i].factor_id);
	}
	for (i = 0; i < PIPE_THREADS; i++) pthread_create(&th[i], NULL, pipe_thread, &args[i]);
	for (i = 0; i < PIPE_THREADS; i++) {
		pthread_join(th[i], NULL);
		wrong += args[i].wrong;
	}
	pthread_barrier_destroy(&barrier);
	CHECK(wrong == 0);
	for (i = 0; i < PIPE_THREADS; i++) {
		twofa_user_t *u = NULL;

		CHECK(twofa_store_list_logins(store, ctx, args[i].name, 0, &logins, &count) == TWOFA_OK);
		for (j = 0; j < count; j++) {
			rows += strcmp(logins[j].result, "accept") == 0;
			rejects += strcmp(logins[j].result, "reject") == 0;
		}
		CHECK(twofa_store_get_user(store, ctx, args[i].name, &u) == TWOFA_OK);
		if (u && (u->fail_count != PIPE_ROUNDS)) counted_wrong++;
	}
	CHECK(rows == PIPE_THREADS * PIPE_ROUNDS);
	CHECK(rejects == PIPE_THREADS * PIPE_ROUNDS);
	CHECK(counted_wrong == 0);
done:
	talloc_free(ctx);
}

/*
 *	A statement that fails in a pipeline rolls back the whole pipeline's
 *	transaction; every call then runs again on its own.  A name that is
 *	not UTF-8 makes the database refuse the read: the others' consumes
 *	and failures, batched with it, must each be taken or counted once (a
 *	consume kept from the failed pipeline would be refused as a replay
 *	when run again, a failure kept would count twice).
 */
/* One consume of the thread's step, then one failure counted, each at the barrier. */
static void *consume_once_thread(void *p)
{
	pipe_arg_t	*t = p;
	time_t		until;

	pthread_barrier_wait(t->barrier);
	if (twofa_store_factor_consume_step(t->store, t->user_id, t->factor_id, t->first_step, time(NULL),
					    NULL) != TWOFA_OK) t->wrong++;
	pthread_barrier_wait(t->barrier);
	if (twofa_store_record_failure(t->store, t->user_id, &lenient, time(NULL), &until) != TWOFA_OK) t->wrong++;
	return NULL;
}

/* Reads the database refuses (a name not UTF-8), at each barrier; counted in wrong when refused. */
static void *bad_name_thread(void *p)
{
	pipe_arg_t	*t = p;
	twofa_user_t	*u = NULL;
	twofa_rcode_t	rc;
	int		i;

	for (i = 0; i < 2; i++) {
		pthread_barrier_wait(t->barrier);
		rc = twofa_store_get_user(t->store, NULL, "bad\xff\xfename", &u);
		if ((rc != TWOFA_OK) && (rc != TWOFA_ERR_NOT_FOUND)) t->wrong++;
		TALLOC_FREE(u);
	}
	return NULL;
}

static void failed_statement_in_a_pipeline_fails_only_its_own_call(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_t		*store = open_store(ctx);
	pipe_arg_t		args[8];
	pthread_t		th[8];
	pthread_barrier_t	barrier;
	int			i, round, wrong = 0, refused = 0;

	if (!store) goto done;
	for (i = 0; i < 8; i++) {
		args[i] = (pipe_arg_t) { .store = store, .barrier = &barrier, .first_step = step_now() };
		args[i].name = new_user(ctx, store, &args[i].user_id, &args[i].factor_id);
	}
	for (round = 0; round < 10; round++) {
		pthread_barrier_init(&barrier, NULL, 8);
		for (i = 0; i < 8; i++) {
			args[i].first_step = step_now() + round;
			pthread_create(&th[i], NULL, (i == 0) ? bad_name_thread : consume_once_thread, &args[i]);
		}
		for (i = 0; i < 8; i++) pthread_join(th[i], NULL);
		pthread_barrier_destroy(&barrier);
		refused += args[0].wrong;
		args[0].wrong = 0;
	}
	for (i = 1; i < 8; i++) {
		twofa_user_t *u = NULL;

		wrong += args[i].wrong;
		/* Counted once a round: a failure kept from an aborted pipeline would count twice. */
		CHECK(twofa_store_get_user(store, ctx, args[i].name, &u) == TWOFA_OK);
		CHECK(u && (u->fail_count == 10));
	}
	CHECK(wrong == 0);
	CHECK(refused == 20);
done:
	talloc_free(ctx);
}

static int use_code(twofa_store_t *store, void *arg)
{
	race_t const	*r = arg;
	twofa_rcode_t	rc = twofa_store_backup_consume(store, r->user_id, r->bkey, r->code, time(NULL), NULL, NULL);

	if (rc == TWOFA_OK) return 0;
	return (rc == TWOFA_ERR_REPLAYED) || (rc == TWOFA_ERR_BAD_CODE) ? 1 : 2;
}

static void same_backup_code_from_four_processes_exactly_one_wins(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_t		*store = open_store(ctx);
	twofa_backup_hash_t	hashes[3];
	char			codes[3][TWOFA_BACKUP_CODE_LEN + 1];
	unsigned int		voided = 99, left = 0;
	char const		*name;
	race_t			r;
	int			i;

	if (!store) goto done;
	memset(r.bkey, 7, sizeof(r.bkey));
	name = new_user(ctx, store, &r.user_id, NULL);
	for (i = 0; i < 3; i++) {
		CHECK(twofa_backup_code_from_number(1234567 + i, codes[i]));
		CHECK(twofa_backup_code_seal(r.bkey, codes[i], &hashes[i]) == TWOFA_OK);
	}
	CHECK(twofa_store_backup_set(store, name, hashes, 3, &voided) == TWOFA_OK && voided == 0);
	memcpy(r.code, codes[1], sizeof(r.code));
	CHECK(race_processes(4, use_code, &r) == 1);
	/* Used: no longer among the unused codes, so no match at all. */
	CHECK(twofa_store_backup_consume(store, r.user_id, r.bkey, codes[1], time(NULL), &left, NULL) == TWOFA_ERR_BAD_CODE);
	CHECK(twofa_store_backup_consume(store, r.user_id, r.bkey, codes[2], time(NULL), &left, NULL) == TWOFA_OK);
	CHECK(left == 1);
	CHECK(twofa_store_backup_set(store, name, hashes, 0, &voided) == TWOFA_OK && voided == 1);
	CHECK(twofa_store_backup_consume(store, r.user_id, r.bkey, codes[0], time(NULL), &left, NULL) == TWOFA_ERR_BAD_CODE);
done:
	talloc_free(ctx);
}

/* Lockout: the count, the doubling, the end by the database's clock (this machine's, here). */
static void failures_lock_double_and_block_consumes(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_t		*store = open_store(ctx);
	twofa_lockout_t		policy = { .max_failures = 3, .lock_seconds = 60, .max_lock_seconds = 100 };
	int64_t			uid, fid;
	time_t			until = 1, now = time(NULL);
	twofa_user_t		*u;
	char const		*name;

	if (!store) goto done;
	name = new_user(ctx, store, &uid, &fid);
	CHECK(twofa_store_record_failure(store, uid, &policy, now, &until) == TWOFA_OK && until == 0);
	CHECK(twofa_store_record_failure(store, uid, &policy, now, &until) == TWOFA_OK && until == 0);
	CHECK(twofa_store_record_failure(store, uid, &policy, now, &until) == TWOFA_OK);
	CHECK(until >= now + 55 && until <= time(NULL) + 65);
	CHECK(twofa_store_factor_consume_step(store, uid, fid, step_now(), time(NULL), NULL) == TWOFA_ERR_LOCKED);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK && u->lock_count == 1 && u->fail_count == 0);
	/* The next lock doubles, up to the ceiling. */
	CHECK(twofa_store_record_failure(store, uid, &policy, now, &until) == TWOFA_OK);
	CHECK(twofa_store_record_failure(store, uid, &policy, now, &until) == TWOFA_OK);
	CHECK(twofa_store_record_failure(store, uid, &policy, now, &until) == TWOFA_OK);
	CHECK(until >= now + 95 && until <= time(NULL) + 105);
	CHECK(twofa_store_unlock(store, name) == TWOFA_OK);
	CHECK(twofa_store_factor_consume_step(store, uid, fid, step_now(), time(NULL), NULL) == TWOFA_OK);
	CHECK(twofa_store_record_failure(store, uid, &policy, now, &until) == TWOFA_OK);
	CHECK(twofa_store_record_success(store, uid) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK && u->fail_count == 0 && u->locked_until == 0);
done:
	talloc_free(ctx);
}

/* A lock (the database's clock) holds for every consume-once and for an enrolment at login. */
static void locked_user_cannot_enrol_or_use_a_backup_code(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_t		*store = open_store(ctx);
	twofa_lockout_t		policy = { .max_failures = 1, .lock_seconds = 600, .max_lock_seconds = 600 };
	twofa_factor_t		f = { .kind = TWOFA_FACTOR_TOTP, .sealed = (uint8_t *) sealed,
				      .sealed_len = sizeof(sealed), .totp = params };
	twofa_backup_hash_t	hash;
	uint8_t			bkey[TWOFA_BACKUP_KEY_LEN] = { 3 };
	char			code[TWOFA_BACKUP_CODE_LEN + 1];
	twofa_user_t		*u;
	char const		*name;

	if (!store) goto done;
	name = talloc_asprintf(ctx, "locked-%d", (int) getpid());
	CHECK(twofa_store_add_user(store, name, NULL) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK);
	CHECK(twofa_backup_code_from_number(4242, code) && twofa_backup_code_seal(bkey, code, &hash) == TWOFA_OK);
	CHECK(twofa_store_backup_set(store, name, &hash, 1, NULL) == TWOFA_OK);
	CHECK(twofa_store_record_failure(store, u->id, &policy, time(NULL), NULL) == TWOFA_OK);
	CHECK(twofa_store_factor_enrol(store, u->id, &f, step_now(), time(NULL), NULL) == TWOFA_ERR_EXISTS);
	CHECK(twofa_store_backup_consume(store, u->id, bkey, code, time(NULL), NULL, NULL) == TWOFA_ERR_LOCKED);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK && u->num_factors == 0 && u->backup_codes_left == 1);
done:
	talloc_free(ctx);
}

typedef struct {
	twofa_store_t		*store;
	int64_t			user_id;
	twofa_lockout_t const	*policy;
	pthread_barrier_t	*barrier;
} fail_arg_t;

static void *fail_thread(void *p)
{
	fail_arg_t *f = p;

	pthread_barrier_wait(f->barrier);
	twofa_store_record_failure(f->store, f->user_id, f->policy, time(NULL), NULL);
	return NULL;
}

/* Failures counted at once from many threads are all counted: four of them with max 4 make one lock. */
static void racing_failures_are_all_counted(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_t		*store = open_store(ctx);
	twofa_lockout_t		policy = { .max_failures = 4, .lock_seconds = 60, .max_lock_seconds = 600 };
	pthread_barrier_t	barrier;
	pthread_t		th[4];
	fail_arg_t		arg;
	twofa_user_t		*u;
	char const		*name;
	int			i;

	if (!store) goto done;
	name = new_user(ctx, store, &arg.user_id, NULL);
	arg = (fail_arg_t) { .store = store, .user_id = arg.user_id, .policy = &policy, .barrier = &barrier };
	pthread_barrier_init(&barrier, NULL, 4);
	for (i = 0; i < 4; i++) pthread_create(&th[i], NULL, fail_thread, &arg);
	for (i = 0; i < 4; i++) pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK);
	CHECK(u && u->lock_count == 1 && u->fail_count == 0 && u->locked_until > time(NULL));
done:
	talloc_free(ctx);
}

static void password_failures_back_off(void)
{
	TALLOC_CTX			*ctx = talloc_new(NULL);
	twofa_store_t			*store = open_store(ctx);
	twofa_password_throttle_t	policy = { .free_failures = 1, .delay_seconds = 10, .max_delay_seconds = 15 };
	int64_t				uid;
	time_t				next = 1, now = time(NULL);

	if (!store) goto done;
	new_user(ctx, store, &uid, NULL);
	CHECK(twofa_store_record_password_failure(store, uid, &policy, now, &next) == TWOFA_OK && next == 0);
	CHECK(twofa_store_record_password_failure(store, uid, &policy, now, &next) == TWOFA_OK);
	CHECK(next >= now + 9 && next <= time(NULL) + 11);
	CHECK(twofa_store_record_password_failure(store, uid, &policy, now, &next) == TWOFA_OK);
	CHECK(next >= now + 14 && next <= time(NULL) + 16);
	CHECK(twofa_store_record_password_success(store, uid) == TWOFA_OK);
done:
	talloc_free(ctx);
}

static void consume_writes_its_login_row(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_store(ctx);
	int64_t		uid, fid;
	char const	*name;
	twofa_login_t	*l, login = { .at = time(NULL), .nas = "127.0.0.1", .method = "totp", .result = "accept",
				      .reason = "ok", .calling_station_id = "bad \xff\xfe utf-8" };
	size_t		n = 0;

	if (!store) goto done;
	name = new_user(ctx, store, &uid, &fid);
	login.user = name;
	CHECK(twofa_store_factor_consume_step(store, uid, fid, step_now(), time(NULL), &login) == TWOFA_OK);
	CHECK(twofa_store_factor_consume_step(store, uid, fid, step_now(), time(NULL), &login) == TWOFA_ERR_REPLAYED);
	CHECK(twofa_store_list_logins(store, ctx, name, 0, &l, &n) == TWOFA_OK && n == 1);
	CHECK(n == 1 && strcmp(l[0].result, "accept") == 0 && strcmp(l[0].calling_station_id, "bad ?? utf-8") == 0);
done:
	talloc_free(ctx);
}

static void enrol_at_login_keeps_a_confirmed_factor(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_store(ctx);
	twofa_factor_t	f = { .kind = TWOFA_FACTOR_TOTP, .sealed = (uint8_t *) sealed, .sealed_len = sizeof(sealed),
			      .totp = params };
	twofa_user_t	*u;
	char const	*name;

	if (!store) goto done;
	name = talloc_asprintf(ctx, "enrol-%d", (int) getpid());
	CHECK(twofa_store_add_user(store, name, NULL) == TWOFA_OK);
	CHECK(twofa_store_factor_set(store, name, &f) == TWOFA_OK);	/* pending: replaced by the enrolment */
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK);
	CHECK(twofa_store_factor_enrol(store, u->id, &f, step_now(), time(NULL), NULL) == TWOFA_OK);
	CHECK(twofa_store_factor_enrol(store, u->id, &f, step_now(), time(NULL), NULL) == TWOFA_ERR_EXISTS);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK);
	CHECK(u->num_factors == 1 && u->factors[0].confirmed && u->factors[0].last_step == step_now());
	CHECK(twofa_store_factor_consume_step(store, u->id, u->factors[0].id, step_now(), time(NULL), NULL) ==
	      TWOFA_ERR_REPLAYED);
done:
	talloc_free(ctx);
}

static void reset_removes_factors_and_codes(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_t		*store = open_store(ctx);
	twofa_backup_hash_t	hash;
	uint8_t			bkey[TWOFA_BACKUP_KEY_LEN] = { 1 };
	char			code[TWOFA_BACKUP_CODE_LEN + 1];
	unsigned int		removed = 0, voided = 0;
	twofa_user_t		*u;
	char const		*name;

	if (!store) goto done;
	name = new_user(ctx, store, NULL, NULL);
	CHECK(twofa_backup_code_from_number(7654321, code) && twofa_backup_code_seal(bkey, code, &hash) == TWOFA_OK);
	CHECK(twofa_store_backup_set(store, name, &hash, 1, NULL) == TWOFA_OK);
	CHECK(twofa_store_reset_user(store, name, &removed, &voided) == TWOFA_OK && removed == 1 && voided == 1);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK && u->num_factors == 0 && u->backup_codes_left == 0);
	CHECK(twofa_store_reset_user(store, "nobody-at-all", NULL, NULL) == TWOFA_ERR_NOT_FOUND);
done:
	talloc_free(ctx);
}

static void bulk_transaction_commits_or_rolls_back(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_t		*store = open_store(ctx);
	twofa_store_txn_t	*txn = NULL;
	twofa_user_t		*u;
	char const		*a = talloc_asprintf(ctx, "bulk-a-%d", (int) getpid());
	char const		*b = talloc_asprintf(ctx, "bulk-b-%d", (int) getpid());

	if (!store) goto done;
	CHECK(twofa_store_begin(store, &txn) == TWOFA_OK);
	CHECK(twofa_store_add_user(store, a, NULL) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, a, &u) == TWOFA_OK);	/* its own writes, in the transaction */
	CHECK(twofa_store_rollback(&txn) == TWOFA_OK && !txn);
	CHECK(twofa_store_get_user(store, ctx, a, &u) == TWOFA_ERR_NOT_FOUND);
	CHECK(twofa_store_begin(store, &txn) == TWOFA_OK);
	CHECK(twofa_store_add_user(store, b, NULL) == TWOFA_OK);
	CHECK(twofa_store_commit(&txn) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, b, &u) == TWOFA_OK);
done:
	talloc_free(ctx);
}

/*
 *	Schema 8-10: sealed States, SMS and email codes, send limits, the
 *	preferred method, remembered devices.
 */
/* A fresh random-looking nonce of 16 bytes, different per call and process. */
static void new_nonce(uint8_t nonce[16])
{
	static uint32_t	n;
	uint32_t	pid = (uint32_t) getpid(), t = (uint32_t) time(NULL), i = ++n;

	memset(nonce, 0x5a, 16);
	memcpy(nonce, &pid, 4);
	memcpy(nonce + 4, &t, 4);
	memcpy(nonce + 8, &i, 4);
}

typedef struct {
	uint8_t		nonce[16];
	time_t		expires;
} state_race_t;

static int use_state(twofa_store_t *store, void *arg)
{
	state_race_t const	*s = arg;
	twofa_rcode_t		rc = twofa_store_state_use(store, s->nonce, sizeof(s->nonce), s->expires, time(NULL));

	if (rc == TWOFA_OK) return 0;
	return (rc == TWOFA_ERR_REPLAYED) ? 1 : 2;
}

static void state_used_once_across_processes(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_store(ctx);
	state_race_t	s;
	int		round;

	if (!store) goto done;
	for (round = 0; round < 3; round++) {
		new_nonce(s.nonce);
		s.expires = time(NULL) + 120;
		CHECK(race_processes(4, use_state, &s) == 1);
		CHECK(twofa_store_state_use(store, s.nonce, sizeof(s.nonce), s.expires, time(NULL)) == TWOFA_ERR_REPLAYED);
	}
	/* Expired nonces are pruned now and then (TWOFA_STATE_PRUNE_EVERY calls), a fresh one never. */
	/* A State carries its deadline: the same nonce always comes with the same expires. */
	new_nonce(s.nonce);
	s.expires = time(NULL) + 120;
	CHECK(twofa_store_state_use(store, s.nonce, sizeof(s.nonce), s.expires, time(NULL)) == TWOFA_OK);
	for (round = 0; round < 2 * TWOFA_STATE_PRUNE_EVERY; round++) {
		uint8_t old[16];

		new_nonce(old);
		CHECK(twofa_store_state_use(store, old, sizeof(old), time(NULL) - 3600, time(NULL)) == TWOFA_OK);
	}
	CHECK(twofa_store_state_use(store, s.nonce, sizeof(s.nonce), s.expires, time(NULL)) == TWOFA_ERR_REPLAYED);
done:
	talloc_free(ctx);
}

/* A login answering a sealed State, for a consume. */
static twofa_login_t state_login(char const *name, uint8_t const nonce[16])
{
	return (twofa_login_t) { .at = time(NULL), .user = name, .nas = "127.0.0.1", .method = "totp",
				 .result = "accept", .reason = "ok", .state_nonce = nonce, .state_nonce_len = 16,
				 .state_expires = time(NULL) + 120 };
}

static int64_t logins_of(TALLOC_CTX *ctx, twofa_store_t *store, char const *name)
{
	twofa_login_t	*l;
	size_t		n = 0;

	if (twofa_store_list_logins(store, ctx, name, 0, &l, &n) != TWOFA_OK) return -1;
	return (int64_t) n;
}

/* Every consume records the State first: a State answered once is EXPIRED for any consume after. */
static void consume_with_a_state_nonce_refuses_a_second_use(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_t		*store = open_store(ctx);
	uint8_t			nonce[16], spent[16], bkey[TWOFA_BACKUP_KEY_LEN] = { 9 };
	char			code[TWOFA_BACKUP_CODE_LEN + 1], wrong[TWOFA_BACKUP_CODE_LEN + 1];
	twofa_backup_hash_t	hash;
	twofa_factor_t		sms = { .kind = TWOFA_FACTOR_SMS, .address = "+441234567890" };
	twofa_login_t		login;
	twofa_user_t		*u;
	int64_t			uid, fid, s = step_now();
	char const		*name;

	if (!store) goto done;
	name = new_user(ctx, store, &uid, &fid);
	new_nonce(nonce);
	login = state_login(name, nonce);
	CHECK(twofa_store_factor_consume_step(store, uid, fid, s, time(NULL), &login) == TWOFA_OK);
	CHECK(logins_of(ctx, store, name) == 1);
	/* The same State again, with a step not used yet: the State decides. */
	CHECK(twofa_store_factor_consume_step(store, uid, fid, s + 1, time(NULL), &login) == TWOFA_ERR_EXPIRED);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK && u->factors[0].last_step == s);
	CHECK(twofa_backup_code_from_number(3141592, code) && twofa_backup_code_seal(bkey, code, &hash) == TWOFA_OK);
	CHECK(twofa_store_backup_set(store, name, &hash, 1, NULL) == TWOFA_OK);
	CHECK(twofa_store_backup_consume(store, uid, bkey, code, time(NULL), NULL, &login) == TWOFA_ERR_EXPIRED);
	CHECK(twofa_store_factor_enrol(store, uid, &sms, s, time(NULL), &login) == TWOFA_ERR_EXPIRED);
	CHECK(twofa_store_state_use(store, nonce, sizeof(nonce), login.state_expires, time(NULL)) == TWOFA_ERR_REPLAYED);
	CHECK(logins_of(ctx, store, name) == 1);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK && u->num_factors == 1 && u->backup_codes_left == 1);

	/* A wrong answer spends its State too (kept, not rolled back with the refusal). */
	new_nonce(spent);
	login = state_login(name, spent);
	CHECK(twofa_store_factor_consume_step(store, uid, fid, s, time(NULL), &login) == TWOFA_ERR_REPLAYED);
	CHECK(twofa_store_state_use(store, spent, sizeof(spent), login.state_expires, time(NULL)) == TWOFA_ERR_REPLAYED);
	new_nonce(spent);
	login = state_login(name, spent);
	CHECK(twofa_backup_code_from_number(2718281, wrong));
	CHECK(twofa_store_backup_consume(store, uid, bkey, wrong, time(NULL), NULL, &login) == TWOFA_ERR_BAD_CODE);
	CHECK(twofa_store_backup_consume(store, uid, bkey, code, time(NULL), NULL, &login) == TWOFA_ERR_EXPIRED);

	/* A fresh State: the backup code, then an enrolment that stores the SMS factor's number. */
	new_nonce(nonce);
	login = state_login(name, nonce);
	CHECK(twofa_store_backup_consume(store, uid, bkey, code, time(NULL), NULL, &login) == TWOFA_OK);
	new_nonce(nonce);
	login = state_login(name, nonce);
	CHECK(twofa_store_factor_enrol(store, uid, &sms, s, time(NULL), &login) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK);
	CHECK(u && twofa_user_factor(u, TWOFA_FACTOR_SMS) &&
	      twofa_user_factor(u, TWOFA_FACTOR_SMS)->address &&
	      strcmp(twofa_user_factor(u, TWOFA_FACTOR_SMS)->address, "+441234567890") == 0);
	CHECK(logins_of(ctx, store, name) == 3);
done:
	talloc_free(ctx);
}

/* A user with a confirmed SMS factor; *factor_id gets its id. */
static char const *new_sms_user(TALLOC_CTX *ctx, twofa_store_t *store, int64_t *user_id, int64_t *factor_id)
{
	char const		*name = new_user(ctx, store, user_id, NULL);
	twofa_factor_t		f = { .kind = TWOFA_FACTOR_SMS, .confirmed = true, .address = "+15555550100" };
	twofa_user_t		*u = NULL;
	twofa_factor_t const	*got;

	CHECK(twofa_store_factor_set(store, name, &f) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK);
	got = u ? twofa_user_factor(u, TWOFA_FACTOR_SMS) : NULL;
	*factor_id = got ? got->id : 0;
	return name;
}

typedef struct {
	int64_t		user_id;
	int64_t		factor_id;
	uint8_t		okey[TWOFA_OOB_KEY_LEN];
	char		code[TWOFA_OOB_DIGITS_MAX + 1];
} oob_race_t;

static int use_oob(twofa_store_t *store, void *arg)
{
	oob_race_t const	*o = arg;
	twofa_rcode_t		rc = twofa_store_oob_consume(store, o->user_id, o->factor_id, o->okey, o->code, 6,
							     time(NULL), NULL);

	if (rc == TWOFA_OK) return 0;
	return (rc == TWOFA_ERR_REPLAYED) ? 1 : 2;
}

static void oob_code_from_four_processes_exactly_one_wins(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_store_t		*store = open_store(ctx);
	twofa_oob_hash_t	hash;
	oob_race_t		o;
	char			other[TWOFA_OOB_DIGITS_MAX + 1];
	int64_t			totp_id;
	twofa_user_t		*u;
	char const		*name;
	int			round;

	if (!store) goto done;
	memset(o.okey, 4, sizeof(o.okey));
	name = new_sms_user(ctx, store, &o.user_id, &o.factor_id);
	for (round = 0; round < 3; round++) {
		CHECK(twofa_oob_code_generate(6, o.code) == TWOFA_OK);
		CHECK(twofa_oob_code_seal(o.okey, o.code, &hash) == TWOFA_OK);
		CHECK(twofa_store_oob_set(store, o.user_id, o.factor_id, &hash, time(NULL) + 300) == TWOFA_OK);
		CHECK(race_processes(4, use_oob, &o) == 1);
		CHECK(twofa_store_oob_consume(store, o.user_id, o.factor_id, o.okey, o.code, 6, time(NULL), NULL) ==
		      TWOFA_ERR_REPLAYED);
	}
	/* A wrong answer, an expired code, a replaced one, a factor not confirmed or not the user's. */
	CHECK(twofa_oob_code_generate(6, o.code) == TWOFA_OK && twofa_oob_code_seal(o.okey, o.code, &hash) == TWOFA_OK);
	CHECK(twofa_store_oob_set(store, o.user_id, o.factor_id, &hash, time(NULL) + 300) == TWOFA_OK);
	snprintf(other, sizeof(other), "%06d", (atoi(o.code) + 1) % 1000000);
	CHECK(twofa_store_oob_consume(store, o.user_id, o.factor_id, o.okey, other, 6, time(NULL), NULL) == TWOFA_ERR_BAD_CODE);
	CHECK(twofa_store_oob_consume(store, o.user_id, o.factor_id, o.okey, o.code, 6, time(NULL) + 301, NULL) ==
	      TWOFA_ERR_EXPIRED);
	CHECK(twofa_store_oob_consume(store, o.user_id, o.factor_id, o.okey, "12ab56", 6, time(NULL), NULL) ==
	      TWOFA_ERR_MALFORMED);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK);
	totp_id = twofa_user_factor(u, TWOFA_FACTOR_TOTP)->id;
	CHECK(twofa_store_oob_set(store, o.user_id, totp_id + 1000000, &hash, time(NULL) + 300) == TWOFA_ERR_NOT_ENROLLED);
	CHECK(twofa_store_oob_set(store, o.user_id + 1, o.factor_id, &hash, time(NULL) + 300) == TWOFA_ERR_NOT_ENROLLED);
	/* The factor replaced: its code goes with it. */
	CHECK(twofa_store_oob_set(store, o.user_id, o.factor_id, &hash, time(NULL) + 300) == TWOFA_OK);
	{
		twofa_factor_t f = { .kind = TWOFA_FACTOR_SMS, .confirmed = true, .address = "+15555550101" };

		CHECK(twofa_store_factor_set(store, name, &f) == TWOFA_OK);
	}
	CHECK(twofa_store_oob_consume(store, o.user_id, o.factor_id, o.okey, o.code, 6, time(NULL), NULL) ==
	      TWOFA_ERR_NOT_ENROLLED);
done:
	talloc_free(ctx);
}

typedef struct {
	int64_t		user_id;
	char		nas[32];
	time_t		now;
} send_race_t;

static int send_once(twofa_store_t *store, void *arg)
{
	send_race_t const	*s = arg;
	twofa_rcode_t		rc = twofa_store_send_allow(store, s->user_id, s->nas, s->now, 2, 0);

	if (rc == TWOFA_OK) return 0;
	return (rc == TWOFA_ERR_THROTTLED) ? 1 : 2;
}

static void send_limits_per_user_and_per_nas_hold_across_processes(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_store(ctx);
	send_race_t	s;
	int64_t		uid2;
	time_t		now = time(NULL);
	int		i;

	if (!store) goto done;
	new_user(ctx, store, &s.user_id, NULL);
	new_user(ctx, store, &uid2, NULL);
	snprintf(s.nas, sizeof(s.nas), "192.0.2.%d", (int) (getpid() % 250));
	s.now = now;
	/* Four servers, two slots: exactly two sends. */
	CHECK(race_processes(4, send_once, &s) == 2);
	CHECK(twofa_store_send_allow(store, s.user_id, s.nas, now, 2, 0) == TWOFA_ERR_THROTTLED);
	CHECK(twofa_store_send_allow(store, s.user_id, s.nas, now, 3, 0) == TWOFA_OK);
	CHECK(twofa_store_send_allow(store, s.user_id, s.nas, now, 0, 0) == TWOFA_OK);		/* no limit */
	/* An hour later the window is empty again. */
	CHECK(twofa_store_send_allow(store, s.user_id, s.nas, now + TWOFA_SEND_WINDOW, 1, 0) == TWOFA_OK);
	CHECK(twofa_store_send_allow(store, s.user_id, s.nas, now + TWOFA_SEND_WINDOW, 1, 0) == TWOFA_ERR_THROTTLED);
	/* The NAS's limit counts every user's sends through it. */
	for (i = 0; i < 2; i++) CHECK(twofa_store_send_allow(store, uid2, "198.51.100.7", now, 0, 3) == TWOFA_OK);
	CHECK(twofa_store_send_allow(store, s.user_id, "198.51.100.7", now, 0, 3) == TWOFA_OK);
	CHECK(twofa_store_send_allow(store, uid2, "198.51.100.7", now, 0, 3) == TWOFA_ERR_THROTTLED);
	CHECK(twofa_store_send_allow(store, uid2, "198.51.100.8", now, 0, 3) == TWOFA_OK);
done:
	talloc_free(ctx);
}

static void preferred_method_is_kept(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_store(ctx);
	twofa_user_t	*u;
	char const	*name;

	if (!store) goto done;
	name = new_user(ctx, store, NULL, NULL);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK && u->preferred == 0);
	CHECK(twofa_store_set_preferred(store, name, TWOFA_FACTOR_EMAIL) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK && u->preferred == TWOFA_FACTOR_EMAIL);
	CHECK(twofa_store_set_preferred(store, name, 0) == TWOFA_OK);
	CHECK(twofa_store_get_user(store, ctx, name, &u) == TWOFA_OK && u->preferred == 0);
	CHECK(twofa_store_set_preferred(store, "nobody-at-all", TWOFA_FACTOR_SMS) == TWOFA_ERR_NOT_FOUND);
done:
	talloc_free(ctx);
}

static void devices_remembered_known_listed_forgotten(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_store_t	*store = open_store(ctx);
	uint8_t		a[TWOFA_DEVICE_HASH_LEN], b[TWOFA_DEVICE_HASH_LEN];
	twofa_device_t	*list = NULL;
	size_t		n = 0;
	unsigned int	gone = 0;
	time_t		now = time(NULL);
	int64_t		uid, uid2, first_id;
	char const	*name;

	if (!store) goto done;
	memset(a, 0xa1, sizeof(a));
	memset(b, 0xb2, sizeof(b));
	name = new_user(ctx, store, &uid, NULL);
	new_user(ctx, store, &uid2, NULL);
	CHECK(twofa_store_device_known(store, uid, a, now) == TWOFA_ERR_NOT_FOUND);
	CHECK(twofa_store_device_remember(store, uid, a, now - 100, now + 1000, "127.0.0.1") == TWOFA_OK);
	CHECK(twofa_store_device_known(store, uid, a, now) == TWOFA_OK);
	CHECK(twofa_store_device_known(store, uid2, a, now) == TWOFA_ERR_NOT_FOUND);	/* another user's */
	CHECK(twofa_store_device_known(store, uid, a, now + 1000) == TWOFA_ERR_NOT_FOUND);	/* expired then */
	CHECK(twofa_store_device_list(store, ctx, name, now, &list, &n) == TWOFA_OK && n == 1);
	first_id = n ? list[0].id : 0;
	/* Remembered again: the same id and first date, a new expiry and NAS. */
	CHECK(twofa_store_device_remember(store, uid, a, now, now + 2000, "127.0.0.2") == TWOFA_OK);
	CHECK(twofa_store_device_remember(store, uid, b, now, now + 10, NULL) == TWOFA_OK);
	CHECK(twofa_store_device_list(store, ctx, name, now, &list, &n) == TWOFA_OK && n == 2);
	CHECK(n == 2 && list[0].id == first_id && list[0].created == now - 100 && list[0].last_used == now &&
	      list[0].expires == now + 2000 && list[0].nas && strcmp(list[0].nas, "127.0.0.2") == 0 && !list[1].nas);
	/* Not listed once expired, and forgotten by the user's next remember. */
	CHECK(twofa_store_device_list(store, ctx, name, now + 10, &list, &n) == TWOFA_OK && n == 1);
	CHECK(twofa_store_device_remember(store, uid, a, now + 20, now + 2000, "127.0.0.2") == TWOFA_OK);
	CHECK(twofa_store_device_known(store, uid, b, now) == TWOFA_ERR_NOT_FOUND);
	CHECK(twofa_store_device_remember(store, uid + 1000000, a, now, now + 10, NULL) == TWOFA_ERR_STORE);
	/* Forget one, then all. */
	CHECK(twofa_store_device_remember(store, uid, b, now, now + 100, NULL) == TWOFA_OK);
	CHECK(twofa_store_device_forget(store, name, first_id, &gone) == TWOFA_OK && gone == 1);
	CHECK(twofa_store_device_forget(store, name, first_id, &gone) == TWOFA_OK && gone == 0);
	CHECK(twofa_store_device_known(store, uid, a, now) == TWOFA_ERR_NOT_FOUND);
	CHECK(twofa_store_device_known(store, uid, b, now) == TWOFA_OK);
	CHECK(twofa_store_device_forget(store, name, 0, &gone) == TWOFA_OK && gone == 1);
	CHECK(twofa_store_device_list(store, ctx, name, now, &list, &n) == TWOFA_OK && n == 0);
	CHECK(twofa_store_device_list(store, ctx, "nobody-at-all", now, &list, &n) == TWOFA_ERR_NOT_FOUND);
	CHECK(twofa_store_device_forget(store, "nobody-at-all", 0, &gone) == TWOFA_ERR_NOT_FOUND);
done:
	talloc_free(ctx);
}

int main(void)
{
	url = getenv("TWOFA_PG_URL");
	empty_url = getenv("TWOFA_PG_EMPTY_URL");
	password_file = getenv("TWOFA_PG_PASSWORD_FILE");
	if (!url || !empty_url || !password_file) {
		printf("FAIL pg_store_probe: TWOFA_PG_URL, TWOFA_PG_EMPTY_URL and TWOFA_PG_PASSWORD_FILE must be set\n");
		return 1;
	}
	RUN(schema_is_version_11_and_opens_again);
	RUN(migrations_from_empty_run_once_under_the_lock);
	RUN(password_in_the_url_is_refused);
	RUN(users_round_trip_in_any_case);
	RUN(consumed_step_is_refused_again_and_earlier_ones_too);
	RUN(replaced_factor_is_not_consumed);
	RUN(same_step_from_four_processes_exactly_one_wins);
	RUN(same_step_from_eight_threads_exactly_one_wins);
	RUN(pipelined_calls_each_get_their_own_answer);
	RUN(failed_statement_in_a_pipeline_fails_only_its_own_call);
	RUN(same_backup_code_from_four_processes_exactly_one_wins);
	RUN(failures_lock_double_and_block_consumes);
	RUN(racing_failures_are_all_counted);
	RUN(locked_user_cannot_enrol_or_use_a_backup_code);
	RUN(password_failures_back_off);
	RUN(consume_writes_its_login_row);
	RUN(enrol_at_login_keeps_a_confirmed_factor);
	RUN(reset_removes_factors_and_codes);
	RUN(bulk_transaction_commits_or_rolls_back);
	RUN(state_used_once_across_processes);
	RUN(consume_with_a_state_nonce_refuses_a_second_use);
	RUN(oob_code_from_four_processes_exactly_one_wins);
	RUN(send_limits_per_user_and_per_nas_hold_across_processes);
	RUN(preferred_method_is_kept);
	RUN(devices_remembered_known_listed_forgotten);
	CHECK_EXIT();
}
