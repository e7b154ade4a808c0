/*
 * store_floor.c	What the store's calls alone cost a login, with no radiusd
 *			and no network: N threads each run the calls of one
 *			two-round login (bench/run's row b) in a loop, against a
 *			store made by bench/run (store-10000).
 *
 *	get	round one's read (twofa_store_get_user)
 *	consume	round two's write: the TOTP step, the State's nonce and the
 *		login's row in one call (the users read beforehand, not timed)
 *	both	the two, as a login makes them
 *
 *	Prints logins/s and this process's CPU per login.  Built and run by
 *	bench/store-floor; not part of the module.  STORE_URL may be a
 *	postgresql:// one (its password in the file TWOFA_PG_PASSWORD_FILE
 *	names).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <openssl/rand.h>

#include "store.h"

enum { MODE_GET, MODE_CONSUME, MODE_BOTH };

static twofa_store_t	*store;
static char		**names;
static twofa_user_t	**users;
static int		count, per_thread, mode, nthreads;
static int64_t		first_step;

static void fail(char const *what, char const *name, twofa_rcode_t rc)
{
	fprintf(stderr, "store_floor: %s %s: %s (%s)\n", what, name, twofa_strerror(rc), twofa_store_errmsg(store));
	exit(1);
}

static void *run(void *arg)
{
	long	t = (long) arg;
	int	i;

	for (i = 0; i < per_thread; i++) {
		/* Thread t has the users k with k % nthreads == t, each at its next step in turn. */
		int		own = count / nthreads;
		int		k = (int) t + nthreads * (i % own);
		int64_t		step = first_step + i / own;
		twofa_user_t	*u = users ? users[k] : NULL;
		twofa_login_t	l = { 0 };
		uint8_t		nonce[16];
		twofa_rcode_t	rc;

		if (mode != MODE_CONSUME) {
			rc = twofa_store_get_user(store, NULL, names[k], &u);
			if (rc != TWOFA_OK) fail("get user", names[k], rc);
		}
		if (mode != MODE_GET) {
			twofa_factor_t const *f = twofa_user_factor(u, TWOFA_FACTOR_TOTP);

			if (RAND_bytes(nonce, sizeof(nonce)) != 1) fail("RAND_bytes", "", TWOFA_ERR_CRYPTO);
			l.at = time(NULL);
			l.user = names[k];
			l.nas = "127.0.0.1";
			l.method = "totp";
			l.result = "accept";
			l.reason = "ok";
			l.state_nonce = nonce;
			l.state_nonce_len = sizeof(nonce);
			l.state_expires = l.at + 300;
			rc = twofa_store_factor_consume_step(store, u->id, f->id, step, l.at, &l);
			if (rc != TWOFA_OK) fail("consume", names[k], rc);
		}
		if (!users) talloc_free(u);
	}
	return NULL;
}

static double seconds(struct timeval tv) { return tv.tv_sec + tv.tv_usec / 1e6; }

int main(int argc, char **argv)
{
	twofa_store_config_t	config = { 0 };
	struct timespec		t0, t1;
	struct rusage		r0, r1;
	pthread_t		threads[256];
	char			line[512];
	int			i;
	FILE			*fp;
	double			elapsed, cpu;

	if (argc != 6) {
		fprintf(stderr, "Usage: store_floor get|consume|both THREADS LOGINS STORE_URL USERS_CSV\n");
		return 2;
	}
	mode = !strcmp(argv[1], "get") ? MODE_GET : !strcmp(argv[1], "consume") ? MODE_CONSUME : MODE_BOTH;
	nthreads = atoi(argv[2]);
	if ((nthreads < 1) || (nthreads > 256)) return 2;
	per_thread = atoi(argv[3]) / nthreads;
	config.url = argv[4];
	config.sqlite.busy_timeout_ms = 2000;
	config.sqlite.background_checkpoint = true;	/* as radiusd */
	/* A postgresql:// store: the password from this file, as radiusd's password_file. */
	config.postgresql.password_file = getenv("TWOFA_PG_PASSWORD_FILE");
	config.postgresql.pool_size = 10;
	config.postgresql.connect_timeout = 5;
	config.postgresql.statement_timeout_ms = 5000;
	if (twofa_store_open(NULL, &config, &store) != TWOFA_OK) fail("open", argv[4], TWOFA_ERR_STORE);

	if (!(fp = fopen(argv[5], "r"))) return 1;
	names = calloc(100000, sizeof(*names));
	while (fgets(line, sizeof(line), fp) && (count < 100000)) {
		line[strcspn(line, ",\n")] = '\0';
		names[count++] = strdup(line);
	}
	fclose(fp);
	if (mode == MODE_CONSUME) {
		users = calloc(count, sizeof(*users));
		for (i = 0; i < count; i++) {
			twofa_rcode_t rc = twofa_store_get_user(store, NULL, names[i], &users[i]);

			if (rc != TWOFA_OK) fail("get user", names[i], rc);
		}
	}
	first_step = time(NULL) / 30;
	/* Again on the same store (a database is not copied afresh): steps after those used. */
	if (getenv("FLOOR_FIRST_STEP")) first_step = strtoll(getenv("FLOOR_FIRST_STEP"), NULL, 10);

	getrusage(RUSAGE_SELF, &r0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nthreads; i++) pthread_create(&threads[i], NULL, run, (void *) (long) i);
	for (i = 0; i < nthreads; i++) pthread_join(threads[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &r1);

	elapsed = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	cpu = seconds(r1.ru_utime) - seconds(r0.ru_utime) + seconds(r1.ru_stime) - seconds(r0.ru_stime);
	printf("calls=%s threads=%d logins=%d logins_per_s=%.0f cpu_us_per_login=%.1f\n", argv[1], nthreads,
	       nthreads * per_thread, nthreads * per_thread / elapsed, cpu * 1e6 / (nthreads * per_thread));
	return 0;
}
