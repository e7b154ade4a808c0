/*
 * mail.c	A code by email over SMTP (mail.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "contact.h"
#include "escape.h"
#include "mail.h"
#include "template.h"

#define QP_LINE_MAX	76	/* RFC 2045 6.7 (5): encoded lines at most 76 characters */

struct twofa_mail {
	char			*url;
	twofa_mail_tls_t	tls;
	bool			implicit_tls;
	char			*username;
	char			*password;
	char			*ca_file;
	char			*from;
	char			*subject;
	char			*body;
	unsigned int		timeout_ms;
};

enum { VAR_CODE, VAR_USER, VAR_COUNT };
static twofa_template_var_t const known_vars[VAR_COUNT] = {
	[VAR_CODE] = { "code", "" }, [VAR_USER] = { "user", "" },
};

static int _mail_free(twofa_mail_t *mail)
{
	if (mail->password) OPENSSL_cleanse(mail->password, strlen(mail->password));
	return 0;
}

static int _wipe_string(char *s)
{
	OPENSSL_cleanse(s, talloc_get_size(s));
	return 0;
}

static bool has_control(char const *s)
{
	for (; *s; s++) if (((unsigned char) *s < 0x20) || (*s == 0x7f)) return true;
	return false;
}

static twofa_rcode_t check(twofa_mail_config_t const *c, char *err, size_t err_len)
{
	char tpl_err[128];

	if (!c->url || (strncasecmp(c->url, "smtp://", 7) && strncasecmp(c->url, "smtps://", 8)) ||
	    has_control(c->url) || strchr(c->url, ' ')) {
		snprintf(err, err_len, "url must be smtp://host[:port] or smtps://host[:port]");
		return TWOFA_ERR_MALFORMED;
	}
	if ((c->tls != TWOFA_MAIL_TLS_REQUIRED) && (c->tls != TWOFA_MAIL_TLS_NONE)) {
		snprintf(err, err_len, "tls must be required or none");
		return TWOFA_ERR_MALFORMED;
	}
	if ((c->tls == TWOFA_MAIL_TLS_NONE) && (strncasecmp(c->url, "smtps://", 8) == 0)) {
		snprintf(err, err_len, "smtps:// is TLS: tls cannot be none");
		return TWOFA_ERR_MALFORMED;
	}
	if (!c->username != !c->password) {
		snprintf(err, err_len, "username and password go together");
		return TWOFA_ERR_MALFORMED;
	}
	if ((c->username && has_control(c->username)) || (c->password && has_control(c->password))) {
		snprintf(err, err_len, "a credential holds a control character");
		return TWOFA_ERR_MALFORMED;
	}
	if (!c->from || !twofa_email_valid(c->from, strlen(c->from))) {
		snprintf(err, err_len, "from must be a plain address (local@domain)");
		return TWOFA_ERR_MALFORMED;
	}
	if (!c->subject || !c->body) {
		snprintf(err, err_len, "subject and body are needed");
		return TWOFA_ERR_MALFORMED;
	}
	if (has_control(c->subject)) {
		snprintf(err, err_len, "subject holds a control character (a CR or LF?)");
		return TWOFA_ERR_MALFORMED;
	}
	if ((twofa_template_check(c->subject, known_vars, VAR_COUNT, tpl_err, sizeof(tpl_err)) != TWOFA_OK) ||
	    (twofa_template_check(c->body, known_vars, VAR_COUNT, tpl_err, sizeof(tpl_err)) != TWOFA_OK)) {
		snprintf(err, err_len, "template: %s", tpl_err);
		return TWOFA_ERR_MALFORMED;
	}
	if (!twofa_template_uses(c->subject, "code") && !twofa_template_uses(c->body, "code")) {
		snprintf(err, err_len, "neither subject nor body holds {code}: the mail would carry no code");
		return TWOFA_ERR_MALFORMED;
	}
	return TWOFA_OK;
}

static char *copy(TALLOC_CTX *ctx, char const *s, bool *failed)
{
	char *c;

	if (!s) return NULL;
	if (!(c = talloc_strdup(ctx, s))) *failed = true;
	return c;
}

twofa_rcode_t twofa_mail_new(TALLOC_CTX *ctx, twofa_mail_config_t const *config, twofa_mail_t **out,
			     char *err, size_t err_len)
{
	twofa_mail_t	*mail;
	twofa_rcode_t	rc;
	bool		failed = false;

	*out = NULL;
	rc = check(config, err, err_len);
	if (rc != TWOFA_OK) return rc;
	mail = talloc_zero(ctx, twofa_mail_t);
	if (!mail) return TWOFA_ERR_NO_MEMORY;
	talloc_set_destructor(mail, _mail_free);
	mail->url = copy(mail, config->url, &failed);
	mail->tls = config->tls;
	mail->implicit_tls = strncasecmp(config->url, "smtps://", 8) == 0;
	mail->username = copy(mail, config->username, &failed);
	mail->password = copy(mail, config->password, &failed);
	mail->ca_file = copy(mail, config->ca_file, &failed);
	mail->from = copy(mail, config->from, &failed);
	mail->subject = copy(mail, config->subject, &failed);
	mail->body = copy(mail, config->body, &failed);
	mail->timeout_ms = config->timeout_ms;
	if (failed) {
		talloc_free(mail);
		return TWOFA_ERR_NO_MEMORY;
	}
	*out = mail;
	return TWOFA_OK;
}

/* RFC 5322 3.3, in English whatever the locale: "Mon, 30 Nov 2026 06:30:00 +0000". */
static void rfc5322_date(time_t now, char out[40])
{
	static char const days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static char const months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&now, &tm);
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* "<32 hex digits@domain of from>": unique without a counter or a host name. */
static twofa_rcode_t message_id(char const *from, char out[TWOFA_EMAIL_MAX + 40])
{
	uint8_t	r[16];
	char	hex[33];
	int	i;

	if (RAND_bytes(r, sizeof(r)) != 1) return TWOFA_ERR_CRYPTO;
	for (i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", r[i]);
	snprintf(out, TWOFA_EMAIL_MAX + 40, "<%s@%s>", hex, strchr(from, '@') + 1);
	return TWOFA_OK;
}

/*
 *	Quoted-printable (RFC 2045 6.7) of text whose lines end in LF or
 *	CRLF: printable ASCII as it is but '='; everything else =XX; a space
 *	or tab before a line end encoded; lines cut with a soft break "="
 *	before 76 characters; every line end CRLF.  A talloc string under
 *	ctx, wiped when freed.
 */
static char *quoted_printable(TALLOC_CTX *ctx, char const *text)
{
	static char const	hex[] = "0123456789ABCDEF";
	size_t			col = 0, len = strlen(text), i;
	char			*buf, *o;

	/* Worst case: 3 characters a byte, a soft break each 25 bytes, CRLF ends. */
	buf = talloc_array(ctx, char, 4 * len + 8);
	if (!buf) return NULL;
	talloc_set_destructor(buf, _wipe_string);
	o = buf;
	for (i = 0; i < len; i++) {
		unsigned char	c = (unsigned char) text[i];
		bool		line_end = (c == '\n') || ((c == '\r') && (text[i + 1] == '\n'));
		bool		before_end = (i + 1 == len) || (text[i + 1] == '\n') ||
					     ((text[i + 1] == '\r') && (text[i + 2] == '\n'));
		bool		literal = ((c >= 33) && (c <= 126) && (c != '=')) ||
					  (((c == ' ') || (c == '\t')) && !before_end);
		size_t		width = literal ? 1 : 3;

		if (line_end) {
			if (c == '\r') i++;
			*o++ = '\r';
			*o++ = '\n';
			col = 0;
			continue;
		}
		if (col + width > QP_LINE_MAX - 1) {	/* room for the soft break's '=' */
			memcpy(o, "=\r\n", 3);
			o += 3;
			col = 0;
		}
		if (literal) {
			*o++ = (char) c;
		} else {
			*o++ = '=';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 0x0f];
		}
		col += width;
	}
	if (col) {
		*o++ = '\r';
		*o++ = '\n';
	}
	*o = '\0';
	return buf;
}

static twofa_rcode_t recipients(twofa_mail_values_t const *values, size_t *count, char *err, size_t err_len)
{
	size_t i;

	*count = 0;
	for (i = 0; i < TWOFA_MAIL_TO_MAX; i++) {
		if (!values->to[i]) continue;
		if (!twofa_email_valid(values->to[i], strlen(values->to[i]))) {
			snprintf(err, err_len, "address %zu is not a plain address", i + 1);
			return TWOFA_ERR_MALFORMED;
		}
		(*count)++;
	}
	if (*count) return TWOFA_OK;
	snprintf(err, err_len, "no address to send to");
	return TWOFA_ERR_MALFORMED;
}

twofa_rcode_t twofa_mail_message(TALLOC_CTX *ctx, twofa_mail_t const *mail, twofa_mail_values_t const *values,
				 time_t now, char **out, char *err, size_t err_len)
{
	twofa_template_var_t	vars[VAR_COUNT];
	char			date[40], msgid[TWOFA_EMAIL_MAX + 40], subject_hdr[TWOFA_MAIL_SUBJECT_MAX * 2 + 64];
	char			*subject = NULL, *body = NULL, *qp, *msg;
	size_t			count;
	twofa_rcode_t		rc;
	TALLOC_CTX		*tmp;

	*out = NULL;
	rc = recipients(values, &count, err, err_len);
	if (rc != TWOFA_OK) return rc;
	if (!(tmp = talloc_new(NULL))) return TWOFA_ERR_NO_MEMORY;
	memcpy(vars, known_vars, sizeof(vars));
	vars[VAR_CODE].value = values->code;
	vars[VAR_USER].value = values->user;

	/* The subject: plain text first (a CR or LF in a value is refused), then RFC 2047 if not ASCII. */
	rc = twofa_template_expand(tmp, mail->subject, vars, VAR_COUNT, TWOFA_TEMPLATE_PLAIN, &subject, err, err_len);
	if ((rc == TWOFA_OK) && ((strlen(subject) > TWOFA_MAIL_SUBJECT_MAX) ||
				 (twofa_escape_header(subject, strlen(subject), subject_hdr, sizeof(subject_hdr)) < 0))) {
		snprintf(err, err_len, "the subject is too long or cannot go in a header");
		rc = TWOFA_ERR_MALFORMED;
	}
	if (rc == TWOFA_OK) rc = twofa_template_expand(tmp, mail->body, vars, VAR_COUNT, TWOFA_TEMPLATE_PLAIN,
						       &body, err, err_len);
	if (rc == TWOFA_OK) rc = message_id(mail->from, msgid);
	if (rc != TWOFA_OK) goto done;

	if (!(qp = quoted_printable(tmp, body))) {
		rc = TWOFA_ERR_NO_MEMORY;
		goto done;
	}
	rfc5322_date(now, date);
	msg = talloc_asprintf(ctx, "Date: %s\r\nFrom: %s\r\nTo: %s%s%s\r\nSubject: %s\r\nMessage-ID: %s\r\n"
			      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
			      "Content-Transfer-Encoding: quoted-printable\r\nAuto-Submitted: auto-generated\r\n\r\n%s",
			      date, mail->from, values->to[0] ? values->to[0] : values->to[1],
			      (values->to[0] && values->to[1]) ? ", " : "",
			      (values->to[0] && values->to[1]) ? values->to[1] : "", subject_hdr, msgid, qp);
	if (!msg) {
		rc = TWOFA_ERR_NO_MEMORY;
		goto done;
	}
	talloc_set_destructor(msg, _wipe_string);
	*out = msg;
done:
	OPENSSL_cleanse(subject_hdr, sizeof(subject_hdr));
	talloc_free(tmp);
	return rc;
}

/* The message libcurl reads (CURLOPT_READFUNCTION), under the job. */
typedef struct {
	char const	*data;
	size_t		len;
	size_t		pos;
} upload_t;

static size_t read_message(char *buf, size_t size, size_t nitems, void *arg)
{
	upload_t	*up = arg;
	size_t		n = size * nitems;

	if (n > up->len - up->pos) n = up->len - up->pos;
	memcpy(buf, up->data + up->pos, n);
	up->pos += n;
	return n;
}

static int _slist_free(struct curl_slist **list)
{
	curl_slist_free_all(*list);
	return 0;
}

twofa_rcode_t twofa_mail_job(twofa_mail_t const *mail, twofa_sender_t *sender, twofa_mail_values_t const *values,
			     twofa_send_job_t **out, char *err, size_t err_len)
{
	twofa_send_job_t	*job;
	TALLOC_CTX		*jctx;
	CURL			*easy;
	upload_t		*up;
	struct curl_slist	**rcpt;
	char			*msg, *from;
	twofa_rcode_t		rc;
	size_t			i;

	*out = NULL;
	if (!(job = twofa_sender_job(sender))) return TWOFA_ERR_NO_MEMORY;
	jctx = twofa_send_job_ctx(job);
	easy = twofa_send_job_easy(job);
	rc = twofa_mail_message(jctx, mail, values, time(NULL), &msg, err, err_len);
	if (rc != TWOFA_OK) goto fail;

	rc = TWOFA_ERR_NO_MEMORY;
	if (!(up = talloc_zero(jctx, upload_t)) || !(rcpt = talloc_zero(jctx, struct curl_slist *)) ||
	    !(from = talloc_asprintf(jctx, "<%s>", mail->from))) goto fail;
	talloc_set_destructor(rcpt, _slist_free);
	for (i = 0; i < TWOFA_MAIL_TO_MAX; i++) {
		struct curl_slist	*grown;
		char			*to;

		if (!values->to[i]) continue;
		if (!(to = talloc_asprintf(jctx, "<%s>", values->to[i])) || !(grown = curl_slist_append(*rcpt, to))) goto fail;
		*rcpt = grown;
	}
	up->data = msg;
	up->len = strlen(msg);

	curl_easy_setopt(easy, CURLOPT_URL, mail->url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(easy, CURLOPT_USE_SSL, (long) (mail->tls == TWOFA_MAIL_TLS_NONE ? CURLUSESSL_NONE : CURLUSESSL_ALL));
	curl_easy_setopt(easy, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, *rcpt);
	curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_message);
	curl_easy_setopt(easy, CURLOPT_READDATA, up);
	curl_easy_setopt(easy, CURLOPT_INFILESIZE, (long) up->len);
	if (mail->username) {
		curl_easy_setopt(easy, CURLOPT_USERNAME, mail->username);
		curl_easy_setopt(easy, CURLOPT_PASSWORD, mail->password);
	}
	if (mail->ca_file) curl_easy_setopt(easy, CURLOPT_CAINFO, mail->ca_file);
	twofa_send_job_timeout(job, mail->timeout_ms);
	*out = job;
	return TWOFA_OK;

fail:
	twofa_send_job_free(job);
	return rc;
}

twofa_rcode_t twofa_mail_outcome(twofa_mail_t const *mail, twofa_send_result_t const *result,
				 char *why, size_t why_len)
{
	if (result->curl == CURLE_OK) {
		if (why_len) why[0] = '\0';
		return TWOFA_OK;
	}
	if (result->status) {
		snprintf(why, why_len, "%s (SMTP %ld)", result->error[0] ? result->error : curl_easy_strerror(result->curl),
			 result->status);
	} else {
		snprintf(why, why_len, "%s", result->error[0] ? result->error : curl_easy_strerror(result->curl));
	}
	return TWOFA_ERR_IO;
}
