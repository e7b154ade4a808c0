/*
 * test_sender.c	The sender thread (sender.h) against a small HTTP sink
 *			of this test's own on 127.0.0.1: real libcurl, real
 *			sockets.  No timed assertions: waits are bounded, and
 *			what is checked is what happened.
 *
 *			The sink answers by path: /ok 200 "sent", /fail 500,
 *			/status/NNN that status, /hang never (until the test
 *			ends), anything else 404.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "sender.h"

static int		sink_fd = -1;
static int		sink_port;
static atomic_int	sink_requests;
static atomic_bool	sink_release;		//!< lets /hang connections go

/* Read one request (headers and a Content-Length body) into buf; the path is returned in path. */
static bool read_request(int fd, char *path, size_t path_len)
{
	char	buf[8192], *end, *cl;
	size_t	have = 0;
	ssize_t	n;
	long	body = 0;

	while (have < sizeof(buf) - 1) {
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0) return false;
		have += (size_t) n;
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n"))) break;
	}
	if (!end || (sscanf(buf, "%*s %255s", path) != 1)) return false;
	(void) path_len;
	if ((cl = strcasestr(buf, "\r\nContent-Length:"))) body = strtol(cl + 17, NULL, 10);
	body -= (long) (have - (size_t) (end + 4 - buf));
	while (body > 0 && (n = read(fd, buf, sizeof(buf))) > 0) body -= n;
	return true;
}

static void *sink_connection(void *arg)
{
	int	fd = (int) (intptr_t) arg;
	char	path[256], reply[256];
	int	status = 404;

	if (read_request(fd, path, sizeof(path))) {
		atomic_fetch_add(&sink_requests, 1);
		if (strcmp(path, "/hang") == 0) {
			while (!atomic_load(&sink_release)) usleep(10000);
			close(fd);
			return NULL;
		}
		if (strcmp(path, "/ok") == 0) status = 200;
		else if (strcmp(path, "/fail") == 0) status = 500;
		else if (strncmp(path, "/status/", 8) == 0) status = atoi(path + 8);
		snprintf(reply, sizeof(reply), "HTTP/1.1 %d X\r\nContent-Length: 4\r\nConnection: close\r\n\r\nsent", status);
		if (write(fd, reply, strlen(reply)) < 0) perror("sink write");
	}
	close(fd);
	return NULL;
}

static void *sink_loop(void *arg)
{
	for (;;) {
		int		fd = accept(sink_fd, NULL, NULL);
		pthread_t	t;

		if (fd < 0) return NULL;
		pthread_create(&t, NULL, sink_connection, (void *) (intptr_t) fd);
		pthread_detach(t);
	}
}

static bool sink_start(void)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t		len = sizeof(sin);
	pthread_t		t;

	sink_fd = socket(AF_INET, SOCK_STREAM, 0);
	if ((sink_fd < 0) || (bind(sink_fd, (struct sockaddr *) &sin, sizeof(sin)) < 0) || (listen(sink_fd, 64) < 0) ||
	    (getsockname(sink_fd, (struct sockaddr *) &sin, &len) < 0)) return false;
	sink_port = ntohs(sin.sin_port);
	pthread_create(&t, NULL, sink_loop, NULL);
	pthread_detach(t);
	return true;
}

static twofa_sender_config_t const config = { .queue_max = 4, .timeout_ms = 1500, .connect_timeout_ms = 1000 };

/* A POST of body to path on the sink (or to port if not 0). */
static twofa_send_job_t *post(twofa_sender_t *sender, char const *path, int port)
{
	twofa_send_job_t	*job = twofa_sender_job(sender);
	char			*url;

	if (!job) return NULL;
	url = talloc_asprintf(twofa_send_job_ctx(job), "http://127.0.0.1:%d%s", port ? port : sink_port, path);
	curl_easy_setopt(twofa_send_job_easy(job), CURLOPT_URL, url);
	curl_easy_setopt(twofa_send_job_easy(job), CURLOPT_COPYPOSTFIELDS, "to=%2B441234567890&text=code");
	return job;
}

/* Wait (bounded) until no transfer is in flight. */
static bool drained(twofa_sender_t *sender)
{
	int i;

	for (i = 0; (i < 500) && twofa_sender_in_flight(sender); i++) usleep(10000);
	return twofa_sender_in_flight(sender) == 0;
}

static void answered_transfer_gives_status_and_body(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_sender_t		*sender = NULL;
	twofa_send_result_t	result;

	CHECK(twofa_sender_start(ctx, &config, &sender) == TWOFA_OK);
	if (!sender) goto done;
	CHECK(twofa_sender_send(sender, post(sender, "/ok", 0), 5000, &result) == TWOFA_OK);
	CHECK(result.curl == CURLE_OK && result.status == 200);
	CHECK_STR(result.body, "sent");
	CHECK(twofa_sender_send(sender, post(sender, "/fail", 0), 5000, &result) == TWOFA_OK);
	CHECK(result.curl == CURLE_OK && result.status == 500);
	CHECK(twofa_sender_in_flight(sender) == 0);
done:
	talloc_free(ctx);
}

/* Nothing listens: the transfer ends with curl's reason, the sender goes on. */
static void refused_connection_is_reported(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_sender_t		*sender = NULL;
	twofa_send_result_t	result;
	int			fd = socket(AF_INET, SOCK_STREAM, 0), closed_port;
	struct sockaddr_in	sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t		len = sizeof(sin);

	/* A port that was free a moment ago, now closed. */
	bind(fd, (struct sockaddr *) &sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *) &sin, &len);
	closed_port = ntohs(sin.sin_port);
	close(fd);

	CHECK(twofa_sender_start(ctx, &config, &sender) == TWOFA_OK);
	if (!sender) goto done;
	CHECK(twofa_sender_send(sender, post(sender, "/ok", closed_port), 5000, &result) == TWOFA_OK);
	CHECK(result.curl == CURLE_COULDNT_CONNECT);
	CHECK(result.error[0] != '\0');
	CHECK(twofa_sender_send(sender, post(sender, "/ok", 0), 5000, &result) == TWOFA_OK);
	CHECK(result.status == 200);
done:
	talloc_free(ctx);
}

/*
 *	A gateway that never answers: the login stops waiting after its
 *	wait, the transfer goes on until the hard timeout ends it, and the
 *	sender still serves the next login.
 */
static void hanging_gateway_does_not_hold_the_login(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_sender_t		*sender = NULL;
	twofa_send_result_t	result;
	int			before = atomic_load(&sink_requests);

	CHECK(twofa_sender_start(ctx, &config, &sender) == TWOFA_OK);
	if (!sender) goto done;
	CHECK(twofa_sender_send(sender, post(sender, "/hang", 0), 200, &result) == TWOFA_ERR_EXPIRED);
	CHECK(drained(sender));		/* ended by timeout_ms */
	CHECK(atomic_load(&sink_requests) == before + 1);
	CHECK(twofa_sender_send(sender, post(sender, "/status/202", 0), 5000, &result) == TWOFA_OK);
	CHECK(result.status == 202);
done:
	talloc_free(ctx);
}

/* queue_max transfers in flight: the next is refused at once, not queued. */
static void full_queue_refuses_at_once(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_sender_t		*sender = NULL;
	twofa_send_result_t	result;
	unsigned int		i;

	CHECK(twofa_sender_start(ctx, &config, &sender) == TWOFA_OK);
	if (!sender) goto done;
	for (i = 0; i < config.queue_max; i++) {
		CHECK(twofa_sender_send(sender, post(sender, "/hang", 0), 0, &result) == TWOFA_ERR_EXPIRED);
	}
	CHECK(twofa_sender_in_flight(sender) == config.queue_max);
	CHECK(twofa_sender_send(sender, post(sender, "/ok", 0), 5000, &result) == TWOFA_ERR_BUSY);
	CHECK(drained(sender));
	CHECK(twofa_sender_send(sender, post(sender, "/ok", 0), 5000, &result) == TWOFA_OK);
done:
	talloc_free(ctx);
}

/* Logins in many threads each get their own transfer's result. */
typedef struct {
	twofa_sender_t	*sender;
	int		status;
	int		wrong;
} sender_client_t;

static void *send_many(void *arg)
{
	sender_client_t		*c = arg;
	twofa_send_result_t	result;
	char			path[32];
	int			i;

	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/status/%d", c->status);
		if ((twofa_sender_send(c->sender, post(c->sender, path, 0), 5000, &result) != TWOFA_OK) ||
		    (result.status != c->status)) c->wrong++;
	}
	return NULL;
}

static void parallel_logins_get_their_own_results(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_sender_config_t	wide = config;
	twofa_sender_t		*sender = NULL;
	pthread_t		threads[8];
	sender_client_t		clients[8];
	int			i, wrong = 0;

	wide.queue_max = 16;
	CHECK(twofa_sender_start(ctx, &wide, &sender) == TWOFA_OK);
	if (!sender) goto done;
	for (i = 0; i < 8; i++) {
		clients[i] = (sender_client_t) { .sender = sender, .status = 200 + i };
		pthread_create(&threads[i], NULL, send_many, &clients[i]);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(threads[i], NULL);
		wrong += clients[i].wrong;
	}
	CHECK(wrong == 0);
	CHECK(twofa_sender_in_flight(sender) == 0);
done:
	talloc_free(ctx);
}

/* Freed with transfers still running: they are ended, nothing leaks or hangs. */
static void stopping_ends_transfers_in_flight(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_sender_t		*sender = NULL;
	twofa_send_result_t	result;
	twofa_sender_config_t	slow = config;

	slow.timeout_ms = 60000;
	CHECK(twofa_sender_start(ctx, &slow, &sender) == TWOFA_OK);
	if (!sender) goto done;
	CHECK(twofa_sender_send(sender, post(sender, "/hang", 0), 100, &result) == TWOFA_ERR_EXPIRED);
	CHECK(twofa_sender_send(sender, post(sender, "/hang", 0), 100, &result) == TWOFA_ERR_EXPIRED);
	CHECK(twofa_sender_in_flight(sender) == 2);
done:
	talloc_free(ctx);		/* must return, not wait a minute */
}

int main(void)
{
	if (!sink_start()) {
		perror("sink");
		return 1;
	}
	RUN(answered_transfer_gives_status_and_body);
	RUN(refused_connection_is_reported);
	RUN(hanging_gateway_does_not_hold_the_login);
	RUN(full_queue_refuses_at_once);
	RUN(parallel_logins_get_their_own_results);
	RUN(stopping_ends_transfers_in_flight);
	atomic_store(&sink_release, true);
	curl_global_cleanup();
	CHECK_EXIT();
}
