/*
 * send_probe.c	Sends one SMS (sms_http.c) or one mail (mail.c) through the
 *		sender thread (sender.c), as the SMS and email methods will,
 *		for tests/integration/test_gateways.sh and its sinks.
 *
 *		send_probe sms|mail FILE
 *
 *		FILE holds "key value" lines (secrets go there, never on the
 *		command line); in a value, \r \n \t \\ and \xHH stand for
 *		those bytes.  Keys: the fields of twofa_sms_http_config_t or
 *		twofa_mail_config_t (header may repeat; tls is required or
 *		none), the values phone, code, user, to, to2, and wait_ms
 *		(send_wait, default 5000), sender_timeout_ms (default 3000),
 *		drain (yes: after the send, wait up to 20 s for the transfer
 *		to end).  Prints what happened, one "step: result" a line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "mail.h"
#include "sender.h"
#include "sms_http.h"

#define HEADERS_MAX	8

typedef struct {
	twofa_sms_http_config_t	sms;
	twofa_mail_config_t	mail;
	char const		*headers[HEADERS_MAX + 1];
	int			header_count;
	char const		*phone, *code, *user, *to, *to2;
	unsigned int		wait_ms, sender_timeout_ms;
	int			drain;
} probe_t;

static int hex_digit(char c)
{
	if ((c >= '0') && (c <= '9')) return c - '0';
	if ((c >= 'a') && (c <= 'f')) return c - 'a' + 10;
	if ((c >= 'A') && (c <= 'F')) return c - 'A' + 10;
	return -1;
}

/* The value with its escapes undone, in place. */
static char *unescape(char *v)
{
	char *r = v, *w = v;

	while (*r) {
		if ((r[0] != '\\') || !r[1]) {
			*w++ = *r++;
			continue;
		}
		switch (r[1]) {
		case 'r': *w++ = '\r'; r += 2; break;
		case 'n': *w++ = '\n'; r += 2; break;
		case 't': *w++ = '\t'; r += 2; break;
		case 'x':
			if ((hex_digit(r[2]) >= 0) && (hex_digit(r[3]) >= 0)) {
				*w++ = (char) (hex_digit(r[2]) * 16 + hex_digit(r[3]));
				r += 4;
				break;
			}
			/* FALL-THROUGH */
		default: *w++ = r[1]; r += 2; break;
		}
	}
	*w = '\0';
	return v;
}

static int set(TALLOC_CTX *ctx, probe_t *p, char const *key, char *value)
{
	char *v = talloc_strdup(ctx, unescape(value));

#define KEY(name, field) if (strcmp(key, name) == 0) { field = v; return 0; }
	KEY("url", p->sms.url = p->mail.url)
	KEY("method", p->sms.method)
	KEY("body", p->sms.body = p->mail.body)
	KEY("content_type", p->sms.content_type)
	KEY("message", p->sms.message)
	KEY("username", p->sms.username = p->mail.username)
	KEY("password", p->sms.password = p->mail.password)
	KEY("bearer_token", p->sms.bearer_token)
	KEY("aws_sigv4", p->sms.aws_sigv4)
	KEY("success_status", p->sms.success_status)
	KEY("success_body", p->sms.success_body)
	KEY("ca_file", p->sms.ca_file = p->mail.ca_file)
	KEY("from", p->mail.from)
	KEY("subject", p->mail.subject)
	KEY("phone", p->phone)
	KEY("code", p->code)
	KEY("user", p->user)
	KEY("to", p->to)
	KEY("to2", p->to2)
#undef KEY
	if (strcmp(key, "header") == 0 && p->header_count < HEADERS_MAX) {
		p->headers[p->header_count++] = v;
		p->sms.headers = p->headers;
		return 0;
	}
	if (strcmp(key, "tls") == 0) {
		p->mail.tls = (strcmp(v, "none") == 0) ? TWOFA_MAIL_TLS_NONE : TWOFA_MAIL_TLS_REQUIRED;
	} else if (strcmp(key, "timeout_ms") == 0) {
		p->sms.timeout_ms = p->mail.timeout_ms = (unsigned int) atoi(v);
	} else if (strcmp(key, "wait_ms") == 0) {
		p->wait_ms = (unsigned int) atoi(v);
	} else if (strcmp(key, "sender_timeout_ms") == 0) {
		p->sender_timeout_ms = (unsigned int) atoi(v);
	} else if (strcmp(key, "drain") == 0) {
		p->drain = strcmp(v, "yes") == 0;
	} else {
		fprintf(stderr, "send_probe: unknown key %s\n", key);
		return -1;
	}
	return 0;
}

static int read_file(TALLOC_CTX *ctx, char const *path, probe_t *p)
{
	FILE	*f = fopen(path, "r");
	char	line[4096];

	if (!f) return -1;
	while (fgets(line, sizeof(line), f)) {
		char *sp;

		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || (line[0] == '#')) continue;
		sp = strchr(line, ' ');
		if (!sp) sp = line + strlen(line);
		else *sp++ = '\0';
		if (set(ctx, p, line, sp) < 0) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	probe_t			p = { .wait_ms = 5000, .sender_timeout_ms = 3000 };
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_sender_t		*sender = NULL;
	twofa_sender_config_t	sc = { .queue_max = 4, .connect_timeout_ms = 2000 };
	twofa_send_job_t	*job = NULL;
	twofa_send_result_t	result;
	twofa_sms_http_t	*gw = NULL;
	twofa_mail_t		*mail = NULL;
	char			err[256] = "", why[CURL_ERROR_SIZE + 64];
	twofa_rcode_t		rc;
	bool			sms;
	int			i;

	if ((argc != 3) || (strcmp(argv[1], "sms") && strcmp(argv[1], "mail")) || (read_file(ctx, argv[2], &p) < 0)) {
		fprintf(stderr, "usage: send_probe sms|mail FILE\n");
		talloc_free(ctx);
		return 2;
	}
	sms = strcmp(argv[1], "sms") == 0;
	sc.timeout_ms = p.sender_timeout_ms;
	if (twofa_sender_start(ctx, &sc, &sender) != TWOFA_OK) {
		printf("sender: failed\n");
		goto done;
	}

	rc = sms ? twofa_sms_http_new(ctx, &p.sms, &gw, err, sizeof(err)) : twofa_mail_new(ctx, &p.mail, &mail, err, sizeof(err));
	printf("new: %s%s%s\n", twofa_strerror(rc), err[0] ? " " : "", err);
	if (rc != TWOFA_OK) goto done;

	if (sms) {
		twofa_sms_values_t v = { .phone = p.phone, .code = p.code, .user = p.user };

		rc = twofa_sms_http_job(gw, sender, &v, &job, err, sizeof(err));
	} else {
		twofa_mail_values_t v = { .to = { p.to, p.to2 }, .code = p.code, .user = p.user };

		rc = twofa_mail_job(mail, sender, &v, &job, err, sizeof(err));
	}
	printf("job: %s%s%s\n", twofa_strerror(rc), (rc != TWOFA_OK) ? " " : "", (rc != TWOFA_OK) ? err : "");
	if (rc != TWOFA_OK) goto done;

	rc = twofa_sender_send(sender, job, p.wait_ms, &result);
	printf("send: %s\n", twofa_strerror(rc));
	if (rc == TWOFA_OK) {
		rc = sms ? twofa_sms_http_outcome(gw, &result, why, sizeof(why)) :
			   twofa_mail_outcome(mail, &result, why, sizeof(why));
		printf("status: %ld\n", result.status);
		printf("outcome: %s%s%s\n", (rc == TWOFA_OK) ? "ok" : "refused", why[0] ? " " : "", why);
	}
	if (p.drain) {
		for (i = 0; (i < 2000) && twofa_sender_in_flight(sender); i++) usleep(10000);
		printf("drained: %s\n", twofa_sender_in_flight(sender) ? "no" : "yes");
	}
done:
	fflush(stdout);
	talloc_free(ctx);
	curl_global_cleanup();
	return 0;
}
