/*
 * test_template.c	Template expansion (template.c) for each place a value
 *			goes, and the SMS gateway configuration check
 *			(sms_http.c): what is refused at start-up.
 */
#include <string.h>

#include "check.h"
#include "template.h"
#include "sms_http.h"

static twofa_template_var_t const vars[] = {
	{ "phone", "+441234567890" }, { "code", "042917" }, { "user", "a&b=c \"d\" 100% \r\nX: y" }, { "none", NULL },
};
#define NVARS (sizeof(vars) / sizeof(vars[0]))

static char const *expand(TALLOC_CTX *ctx, char const *tpl, twofa_template_escape_t escape)
{
	char	*out, err[128];

	return (twofa_template_expand(ctx, tpl, vars, NVARS, escape, &out, err, sizeof(err)) == TWOFA_OK) ? out : "REFUSED";
}

static void values_are_escaped_for_their_place(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	CHECK_STR(expand(ctx, "https://gw/send?to={phone}&u={user}", TWOFA_TEMPLATE_URL),
		  "https://gw/send?to=%2B441234567890&u=a%26b%3Dc%20%22d%22%20100%25%20%0D%0AX%3A%20y");
	CHECK_STR(expand(ctx, "To={phone}&Body={user}", TWOFA_TEMPLATE_FORM),
		  "To=%2B441234567890&Body=a%26b%3Dc+%22d%22+100%25+%0D%0AX%3A+y");
	CHECK_STR(expand(ctx, "{\"to\":\"{phone}\",\"text\":\"{user}\"}", TWOFA_TEMPLATE_JSON),
		  "{\"to\":\"+441234567890\",\"text\":\"a&b=c \\\"d\\\" 100% \\r\\nX: y\"}");
	CHECK_STR(expand(ctx, "Code {code}", TWOFA_TEMPLATE_PLAIN), "Code 042917");
	CHECK_STR(expand(ctx, "Code {code}", TWOFA_TEMPLATE_HEADER), "Code 042917");
	talloc_free(ctx);
}

static void control_characters_never_reach_plain_text_or_headers(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	CHECK_STR(expand(ctx, "Hello {user}", TWOFA_TEMPLATE_PLAIN), "REFUSED");
	CHECK_STR(expand(ctx, "Hello {user}", TWOFA_TEMPLATE_HEADER), "REFUSED");
	/* The template's own line breaks are the admin's: kept. */
	CHECK_STR(expand(ctx, "Code:\n{code}\n", TWOFA_TEMPLATE_PLAIN), "Code:\n042917\n");
	talloc_free(ctx);
}

static void braces_that_are_no_name_stay(void)
{
	TALLOC_CTX *ctx = talloc_new(NULL);

	CHECK_STR(expand(ctx, "{\"a\":{}, \"b\":{ code }, \"c\":{Code}}", TWOFA_TEMPLATE_JSON),
		  "{\"a\":{}, \"b\":{ code }, \"c\":{Code}}");
	CHECK_STR(expand(ctx, "{{code}}", TWOFA_TEMPLATE_PLAIN), "{042917}");
	CHECK_STR(expand(ctx, "{code", TWOFA_TEMPLATE_PLAIN), "{code");
	CHECK_STR(expand(ctx, "", TWOFA_TEMPLATE_PLAIN), "");
	talloc_free(ctx);
}

static void unknown_names_are_refused(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	char		err[128], *out;

	CHECK(twofa_template_expand(ctx, "to={phnoe}", vars, NVARS, TWOFA_TEMPLATE_URL, &out, err, sizeof(err)) ==
	      TWOFA_ERR_NOT_FOUND);
	CHECK(out == NULL && strstr(err, "{phnoe}") != NULL);
	CHECK(twofa_template_expand(ctx, "x={none}", vars, NVARS, TWOFA_TEMPLATE_URL, &out, err, sizeof(err)) ==
	      TWOFA_ERR_NOT_FOUND);
	CHECK(twofa_template_check("{code} {user}", vars, NVARS, err, sizeof(err)) == TWOFA_OK);
	CHECK(twofa_template_check("{message}", vars, NVARS, err, sizeof(err)) == TWOFA_ERR_NOT_FOUND);
	/* A refused value's error names the value's name, never the value. */
	CHECK(twofa_template_expand(ctx, "{user}", vars, NVARS, TWOFA_TEMPLATE_HEADER, &out, err, sizeof(err)) ==
	      TWOFA_ERR_MALFORMED);
	CHECK(strstr(err, "{user}") != NULL && strstr(err, "a&b") == NULL);
	talloc_free(ctx);
}

static twofa_rcode_t gateway(twofa_sms_http_config_t const *c)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_sms_http_t	*gw;
	char			err[200];
	twofa_rcode_t		rc = twofa_sms_http_new(ctx, c, &gw, err, sizeof(err));

	if (rc == TWOFA_OK) CHECK(gw != NULL);
	else CHECK(gw == NULL && err[0]);
	talloc_free(ctx);
	return rc;
}

static void gateway_config_is_checked_at_start(void)
{
	static char const * const good_headers[] = { "X-Api-Key: abc", NULL };
	static char const * const bad_headers[] = { "X-Api-Key abc", NULL };
	static char const * const crlf_headers[] = { "X-A: b\r\nX-B: c", NULL };
	twofa_sms_http_config_t json = {
		.url = "https://gw.example/v1/sms", .body = "{\"to\":\"{phone}\",\"text\":\"{message}\"}",
		.content_type = "application/json", .message = "Your code is {code}", .bearer_token = "t0ken",
	};
	twofa_sms_http_config_t c;

	CHECK(gateway(&json) == TWOFA_OK);
	c = json; c.content_type = "application/json; charset=utf-8";	CHECK(gateway(&c) == TWOFA_OK);
	c = json; c.content_type = "application/vnd.gw+json";		CHECK(gateway(&c) == TWOFA_OK);
	c = json; c.headers = good_headers;				CHECK(gateway(&c) == TWOFA_OK);
	c = json; c.success_status = "200, 202,3xx";			CHECK(gateway(&c) == TWOFA_OK);
	c = json; c.url = "ftp://gw.example/";				CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.url = "https://gw.example/{phnoe}";			CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.url = "https://gw.example/\r\nX: y";		CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.method = "PUT";					CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.method = "GET";					CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.content_type = "text/plain";			CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.content_type = NULL;				CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.headers = bad_headers;				CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.headers = crlf_headers;				CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.username = "u"; c.password = "p";			CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.bearer_token = NULL; c.username = "u";		CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.bearer_token = NULL; c.aws_sigv4 = "aws:amz:eu-west-1:sns";
									CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c.username = "AKIA"; c.password = "secret";			CHECK(gateway(&c) == TWOFA_OK);
	c = json; c.success_status = "2x";				CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.success_status = "600";				CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.success_status = "200;201";				CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.message = "{message} {code}";			CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	/* An SMS without the code: the message without {code}, or a request without the message or code. */
	c = json; c.message = "Log in now";				CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.body = "{\"to\":\"{phone}\"}";			CHECK(gateway(&c) == TWOFA_ERR_MALFORMED);
	c = json; c.body = "{\"to\":\"{phone}\",\"otp\":\"{code}\"}";	CHECK(gateway(&c) == TWOFA_OK);
	c = json; c.message = NULL;					CHECK(gateway(&c) == TWOFA_OK);	/* the message is the code */
	c = json; c.body = NULL; c.content_type = NULL;
	c.url = "https://gw.example/send?to={phone}&text={message}";	CHECK(gateway(&c) == TWOFA_OK);
}

int main(void)
{
	RUN(values_are_escaped_for_their_place);
	RUN(control_characters_never_reach_plain_text_or_headers);
	RUN(braces_that_are_no_name_stay);
	RUN(unknown_names_are_refused);
	RUN(gateway_config_is_checked_at_start);
	CHECK_EXIT();
}
