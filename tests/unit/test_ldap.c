/*
 * test_ldap.c	What ldap.c does without a server: the user name escaped
 *		as a DN value (RFC 4514) and as a filter value (RFC 4515), so
 *		that no name changes the DN or the filter around it; Active
 *		Directory's bind diagnostics and OpenLDAP's password policy
 *		errors named; configs that cannot work
 *		refused; an empty password refused before any connection.
 *		The binds themselves: tests/integration/test_ldap.sh (slapd).
 */
#include <string.h>
#include <talloc.h>

#include "check.h"
#include "ldap.h"

static char out[512];

#define DN(s)		(twofa_ldap_escape_dn_value(out, sizeof(out), (s), strlen(s)) ? out : NULL)
#define FILTER(s)	(twofa_ldap_escape_filter_value(out, sizeof(out), (s), strlen(s)) ? out : NULL)

static void dn_value_escapes_every_special(void)
{
	CHECK_STR(DN("alice"), "alice");
	CHECK_STR(DN("alice,ou=admins"), "alice\\2cou\\3dadmins");
	CHECK_STR(DN("a+cn=b"), "a\\2bcn\\3db");
	CHECK_STR(DN("\"<>;\\"), "\\22\\3c\\3e\\3b\\5c");
	CHECK_STR(DN("#x"), "\\23x");
	CHECK_STR(DN(" x "), "\\20x\\20");
	CHECK_STR(DN("a b#"), "a b#");
	CHECK_STR(DN("j\xc3\xbcrgen"), "j\xc3\xbcrgen");
	CHECK(twofa_ldap_escape_dn_value(out, sizeof(out), "a\0b", 3) == 5);
	CHECK_STR(out, "a\\00b");
}

static void filter_value_escapes_wildcards_and_parentheses(void)
{
	CHECK_STR(FILTER("alice"), "alice");
	CHECK_STR(FILTER("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
	CHECK_STR(FILTER("admin)(|(uid=*"), "admin\\29\\28|\\28uid=\\2a");
	CHECK_STR(FILTER("a\\b"), "a\\5cb");
	CHECK_STR(FILTER("j\xc3\xbcrgen"), "j\xc3\xbcrgen");
	CHECK(twofa_ldap_escape_filter_value(out, sizeof(out), "\0", 1) == 3);
	CHECK_STR(out, "\\00");
}

static void escape_refuses_a_short_buffer(void)
{
	char small[6];

	CHECK(twofa_ldap_escape_filter_value(small, sizeof(small), "*****", 5) == 0);
	CHECK(twofa_ldap_escape_dn_value(small, sizeof(small), "abcdef", 6) == 0);
	CHECK(twofa_ldap_escape_dn_value(small, sizeof(small), "abcde", 5) == 5);
	CHECK(twofa_ldap_escape_filter_value(small, 0, "", 0) == 0);
}

static void ad_bind_diagnostics_are_named(void)
{
	CHECK_STR(twofa_ldap_ad_reason("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 532, v4563"),
		  "password expired");
	CHECK_STR(twofa_ldap_ad_reason("... AcceptSecurityContext error, data 533, v2580"), "account disabled");
	CHECK_STR(twofa_ldap_ad_reason("... data 701, v4563"), "account expired");
	CHECK_STR(twofa_ldap_ad_reason("... data 773, v4563"), "user must reset password");
	CHECK_STR(twofa_ldap_ad_reason("... data 775, v4563"), "account locked out");
	CHECK_STR(twofa_ldap_ad_reason("... data 52e, v4563"), "invalid credentials");
	CHECK(twofa_ldap_ad_reason("Invalid credentials") == NULL);
	CHECK(twofa_ldap_ad_reason("data 5321, v1") == NULL);
	CHECK(twofa_ldap_ad_reason(NULL) == NULL);
}

/* The draft's numbers (draft-behera-ldap-password-policy), as they come on the wire. */
static void password_policy_errors_are_named(void)
{
	CHECK_STR(twofa_ldap_ppolicy_reason(0), "password expired");
	CHECK_STR(twofa_ldap_ppolicy_reason(1), "account locked");
	CHECK_STR(twofa_ldap_ppolicy_reason(2), "password must be changed after reset");
	CHECK_STR(twofa_ldap_ppolicy_reason(9), "password too long");
	CHECK(twofa_ldap_ppolicy_reason(65535) == NULL);	/* noError */
	CHECK(twofa_ldap_ppolicy_reason(10) == NULL);
	CHECK(twofa_ldap_ppolicy_reason(-1) == NULL);
}

static twofa_ldap_config_t good_config(char const **servers)
{
	return (twofa_ldap_config_t) {
		.servers = servers, .num_servers = 1, .start_tls = true, .require_cert = "demand",
		.dn_template = "uid={user},ou=people,dc=example,dc=org", .net_timeout_ms = 1000,
		.timeout_ms = 1000, .pool_size = 2, .membership_attribute = "memberOf",
	};
}

static void config_that_cannot_work_is_refused(void)
{
	char const		*servers[] = { "ldap://127.0.0.1:1" }, *bad[] = { "http://example.org/" };
	twofa_ldap_config_t	c = good_config(servers);
	char			err[256];

	CHECK(twofa_ldap_config_valid(&c, err, sizeof(err)));
	c.num_servers = 0;
	CHECK(!twofa_ldap_config_valid(&c, err, sizeof(err)));
	c = good_config(bad);
	CHECK(!twofa_ldap_config_valid(&c, err, sizeof(err)));
	c = good_config(servers);
	c.dn_template = "uid=alice,ou=people,dc=example,dc=org";	/* no {user} */
	CHECK(!twofa_ldap_config_valid(&c, err, sizeof(err)));
	c = good_config(servers);
	c.filter = "(uid={user})";					/* both ways at once */
	c.base_dn = "dc=example,dc=org";
	CHECK(!twofa_ldap_config_valid(&c, err, sizeof(err)));
	c.dn_template = "";
	CHECK(twofa_ldap_config_valid(&c, err, sizeof(err)));
	c.base_dn = "";
	CHECK(!twofa_ldap_config_valid(&c, err, sizeof(err)));
	c.base_dn = "dc=example,dc=org";
	c.filter = "(&(objectClass=user)(sAMAccountName={user}))";	/* the name's attribute: sAMAccountName */
	CHECK(twofa_ldap_config_valid(&c, err, sizeof(err)));
	c.filter = "(cn=*{user}*)";					/* no ATTR={user}: no entry's name to check */
	CHECK(!twofa_ldap_config_valid(&c, err, sizeof(err)));
	CHECK(strstr(err, "ATTRIBUTE={user}") != NULL);
	c = good_config(servers);
	c.bind_dn = "cn=reader,dc=example,dc=org";			/* no password */
	CHECK(!twofa_ldap_config_valid(&c, err, sizeof(err)));
	c = good_config(servers);
	c.require_cert = "allow";
	CHECK(!twofa_ldap_config_valid(&c, err, sizeof(err)));
}

/* Port 1 on loopback: nothing listens.  An empty password never gets that far. */
static void empty_password_is_refused_without_connecting(void)
{
	char const		*servers[] = { "ldap://127.0.0.1:1" };
	twofa_ldap_config_t	c = good_config(servers);
	twofa_ldap_t		*ldap = NULL;
	twofa_ldap_user_t	*user = NULL;

	c.start_tls = false;
	CHECK(twofa_ldap_open(NULL, &c, &ldap) == TWOFA_OK);
	CHECK(twofa_ldap_authenticate(ldap, NULL, "alice", "", 0, NULL, NULL, &user) == TWOFA_ERR_BAD_PASSWORD);
	CHECK(twofa_ldap_authenticate(ldap, NULL, "alice", "a\0b", 3, NULL, NULL, &user) == TWOFA_ERR_BAD_PASSWORD);
	CHECK(user == NULL);
	/* ...and a real password finds no server: unavailable, not a wrong password. */
	CHECK(twofa_ldap_authenticate(ldap, NULL, "alice", "pw", 2, NULL, NULL, &user) == TWOFA_ERR_UNAVAILABLE);
	CHECK(twofa_ldap_probe(ldap, NULL, NULL) == TWOFA_ERR_UNAVAILABLE);
	talloc_free(ldap);
}

int main(void)
{
	RUN(dn_value_escapes_every_special);
	RUN(filter_value_escapes_wildcards_and_parentheses);
	RUN(escape_refuses_a_short_buffer);
	RUN(ad_bind_diagnostics_are_named);
	RUN(password_policy_errors_are_named);
	RUN(config_that_cannot_work_is_refused);
	RUN(empty_password_is_refused_without_connecting);
	CHECK_EXIT();
}
