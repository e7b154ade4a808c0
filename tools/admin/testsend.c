/*
 * testsend.c	twofa-admin test-send NAME sms|email [--config FILE] [--verbose]:
 *		a test message to a user's number or address(es) through the
 *		gateway or relay radiusd uses, to check it from the command line.
 *
 *		The gateway settings are the sms { } and email { } sections of
 *		the module's own file (default DEFAULT_MODULE_CONFIG, --config to
 *		name another), read with radconf.c: no second copy of them to
 *		keep in step.  Only those two sections are used; a value there
 *		that radiusd would expand (${...}) is refused, as this reader
 *		cannot expand it the same way.  The job is built by sms_http.c or
 *		mail.c and run by the sender thread (sender.c), as at login.
 *
 *		What is sent is a fixed text, TEST_TEXT, in place of the code
 *		({code}, and {message} for SMS): no code is made, so none can be
 *		shown.  --verbose prints curl's trace on stderr with the secrets
 *		masked: Authorization and other credential headers, SMTP AUTH,
 *		and every occurrence of the configured password, bearer token
 *		and AWS access key.  Exit status: 0 sent, 1 refused or usage,
 *		2 the gateway failed (its HTTP status or curl's error is shown).
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "admin.h"
#include "../radconf.h"
#include "../../rlm_twofa/contact.h"
#include "../../rlm_twofa/mail.h"
#include "../../rlm_twofa/sender.h"
#include "../../rlm_twofa/sms_http.h"

#define TEST_TEXT		"rlm_twofa test message"
#define HEADERS_MAX		32
#define SECRETS_MAX		4
#define MASK			"****"
#define TIMEOUT_DEFAULT		10		//!< seconds, as the module's sms/email timeout
#define TIMEOUT_MAX		120

typedef struct {
	twofa_sms_http_config_t	sms;
	twofa_mail_config_t	mail;
	char const		*headers[HEADERS_MAX + 1];
	unsigned int		timeout;	//!< seconds
} gateway_t;

/*
 *	The trace: curl's lines with the secrets masked.
 */
typedef struct {
	char const	*secret[SECRETS_MAX];	//!< NULL-terminated: strings masked wherever they appear
	bool		smtp_auth;		//!< after AUTH, until the relay's answer to it: every line out
} trace_t;

/* A header whose value is a credential, whatever the gateway calls it. */
static bool credential_header(char const *line, size_t len)
{
	static char const * const words[] = { "authorization", "auth", "key", "token", "secret", "password",
					      "signature", "credential", "cookie", NULL };
	char	name[64];
	size_t	n, i;

	for (n = 0; (n < len) && (line[n] != ':') && !isspace((unsigned char) line[n]); n++);
	if ((n == 0) || (n >= len) || (line[n] != ':') || (n >= sizeof(name))) return false;
	for (i = 0; i < n; i++) name[i] = (char) tolower((unsigned char) line[i]);
	name[n] = '\0';
	for (i = 0; words[i]; i++) if (strstr(name, words[i])) return true;
	return false;
}

/* line with each secret replaced by MASK, control bytes by '.', on stderr after prefix. */
static void print_masked(trace_t const *t, char const *prefix, char const *line, size_t len)
{
	size_t	i, j, n;
	bool	hit;

	fputs(prefix, stderr);
	for (i = 0; i < len; ) {
		hit = false;
		for (j = 0; (j < SECRETS_MAX) && t->secret[j]; j++) {
			n = strlen(t->secret[j]);
			if ((n <= len - i) && (memcmp(line + i, t->secret[j], n) == 0)) {
				fputs(MASK, stderr);
				i += n;
				hit = true;
				break;
			}
		}
		if (hit) continue;
		fputc(((unsigned char) line[i] < 0x20 && line[i] != '\t') || (line[i] == 0x7f) ? '.' : line[i], stderr);
		i++;
	}
	fputc('\n', stderr);
}

static void trace_line(trace_t *t, curl_infotype type, char const *line, size_t len)
{
	char const *prefix = (type == CURLINFO_TEXT) ? "* " :
			     ((type == CURLINFO_HEADER_OUT) || (type == CURLINFO_DATA_OUT)) ? "> " : "< ";
	size_t n;

	if ((type == CURLINFO_HEADER_IN) && t->smtp_auth && (len >= 1) && (line[0] != '3')) t->smtp_auth = false;
	if (type == CURLINFO_HEADER_OUT) {
		if ((len >= 5) && (strncasecmp(line, "AUTH ", 5) == 0)) {
			for (n = 5; (n < len) && (line[n] != ' '); n++);
			fprintf(stderr, "> %.*s %s\n", (int) n, line, MASK);
			t->smtp_auth = true;
			return;
		}
		if (t->smtp_auth) {
			fputs("> " MASK "\n", stderr);
			return;
		}
	}
	if (((type == CURLINFO_HEADER_OUT) || (type == CURLINFO_HEADER_IN)) && credential_header(line, len)) {
		for (n = 0; line[n] != ':'; n++);
		fprintf(stderr, "%s%.*s: %s\n", prefix, (int) n, line, MASK);
		return;
	}
	print_masked(t, prefix, line, len);
}

static int trace(CURL *easy, curl_infotype type, char *data, size_t size, void *ctx)
{
	char const	*p = data, *end = data + size, *nl;
	size_t		len;

	if ((type != CURLINFO_TEXT) && (type != CURLINFO_HEADER_IN) && (type != CURLINFO_HEADER_OUT) &&
	    (type != CURLINFO_DATA_IN) && (type != CURLINFO_DATA_OUT)) return 0;	/* not TLS records */
	while (p < end) {
		nl = memchr(p, '\n', end - p);
		len = (nl ? nl : end) - p;
		if ((len > 0) && (p[len - 1] == '\r')) len--;
		if (len || nl) trace_line(ctx, type, p, len);
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/*
 *	The module's file: its sms { } or email { } section as a gateway config.
 */
/** The value of key in section, NULL if absent or empty; *ret set (and NULL returned) if refused. */
static char const *value_of(radconf_item_t const *section, char const *key, char const *dflt, int *ret)
{
	radconf_item_t const *p = radconf_pair(section, key, NULL);

	if (!p) return dflt;
	if (p->expands) {
		*ret = say(ADMIN_REFUSED, "%s { %s } (line %u) holds a ${...} expansion, which test-send does not "
			   "expand: write the value itself there", section->name, key, p->line);
		return NULL;
	}
	return p->value[0] ? p->value : NULL;
}

static int timeout_of(radconf_item_t const *section, unsigned int *out)
{
	int		ret = ADMIN_OK;
	char const	*v = value_of(section, "timeout", NULL, &ret);

	*out = TIMEOUT_DEFAULT;
	if (ret != ADMIN_OK) return ret;
	if (!v) return ADMIN_OK;
	return parse_uint(v, "timeout", 1, TIMEOUT_MAX, out);
}

static int sms_config(radconf_item_t const *s, gateway_t *g)
{
	radconf_item_t const	*h = NULL;
	twofa_sms_http_config_t	*c = &g->sms;
	int			ret = ADMIN_OK, n = 0;

	c->url = value_of(s, "url", NULL, &ret);
	c->method = value_of(s, "method", NULL, &ret);
	c->body = value_of(s, "body", NULL, &ret);
	c->content_type = value_of(s, "content_type", NULL, &ret);
	c->username = value_of(s, "username", NULL, &ret);
	c->password = value_of(s, "password", NULL, &ret);
	c->bearer_token = value_of(s, "bearer_token", NULL, &ret);
	c->aws_sigv4 = value_of(s, "aws_sigv4", NULL, &ret);
	c->success_status = value_of(s, "success_status", NULL, &ret);
	c->success_body = value_of(s, "success_body", NULL, &ret);
	c->ca_file = value_of(s, "ca_file", NULL, &ret);
	c->message = "{code}";		/* the test text alone, whatever the message template says */
	while ((h = radconf_pair(s, "header", h))) {
		if (h->expands) return say(ADMIN_REFUSED, "sms { header } (line %u) holds a ${...} expansion, which "
					   "test-send does not expand", h->line);
		if (n == HEADERS_MAX) return say(ADMIN_REFUSED, "sms { }: more than %d header lines", HEADERS_MAX);
		g->headers[n++] = h->value;
	}
	c->headers = n ? g->headers : NULL;
	if (ret != ADMIN_OK) return ret;
	if ((ret = timeout_of(s, &g->timeout)) != ADMIN_OK) return ret;
	c->timeout_ms = g->timeout * 1000;
	return ADMIN_OK;
}

static int email_config(radconf_item_t const *s, gateway_t *g)
{
	twofa_mail_config_t	*c = &g->mail;
	char const		*tls;
	int			ret = ADMIN_OK;

	c->url = value_of(s, "url", NULL, &ret);
	c->username = value_of(s, "username", NULL, &ret);
	c->password = value_of(s, "password", NULL, &ret);
	c->ca_file = value_of(s, "ca_file", NULL, &ret);
	c->from = value_of(s, "from", NULL, &ret);
	c->subject = value_of(s, "subject", "Your login code", &ret);
	c->body = value_of(s, "body", "Hello {user},\n\nyour login code is {code}.\n", &ret);
	tls = value_of(s, "require_starttls", "yes", &ret);
	if (ret != ADMIN_OK) return ret;
	if (!tls || (strcmp(tls, "yes") == 0) || (strcmp(tls, "true") == 0)) {
		c->tls = TWOFA_MAIL_TLS_REQUIRED;
	} else if ((strcmp(tls, "no") == 0) || (strcmp(tls, "false") == 0)) {
		c->tls = TWOFA_MAIL_TLS_NONE;
	} else {
		return say(ADMIN_REFUSED, "email { require_starttls } must be yes or no");
	}
	if ((ret = timeout_of(s, &g->timeout)) != ADMIN_OK) return ret;
	c->timeout_ms = g->timeout * 1000;
	return ADMIN_OK;
}

/** Read path; take the first "twofa [NAME] { }" section's sms { } or email { }. */
static int read_gateway(admin_t *a, char const *path, bool sms, gateway_t *g)
{
	radconf_item_t const	*section;
	char const		*which = sms ? "sms" : "email";
	int			ret = module_subsection(a, path, which, &section);

	if (ret != ADMIN_OK) return ret;
	if (!section) {
		return say(ADMIN_REFUSED, "%s: no %s { } section in twofa { }: no %s gateway configured", path, which,
			   sms ? "SMS" : "mail");
	}
	ret = sms ? sms_config(section, g) : email_config(section, g);
	if (ret != ADMIN_OK) return ret;
	if (!(sms ? g->sms.url : g->mail.url)) {
		return say(ADMIN_REFUSED, "%s: %s { url } is not set: no %s gateway configured", path, which,
			   sms ? "SMS" : "mail");
	}
	return ADMIN_OK;
}

/*
 *	The user's number or addresses.
 */
static int destination(admin_t *a, char const *name, bool sms, char const *to[2])
{
	twofa_user_t		*u = NULL;
	twofa_factor_t const	*f;
	twofa_email_list_t	*list;
	twofa_rcode_t		rc;

	rc = twofa_store_get_user(a->store, a->ctx, name, &u);
	if (rc != TWOFA_OK) return store_failed(a, rc, name);
	f = twofa_user_factor(u, sms ? TWOFA_FACTOR_SMS : TWOFA_FACTOR_EMAIL);
	if (!f || !f->address) {
		return say(ADMIN_REFUSED, "user \"%s\" has no %s (" PROGNAME " user set %s %s)", name,
			   sms ? "phone number" : "email address", name, sms ? "--phone E164" : "--email ADDR");
	}
	if (sms) {
		to[0] = f->address;
		to[1] = NULL;
		return ADMIN_OK;
	}
	if (!(list = talloc_zero(a->ctx, twofa_email_list_t))) return say(ADMIN_ERROR, "out of memory");
	if (!twofa_email_list_parse(f->address, list)) return say(ADMIN_ERROR, "user \"%s\": stored addresses are malformed", name);
	twofa_email_list_recipients(list, to);
	return ADMIN_OK;
}

static void where(bool sms, char const *to[2], char *out, size_t out_len)
{
	char a[TWOFA_EMAIL_MASK_MAX], b[TWOFA_EMAIL_MASK_MAX];

	if (sms) {
		twofa_phone_mask(to[0], out, out_len);
		return;
	}
	if (twofa_email_mask(to[0], a, sizeof(a)) < 0) snprintf(a, sizeof(a), "?");
	if (to[1] && (twofa_email_mask(to[1], b, sizeof(b)) >= 0)) {
		snprintf(out, out_len, "%s and %s", a, b);
	} else {
		snprintf(out, out_len, "%s", a);
	}
}

/*
 *	The send.
 */
static void secrets_of(gateway_t const *g, bool sms, trace_t *t, char *basic, size_t basic_len)
{
	int n = 0;

	if (sms) {
		if (g->sms.password) t->secret[n++] = g->sms.password;
		if (g->sms.bearer_token) t->secret[n++] = g->sms.bearer_token;
		if (g->sms.aws_sigv4 && g->sms.username) t->secret[n++] = g->sms.username;	/* the access key id */
		if (g->sms.username && g->sms.password) {	/* basic auth as it crosses the wire */
			char plain[1024];
			int len = snprintf(plain, sizeof(plain), "%s:%s", g->sms.username, g->sms.password);

			if ((len > 0) && ((size_t) len < sizeof(plain)) && ((size_t) (4 * ((len + 2) / 3)) < basic_len)) {
				EVP_EncodeBlock((unsigned char *) basic, (unsigned char const *) plain, len);
				t->secret[n++] = basic;
			}
			OPENSSL_cleanse(plain, sizeof(plain));
		}
	} else if (g->mail.password) {
		t->secret[n++] = g->mail.password;
	}
}

static int send_test(admin_t *a, gateway_t *g, bool sms, char const *name, char const *to[2], bool verbose)
{
	twofa_sender_config_t	sc = { .queue_max = 1 };
	twofa_sender_t		*sender = NULL;
	twofa_sms_http_t	*gw = NULL;
	twofa_mail_t		*mail = NULL;
	twofa_send_job_t	*job = NULL;
	twofa_send_result_t	result;
	trace_t			t = { .secret = { NULL } };
	char			err[256] = "", why[CURL_ERROR_SIZE + 64] = "", dest[TWOFA_EMAIL_MASK_MAX * 2 + 8];
	char			basic[1400] = "";
	char const		*kind = sms ? "SMS" : "mail";
	twofa_rcode_t		rc;

	rc = sms ? twofa_sms_http_new(a->ctx, &g->sms, &gw, err, sizeof(err)) :
		   twofa_mail_new(a->ctx, &g->mail, &mail, err, sizeof(err));
	if (rc != TWOFA_OK) return say(ADMIN_REFUSED, "%s { }: %s", sms ? "sms" : "email", err);

	sc.timeout_ms = g->timeout * 1000;
	sc.connect_timeout_ms = (g->timeout < 5) ? g->timeout * 1000 : 5000;
	if (twofa_sender_start(a->ctx, &sc, &sender) != TWOFA_OK) return say(ADMIN_ERROR, "cannot start the sender");

	if (sms) {
		twofa_sms_values_t v = { .phone = to[0], .code = TEST_TEXT, .user = name };

		rc = twofa_sms_http_job(gw, sender, &v, &job, err, sizeof(err));
	} else {
		twofa_mail_values_t v = { .to = { to[0], to[1] }, .code = TEST_TEXT, .user = name };

		rc = twofa_mail_job(mail, sender, &v, &job, err, sizeof(err));
	}
	where(sms, to, dest, sizeof(dest));
	if (rc != TWOFA_OK) return say(ADMIN_REFUSED, "test %s to %s not sent: %s", kind, dest, err);

	if (verbose) {
		secrets_of(g, sms, &t, basic, sizeof(basic));
		curl_easy_setopt(twofa_send_job_easy(job), CURLOPT_DEBUGFUNCTION, trace);
		curl_easy_setopt(twofa_send_job_easy(job), CURLOPT_DEBUGDATA, &t);
		curl_easy_setopt(twofa_send_job_easy(job), CURLOPT_VERBOSE, 1L);
	}
	memset(&result, 0, sizeof(result));
	rc = twofa_sender_send(sender, job, g->timeout * 1000 + 5000, &result);
	if (rc == TWOFA_OK) {
		rc = sms ? twofa_sms_http_outcome(gw, &result, why, sizeof(why)) :
			   twofa_mail_outcome(mail, &result, why, sizeof(why));
	} else {
		snprintf(why, sizeof(why), "%s", (rc == TWOFA_ERR_EXPIRED) ? "no answer within the timeout" :
			 twofa_strerror(rc));
		rc = TWOFA_ERR_IO;
	}
	TALLOC_FREE(sender);		/* ends the transfer, and the trace with it, before t and basic go */
	OPENSSL_cleanse(basic, sizeof(basic));
	if (rc != TWOFA_OK) return say(ADMIN_ERROR, "test %s to %s failed: %s", kind, dest, why);
	printf("test %s to %s sent (%s %ld)\n", kind, dest, sms ? "HTTP" : "SMTP", result.status);
	return audit(a, sms ? "test-send sms" : "test-send email", name, "sent");
}

int cmd_test_send(admin_t *a, command_t const *cmd, int argc, char **argv)
{
	static struct option const opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "verbose", no_argument, NULL, 'v' }, OPT_HELP, OPT_END };
	char const	*config = DEFAULT_MODULE_CONFIG, *to[2] = { NULL, NULL };
	gateway_t	*g;
	bool		verbose = false, sms;
	char		*name;
	int		c, ret;

	while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'v': verbose = true; break;
		default: return usage_of(cmd, c);
		}
	}
	if (argc - optind != 2) return usage_of(cmd, '?');
	name = argv[optind];
	if ((ret = check_name(name)) != ADMIN_OK) return ret;
	if ((strcmp(argv[optind + 1], "sms") != 0) && (strcmp(argv[optind + 1], "email") != 0)) {
		return say(ADMIN_REFUSED, "test-send: the method is sms or email");
	}
	sms = strcmp(argv[optind + 1], "sms") == 0;
	if (!(g = talloc_zero(a->ctx, gateway_t))) return say(ADMIN_ERROR, "out of memory");

	/* The file first, as whoever runs us (root: it is root:freerad 0640), then the store. */
	if ((ret = read_gateway(a, config, sms, g)) != ADMIN_OK) return ret;
	if ((ret = open_store(a, false)) != ADMIN_OK) return ret;
	if ((ret = destination(a, name, sms, to)) != ADMIN_OK) return ret;
	return send_test(a, g, sms, name, to, verbose);
}
