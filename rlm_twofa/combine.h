/*
 * combine.h	Calls of many threads combined into batches, for a store backend.
 *
 *		A thread that finds enough others running calls queues its own
 *		and sleeps; a running thread (a "leader") takes every queued
 *		call into one batch, which the backend runs as it can (SQLite:
 *		one transaction; PostgreSQL: one pipeline, one round trip).
 *		Under load several logins then share one commit and one wait,
 *		not one each.  A leader runs one batch, the one with its own
 *		call in it: calls queued meanwhile go to the first of their
 *		threads, the next leader, so that no login waits on other
 *		logins' calls without end.
 *
 *		The backend's run_batch sets every call's rc and errmsg, and
 *		must not block a call on another of the same batch.
 */
#ifndef TWOFA_COMBINE_H
#define TWOFA_COMBINE_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include "twofa.h"

#define TWOFA_CALL_ERRMSG	320

typedef struct twofa_call twofa_call_t;

/** One thread's call; on its own stack, gone once done is posted. */
struct twofa_call {
	void			*op;		//!< the backend's: what to run
	twofa_rcode_t		rc;		//!< set by run_batch
	char			errmsg[TWOFA_CALL_ERRMSG];	//!< set by run_batch: the call's error text, or ""
	sem_t			done;		//!< posted once rc is set, or once lead is
	bool			lead;		//!< run the queue (own call first) as the next leader
	twofa_call_t		*next;
};

typedef void (*twofa_run_batch_t)(void *ctx, twofa_call_t *batch);

typedef struct {
	pthread_mutex_t		lock;		//!< guards everything below
	twofa_call_t		*queue;		//!< calls waiting for a leader
	twofa_call_t		**tail;
	unsigned int		leaders;	//!< batches running
	unsigned int		max_leaders;	//!< at most this many at once (SQLite: 1, its one connection)
	twofa_run_batch_t	run_batch;
	void			*ctx;
} twofa_combiner_t;

void twofa_combiner_init(twofa_combiner_t *cb, unsigned int max_leaders, twofa_run_batch_t run_batch, void *ctx);
void twofa_combiner_destroy(twofa_combiner_t *cb);

/** Run call->op, alone or in a batch with other threads' calls.  @return call->rc. */
twofa_rcode_t twofa_combiner_call(twofa_combiner_t *cb, twofa_call_t *call);

#endif
