/*
 * test_combine.c	The combiner (combine.c): every call run once, by one
 *			batch, and never more batches at once than allowed.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "combine.h"

#define THREADS		16
#define CALLS		2000

typedef struct {
	pthread_mutex_t	lock;
	unsigned int	running;	//!< batches running now
	unsigned int	most_running;
	unsigned int	batches;
	unsigned int	combined;	//!< calls run in a batch of more than one
} counts_t;

typedef struct {
	int		runs;		//!< times the call was run
	twofa_rcode_t	answer;		//!< what run_batch gives it
} op_t;

static void run_batch(void *ctx, twofa_call_t *batch)
{
	counts_t	*k = ctx;
	twofa_call_t	*call;
	unsigned int	n = 0;

	pthread_mutex_lock(&k->lock);
	if (++k->running > k->most_running) k->most_running = k->running;
	k->batches++;
	pthread_mutex_unlock(&k->lock);

	for (call = batch; call; call = call->next) {
		op_t *op = call->op;

		op->runs++;
		call->rc = op->answer;
		snprintf(call->errmsg, sizeof(call->errmsg), "answer %d", (int) op->answer);
		n++;
	}
	usleep(50);	/* a batch takes a while: others queue meanwhile */

	pthread_mutex_lock(&k->lock);
	k->running--;
	if (n > 1) k->combined += n;
	pthread_mutex_unlock(&k->lock);
}

typedef struct {
	twofa_combiner_t	*cb;
	int			id;
	int			wrong;
} thread_arg_t;

static void *caller(void *p)
{
	thread_arg_t	*t = p;
	int		i;

	for (i = 0; i < CALLS; i++) {
		op_t		op = { .answer = (twofa_rcode_t) -((t->id + i) % 7) };
		twofa_call_t	call = { .op = &op };
		char		want[32];
		twofa_rcode_t	rc = twofa_combiner_call(t->cb, &call);

		snprintf(want, sizeof(want), "answer %d", (int) op.answer);
		if ((op.runs != 1) || (rc != op.answer) || strcmp(call.errmsg, want) != 0) t->wrong++;
	}
	return NULL;
}

static void run_threads(unsigned int max_leaders, counts_t *k)
{
	twofa_combiner_t	cb;
	pthread_t		th[THREADS];
	thread_arg_t		args[THREADS];
	int			i, wrong = 0;

	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	twofa_combiner_init(&cb, max_leaders, run_batch, k);
	for (i = 0; i < THREADS; i++) {
		args[i] = (thread_arg_t) { .cb = &cb, .id = i };
		pthread_create(&th[i], NULL, caller, &args[i]);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		wrong += args[i].wrong;
	}
	twofa_combiner_destroy(&cb);
	pthread_mutex_destroy(&k->lock);
	CHECK(wrong == 0);
}

/* One leader at a time (SQLite's one connection): every call answered once, with its own answer. */
static void one_leader_runs_every_call_once(void)
{
	counts_t k;

	run_threads(1, &k);
	CHECK(k.most_running == 1);
	CHECK(k.batches < THREADS * CALLS);	/* some calls shared a batch */
	CHECK(k.combined > 0);
}

/* Several leaders (PostgreSQL's pipelines): never more at once than allowed. */
static void at_most_max_leaders_at_once(void)
{
	counts_t k;

	run_threads(3, &k);
	CHECK(k.most_running >= 2);	/* a second leader while one runs */
	CHECK(k.most_running <= 3);
	CHECK(k.combined > 0);
}

/* A thread alone: its call runs at once, in a batch of its own. */
static void a_call_alone_runs_in_its_own_thread(void)
{
	counts_t		k;
	twofa_combiner_t	cb;
	op_t			op = { .answer = TWOFA_ERR_BUSY };
	twofa_call_t		call = { .op = &op };

	memset(&k, 0, sizeof(k));
	pthread_mutex_init(&k.lock, NULL);
	twofa_combiner_init(&cb, 1, run_batch, &k);
	CHECK(twofa_combiner_call(&cb, &call) == TWOFA_ERR_BUSY);
	CHECK(op.runs == 1);
	CHECK(k.batches == 1);
	CHECK(cb.leaders == 0);
	twofa_combiner_destroy(&cb);
	pthread_mutex_destroy(&k.lock);
}

int main(void)
{
	RUN(a_call_alone_runs_in_its_own_thread);
	RUN(one_leader_runs_every_call_once);
	RUN(at_most_max_leaders_at_once);
	CHECK_EXIT();
}
