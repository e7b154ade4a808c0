/*
 * sender.c	The sender thread (sender.h): libcurl's multi interface in a
 *		thread of the module's own.
 *
 *		A job is shared by two owners, the login that submitted it
 *		and the sender thread, until both are done with it: whichever
 *		lets go last frees it (job->owners, under sender->lock).  The
 *		login waits on the job's condition with a monotonic deadline,
 *		so a stepped clock neither cuts nor stretches send_wait.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>

#include "sender.h"

struct twofa_send_job {
	twofa_sender_t		*sender;
	CURL			*easy;
	TALLOC_CTX		*ctx;		//!< what easy points to: bodies, header lists
	unsigned int		timeout_ms;	//!< the job's own limit, if shorter than the sender's
	char const		*what;		//!< what it sends, for a late failure's log line (under ctx)
	twofa_send_result_t	result;
	size_t			body_len;
	bool			done;		//!< result is final
	int			owners;		//!< 2 once submitted, 1 after either lets go
	pthread_cond_t		ended;
	bool			in_multi;	//!< handed to libcurl
	twofa_send_job_t	*next;		//!< in the queue of jobs not yet handed to libcurl
	twofa_send_job_t	*live_next;	//!< every job submitted and not ended, for the shutdown
	twofa_send_job_t	**live_prev;
};

struct twofa_sender {
	twofa_sender_config_t	config;
	CURLM			*multi;
	pthread_t		thread;
	bool			thread_started;
	pthread_mutex_t		lock;		//!< guards queue, in_flight, stop and every job's done/owners
	twofa_send_job_t	*queue;
	twofa_send_job_t	**queue_tail;
	twofa_send_job_t	*live;		//!< submitted, not ended
	unsigned int		in_flight;	//!< submitted and not ended
	bool			stop;
};

static int _job_free(twofa_send_job_t *job)
{
	OPENSSL_cleanse(&job->result, sizeof(job->result));	/* a gateway may echo the message */
	if (job->easy) curl_easy_cleanup(job->easy);
	pthread_cond_destroy(&job->ended);
	return 0;
}

/* Let go of job (sender->lock held): the last owner frees it. */
static void job_release(twofa_send_job_t *job)
{
	if (--job->owners == 0) talloc_free(job);
}

/* CURLOPT_WRITEFUNCTION: keep the start of the body, take (and drop) the rest. */
static size_t keep_body(char *data, size_t size, size_t nmemb, void *arg)
{
	twofa_send_job_t	*job = arg;
	size_t			len = size * nmemb;
	size_t			room = sizeof(job->result.body) - 1 - job->body_len;
	size_t			n = (len < room) ? len : room;

	memcpy(job->result.body + job->body_len, data, n);
	job->body_len += n;
	job->result.body[job->body_len] = '\0';
	return len;
}

twofa_send_job_t *twofa_sender_job(twofa_sender_t *sender)
{
	twofa_send_job_t	*job = talloc_zero(NULL, twofa_send_job_t);
	pthread_condattr_t	attr;

	if (!job) return NULL;
	/* The login's wait is monotonic: a clock stepped meanwhile neither cuts nor stretches it. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&job->ended, &attr);
	pthread_condattr_destroy(&attr);
	talloc_set_destructor(job, _job_free);
	job->sender = sender;
	job->owners = 1;
	job->ctx = talloc_new(job);
	job->easy = curl_easy_init();
	if (!job->ctx || !job->easy) {
		talloc_free(job);
		return NULL;
	}
	return job;
}

CURL *twofa_send_job_easy(twofa_send_job_t *job)
{
	return job->easy;
}

TALLOC_CTX *twofa_send_job_ctx(twofa_send_job_t *job)
{
	return job->ctx;
}

void twofa_send_job_free(twofa_send_job_t *job)
{
	talloc_free(job);		/* owners is 1: nobody else holds it */
}

void twofa_send_job_describe(twofa_send_job_t *job, char const *what)
{
	job->what = talloc_strdup(job->ctx, what);
}

void twofa_send_job_timeout(twofa_send_job_t *job, unsigned int timeout_ms)
{
	job->timeout_ms = timeout_ms;
}

/* What the sender sets on every transfer, whatever the caller did. */
static void job_limits(twofa_sender_t const *sender, twofa_send_job_t *job)
{
	unsigned int timeout_ms = sender->config.timeout_ms;

	if (job->timeout_ms && (job->timeout_ms < timeout_ms)) timeout_ms = job->timeout_ms;
	curl_easy_setopt(job->easy, CURLOPT_NOSIGNAL, 1L);	/* threads: no SIGALRM for timeouts */
	/* TLS always checks the peer and its name: no gateway's settings may turn it off. */
	curl_easy_setopt(job->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(job->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(job->easy, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
	curl_easy_setopt(job->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) sender->config.connect_timeout_ms);
	curl_easy_setopt(job->easy, CURLOPT_ERRORBUFFER, job->result.error);
	curl_easy_setopt(job->easy, CURLOPT_WRITEFUNCTION, keep_body);
	curl_easy_setopt(job->easy, CURLOPT_WRITEDATA, job);
	curl_easy_setopt(job->easy, CURLOPT_PRIVATE, job);
}

/*
 *	A transfer that failed once its login had stopped waiting (send_wait:
 *	the user got the challenge, and waits for a code that will not come)
 *	has nobody to report it: the sender logs it.  A failure is libcurl's
 *	(no connection, a timeout, TLS) or a status of 400 and up (HTTP, SMTP);
 *	a gateway's own success rules (success_status, success_body) are the
 *	login's to judge, and it is gone.  Not while the sender stops: the
 *	transfers it ends then are its own doing.  The line is made here,
 *	with the lock held; written once the lock is let go.
 */
#define LATE_LINE_MAX	512

static void late_failure_line(twofa_sender_t const *sender, twofa_send_job_t const *job, char line[LATE_LINE_MAX])
{
	char const *what = job->what ? job->what : "a code";

	line[0] = '\0';
	if (!sender->config.log || sender->stop || (job->owners != 1)) return;
	if (job->result.curl != CURLE_OK) {
		snprintf(line, LATE_LINE_MAX, "%s not sent (it ended after send_wait): %s", what, job->result.error);
	} else if (job->result.status >= 400) {
		snprintf(line, LATE_LINE_MAX, "%s not sent (it ended after send_wait): the server answered %ld",
			 what, job->result.status);
	}
}

/*
 *	The transfer ended (sender->lock held): its result is final; wake the
 *	login if it still waits.  late (may be NULL): the log line of a
 *	failure nobody waits for, "" if none.
 */
static void job_end(twofa_sender_t *sender, twofa_send_job_t *job, CURLcode code, char late[LATE_LINE_MAX])
{
	job->result.curl = code;
	if ((code != CURLE_OK) && !job->result.error[0]) {
		strncpy(job->result.error, curl_easy_strerror(code), sizeof(job->result.error) - 1);
	}
	curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &job->result.status);
	if (late) late_failure_line(sender, job, late);
	job->done = true;
	*job->live_prev = job->live_next;
	if (job->live_next) job->live_next->live_prev = job->live_prev;
	sender->in_flight--;
	pthread_cond_signal(&job->ended);
	job_release(job);
}

/* libcurl would not take the job (out of memory): ended now, written with the lock held (rare). */
static void fail_to_start(twofa_sender_t *sender, twofa_send_job_t *job)
{
	char late[LATE_LINE_MAX];

	job_end(sender, job, CURLE_FAILED_INIT, late);
	if (late[0]) sender->config.log(sender->config.log_arg, late);
}

/* Hand the queued jobs to libcurl (sender->lock held). */
static void take_queue(twofa_sender_t *sender)
{
	twofa_send_job_t *job, *next;

	for (job = sender->queue; job; job = next) {
		next = job->next;
		job->next = NULL;
		if (curl_multi_add_handle(sender->multi, job->easy) == CURLM_OK) job->in_multi = true;
		else fail_to_start(sender, job);
	}
	sender->queue = NULL;
	sender->queue_tail = &sender->queue;
}

/* Collect the transfers libcurl says are done. */
static void take_done(twofa_sender_t *sender)
{
	CURLMsg	*msg;
	int	left;

	while ((msg = curl_multi_info_read(sender->multi, &left))) {
		twofa_send_job_t	*job = NULL;
		char			late[LATE_LINE_MAX];

		if (msg->msg != CURLMSG_DONE) continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &job);
		curl_multi_remove_handle(sender->multi, msg->easy_handle);
		pthread_mutex_lock(&sender->lock);
		job->in_multi = false;
		job_end(sender, job, msg->data.result, late);
		pthread_mutex_unlock(&sender->lock);
		if (late[0]) sender->config.log(sender->config.log_arg, late);
	}
}

static void *sender_loop(void *arg)
{
	twofa_sender_t	*sender = arg;
	int		running;

	for (;;) {
		pthread_mutex_lock(&sender->lock);
		if (sender->stop) {
			pthread_mutex_unlock(&sender->lock);
			break;
		}
		take_queue(sender);
		pthread_mutex_unlock(&sender->lock);

		curl_multi_perform(sender->multi, &running);
		take_done(sender);
		/* Sleeps until a socket is ready, a timeout is due, or a submit wakes it. */
		curl_multi_poll(sender->multi, NULL, 0, 1000, NULL);
	}
	return NULL;
}

/*
 *	The sender is stopping (its thread has ended): end every transfer
 *	left, queued or running, as aborted.  A login still waiting is woken
 *	with that; the sender must not be freed while one is (radiusd frees
 *	it in detach, when no request runs).
 */
static void end_all(twofa_sender_t *sender)
{
	pthread_mutex_lock(&sender->lock);
	sender->queue = NULL;
	sender->queue_tail = &sender->queue;
	while (sender->live) {
		twofa_send_job_t *job = sender->live;

		if (job->in_multi) curl_multi_remove_handle(sender->multi, job->easy);
		job->in_multi = false;
		if (!job->result.error[0]) strncpy(job->result.error, "sender stopped", sizeof(job->result.error) - 1);
		job_end(sender, job, CURLE_ABORTED_BY_CALLBACK, NULL);
	}
	pthread_mutex_unlock(&sender->lock);
}

static int _sender_free(twofa_sender_t *sender)
{
	if (sender->thread_started) {
		pthread_mutex_lock(&sender->lock);
		sender->stop = true;
		pthread_mutex_unlock(&sender->lock);
		curl_multi_wakeup(sender->multi);
		pthread_join(sender->thread, NULL);
	}
	end_all(sender);
	if (sender->multi) curl_multi_cleanup(sender->multi);
	pthread_mutex_destroy(&sender->lock);
	return 0;
}

twofa_rcode_t twofa_sender_start(TALLOC_CTX *ctx, twofa_sender_config_t const *config, twofa_sender_t **out)
{
	twofa_sender_t *sender;

	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return TWOFA_ERR_IO;
	sender = talloc_zero(ctx, twofa_sender_t);
	if (!sender) return TWOFA_ERR_NO_MEMORY;
	sender->config = *config;
	sender->queue_tail = &sender->queue;
	pthread_mutex_init(&sender->lock, NULL);
	talloc_set_destructor(sender, _sender_free);

	sender->multi = curl_multi_init();
	if (!sender->multi || (pthread_create(&sender->thread, NULL, sender_loop, sender) != 0)) {
		talloc_free(sender);
		return TWOFA_ERR_IO;
	}
	sender->thread_started = true;
	*out = sender;
	return TWOFA_OK;
}

/* The monotonic time wait_ms from now. */
static struct timespec deadline_in(unsigned int wait_ms)
{
	struct timespec at;

	clock_gettime(CLOCK_MONOTONIC, &at);
	at.tv_sec += wait_ms / 1000;
	at.tv_nsec += (long) (wait_ms % 1000) * 1000000L;
	if (at.tv_nsec >= 1000000000L) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000L;
	}
	return at;
}

twofa_rcode_t twofa_sender_send(twofa_sender_t *sender, twofa_send_job_t *job, unsigned int wait_ms,
				twofa_send_result_t *result)
{
	struct timespec		at = deadline_in(wait_ms);
	twofa_rcode_t		rc = TWOFA_OK;

	job_limits(sender, job);

	pthread_mutex_lock(&sender->lock);
	if (sender->stop || (sender->in_flight >= sender->config.queue_max)) {
		rc = sender->stop ? TWOFA_ERR_IO : TWOFA_ERR_BUSY;
		job_release(job);
		pthread_mutex_unlock(&sender->lock);
		return rc;
	}
	job->owners = 2;
	sender->in_flight++;
	job->live_next = sender->live;
	if (sender->live) sender->live->live_prev = &job->live_next;
	job->live_prev = &sender->live;
	sender->live = job;
	*sender->queue_tail = job;
	sender->queue_tail = &job->next;
	pthread_mutex_unlock(&sender->lock);
	curl_multi_wakeup(sender->multi);

	pthread_mutex_lock(&sender->lock);
	while (!job->done) {
		int err = pthread_cond_timedwait(&job->ended, &sender->lock, &at);

		if (err == ETIMEDOUT) break;
	}
	if (job->done) *result = job->result;
	else rc = TWOFA_ERR_EXPIRED;
	job_release(job);
	pthread_mutex_unlock(&sender->lock);
	return rc;
}

unsigned int twofa_sender_in_flight(twofa_sender_t *sender)
{
	unsigned int n;

	pthread_mutex_lock(&sender->lock);
	n = sender->in_flight;
	pthread_mutex_unlock(&sender->lock);
	return n;
}
