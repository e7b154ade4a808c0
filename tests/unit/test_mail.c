/*
 * test_mail.c	The message mail.c builds, without a relay: its headers,
 *		its encoding, what is refused.  (tests/integration/
 *		test_gateways.sh sends them to an SMTP sink.)
 */
#include <string.h>

#include "check.h"
#include "mail.h"

static twofa_mail_config_t const base = {
	.url = "smtp://127.0.0.1:2525", .from = "twofa@example.org",
	.subject = "Your code for {user}", .body = "Hello {user},\nyour code is {code}.\n",
};

static twofa_mail_t *mail_new(TALLOC_CTX *ctx, twofa_mail_config_t const *c)
{
	twofa_mail_t	*mail = NULL;
	char		err[200];

	if (twofa_mail_new(ctx, c, &mail, err, sizeof(err)) != TWOFA_OK) return NULL;
	return mail;
}

/* The message for values, or NULL; *rc says why. */
static char *message(TALLOC_CTX *ctx, twofa_mail_config_t const *c, char const *to1, char const *to2,
		     char const *user, twofa_rcode_t *rc)
{
	twofa_mail_t		*mail = mail_new(ctx, c);
	twofa_mail_values_t	v = { .to = { to1, to2 }, .code = "042917", .user = user };
	char			*msg = NULL, err[200];

	*rc = mail ? twofa_mail_message(ctx, mail, &v, 0, &msg, err, sizeof(err)) : TWOFA_ERR_MALFORMED;
	return msg;
}

static bool only_crlf_line_ends(char const *text)
{
	char const *s;

	for (s = text; *s; s++) {
		if ((*s == '\n') && ((s == text) || (s[-1] != '\r'))) return false;
		if ((*s == '\r') && (s[1] != '\n')) return false;
	}
	return true;
}

static void message_has_the_headers_and_crlf_ends(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_rcode_t	rc;
	char		*msg = message(ctx, &base, "alice@example.org", NULL, "alice", &rc);
	char const	*head = "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\nFrom: twofa@example.org\r\n"
				"To: alice@example.org\r\nSubject: Your code for alice\r\nMessage-ID: <";

	CHECK(rc == TWOFA_OK && msg);
	if (!msg) goto done;
	CHECK(strncmp(msg, head, strlen(head)) == 0);
	CHECK(strstr(msg, "@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
		      "Content-Transfer-Encoding: quoted-printable\r\n") != NULL);
	CHECK(strstr(msg, "\r\n\r\nHello alice,\r\nyour code is 042917.\r\n") != NULL);
	CHECK(only_crlf_line_ends(msg));
done:
	talloc_free(ctx);
}

static void two_addresses_in_to(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_rcode_t	rc;
	char		*msg = message(ctx, &base, "alice@example.org", "alice@home.example", "alice", &rc);

	CHECK(msg && strstr(msg, "\r\nTo: alice@example.org, alice@home.example\r\n"));
	msg = message(ctx, &base, NULL, "alice@home.example", "alice", &rc);
	CHECK(msg && strstr(msg, "\r\nTo: alice@home.example\r\n"));
	msg = message(ctx, &base, NULL, NULL, "alice", &rc);
	CHECK(!msg && rc == TWOFA_ERR_MALFORMED);
	talloc_free(ctx);
}

static void message_ids_differ(void)
{
	TALLOC_CTX	*ctx = talloc_new(NULL);
	twofa_rcode_t	rc;
	char		*a = message(ctx, &base, "alice@example.org", NULL, "alice", &rc);
	char		*b = message(ctx, &base, "alice@example.org", NULL, "alice", &rc);
	char const	*ia = a ? strstr(a, "Message-ID: <") : NULL, *ib = b ? strstr(b, "Message-ID: <") : NULL;

	CHECK(ia && ib && strncmp(ia, ib, 13 + 32) != 0);
	CHECK(ia && strncmp(ia + 13 + 32, "@example.org>\r\n", 15) == 0);
	talloc_free(ctx);
}

static void utf8_goes_encoded(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_mail_config_t	c = base;
	twofa_rcode_t		rc;
	char			*msg;

	c.subject = "Votre code, {user}";
	c.body = "Bonjour {user}, voici le code {code} = valable 5 minutes.   \n";
	msg = message(ctx, &c, "zoe@example.org", NULL, "Zoé", &rc);
	CHECK(msg != NULL);
	if (!msg) goto done;
	CHECK(strstr(msg, "\r\nSubject: =?UTF-8?B?Vm90cmUgY29kZSwgWm/DqQ==?=\r\n") != NULL);
	CHECK(strstr(msg, "Bonjour Zo=C3=A9, voici le code 042917 =3D valable 5 minutes.  =20\r\n") != NULL);
done:
	talloc_free(ctx);
}

static void long_lines_get_soft_breaks(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_mail_config_t	c = base;
	twofa_rcode_t		rc;
	char			body[400], *msg, *line, *save = NULL;
	bool			in_body = false;
	size_t			longest = 0;

	memset(body, 'x', 300);
	strcpy(body + 300, " {code}\n");
	c.body = body;
	msg = message(ctx, &c, "alice@example.org", NULL, "alice", &rc);
	CHECK(msg != NULL);
	if (!msg) goto done;
	for (line = strtok_r(msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "\r") == 0) in_body = true;
		if (in_body && (strlen(line) - 1 > longest)) longest = strlen(line) - 1;
	}
	CHECK(longest > 0 && longest <= 76);
done:
	talloc_free(ctx);
}

static void header_injection_is_refused(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_mail_config_t	c = base;
	twofa_rcode_t		rc;

	CHECK(!message(ctx, &base, "alice@example.org", NULL, "alice\r\nBcc: eve@evil.example", &rc) &&
	      rc == TWOFA_ERR_MALFORMED);
	CHECK(!message(ctx, &base, "alice@example.org", NULL, "alice\nBcc: eve@evil.example", &rc));
	CHECK(!message(ctx, &base, "alice@example.org\r\nBcc: eve@evil.example", NULL, "alice", &rc) &&
	      rc == TWOFA_ERR_MALFORMED);
	CHECK(!message(ctx, &base, "alice@example.org", "eve@evil.example>\r\nX: y", "alice", &rc));
	CHECK(!message(ctx, &base, "Alice <alice@example.org>", NULL, "alice", &rc));
	CHECK(!message(ctx, &base, "alice@example.org, eve@evil.example", NULL, "alice", &rc));
	c.from = "twofa@example.org\r\nBcc: eve@evil.example";
	CHECK(!mail_new(ctx, &c));
	c = base;
	c.subject = "Code\r\nBcc: eve@evil.example";
	CHECK(!mail_new(ctx, &c));
	talloc_free(ctx);
}

static void relay_config_is_checked_at_start(void)
{
	TALLOC_CTX		*ctx = talloc_new(NULL);
	twofa_mail_config_t	c;

	CHECK(mail_new(ctx, &base) != NULL);
	c = base; c.url = "smtps://mail.example:465";		CHECK(mail_new(ctx, &c) != NULL);
	c = base; c.url = "smtps://mail.example:465"; c.tls = TWOFA_MAIL_TLS_NONE;
								CHECK(mail_new(ctx, &c) == NULL);
	c = base; c.tls = TWOFA_MAIL_TLS_NONE;			CHECK(mail_new(ctx, &c) != NULL);
	c = base; c.url = "https://mail.example/";		CHECK(mail_new(ctx, &c) == NULL);
	c = base; c.username = "twofa";				CHECK(mail_new(ctx, &c) == NULL);
	c = base; c.from = "Two FA <twofa@example.org>";	CHECK(mail_new(ctx, &c) == NULL);
	c = base; c.body = "code {cdoe}";			CHECK(mail_new(ctx, &c) == NULL);
	c = base; c.subject = NULL;				CHECK(mail_new(ctx, &c) == NULL);
	/* A mail without the code would reach the user with nothing to type. */
	c = base; c.body = "Hello {user}, log in now.";		CHECK(mail_new(ctx, &c) == NULL);
	c = base; c.body = "Your code is {{code}}";		CHECK(mail_new(ctx, &c) != NULL);
	c = base; c.body = "Log in."; c.subject = "Code {code}";	CHECK(mail_new(ctx, &c) != NULL);
	talloc_free(ctx);
}

int main(void)
{
	RUN(message_has_the_headers_and_crlf_ends);
	RUN(two_addresses_in_to);
	RUN(message_ids_differ);
	RUN(utf8_goes_encoded);
	RUN(long_lines_get_soft_breaks);
	RUN(header_injection_is_refused);
	RUN(relay_config_is_checked_at_start);
	CHECK_EXIT();
}
