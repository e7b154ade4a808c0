/*
 * ldap.h	The first factor against an LDAP directory or Active Directory:
 *		a simple bind as the user with their password, and what the
 *		user's entry holds for the other methods (phone, mail) and for
 *		the group rules.
 *
 *		ldap.c is the only file that includes <ldap.h>; no FreeRADIUS
 *		include here either: the module hands in a plain config struct
 *		and a log function.
 *
 *		Thread safety: one twofa_ldap_t serves every worker thread; its
 *		connections are pooled, each used by one thread at a time.
 */
#ifndef TWOFA_LDAP_H
#define TWOFA_LDAP_H

#include <stdbool.h>
#include <stddef.h>
#include <talloc.h>
#include "twofa.h"

/** The ldap { } section of the module's config, as plain C. */
typedef struct {
	char const	**servers;		//!< URIs (ldap://, ldaps://), tried in this order
	size_t		num_servers;
	bool		start_tls;		//!< StartTLS on ldap:// URIs (ldaps:// is TLS anyway)
	char const	*ca_file;		//!< CAs to trust, "" for the system's
	char const	*require_cert;		//!< "demand" (default) or "never" (tests only)

	/* The user's DN: from a template, or found by a search. */
	char const	*dn_template;		//!< "uid={user},ou=people,dc=example,dc=org", or ""
	char const	*base_dn;		//!< where to search, with filter
	char const	*filter;		//!< "(uid={user})"; the name escaped as a filter value
	char const	*bind_dn;		//!< service account for the search, "" for anonymous
	char const	*bind_password;

	unsigned int	net_timeout_ms;		//!< connecting, per server
	unsigned int	timeout_ms;		//!< each operation, and the wait for a free connection
	unsigned int	pool_size;		//!< connections of each kind (search, user bind)

	char const	*mobile_attribute;	//!< "" to read none
	char const	*mail_attribute;
	char const	*mail2_attribute;

	/* Group rules: a group's DN, "" for no rule. */
	char const	*membership_attribute;	//!< in the user's entry ("memberOf"), or "": ask the group
	char const	*member_attribute;	//!< in the group's entry ("member"), with membership_attribute ""
	char const	*allow_group;		//!< only its members may log in
	char const	*require_2fa_group;	//!< its members need a second factor whatever enforce says
	char const	*skip_2fa_group;	//!< its members need none (require_2fa_group wins)
	char const	**reply_groups;		//!< groups { reply { } }: DNs in config order, NULL if none
	size_t		num_reply_groups;
} twofa_ldap_config_t;

typedef enum {
	TWOFA_LDAP_2FA_DEFAULT = 0,		//!< no group rule says: enforce decides
	TWOFA_LDAP_2FA_REQUIRED,		//!< member of require_2fa_group
	TWOFA_LDAP_2FA_SKIP,			//!< member of skip_2fa_group
} twofa_ldap_2fa_t;

/** What a successful bind found; talloc'd, the strings its children, NULL if absent. */
typedef struct {
	char			*dn;
	char			*mobile;
	char			*mail;
	char			*mail2;
	twofa_ldap_2fa_t	second_factor;
	int			reply_group;	//!< the first of reply_groups the user is in (index), -1: none
} twofa_ldap_user_t;

typedef enum {
	TWOFA_LDAP_LOG_DEBUG = 0,
	TWOFA_LDAP_LOG_WARN,
	TWOFA_LDAP_LOG_ERROR,
} twofa_ldap_log_level_t;

/** Where ldap.c's messages go (radiusd's log, for the request in uctx).  Never a password. */
typedef void (*twofa_ldap_log_t)(void *uctx, twofa_ldap_log_level_t level, char const *msg);

typedef struct twofa_ldap twofa_ldap_t;

/** Check a config before use.  False, and why in err, if it cannot work. */
bool twofa_ldap_config_valid(twofa_ldap_config_t const *config, char *err, size_t errlen);

/** A pool for config (which must outlive it) under ctx; no connection is made yet.
 *  Freeing it closes every connection. */
twofa_rcode_t twofa_ldap_open(TALLOC_CTX *ctx, twofa_ldap_config_t const *config, twofa_ldap_t **out);

/** Connect once now, to say at start-up whether the directory answers.  TWOFA_OK or
 *  TWOFA_ERR_UNAVAILABLE; failures are logged through log. */
twofa_rcode_t twofa_ldap_probe(twofa_ldap_t *ldap, twofa_ldap_log_t log, void *uctx);

/** The first factor: bind as user with password (len bytes).
 *  An empty password, or one holding a NUL, is refused without any bind
 *  (a simple bind with no password is an unauthenticated bind, which succeeds).
 *  The bind carries the password policy request control (OpenLDAP's ppolicy overlay);
 *  a bind that succeeds with a policy error (changeAfterReset: the password was reset
 *  and must be changed first) is refused; grace logins left and the password's time
 *  before expiry are logged as warnings, the login going on.
 *  @return TWOFA_OK (*out set, under ctx), TWOFA_ERR_BAD_PASSWORD (wrong password,
 *  an Active Directory account state or an OpenLDAP password policy refusal: logged
 *  by name, never told the client), TWOFA_ERR_NOT_FOUND (no
 *  such user, or more than one, or an entry whose one value of the name's attribute,
 *  "ATTR={user}", is not user but for ASCII case: another spelling the directory matched), TWOFA_ERR_DENIED (not in allow_group),
 *  TWOFA_ERR_UNAVAILABLE (no server answered within the timeouts), TWOFA_ERR_NO_MEMORY.
 */
twofa_rcode_t twofa_ldap_authenticate(twofa_ldap_t *ldap, TALLOC_CTX *ctx, char const *user,
				      char const *password, size_t len, twofa_ldap_log_t log, void *uctx,
				      twofa_ldap_user_t **out);

/** Every user of the directory (twofa-admin user list --ldap): the entries the login
 *  search finds with the filter's {user} as "*" under base_dn (with a dn_template: "(ATTR=*)"
 *  one level under its parent), on a search connection (the service account), in pages of
 *  at most page_size entries (RFC 2696 Simple Paged Results, not critical), so that a
 *  server's size limit (Active Directory's MaxPageSize, slapd's limits) bounds a page, not
 *  the list.  *out: the names (the first value of ATTR in the filter's or template's
 *  "ATTR={user}"), sorted, under ctx.  *partial: a size or time limit cut the list short
 *  (a server that does not page).
 *  @return TWOFA_OK, TWOFA_ERR_MALFORMED (no "ATTR={user}" to name the attribute, or a
 *  page_size of 0), TWOFA_ERR_NOT_FOUND (no such base), TWOFA_ERR_UNAVAILABLE (also: the
 *  server refuses pages that large), TWOFA_ERR_NO_MEMORY. */
twofa_rcode_t twofa_ldap_list_users(twofa_ldap_t *ldap, TALLOC_CTX *ctx, unsigned int page_size,
				    twofa_ldap_log_t log, void *uctx, char ***out, size_t *count, bool *partial);

/*
 *	Escaping, exported for the unit tests and the fuzzer.  Each writes
 *	at most outlen bytes with the NUL and returns the length, or 0 if
 *	out is too small.  3 * len + 1 is always enough.
 */
/** A DN attribute value, RFC 4514: specials, a leading space or '#' and a trailing space as \XX. */
size_t twofa_ldap_escape_dn_value(char *out, size_t outlen, char const *in, size_t len);
/** A filter assertion value, RFC 4515: * ( ) \ NUL (and controls) as \XX. */
size_t twofa_ldap_escape_filter_value(char *out, size_t outlen, char const *in, size_t len);

/** Active Directory's reason for a refused bind, from its diagnostic message
 *  ("... AcceptSecurityContext error, data 532, v4563"): "password expired", ...;
 *  NULL if the message names none. */
char const *twofa_ldap_ad_reason(char const *diagnostic);

/** The reason a password policy response control gives, from its error
 *  (draft-behera-ldap-password-policy: 0 passwordExpired, 1 accountLocked,
 *  2 changeAfterReset, ... 9 passwordTooLong): "password expired", "account
 *  locked", "password must be changed after reset", ...; NULL for 65535
 *  (noError) or a value the draft does not define. */
char const *twofa_ldap_ppolicy_reason(int error);

#endif
