/*
 * combine.c	Calls of many threads combined into batches (combine.h).
 */
#include <errno.h>
#include "combine.h"

void twofa_combiner_init(twofa_combiner_t *cb, unsigned int max_leaders, twofa_run_batch_t run_batch, void *ctx)
{
	pthread_mutex_init(&cb->lock, NULL);
	cb->queue = NULL;
	cb->tail = &cb->queue;
	cb->leaders = 0;
	cb->max_leaders = max_leaders ? max_leaders : 1;
	cb->run_batch = run_batch;
	cb->ctx = ctx;
}

void twofa_combiner_destroy(twofa_combiner_t *cb)
{
	pthread_mutex_destroy(&cb->lock);
}

/*
 *	Run the queued calls, own among them, as one batch; then hand the
 *	calls queued meanwhile to the first of their threads.  Called with
 *	the lock held; returns with it released.  The waiters are woken
 *	outside the lock, so that none of them wakes only to wait for it; a
 *	call is gone once posted, so its next pointer is read first.
 */
static void lead(twofa_combiner_t *cb, twofa_call_t *own)
{
	twofa_call_t *batch = cb->queue, *call, *next, *heir;

	cb->queue = NULL;
	cb->tail = &cb->queue;
	pthread_mutex_unlock(&cb->lock);

	cb->run_batch(cb->ctx, batch);
	for (call = batch; call; call = next) {
		next = call->next;
		if (call != own) sem_post(&call->done);
	}

	pthread_mutex_lock(&cb->lock);
	heir = cb->queue;
	if (heir) {
		cb->queue = heir->next;		/* the heir's own call heads its batch */
		if (!cb->queue) cb->tail = &cb->queue;
		heir->next = NULL;
		heir->lead = true;
	} else {
		cb->leaders--;
	}
	pthread_mutex_unlock(&cb->lock);
	if (heir) sem_post(&heir->done);
}

/* Queue call at the head (an heir's) or the tail, then lead with the lock held. */
static void lead_with(twofa_combiner_t *cb, twofa_call_t *call, bool head)
{
	if (head) {
		call->next = cb->queue;
		if (!cb->queue) cb->tail = &call->next;
		cb->queue = call;
	} else {
		call->next = NULL;
		*cb->tail = call;
		cb->tail = &call->next;
	}
	lead(cb, call);
}

twofa_rcode_t twofa_combiner_call(twofa_combiner_t *cb, twofa_call_t *call)
{
	call->rc = TWOFA_ERR_STORE;
	call->errmsg[0] = '\0';
	call->lead = false;
	call->next = NULL;
	sem_init(&call->done, 0, 0);

	pthread_mutex_lock(&cb->lock);
	if (cb->leaders < cb->max_leaders) {
		cb->leaders++;
		lead_with(cb, call, false);
	} else {
		*cb->tail = call;
		cb->tail = &call->next;
		pthread_mutex_unlock(&cb->lock);
		while (sem_wait(&call->done) < 0) ;	/* EINTR */
		if (call->lead) {			/* own call not run yet: it heads the next batch */
			pthread_mutex_lock(&cb->lock);
			lead_with(cb, call, true);
		}
	}
	sem_destroy(&call->done);
	return call->rc;
}
