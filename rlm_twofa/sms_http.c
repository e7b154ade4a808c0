/*
 * sms_http.c	An SMS gateway over HTTP(S) (sms_http.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>

#include "sms_http.h"
#include "template.h"

#define STATUS_MIN	100
#define STATUS_MAX	599

struct twofa_sms_http {
	char				*url;
	bool				post;
	char				**headers;	//!< literal lines, NULL-terminated
	size_t				header_count;
	char				*body;
	char				*content_type;
	twofa_template_escape_t		body_escape;
	char				*message;
	char				*username;
	char				*password;
	char				*bearer_token;
	char				*aws_sigv4;
	bool				status_ok[STATUS_MAX + 1];
	char				*success_body;
	char				*ca_file;
	unsigned int			timeout_ms;
};

/* The names a template may use; the values are filled per send. */
enum { VAR_PHONE, VAR_CODE, VAR_USER, VAR_MESSAGE, VAR_COUNT };
static twofa_template_var_t const known_vars[VAR_COUNT] = {
	[VAR_PHONE] = { "phone", "" }, [VAR_CODE] = { "code", "" },
	[VAR_USER] = { "user", "" }, [VAR_MESSAGE] = { "message", "" },
};

static int _gw_free(twofa_sms_http_t *gw)
{
	if (gw->password) OPENSSL_cleanse(gw->password, strlen(gw->password));
	if (gw->bearer_token) OPENSSL_cleanse(gw->bearer_token, strlen(gw->bearer_token));
	if (gw->username) OPENSSL_cleanse(gw->username, strlen(gw->username));
	for (size_t i = 0; i < gw->header_count; i++) OPENSSL_cleanse(gw->headers[i], strlen(gw->headers[i]));
	return 0;
}

/* A copy under ctx, or NULL for NULL; *failed set if out of memory. */
static char *copy(TALLOC_CTX *ctx, char const *s, bool *failed)
{
	char *c;

	if (!s) return NULL;
	if (!(c = talloc_strdup(ctx, s))) *failed = true;
	return c;
}

static bool has_control(char const *s)
{
	for (; *s; s++) if (((unsigned char) *s < 0x20) || (*s == 0x7f)) return true;
	return false;
}

/* RFC 9110 token characters, for a header's name. */
static bool is_tchar(char c)
{
	return ((c >= 'a') && (c <= 'z')) || ((c >= 'A') && (c <= 'Z')) || ((c >= '0') && (c <= '9')) ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool header_ok(char const *line)
{
	char const *p = line;

	while (is_tchar(*p)) p++;
	return (p > line) && (*p == ':') && !has_control(line);
}

/* "2xx,200,302": each item a status or a class; the statuses it names are set in ok. */
static bool parse_statuses(char const *spec, bool ok[STATUS_MAX + 1])
{
	char const *p = spec;

	for (;;) {
		int	lo, hi;

		while (*p == ' ') p++;
		if ((p[0] < '1') || (p[0] > '5')) return false;
		if ((p[1] == 'x') && (p[2] == 'x')) {
			lo = (p[0] - '0') * 100;
			hi = lo + 99;
		} else if ((p[1] >= '0') && (p[1] <= '9') && (p[2] >= '0') && (p[2] <= '9')) {
			lo = hi = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		} else {
			return false;
		}
		for (int s = lo; s <= hi; s++) ok[s] = true;
		p += 3;
		while (*p == ' ') p++;
		if (!*p) return true;
		if (*p++ != ',') return false;
	}
}

static bool content_type_is(char const *type, char const *want)
{
	size_t n = strlen(want);

	/* "application/json; charset=utf-8" is JSON too. */
	return (strncasecmp(type, want, n) == 0) && ((type[n] == '\0') || (type[n] == ';') || (type[n] == ' '));
}

static twofa_rcode_t body_escape_for(char const *type, twofa_template_escape_t *escape)
{
	char const *semi = strchr(type, ';');
	size_t len = semi ? (size_t) (semi - type) : strlen(type);

	while (len && (type[len - 1] == ' ')) len--;
	if (content_type_is(type, "application/x-www-form-urlencoded")) *escape = TWOFA_TEMPLATE_FORM;
	else if (content_type_is(type, "application/json") ||
		 ((len > 5) && (strncasecmp(type + len - 5, "+json", 5) == 0))) *escape = TWOFA_TEMPLATE_JSON;
	else return TWOFA_ERR_MALFORMED;
	return TWOFA_OK;
}

/* {code} in the url or body, or {message} there with {code} in the message (by default the code itself). */
static bool code_reaches_the_gateway(twofa_sms_http_config_t const *c)
{
	bool message_has_code = !c->message || twofa_template_uses(c->message, "code");

	return twofa_template_uses(c->url, "code") || (c->body && twofa_template_uses(c->body, "code")) ||
	       (message_has_code &&
		(twofa_template_uses(c->url, "message") || (c->body && twofa_template_uses(c->body, "message"))));
}

static twofa_rcode_t check(twofa_sms_http_config_t const *c, twofa_sms_http_t *gw, char *err, size_t err_len)
{
	bool post;
	char tpl_err[128];

	if (!c->url || (strncasecmp(c->url, "http://", 7) && strncasecmp(c->url, "https://", 8))) {
		snprintf(err, err_len, "url must start with http:// or https://");
		return TWOFA_ERR_MALFORMED;
	}
	if (has_control(c->url) || strchr(c->url, ' ')) {
		snprintf(err, err_len, "url holds a space or a control character");
		return TWOFA_ERR_MALFORMED;
	}
	if (c->method && strcmp(c->method, "GET") && strcmp(c->method, "POST")) {
		snprintf(err, err_len, "method must be GET or POST");
		return TWOFA_ERR_MALFORMED;
	}
	post = c->method ? (strcmp(c->method, "POST") == 0) : (c->body != NULL);
	if (post != (c->body != NULL)) {
		snprintf(err, err_len, post ? "method POST needs a body" : "method GET takes no body");
		return TWOFA_ERR_MALFORMED;
	}
	gw->post = post;
	if (post) {
		if (!c->content_type || has_control(c->content_type) ||
		    (body_escape_for(c->content_type, &gw->body_escape) != TWOFA_OK)) {
			snprintf(err, err_len, "content_type must be application/x-www-form-urlencoded or application/json");
			return TWOFA_ERR_MALFORMED;
		}
	}
	for (size_t i = 0; c->headers && c->headers[i]; i++) {
		if (!header_ok(c->headers[i])) {
			snprintf(err, err_len, "header %zu is not a \"Name: value\" line", i + 1);
			return TWOFA_ERR_MALFORMED;
		}
	}
	if (c->bearer_token && (c->username || c->password)) {
		snprintf(err, err_len, "bearer_token and username/password are two kinds of auth: set one");
		return TWOFA_ERR_MALFORMED;
	}
	if (!c->username != !c->password) {
		snprintf(err, err_len, "username and password go together");
		return TWOFA_ERR_MALFORMED;
	}
	if (c->aws_sigv4 && (!c->username || has_control(c->aws_sigv4))) {
		snprintf(err, err_len, "aws_sigv4 needs the access key id and secret as username and password");
		return TWOFA_ERR_MALFORMED;
	}
	if ((c->username && has_control(c->username)) || (c->password && has_control(c->password)) ||
	    (c->bearer_token && has_control(c->bearer_token))) {
		snprintf(err, err_len, "a credential holds a control character");
		return TWOFA_ERR_MALFORMED;
	}
	if (!parse_statuses(c->success_status ? c->success_status : "2xx", gw->status_ok)) {
		snprintf(err, err_len, "success_status must list statuses or classes, e.g. \"2xx\" or \"200,202\"");
		return TWOFA_ERR_MALFORMED;
	}
	if (c->success_body && (!*c->success_body || (strlen(c->success_body) >= TWOFA_SEND_BODY_MAX))) {
		snprintf(err, err_len, "success_body must be 1 to %d bytes", TWOFA_SEND_BODY_MAX - 1);
		return TWOFA_ERR_MALFORMED;
	}
	if ((twofa_template_check(c->url, known_vars, VAR_COUNT, tpl_err, sizeof(tpl_err)) != TWOFA_OK) ||
	    (c->body && (twofa_template_check(c->body, known_vars, VAR_COUNT, tpl_err, sizeof(tpl_err)) != TWOFA_OK)) ||
	    (c->message && (twofa_template_check(c->message, known_vars, VAR_MESSAGE, tpl_err, sizeof(tpl_err)) != TWOFA_OK))) {
		snprintf(err, err_len, "template: %s", tpl_err);
		return TWOFA_ERR_MALFORMED;
	}
	if (!code_reaches_the_gateway(c)) {
		snprintf(err, err_len, "the request carries no code: put {code} in url or body, or {message} "
			 "there and {code} in message");
		return TWOFA_ERR_MALFORMED;
	}
	return TWOFA_OK;
}

twofa_rcode_t twofa_sms_http_new(TALLOC_CTX *ctx, twofa_sms_http_config_t const *config, twofa_sms_http_t **out,
				 char *err, size_t err_len)
{
	twofa_sms_http_t	*gw;
	twofa_rcode_t		rc;
	bool			failed = false;
	size_t			n = 0;

	*out = NULL;
	gw = talloc_zero(ctx, twofa_sms_http_t);
	if (!gw) return TWOFA_ERR_NO_MEMORY;
	talloc_set_destructor(gw, _gw_free);
	rc = check(config, gw, err, err_len);
	if (rc != TWOFA_OK) {
		talloc_free(gw);
		return rc;
	}
	while (config->headers && config->headers[n]) n++;
	gw->headers = talloc_zero_array(gw, char *, n + 1);
	if (!gw->headers) failed = true;
	for (gw->header_count = 0; !failed && (gw->header_count < n); gw->header_count++) {
		gw->headers[gw->header_count] = copy(gw, config->headers[gw->header_count], &failed);
	}
	gw->url = copy(gw, config->url, &failed);
	gw->body = copy(gw, config->body, &failed);
	gw->content_type = copy(gw, config->content_type, &failed);
	gw->message = copy(gw, config->message ? config->message : "{code}", &failed);
	gw->username = copy(gw, config->username, &failed);
	gw->password = copy(gw, config->password, &failed);
	gw->bearer_token = copy(gw, config->bearer_token, &failed);
	gw->aws_sigv4 = copy(gw, config->aws_sigv4, &failed);
	gw->success_body = copy(gw, config->success_body, &failed);
	gw->ca_file = copy(gw, config->ca_file, &failed);
	gw->timeout_ms = config->timeout_ms;
	if (failed) {
		talloc_free(gw);
		return TWOFA_ERR_NO_MEMORY;
	}
	*out = gw;
	return TWOFA_OK;
}

/* A curl_slist freed with the job (after its easy handle: the job's destructor runs first). */
static int _slist_free(struct curl_slist **list)
{
	curl_slist_free_all(*list);
	return 0;
}

static twofa_rcode_t set_headers(twofa_sms_http_t const *gw, twofa_send_job_t *job)
{
	struct curl_slist	**list = talloc_zero(twofa_send_job_ctx(job), struct curl_slist *);
	char			*line;
	size_t			i;

	if (!list) return TWOFA_ERR_NO_MEMORY;
	talloc_set_destructor(list, _slist_free);
	if (gw->post) {
		line = talloc_asprintf(list, "Content-Type: %s", gw->content_type);
		if (!line || !(*list = curl_slist_append(*list, line))) return TWOFA_ERR_NO_MEMORY;
	}
	for (i = 0; i < gw->header_count; i++) {
		struct curl_slist *grown = curl_slist_append(*list, gw->headers[i]);

		if (!grown) return TWOFA_ERR_NO_MEMORY;
		*list = grown;
	}
	/* No "Expect: 100-continue" wait on a large POST: one round trip less. */
	if (gw->post && !(*list = curl_slist_append(*list, "Expect:"))) return TWOFA_ERR_NO_MEMORY;
	curl_easy_setopt(twofa_send_job_easy(job), CURLOPT_HTTPHEADER, *list);
	return TWOFA_OK;
}

static void set_auth(twofa_sms_http_t const *gw, CURL *easy)
{
	if (gw->aws_sigv4) {
		curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, gw->aws_sigv4);
		curl_easy_setopt(easy, CURLOPT_USERNAME, gw->username);
		curl_easy_setopt(easy, CURLOPT_PASSWORD, gw->password);
	} else if (gw->username) {
		curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		curl_easy_setopt(easy, CURLOPT_USERNAME, gw->username);
		curl_easy_setopt(easy, CURLOPT_PASSWORD, gw->password);
	} else if (gw->bearer_token) {
		curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long) CURLAUTH_BEARER);
		curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, gw->bearer_token);
	}
}

twofa_rcode_t twofa_sms_http_job(twofa_sms_http_t const *gw, twofa_sender_t *sender, twofa_sms_values_t const *values,
				 twofa_send_job_t **out, char *err, size_t err_len)
{
	twofa_template_var_t	vars[VAR_COUNT];
	twofa_send_job_t	*job;
	TALLOC_CTX		*jctx;
	CURL			*easy;
	char			*url = NULL, *body = NULL, *message = NULL;
	twofa_rcode_t		rc;

	*out = NULL;
	if (!(job = twofa_sender_job(sender))) return TWOFA_ERR_NO_MEMORY;
	jctx = twofa_send_job_ctx(job);
	easy = twofa_send_job_easy(job);

	memcpy(vars, known_vars, sizeof(vars));
	vars[VAR_PHONE].value = values->phone;
	vars[VAR_CODE].value = values->code;
	vars[VAR_USER].value = values->user;
	vars[VAR_MESSAGE].value = NULL;
	rc = twofa_template_expand(jctx, gw->message, vars, VAR_MESSAGE, TWOFA_TEMPLATE_PLAIN, &message, err, err_len);
	if (rc == TWOFA_OK) {
		vars[VAR_MESSAGE].value = message;
		rc = twofa_template_expand(jctx, gw->url, vars, VAR_COUNT, TWOFA_TEMPLATE_URL, &url, err, err_len);
	}
	if ((rc == TWOFA_OK) && gw->post) {
		rc = twofa_template_expand(jctx, gw->body, vars, VAR_COUNT, gw->body_escape, &body, err, err_len);
	}
	if (rc == TWOFA_OK) rc = set_headers(gw, job);
	if (rc != TWOFA_OK) goto fail;

	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "rlm_twofa");
	if (gw->post) {
		curl_easy_setopt(easy, CURLOPT_POST, 1L);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);	/* not copied: lives under the job */
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
	} else {
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	}
	set_auth(gw, easy);
	if (gw->ca_file) curl_easy_setopt(easy, CURLOPT_CAINFO, gw->ca_file);
	twofa_send_job_timeout(job, gw->timeout_ms);
	*out = job;
	return TWOFA_OK;

fail:
	twofa_send_job_free(job);
	return rc;
}

twofa_rcode_t twofa_sms_http_outcome(twofa_sms_http_t const *gw, twofa_send_result_t const *result,
				     char *why, size_t why_len)
{
	if (result->curl != CURLE_OK) {
		snprintf(why, why_len, "%s", result->error[0] ? result->error : curl_easy_strerror(result->curl));
		return TWOFA_ERR_IO;
	}
	if ((result->status < STATUS_MIN) || (result->status > STATUS_MAX) || !gw->status_ok[result->status]) {
		snprintf(why, why_len, "HTTP %ld", result->status);
		return TWOFA_ERR_IO;
	}
	if (gw->success_body && !strstr(result->body, gw->success_body)) {
		snprintf(why, why_len, "HTTP %ld without the success text", result->status);
		return TWOFA_ERR_IO;
	}
	if (why_len) why[0] = '\0';
	return TWOFA_OK;
}
