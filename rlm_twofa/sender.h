/*
 * sender.h	Sends that never hold a worker: one thread of the module's own
 *		runs every transfer (SMS over HTTP, mail over SMTP) through
 *		libcurl's multi interface.  A login hands its transfer over and
 *		waits at most its send_wait for the outcome; past that it goes
 *		on (answers with the challenge) and the transfer finishes, or
 *		times out, on its own.
 *
 *		FreeRADIUS 3.2 runs a module's call to its end in the worker
 *		thread that took the request: a gateway that hangs must not
 *		take the workers with it.  Every transfer has a hard timeout,
 *		and the number waiting or running is bounded.
 */
#ifndef TWOFA_SENDER_H
#define TWOFA_SENDER_H

#include <stdbool.h>
#include <curl/curl.h>
#include <talloc.h>

#include "twofa.h"

typedef struct twofa_sender twofa_sender_t;
typedef struct twofa_send_job twofa_send_job_t;

/** A line for the server's log, from the sender's thread.  Never a code. */
typedef void (*twofa_send_log_t)(void *arg, char const *msg);

typedef struct {
	unsigned int	queue_max;		//!< transfers waiting or running at once; more are refused
	unsigned int	timeout_ms;		//!< hard limit of one transfer, from connect to last byte
	unsigned int	connect_timeout_ms;	//!< of the connection (TLS included)
	twofa_send_log_t log;			//!< NULL: none; else told of each transfer that failed
	void		*log_arg;		//!< after its login stopped waiting (nobody else would)
} twofa_sender_config_t;

#define TWOFA_SEND_BODY_MAX	512		//!< bytes of a response body kept, to match a success pattern

/** How a transfer ended. */
typedef struct {
	CURLcode	curl;				//!< CURLE_OK if the protocol exchange completed
	long		status;				//!< HTTP status, or the last SMTP reply code
	char		error[CURL_ERROR_SIZE];		//!< curl's detail when curl != CURLE_OK
	char		body[TWOFA_SEND_BODY_MAX];	//!< start of the response body, NUL-terminated
} twofa_send_result_t;

/** Start the sender's thread.  The sender is a talloc child of ctx; freeing it
 *  stops the thread, ends every transfer still running and frees them.
 *  @return TWOFA_OK, TWOFA_ERR_NO_MEMORY, TWOFA_ERR_IO (no thread or libcurl handle). */
twofa_rcode_t twofa_sender_start(TALLOC_CTX *ctx, twofa_sender_config_t const *config, twofa_sender_t **out);

/** A new transfer: job's easy handle is the caller's to set up (URL, body, headers,
 *  SMTP envelope); anything it points to (bodies, header lists) must be allocated
 *  under the job (twofa_send_job_ctx()), which lives until the transfer has ended,
 *  even if that is after the caller gave up waiting.  NULL if out of memory. */
twofa_send_job_t *twofa_sender_job(twofa_sender_t *sender);

/** The job's easy handle (owned by the job). */
CURL *twofa_send_job_easy(twofa_send_job_t *job);

/** The job's talloc context, for what the easy handle points to. */
TALLOC_CTX *twofa_send_job_ctx(twofa_send_job_t *job);

/** What the job sends, for the log line of a failure after its login stopped waiting:
 *  "SMS code to +44•••••1234 for user \"alice\"" (copied; never the code). */
void twofa_send_job_describe(twofa_send_job_t *job, char const *what);

/** Drop a job that was never handed to twofa_sender_send (a set-up failed). */
void twofa_send_job_free(twofa_send_job_t *job);

/** A hard limit for this job's transfer shorter than the sender's timeout_ms
 *  (a gateway's own timeout); 0, or anything longer, leaves the sender's. */
void twofa_send_job_timeout(twofa_send_job_t *job, unsigned int timeout_ms);

/** Hand job to the sender (the job is the sender's from now on, whatever the
 *  outcome) and wait at most wait_ms for its end.
 *  @return TWOFA_OK: it ended, *result says how (a gateway's refusal included);
 *	TWOFA_ERR_EXPIRED: wait_ms passed first, the transfer goes on alone;
 *	TWOFA_ERR_BUSY: queue_max transfers are already waiting or running (not sent);
 *	TWOFA_ERR_IO: the sender is stopping.
 */
twofa_rcode_t twofa_sender_send(twofa_sender_t *sender, twofa_send_job_t *job, unsigned int wait_ms,
				twofa_send_result_t *result);

/** Transfers waiting or running now (for tests and debug lines). */
unsigned int twofa_sender_in_flight(twofa_sender_t *sender);

#endif
