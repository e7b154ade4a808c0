/*
 * ldap.c	The first factor against LDAP or Active Directory (ldap.h).
 *		The only file that includes <ldap.h> (OpenLDAP's libldap).
 *
 * Connections.  Two pools of at most pool_size connections each, shared by
 * the worker threads, each connection used by one thread at a time:
 *
 *   search connections, bound once as the service account (bind_dn) when
 *	made, and used only to find users (base_dn + filter): they never
 *	carry any other identity;
 *   bind connections, used only for users' simple binds (and, with a
 *	dn_template, to read the user's own entry right after the bind).
 *
 * Separate connections rather than one pool rebound as the service account
 * after every user bind: a login costs two operations instead of three
 * (search, bind; no rebind), a search can never run under the identity a
 * failed or half-done rebind left behind, and a user bind that times out
 * costs a bind connection, never the service account's.
 *
 * Every operation is asynchronous with its own timeout (ldap_result), so a
 * directory that takes connections but never answers gives a clean
 * TWOFA_ERR_UNAVAILABLE within timeout_ms, never a hung worker.  A
 * connection that fails, times out or was dropped by the server is
 * unbound and never used again (libldap would otherwise reconnect by
 * itself, without StartTLS); one found dead when reused (the directory
 * restarted) is replaced and the operation tried once more.  New
 * connections try the servers in the order given: the first that answers
 * is used, so a primary that comes back is preferred again.
 */
#include <ldap.h>
#include <pthread.h>
#include <string.h>
#include <stdio.h>
#include <stdarg.h>
#include <time.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>
#include <ctype.h>

#include "ldap.h"

typedef struct {
	LDAP		*ld;			//!< NULL until connected, and after a failure
	bool		busy;			//!< held by a thread
	unsigned int	generation;		//!< the pool's generation when connected
	pthread_cond_t	*freed;			//!< its pool's
} conn_t;

typedef enum {
	POOL_SEARCH = 0,			//!< bound as the service account
	POOL_BIND,				//!< users' binds
} pool_kind_t;

typedef struct {
	pool_kind_t	kind;
	conn_t		*conns;
	size_t		size;
	unsigned int	generation;		//!< goes up when a connection is lost: older ones are replaced
	/* One per pool: with one for both, a connection given back could
	 * wake a waiter of the other pool and leave this pool's waiting,
	 * a connection free, until some later release. */
	pthread_cond_t	freed;			//!< one of its connections was given back
} pool_t;

struct twofa_ldap {
	twofa_ldap_config_t const *config;
	pthread_mutex_t	mutex;			//!< guards both pools' busy flags
	pool_t		pools[2];
	bool		dn_by_search;		//!< base_dn + filter rather than dn_template
	char		name_attr[64];		//!< ATTR of the filter's (template's) "ATTR={user}"
};

/** One login's logging: the caller's function, printf-style, never a password. */
typedef struct {
	twofa_ldap_log_t	log;
	void			*uctx;
} logger_t;

static void say(logger_t const *lg, twofa_ldap_log_level_t level, char const *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(logger_t const *lg, twofa_ldap_log_level_t level, char const *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	if (!lg || !lg->log) return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lg->log(lg->uctx, level, msg);
}

/*
 *	Escaping.
 */
static char const hex[] = "0123456789abcdef";

static size_t put_escaped(char *out, size_t outlen, size_t *o, uint8_t c)
{
	if (*o + 3 >= outlen) return 0;
	out[(*o)++] = '\\';
	out[(*o)++] = hex[c >> 4];
	out[(*o)++] = hex[c & 0x0f];
	return 3;
}

size_t twofa_ldap_escape_dn_value(char *out, size_t outlen, char const *in, size_t len)
{
	size_t i, o = 0;

	if (!outlen) return 0;
	for (i = 0; i < len; i++) {
		uint8_t c = (uint8_t) in[i];
		bool	special = (strchr("\"+,;<>\\=", c) && c) || (c < 0x20) || (c == 0x7f) ||
				  ((i == 0) && ((c == ' ') || (c == '#'))) || ((i == len - 1) && (c == ' '));

		if (special) {
			if (!put_escaped(out, outlen, &o, c)) return 0;
			continue;
		}
		if (o + 1 >= outlen) return 0;
		out[o++] = (char) c;
	}
	out[o] = '\0';
	return o;
}

size_t twofa_ldap_escape_filter_value(char *out, size_t outlen, char const *in, size_t len)
{
	size_t i, o = 0;

	if (!outlen) return 0;
	for (i = 0; i < len; i++) {
		uint8_t c = (uint8_t) in[i];

		if ((c == '*') || (c == '(') || (c == ')') || (c == '\\') || (c < 0x20) || (c == 0x7f)) {
			if (!put_escaped(out, outlen, &o, c)) return 0;
			continue;
		}
		if (o + 1 >= outlen) return 0;
		out[o++] = (char) c;
	}
	out[o] = '\0';
	return o;
}

#define USER_TOKEN "{user}"

/** template with every {user} replaced by value (already escaped), under ctx. */
static char *expand(TALLOC_CTX *ctx, char const *template, char const *value)
{
	char		*out = talloc_strdup(ctx, "");
	char const	*p = template, *q;

	while (out && (q = strstr(p, USER_TOKEN))) {
		out = talloc_strndup_append_buffer(out, p, q - p);
		if (out) out = talloc_strdup_append_buffer(out, value);
		p = q + strlen(USER_TOKEN);
	}
	if (out) out = talloc_strdup_append_buffer(out, p);
	return out;
}

/*
 *	The attribute a name is matched against: ATTR in the first "ATTR={user}"
 *	of the filter (or the template).  False if there is none.
 */
static bool name_attribute(char const *s, char *out, size_t outlen)
{
	char const	*end = s ? strstr(s, "=" USER_TOKEN) : NULL, *start = end;

	if (!end) return false;
	while ((start > s) && (isalnum((unsigned char) start[-1]) || (start[-1] == '-'))) start--;
	if ((start == end) || ((size_t) (end - start) >= outlen)) return false;
	memcpy(out, start, end - start);
	out[end - start] = '\0';
	return true;
}

/*
 *	Active Directory says why a bind was refused in the diagnostic
 *	message: "80090308: LdapErr: DSID-0C09044E, comment:
 *	AcceptSecurityContext error, data 52e, v4563".
 */
char const *twofa_ldap_ad_reason(char const *diagnostic)
{
	static struct {
		char const *code, *reason;
	} const reasons[] = {
		{ "525", "user not found" },
		{ "52e", "invalid credentials" },
		{ "530", "not permitted to log on at this time" },
		{ "531", "not permitted to log on at this workstation" },
		{ "532", "password expired" },
		{ "533", "account disabled" },
		{ "701", "account expired" },
		{ "773", "user must reset password" },
		{ "775", "account locked out" },
	};
	char const	*p;
	size_t		i, n;

	if (!diagnostic || !(p = strstr(diagnostic, "data "))) return NULL;
	p += 5;
	for (n = 0; (n < 8) && p[n] && (p[n] != ',') && (p[n] != ' '); n++);
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if ((strlen(reasons[i].code) == n) && (strncasecmp(p, reasons[i].code, n) == 0)) return reasons[i].reason;
	}
	return NULL;
}

/*
 *	OpenLDAP's password policy (the ppolicy overlay, draft-behera-ldap-
 *	password-policy): the user's bind asks for it with a request control,
 *	and the response control on the bind's result says why a bind was
 *	refused (locked, expired), that a bind that succeeded may only change
 *	the password (reset by an administrator, pwdMustChange), or how soon
 *	the password expires.  The request control is not critical: a
 *	directory without the overlay (Active Directory too) ignores it and
 *	answers no control, and nothing changes.
 */
typedef struct {
	int	error;			//!< the draft's error (LDAPPasswordPolicyError), PP_noError: none
	int	expire;			//!< seconds before the password expires, -1: not said
	int	grace;			//!< grace logins left (the password has expired), -1: not said
} ppolicy_t;

/* A switch over the enum, not a table: -Wswitch names a value left out. */
char const *twofa_ldap_ppolicy_reason(int error)
{
	switch ((LDAPPasswordPolicyError) error) {
	case PP_passwordExpired:		return "password expired";
	case PP_accountLocked:			return "account locked";
	case PP_changeAfterReset:		return "password must be changed after reset";
	case PP_passwordModNotAllowed:		return "password change not allowed";
	case PP_mustSupplyOldPassword:		return "old password must be supplied";
	case PP_insufficientPasswordQuality:	return "insufficient password quality";
	case PP_passwordTooShort:		return "password too short";
	case PP_passwordTooYoung:		return "password too young";
	case PP_passwordInHistory:		return "password in history";
	case PP_passwordTooLong:		return "password too long";
	case PP_noError:			return NULL;
	}
	return NULL;
}

/*
 *	Config.
 */
static bool set(char const *s)
{
	return s && *s;
}

bool twofa_ldap_config_valid(twofa_ldap_config_t const *config, char *err, size_t errlen)
{
	size_t	i;
	char	attr[64];

	if (!config->num_servers) {
		snprintf(err, errlen, "no server: add \"server = ldap://...\" lines");
		return false;
	}
	for (i = 0; i < config->num_servers; i++) {
		LDAPURLDesc *lud = NULL;

		if ((ldap_url_parse(config->servers[i], &lud) != LDAP_URL_SUCCESS) ||
		    (strcmp(lud->lud_scheme, "ldap") && strcmp(lud->lud_scheme, "ldaps"))) {
			if (lud) ldap_free_urldesc(lud);
			snprintf(err, errlen, "server \"%s\" is not an ldap:// or ldaps:// URI", config->servers[i]);
			return false;
		}
		ldap_free_urldesc(lud);
	}
	if (set(config->dn_template) == set(config->filter)) {
		snprintf(err, errlen, "set either dn_template, or base_dn and filter (not both)");
		return false;
	}
	if (set(config->dn_template) && !strstr(config->dn_template, USER_TOKEN)) {
		snprintf(err, errlen, "dn_template must hold %s", USER_TOKEN);
		return false;
	}
	if (set(config->filter) && (!strstr(config->filter, USER_TOKEN) || !set(config->base_dn))) {
		snprintf(err, errlen, "filter must hold %s, and base_dn be set", USER_TOKEN);
		return false;
	}
	if (!name_attribute(set(config->filter) ? config->filter : config->dn_template, attr, sizeof(attr))) {
		snprintf(err, errlen, "%s must match the name as \"ATTRIBUTE=%s\" (uid=, sAMAccountName=, ...): "
			 "the entry's own name is checked against it", set(config->filter) ? "filter" : "dn_template",
			 USER_TOKEN);
		return false;
	}
	if (set(config->bind_dn) && !set(config->bind_password)) {
		snprintf(err, errlen, "bind_dn needs bind_password");
		return false;
	}
	if (strcmp(config->require_cert, "demand") && strcmp(config->require_cert, "never")) {
		snprintf(err, errlen, "require_cert must be \"demand\" or \"never\"");
		return false;
	}
	for (i = 0; i < config->num_reply_groups; i++) {
		LDAPDN dn = NULL;

		if (!set(config->reply_groups[i]) ||
		    (ldap_str2dn(config->reply_groups[i], &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)) {
			snprintf(err, errlen, "groups.reply: \"%s\" is not a DN", config->reply_groups[i]);
			return false;
		}
		ldap_dnfree(dn);
	}
	if ((set(config->allow_group) || set(config->require_2fa_group) || set(config->skip_2fa_group) ||
	     config->num_reply_groups) &&
	    !set(config->membership_attribute) && !set(config->member_attribute)) {
		snprintf(err, errlen, "group rules need membership_attribute or member_attribute");
		return false;
	}
	if (!config->pool_size || !config->timeout_ms || !config->net_timeout_ms) {
		snprintf(err, errlen, "pool_size, timeout and net_timeout must be above 0");
		return false;
	}
	return true;
}

/*
 *	The pools.
 */
static int _ldap_free(twofa_ldap_t *ldap)
{
	size_t k, i;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < ldap->pools[k].size; i++) {
			if (ldap->pools[k].conns[i].ld) ldap_unbind_ext_s(ldap->pools[k].conns[i].ld, NULL, NULL);
			ldap->pools[k].conns[i].ld = NULL;
		}
	}
	for (k = 0; k < 2; k++) pthread_cond_destroy(&ldap->pools[k].freed);
	pthread_mutex_destroy(&ldap->mutex);
	return 0;
}

twofa_rcode_t twofa_ldap_open(TALLOC_CTX *ctx, twofa_ldap_config_t const *config, twofa_ldap_t **out)
{
	twofa_ldap_t		*ldap;
	pthread_condattr_t	attr;
	size_t			k, i;

	*out = NULL;
	ldap = talloc_zero(ctx, twofa_ldap_t);
	if (!ldap) return TWOFA_ERR_NO_MEMORY;
	ldap->config = config;
	ldap->dn_by_search = set(config->filter);
	if (!name_attribute(ldap->dn_by_search ? config->filter : config->dn_template,
			    ldap->name_attr, sizeof(ldap->name_attr))) {
		ldap->name_attr[0] = '\0';	/* no login can be matched to its entry: each is refused */
	}
	for (k = 0; k < 2; k++) {
		ldap->pools[k].kind = (pool_kind_t) k;
		ldap->pools[k].size = config->pool_size;
		ldap->pools[k].conns = talloc_zero_array(ldap, conn_t, config->pool_size);
		if (!ldap->pools[k].conns) {
			talloc_free(ldap);
			return TWOFA_ERR_NO_MEMORY;
		}
	}
	pthread_mutex_init(&ldap->mutex, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);	/* a clock step neither shortens nor stretches a wait */
	for (k = 0; k < 2; k++) {
		pthread_cond_init(&ldap->pools[k].freed, &attr);
		for (i = 0; i < ldap->pools[k].size; i++) ldap->pools[k].conns[i].freed = &ldap->pools[k].freed;
	}
	pthread_condattr_destroy(&attr);
	talloc_set_destructor(ldap, _ldap_free);
	*out = ldap;
	return TWOFA_OK;
}

static struct timeval ms_tv(unsigned int ms)
{
	return (struct timeval) { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
}

/** Close a connection that failed: it is never used again. */
static void conn_drop(conn_t *conn)
{
	if (conn->ld) ldap_unbind_ext_s(conn->ld, NULL, NULL);
	conn->ld = NULL;
}

/** Wait at most timeout_ms for a connection of pool; NULL if none came free.
 *  One of an older generation (made before a connection was lost) is closed:
 *  the directory restarted or hung, and its connections went with it. */
static conn_t *pool_take(twofa_ldap_t *ldap, pool_t *pool)
{
	struct timespec	deadline;
	conn_t		*found = NULL;
	unsigned int	generation;
	size_t		i;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ldap->config->timeout_ms / 1000;
	deadline.tv_nsec += (long) (ldap->config->timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}

	pthread_mutex_lock(&ldap->mutex);
	generation = pool->generation;
	while (!found) {
		/* A connected one first: a new connection costs a handshake. */
		for (i = 0; (i < pool->size) && !found; i++) {
			if (!pool->conns[i].busy && pool->conns[i].ld) found = &pool->conns[i];
		}
		for (i = 0; (i < pool->size) && !found; i++) {
			if (!pool->conns[i].busy) found = &pool->conns[i];
		}
		if (found) break;
		if (pthread_cond_timedwait(&pool->freed, &ldap->mutex, &deadline) == ETIMEDOUT) break;
	}
	if (found) found->busy = true;
	pthread_mutex_unlock(&ldap->mutex);
	if (found && found->ld && (found->generation != generation)) conn_drop(found);
	return found;
}

/** conn was lost: close it, and retire every connection of its pool made before. */
static void pool_lost(twofa_ldap_t *ldap, pool_kind_t kind, conn_t *conn)
{
	conn_drop(conn);
	pthread_mutex_lock(&ldap->mutex);
	ldap->pools[kind].generation++;
	pthread_mutex_unlock(&ldap->mutex);
}

static void pool_give(twofa_ldap_t *ldap, conn_t *conn)
{
	pthread_mutex_lock(&ldap->mutex);
	conn->busy = false;
	pthread_cond_signal(conn->freed);
	pthread_mutex_unlock(&ldap->mutex);
}

/** A transport failure: the connection is gone (or stuck) and must be replaced. */
static bool connection_lost(int rc)
{
	return (rc == LDAP_SERVER_DOWN) || (rc == LDAP_CONNECT_ERROR) || (rc == LDAP_TIMEOUT) ||
	       (rc == LDAP_UNAVAILABLE) || (rc == LDAP_BUSY);
}

/** Wait for the result of msgid; on a timeout abandon it.  *res must be freed. */
static int wait_result(LDAP *ld, int msgid, unsigned int timeout_ms, LDAPMessage **res)
{
	struct timeval	tv = ms_tv(timeout_ms);
	int		rc;

	*res = NULL;
	rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, res);
	if (rc == 0) {
		ldap_abandon_ext(ld, msgid, NULL, NULL);
		return LDAP_TIMEOUT;
	}
	if (rc < 0) {
		if ((ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc) != LDAP_OPT_SUCCESS) || (rc == LDAP_SUCCESS)) {
			rc = LDAP_SERVER_DOWN;
		}
		return rc;
	}
	return LDAP_SUCCESS;
}

/** The password policy response among a bind result's controls, into *policy
 *  (left as "nothing said" without one).  A control that does not decode: an error. */
static int read_policy(LDAP *ld, LDAPControl **ctrls, ppolicy_t *policy)
{
	LDAPControl		*ctrl = ldap_control_find(LDAP_CONTROL_PASSWORDPOLICYRESPONSE, ctrls, NULL);
	ber_int_t		expire = -1, grace = -1;
	LDAPPasswordPolicyError	error = PP_noError;

	if (!ctrl) return LDAP_SUCCESS;
	if (ldap_parse_passwordpolicy_control(ld, ctrl, &expire, &grace, &error) != LDAP_SUCCESS) {
		return LDAP_DECODING_ERROR;
	}
	*policy = (ppolicy_t) { .error = error, .expire = expire, .grace = grace };
	return LDAP_SUCCESS;
}

/** A simple bind, within timeout_ms.  *diagnostic (may be NULL) gets the server's message.
 *  With policy (may be NULL: the service account's bind) the bind carries the password
 *  policy request control, and *policy gets the answer. */
static int simple_bind(LDAP *ld, char const *dn, char const *password, size_t len, unsigned int timeout_ms,
		       char **diagnostic, ppolicy_t *policy)
{
	struct berval	cred = { .bv_val = (char *) password, .bv_len = len };
	LDAPControl	*ask = NULL, *ctrls[2] = { NULL, NULL }, **returned = NULL;
	LDAPMessage	*res;
	int		msgid, rc, result = LDAP_OTHER;

	if (diagnostic) *diagnostic = NULL;
	if (policy) {
		*policy = (ppolicy_t) { .error = PP_noError, .expire = -1, .grace = -1 };
		rc = ldap_create_passwordpolicy_control(ld, &ask);
		if (rc != LDAP_SUCCESS) return rc;	/* not asking could let a reset password through */
		ctrls[0] = ask;
	}
	rc = ldap_sasl_bind(ld, dn, LDAP_SASL_SIMPLE, &cred, policy ? ctrls : NULL, NULL, &msgid);
	ldap_control_free(ask);
	if (rc != LDAP_SUCCESS) return rc;
	rc = wait_result(ld, msgid, timeout_ms, &res);
	if (rc != LDAP_SUCCESS) return rc;
	rc = ldap_parse_result(ld, res, &result, NULL, diagnostic, NULL, policy ? &returned : NULL, 1);
	if ((rc == LDAP_SUCCESS) && policy) rc = read_policy(ld, returned, policy);
	ldap_controls_free(returned);
	return (rc == LDAP_SUCCESS) ? result : rc;
}

static void set_timeouts(LDAP *ld, twofa_ldap_config_t const *config)
{
	struct timeval	net = ms_tv(config->net_timeout_ms), op = ms_tv(config->timeout_ms);
	int		version = LDAP_VERSION3, deref = LDAP_DEREF_NEVER;

	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net);	/* connect(), TLS handshake */
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &op);		/* ldap_start_tls_s */
	ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);	/* AD's referrals: never chased, never anonymously */
	ldap_set_option(ld, LDAP_OPT_DEREF, &deref);
	ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON);
}

/** TLS settings of this handle only (NEWCTX: not libldap's process-wide context). */
static int set_tls(LDAP *ld, twofa_ldap_config_t const *config)
{
	int require = strcmp(config->require_cert, "never") ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
	int min = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, server = 0;

	if (set(config->ca_file) && (ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, config->ca_file) != LDAP_OPT_SUCCESS)) {
		return -1;
	}
	if (ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require) != LDAP_OPT_SUCCESS) return -1;
	ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min);
	if (ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &server) != LDAP_OPT_SUCCESS) return -1;
	return 0;
}

/** One server: connected, TLS in place where asked for, bound as the service account (search pool). */
static int connect_one(twofa_ldap_t *ldap, pool_kind_t kind, char const *uri, LDAP **out, logger_t const *lg)
{
	twofa_ldap_config_t const	*config = ldap->config;
	bool				ldaps = (strncasecmp(uri, "ldaps:", 6) == 0);
	LDAP				*ld = NULL;
	int				rc;

	*out = NULL;
	rc = ldap_initialize(&ld, uri);
	if (rc != LDAP_SUCCESS) return rc;
	set_timeouts(ld, config);
	if ((ldaps || config->start_tls) && (set_tls(ld, config) < 0)) {
		say(lg, TWOFA_LDAP_LOG_ERROR, "LDAP server %s: cannot set up TLS (ca_file %s)", uri, config->ca_file);
		ldap_unbind_ext_s(ld, NULL, NULL);
		return LDAP_LOCAL_ERROR;
	}

	if (!ldaps && config->start_tls) {
		rc = ldap_start_tls_s(ld, NULL, NULL);
		if ((rc == LDAP_SUCCESS) && !ldap_tls_inplace(ld)) rc = LDAP_CONNECT_ERROR;
	} else {
		rc = ldap_connect(ld);
	}
	if (rc != LDAP_SUCCESS) {
		char *detail = NULL;

		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &detail);
		say(lg, TWOFA_LDAP_LOG_WARN, "LDAP server %s: %s%s%s%s", uri,
		    (!ldaps && config->start_tls && (rc != LDAP_SERVER_DOWN)) ? "StartTLS failed: " : "cannot connect: ",
		    ldap_err2string(rc),
		    (detail && *detail) ? ": " : "", (detail && *detail) ? detail : "");
		ldap_memfree(detail);
		ldap_unbind_ext_s(ld, NULL, NULL);
		return (rc == LDAP_SUCCESS) ? LDAP_CONNECT_ERROR : rc;
	}

	if ((kind == POOL_SEARCH) && set(config->bind_dn)) {
		rc = simple_bind(ld, config->bind_dn, config->bind_password, strlen(config->bind_password),
				 config->timeout_ms, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			say(lg, TWOFA_LDAP_LOG_ERROR, "LDAP server %s: bind as the service account %s failed: %s",
			    uri, config->bind_dn, ldap_err2string(rc));
			ldap_unbind_ext_s(ld, NULL, NULL);
			return connection_lost(rc) ? rc : LDAP_INVALID_CREDENTIALS;
		}
	}
	*out = ld;
	return LDAP_SUCCESS;
}

/** A new connection to the first server that answers, in the order given (failover). */
static int conn_open(twofa_ldap_t *ldap, pool_kind_t kind, conn_t *conn, logger_t const *lg)
{
	size_t	i;
	int	rc = LDAP_SERVER_DOWN;

	conn_drop(conn);
	for (i = 0; i < ldap->config->num_servers; i++) {
		rc = connect_one(ldap, kind, ldap->config->servers[i], &conn->ld, lg);
		if (rc == LDAP_SUCCESS) {
			if (i > 0) say(lg, TWOFA_LDAP_LOG_WARN, "LDAP: using server %s", ldap->config->servers[i]);
			return rc;
		}
		if (rc == LDAP_INVALID_CREDENTIALS) return rc;	/* the service account's: the next server would say the same */
	}
	say(lg, TWOFA_LDAP_LOG_ERROR, "LDAP: no server answered (%zu tried)", ldap->config->num_servers);
	return rc;
}

/** A connection of kind, connected; *fresh says whether it was made just now.  NULL: none. */
static conn_t *conn_get(twofa_ldap_t *ldap, pool_kind_t kind, bool *fresh, logger_t const *lg)
{
	conn_t *conn = pool_take(ldap, &ldap->pools[kind]);

	if (!conn) {
		say(lg, TWOFA_LDAP_LOG_ERROR, "LDAP: every %s connection busy for %u ms",
		    (kind == POOL_SEARCH) ? "search" : "bind", ldap->config->timeout_ms);
		return NULL;
	}
	*fresh = false;
	if (conn->ld) return conn;
	if (conn_open(ldap, kind, conn, lg) != LDAP_SUCCESS) {
		pool_give(ldap, conn);
		return NULL;
	}
	pthread_mutex_lock(&ldap->mutex);
	conn->generation = ldap->pools[kind].generation;
	pthread_mutex_unlock(&ldap->mutex);
	*fresh = true;
	return conn;
}

/*
 *	Reading the entry.
 */
static char *first_value(TALLOC_CTX *ctx, LDAP *ld, LDAPMessage *entry, char const *attr)
{
	struct berval	**values;
	char		*out = NULL;

	if (!set(attr)) return NULL;
	values = ldap_get_values_len(ld, entry, attr);
	if (values && values[0]) out = talloc_strndup(ctx, values[0]->bv_val, values[0]->bv_len);
	ldap_value_free_len(values);
	return out;
}

/** DNs compared as the directory would, near enough: syntax normalised, then ASCII case. */
static bool same_dn(char const *a, char const *b)
{
	char	*na = NULL, *nb = NULL;
	bool	same;

	if ((ldap_dn_normalize(a, LDAP_DN_FORMAT_LDAPV3, &na, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS) ||
	    (ldap_dn_normalize(b, LDAP_DN_FORMAT_LDAPV3, &nb, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)) {
		same = (strcasecmp(a, b) == 0);
	} else {
		same = (strcasecmp(na, nb) == 0);
	}
	ldap_memfree(na);
	ldap_memfree(nb);
	return same;
}

/** Does the entry list group in membership_attribute (memberOf)? */
static bool listed(LDAP *ld, LDAPMessage *entry, char const *attr, char const *group)
{
	struct berval	**values = ldap_get_values_len(ld, entry, attr);
	bool		found = false;
	size_t		i;

	for (i = 0; values && values[i] && !found; i++) {
		char *dn = strndup(values[i]->bv_val, values[i]->bv_len);

		if (dn) found = same_dn(dn, group);
		free(dn);
	}
	ldap_value_free_len(values);
	return found;
}

/** Does group's member_attribute hold dn?  An LDAP compare, within the timeout. */
static int compare_member(LDAP *ld, twofa_ldap_config_t const *config, char const *group, char const *dn,
			  bool *member)
{
	struct berval	value = { .bv_val = (char *) dn, .bv_len = strlen(dn) };
	LDAPMessage	*res;
	int		msgid, rc, result = LDAP_OTHER;

	*member = false;
	rc = ldap_compare_ext(ld, group, config->member_attribute, &value, NULL, NULL, &msgid);
	if (rc != LDAP_SUCCESS) return rc;
	rc = wait_result(ld, msgid, config->timeout_ms, &res);
	if (rc != LDAP_SUCCESS) return rc;
	rc = ldap_parse_result(ld, res, &result, NULL, NULL, NULL, NULL, 1);
	if (rc != LDAP_SUCCESS) return rc;
	if (result == LDAP_COMPARE_TRUE) *member = true;
	if ((result == LDAP_COMPARE_TRUE) || (result == LDAP_COMPARE_FALSE) || (result == LDAP_NO_SUCH_OBJECT)) {
		return LDAP_SUCCESS;
	}
	return result;
}

/** Is the user a member of group ("" : no rule)?  From the entry, or by asking the group. */
static int member_of(twofa_ldap_t *ldap, LDAP *ld, LDAPMessage *entry, char const *dn, char const *group,
		     bool *member)
{
	twofa_ldap_config_t const *config = ldap->config;

	*member = false;
	if (!set(group)) return LDAP_SUCCESS;
	if (set(config->membership_attribute)) {
		*member = entry && listed(ld, entry, config->membership_attribute, group);
		return LDAP_SUCCESS;
	}
	return compare_member(ld, config, group, dn, member);
}

/*
 *	groups { reply { } }: the first group of the list (config order) the
 *	user is a member of, read as the group rules are (memberOf, or a
 *	compare per group until one says yes).  Only read once the other
 *	rules let the user in.
 */
static int reply_group(twofa_ldap_t *ldap, LDAP *ld, LDAPMessage *entry, twofa_ldap_user_t *user)
{
	twofa_ldap_config_t const	*config = ldap->config;
	size_t				i;
	bool				member;
	int				rc;

	user->reply_group = -1;
	for (i = 0; i < config->num_reply_groups; i++) {
		rc = member_of(ldap, ld, entry, user->dn, config->reply_groups[i], &member);
		if (rc != LDAP_SUCCESS) return rc;
		if (member) {
			user->reply_group = (int) i;
			return LDAP_SUCCESS;
		}
	}
	return LDAP_SUCCESS;
}

/** name and value equal, but for the case of ASCII letters (the store's own rule for names). */
static bool same_name(struct berval const *value, char const *name)
{
	size_t i, len = strlen(name);

	if (value->bv_len != len) return false;
	for (i = 0; i < len; i++) {
		unsigned char a = (unsigned char) value->bv_val[i], b = (unsigned char) name[i];

		if ((a != b) && !((a < 0x80) && (b < 0x80) && (tolower(a) == tolower(b)))) return false;
	}
	return true;
}

/*
 *	The directory matches a name loosely (case, spaces, Unicode case
 *	and width: "alice ", "ＡＬＩＣＥ" find uid=alice), the store by its
 *	bytes and ASCII case.  A login is the entry's only if the name it
 *	was looked up by is the entry's own: the one value of the attribute
 *	the filter (template) matches it against, ASCII case aside.  Else
 *	the entry's password would open another name's row in the store,
 *	one with no second factor on file.  NULL if it is the entry's name;
 *	else why not, for the log.
 */
static char const *not_its_name(twofa_ldap_t const *ldap, LDAP *ld, LDAPMessage *entry, char const *name)
{
	struct berval	**values;
	char const	*why = NULL;
	int		n;

	if (!set(ldap->name_attr)) return "no \"ATTRIBUTE={user}\" in the filter names the attribute to check";
	if (!entry) return "its entry could not be read";
	values = ldap_get_values_len(ld, entry, ldap->name_attr);
	n = values ? ldap_count_values_len(values) : 0;
	if (n == 0) {
		why = "the entry has no value of the name attribute";
	} else if (n > 1) {
		why = "the entry has more than one value of the name attribute (aliases are refused)";
	} else if (!same_name(values[0], name)) {
		why = "the directory matched another spelling of the entry's name";
	}
	ldap_value_free_len(values);
	return why;
}

/** Attributes and group rules for the user named name, from their entry (and the groups). */
static twofa_rcode_t read_user(twofa_ldap_t *ldap, LDAP *ld, LDAPMessage *entry, char const *name,
			       twofa_ldap_user_t *user, logger_t const *lg)
{
	twofa_ldap_config_t const	*config = ldap->config;
	char const			*why;
	bool				allowed, required, skip;
	int				rc;

	if ((why = not_its_name(ldap, ld, entry, name))) {
		say(lg, TWOFA_LDAP_LOG_WARN, "LDAP: %s is not the entry of the name \"%s\" (%s %s): refused", user->dn,
		    name, set(ldap->name_attr) ? ldap->name_attr : "?", why);
		return TWOFA_ERR_NOT_FOUND;
	}
	if (entry) {
		user->mobile = first_value(user, ld, entry, config->mobile_attribute);
		user->mail = first_value(user, ld, entry, config->mail_attribute);
		user->mail2 = first_value(user, ld, entry, config->mail2_attribute);
	}
	if (((rc = member_of(ldap, ld, entry, user->dn, config->allow_group, &allowed)) != LDAP_SUCCESS) ||
	    ((rc = member_of(ldap, ld, entry, user->dn, config->require_2fa_group, &required)) != LDAP_SUCCESS) ||
	    ((rc = member_of(ldap, ld, entry, user->dn, config->skip_2fa_group, &skip)) != LDAP_SUCCESS)) {
		say(lg, TWOFA_LDAP_LOG_ERROR, "LDAP: group check for %s failed: %s", user->dn, ldap_err2string(rc));
		return connection_lost(rc) ? TWOFA_ERR_UNAVAILABLE : TWOFA_ERR_DENIED;	/* fail closed */
	}
	if (set(config->allow_group) && !allowed) {
		say(lg, TWOFA_LDAP_LOG_DEBUG, "LDAP: %s is not a member of allow_group %s", user->dn, config->allow_group);
		return TWOFA_ERR_DENIED;
	}
	if ((rc = reply_group(ldap, ld, entry, user)) != LDAP_SUCCESS) {
		say(lg, TWOFA_LDAP_LOG_ERROR, "LDAP: reply group check for %s failed: %s", user->dn, ldap_err2string(rc));
		return connection_lost(rc) ? TWOFA_ERR_UNAVAILABLE : TWOFA_ERR_DENIED;	/* fail closed */
	}
	if (required) {
		user->second_factor = TWOFA_LDAP_2FA_REQUIRED;	/* wins over skip: fail closed */
	} else if (skip) {
		user->second_factor = TWOFA_LDAP_2FA_SKIP;
	}
	say(lg, TWOFA_LDAP_LOG_DEBUG, "LDAP: %s: %s%s%s%s, second factor %s%s%s", user->dn,
	    user->mobile ? "phone found" : "no phone", user->mail ? ", mail found" : ", no mail",
	    user->mail2 ? ", second mail found" : "", set(config->allow_group) ? ", in allow_group" : "",
	    required ? "required by group" : skip ? "skipped by group" : "as enforce says",
	    (user->reply_group >= 0) ? ", reply attributes of group " : "",
	    (user->reply_group >= 0) ? config->reply_groups[user->reply_group] : "");
	return TWOFA_OK;
}

/** The attributes to read from a user's entry. */
static void attrs_for(twofa_ldap_t const *ldap, char const *attrs[7])
{
	twofa_ldap_config_t const	*config = ldap->config;
	size_t				n = 0;

	if (set(ldap->name_attr)) attrs[n++] = ldap->name_attr;
	if (set(config->mobile_attribute)) attrs[n++] = config->mobile_attribute;
	if (set(config->mail_attribute)) attrs[n++] = config->mail_attribute;
	if (set(config->mail2_attribute)) attrs[n++] = config->mail2_attribute;
	if (set(config->membership_attribute)) attrs[n++] = config->membership_attribute;
	if (!n) attrs[n++] = LDAP_NO_ATTRS;
	attrs[n] = NULL;
}

/** A search for at most 2 entries; *res must be freed (ldap_msgfree). */
static int search(LDAP *ld, twofa_ldap_t const *ldap, char const *base, int scope, char const *filter,
		  LDAPMessage **res)
{
	twofa_ldap_config_t const	*config = ldap->config;
	char const			*attrs[7];
	struct timeval			limit = ms_tv(config->timeout_ms);
	int				msgid, rc, result = LDAP_OTHER;

	*res = NULL;
	attrs_for(ldap, attrs);
	if (limit.tv_sec == 0) limit.tv_sec = 1;	/* the server's time limit counts in seconds */
	rc = ldap_search_ext(ld, base, scope, filter, (char **) attrs, 0, NULL, NULL, &limit, 2, &msgid);
	if (rc != LDAP_SUCCESS) return rc;
	rc = wait_result(ld, msgid, config->timeout_ms, res);
	if (rc != LDAP_SUCCESS) return rc;
	rc = ldap_parse_result(ld, *res, &result, NULL, NULL, NULL, NULL, 0);
	return (rc == LDAP_SUCCESS) ? result : rc;
}

/*
 *	Finding the user by search: on a search connection (service account).
 *	TWOFA_OK with user->dn, its attributes and group rules read.
 */
static twofa_rcode_t find_user(twofa_ldap_t *ldap, char const *name, twofa_ldap_user_t *user, logger_t const *lg)
{
	twofa_ldap_config_t const	*config = ldap->config;
	size_t				len = strlen(name);
	char				*escaped = talloc_array(user, char, 3 * len + 1);
	char				*filter;
	LDAPMessage			*res = NULL, *entry;
	conn_t				*conn;
	bool				fresh;
	int				rc, tries;
	twofa_rcode_t			ret;

	if (!escaped) return TWOFA_ERR_NO_MEMORY;
	twofa_ldap_escape_filter_value(escaped, 3 * len + 1, name, len);
	filter = expand(user, config->filter, escaped);
	if (!filter) return TWOFA_ERR_NO_MEMORY;

	for (tries = 0; tries < 2; tries++) {
		conn = conn_get(ldap, POOL_SEARCH, &fresh, lg);
		if (!conn) return TWOFA_ERR_UNAVAILABLE;
		rc = search(conn->ld, ldap, config->base_dn, LDAP_SCOPE_SUBTREE, filter, &res);
		if (!connection_lost(rc)) break;
		ldap_msgfree(res);
		res = NULL;
		say(lg, TWOFA_LDAP_LOG_WARN, "LDAP: search failed: %s%s", ldap_err2string(rc),
		    (!fresh && (rc != LDAP_TIMEOUT)) ? ", reconnecting" : "");
		pool_lost(ldap, POOL_SEARCH, conn);
		pool_give(ldap, conn);
		if (fresh || (rc == LDAP_TIMEOUT)) return TWOFA_ERR_UNAVAILABLE;
	}
	if (connection_lost(rc)) return TWOFA_ERR_UNAVAILABLE;

	if ((rc == LDAP_SIZELIMIT_EXCEEDED) || (ldap_count_entries(conn->ld, res) > 1)) {
		say(lg, TWOFA_LDAP_LOG_ERROR, "LDAP: filter %s matches more than one entry under %s: refused",
		    filter, config->base_dn);
		ret = TWOFA_ERR_NOT_FOUND;
	} else if ((rc == LDAP_SUCCESS) && (entry = ldap_first_entry(conn->ld, res))) {
		char *dn = ldap_get_dn(conn->ld, entry);

		user->dn = dn ? talloc_strdup(user, dn) : NULL;
		ldap_memfree(dn);
		ret = user->dn ? read_user(ldap, conn->ld, entry, name, user, lg) : TWOFA_ERR_NO_MEMORY;
	} else if ((rc == LDAP_SUCCESS) || (rc == LDAP_NO_SUCH_OBJECT)) {
		say(lg, TWOFA_LDAP_LOG_DEBUG, "LDAP: no entry matches %s under %s", filter, config->base_dn);
		ret = TWOFA_ERR_NOT_FOUND;
	} else {
		say(lg, TWOFA_LDAP_LOG_ERROR, "LDAP: search %s under %s failed: %s", filter, config->base_dn,
		    ldap_err2string(rc));
		ret = TWOFA_ERR_UNAVAILABLE;
	}
	ldap_msgfree(res);
	if (ret == TWOFA_ERR_UNAVAILABLE) pool_lost(ldap, POOL_SEARCH, conn);	/* a group compare timed out */
	pool_give(ldap, conn);
	return ret;
}

/** A successful bind's news from the password policy: grace logins, the password's days. */
static void policy_notice(ppolicy_t const *policy, char const *dn, logger_t const *lg)
{
	if (policy->grace >= 0) {
		say(lg, TWOFA_LDAP_LOG_WARN, "LDAP: bind as %s accepted: the password has expired, "
		    "%d grace login%s left (password policy)", dn, policy->grace, (policy->grace == 1) ? "" : "s");
	}
	if (policy->expire >= 2 * 86400) {
		say(lg, TWOFA_LDAP_LOG_WARN, "LDAP: bind as %s accepted: password expires in %d days (password policy)",
		    dn, policy->expire / 86400);
	} else if (policy->expire >= 0) {
		say(lg, TWOFA_LDAP_LOG_WARN, "LDAP: bind as %s accepted: password expires in %d seconds (password policy)",
		    dn, policy->expire);
	}
}

/*
 *	What the user's bind says, with what the password policy added to it:
 *	TWOFA_OK only for a bind that succeeded with no policy error.  Every
 *	refusal is TWOFA_ERR_BAD_PASSWORD, as a wrong password is, so that
 *	the client is told nothing more; the log names the reason.
 */
static twofa_rcode_t bind_verdict(int rc, char const *diagnostic, ppolicy_t const *policy, char const *dn,
				  logger_t const *lg)
{
	char const *reason = twofa_ldap_ppolicy_reason(policy->error);

	switch (rc) {
	case LDAP_SUCCESS:
		/* changeAfterReset: the directory lets this session do nothing but change the password.
		 * Any other error on a bind that succeeded is as unexpected: refused too (fail closed). */
		if (policy->error != PP_noError) {
			say(lg, TWOFA_LDAP_LOG_WARN, "LDAP: bind as %s refused: password policy says %s%s", dn,
			    reason ? reason : "an unknown error",
			    (policy->error == PP_changeAfterReset) ?
			    " (the directory accepted the password for a password change only)" : "");
			return TWOFA_ERR_BAD_PASSWORD;
		}
		policy_notice(policy, dn, lg);
		return TWOFA_OK;

	case LDAP_INVALID_CREDENTIALS:
		if (reason) {
			say(lg, TWOFA_LDAP_LOG_WARN, "LDAP: bind as %s refused: password policy says %s", dn, reason);
		} else if ((reason = twofa_ldap_ad_reason(diagnostic))) {
			say(lg, TWOFA_LDAP_LOG_WARN, "LDAP: bind as %s refused: Active Directory says %s", dn, reason);
		} else {
			say(lg, TWOFA_LDAP_LOG_DEBUG, "LDAP: bind as %s refused: invalid credentials", dn);
		}
		return TWOFA_ERR_BAD_PASSWORD;

	default:
		say(lg, TWOFA_LDAP_LOG_ERROR, "LDAP: bind as %s failed: %s%s%s", dn, ldap_err2string(rc),
		    (diagnostic && *diagnostic) ? ": " : "", (diagnostic && *diagnostic) ? diagnostic : "");
		return TWOFA_ERR_BAD_PASSWORD;
	}
}

/*
 *	The user's bind, on a bind connection; with a dn_template, then their
 *	own entry read as them.  A connection found dead (the directory
 *	restarted) is replaced and the bind tried once more.
 */
static twofa_rcode_t bind_user(twofa_ldap_t *ldap, char const *name, char const *password, size_t len,
			       twofa_ldap_user_t *user, logger_t const *lg)
{
	twofa_ldap_config_t const	*config = ldap->config;
	conn_t				*conn;
	char				*diagnostic = NULL;
	ppolicy_t			policy;
	bool				fresh;
	int				rc, tries;
	twofa_rcode_t			ret;

	for (tries = 0; tries < 2; tries++) {
		conn = conn_get(ldap, POOL_BIND, &fresh, lg);
		if (!conn) return TWOFA_ERR_UNAVAILABLE;
		rc = simple_bind(conn->ld, user->dn, password, len, config->timeout_ms, &diagnostic, &policy);
		if (!connection_lost(rc)) break;
		ldap_memfree(diagnostic);
		diagnostic = NULL;
		say(lg, TWOFA_LDAP_LOG_WARN, "LDAP: bind failed: %s%s", ldap_err2string(rc),
		    (!fresh && (rc != LDAP_TIMEOUT)) ? ", reconnecting" : "");
		pool_lost(ldap, POOL_BIND, conn);
		pool_give(ldap, conn);
		if (fresh || (rc == LDAP_TIMEOUT)) return TWOFA_ERR_UNAVAILABLE;
	}
	if (connection_lost(rc)) return TWOFA_ERR_UNAVAILABLE;

	ret = bind_verdict(rc, diagnostic, &policy, user->dn, lg);
	ldap_memfree(diagnostic);

	/* With a template nothing was read yet: the user's own entry, as the user. */
	if ((ret == TWOFA_OK) && !ldap->dn_by_search) {
		LDAPMessage *res = NULL, *entry = NULL;

		rc = search(conn->ld, ldap, user->dn, LDAP_SCOPE_BASE, "(objectClass=*)", &res);
		if (rc == LDAP_SUCCESS) entry = ldap_first_entry(conn->ld, res);
		if (!entry) {
			say(lg, TWOFA_LDAP_LOG_WARN, "LDAP: cannot read %s as that user: %s", user->dn,
			    ldap_err2string(rc));
		}
		if (connection_lost(rc)) {
			pool_lost(ldap, POOL_BIND, conn);
			ret = TWOFA_ERR_UNAVAILABLE;
		} else {
			ret = read_user(ldap, conn->ld, entry, name, user, lg);
			if (ret == TWOFA_ERR_UNAVAILABLE) pool_lost(ldap, POOL_BIND, conn);
		}
		ldap_msgfree(res);
	}
	pool_give(ldap, conn);
	return ret;
}

/*
 *	An unknown user costs a bind all the same (on a DN that cannot
 *	exist), so that the time taken does not tell whether a user exists.
 */
static void bind_unknown(twofa_ldap_t *ldap, char const *password, size_t len, logger_t const *lg)
{
	conn_t		*conn;
	bool		fresh;
	char		dn[512];
	ppolicy_t	policy;		/* asked for as for a user, so that the request looks the same */
	int		rc;

	snprintf(dn, sizeof(dn), "cn=twofa-no-such-user,%s", ldap->config->base_dn);
	conn = conn_get(ldap, POOL_BIND, &fresh, lg);
	if (!conn) return;
	rc = simple_bind(conn->ld, dn, password, len, ldap->config->timeout_ms, NULL, &policy);
	if (connection_lost(rc)) pool_lost(ldap, POOL_BIND, conn);
	pool_give(ldap, conn);
}

twofa_rcode_t twofa_ldap_authenticate(twofa_ldap_t *ldap, TALLOC_CTX *ctx, char const *name,
				      char const *password, size_t len, twofa_ldap_log_t log, void *uctx,
				      twofa_ldap_user_t **out)
{
	logger_t		lg = { .log = log, .uctx = uctx };
	twofa_ldap_user_t	*user;
	twofa_rcode_t		rc;

	*out = NULL;
	/* RFC 4513 5.1.2: a simple bind with a DN and no password is an unauthenticated bind, and succeeds. */
	if (!password || (len == 0) || memchr(password, '\0', len)) {
		say(&lg, TWOFA_LDAP_LOG_DEBUG, "LDAP: empty password, no bind sent");
		return TWOFA_ERR_BAD_PASSWORD;
	}
	if (!name || !*name) return TWOFA_ERR_NOT_FOUND;

	user = talloc_zero(ctx, twofa_ldap_user_t);
	if (!user) return TWOFA_ERR_NO_MEMORY;
	user->reply_group = -1;

	if (ldap->dn_by_search) {
		rc = find_user(ldap, name, user, &lg);
		if (rc == TWOFA_ERR_NOT_FOUND) bind_unknown(ldap, password, len, &lg);
		if (rc == TWOFA_ERR_DENIED) {
			/* Checked after the password, so that a refusal does not tell a guesser the password was right... */
			rc = bind_user(ldap, name, password, len, user, &lg);
			if (rc == TWOFA_OK) rc = TWOFA_ERR_DENIED;	/* ...nor say which group rule refused */
		} else if (rc == TWOFA_OK) {
			rc = bind_user(ldap, name, password, len, user, &lg);
		}
	} else {
		size_t	nlen = strlen(name);
		char	*escaped = talloc_array(user, char, 3 * nlen + 1);

		if (!escaped) {
			talloc_free(user);
			return TWOFA_ERR_NO_MEMORY;
		}
		twofa_ldap_escape_dn_value(escaped, 3 * nlen + 1, name, nlen);
		user->dn = expand(user, ldap->config->dn_template, escaped);
		rc = user->dn ? bind_user(ldap, name, password, len, user, &lg) : TWOFA_ERR_NO_MEMORY;
		/* A DN that does not exist: slapd and AD answer invalid credentials, as for a wrong password. */
	}
	if (rc != TWOFA_OK) {
		talloc_free(user);
		return rc;
	}
	*out = user;
	return TWOFA_OK;
}

twofa_rcode_t twofa_ldap_probe(twofa_ldap_t *ldap, twofa_ldap_log_t log, void *uctx)
{
	logger_t	lg = { .log = log, .uctx = uctx };
	pool_kind_t	kind = ldap->dn_by_search ? POOL_SEARCH : POOL_BIND;
	conn_t		*conn;
	bool		fresh;

	conn = conn_get(ldap, kind, &fresh, &lg);
	if (!conn) return TWOFA_ERR_UNAVAILABLE;
	pool_give(ldap, conn);
	return TWOFA_OK;
}

/*
 *	Every user of the directory, for twofa-admin user list --ldap: the
 *	entries the login search would find with any name (the filter's
 *	{user} as "*", under base_dn; with a dn_template, "(ATTR=*)" one
 *	level under the template's parent), on a search connection.  Each
 *	name is the first value of the attribute the name is matched against:
 *	ATTR in "ATTR={user}" of the filter (or the template).
 */
/** The search that lists every user: *base, *filter and attr from the config.  False: none can be made. */
static bool listing_search(TALLOC_CTX *ctx, twofa_ldap_t *ldap, char const **base, char **filter, char *attr, size_t attrlen)
{
	twofa_ldap_config_t const *config = ldap->config;

	if (ldap->dn_by_search) {
		if (!name_attribute(config->filter, attr, attrlen)) return false;
		*base = config->base_dn;
		*filter = expand(ctx, config->filter, "*");
		return *filter != NULL;
	}
	if (!name_attribute(config->dn_template, attr, attrlen) || strncmp(config->dn_template, attr, strlen(attr)) ||
	    !(*base = strchr(config->dn_template, ','))) return false;
	(*base)++;
	*filter = talloc_asprintf(ctx, "(%s=*)", attr);
	return *filter != NULL;
}

static int name_cmp(void const *a, void const *b)
{
	return strcmp(*(char * const *) a, *(char * const *) b);
}

/*
 *	One page of the listing (RFC 2696, Simple Paged Results): the names
 *	of its entries appended to *names (n of them so far, grown under
 *	ctx), and *cookie replaced by the server's (empty after the last
 *	page).  The control is not critical: a server that does not page
 *	answers the whole search at once, and its size limit may cut that
 *	short (*result says so).  *result: the search's own result code.
 */
static int list_page(LDAP *ld, twofa_ldap_config_t const *config, char const *base, int scope, char const *filter,
		     char const *attr, unsigned int page_size, struct berval *cookie, TALLOC_CTX *ctx,
		     char ***names, size_t *n, int *result)
{
	char const	*attrs[2] = { attr, NULL };
	struct timeval	limit = ms_tv(config->timeout_ms);
	LDAPControl	*page = NULL, *ctrls[2] = { NULL, NULL }, **returned = NULL, *response;
	LDAPMessage	*res = NULL, *entry;
	struct berval	next = { 0, NULL };
	ber_int_t	estimate;
	char		**grown;
	int		msgid, rc;

	*result = LDAP_OTHER;
	if (limit.tv_sec == 0) limit.tv_sec = 1;
	rc = ldap_create_page_control(ld, (ber_int_t) page_size, cookie, 0, &page);
	if (rc != LDAP_SUCCESS) return rc;
	ctrls[0] = page;
	rc = ldap_search_ext(ld, base, scope, filter, (char **) attrs, 0, ctrls, NULL, &limit, 0, &msgid);
	ldap_control_free(page);
	if (rc == LDAP_SUCCESS) rc = wait_result(ld, msgid, config->timeout_ms, &res);
	if (rc == LDAP_SUCCESS) rc = ldap_parse_result(ld, res, result, NULL, NULL, NULL, &returned, 0);
	if (rc != LDAP_SUCCESS) {
		ldap_msgfree(res);
		return rc;
	}

	grown = talloc_realloc(ctx, *names, char *, *n + ldap_count_entries(ld, res) + 1);
	if (!grown) rc = LDAP_NO_MEMORY;
	else *names = grown;
	for (entry = grown ? ldap_first_entry(ld, res) : NULL; entry; entry = ldap_next_entry(ld, entry)) {
		char *name = first_value(*names, ld, entry, attr);

		if (name) (*names)[(*n)++] = name;
	}

	ber_memfree(cookie->bv_val);
	*cookie = (struct berval) { 0, NULL };
	response = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, returned, NULL);
	if (response && (ldap_parse_pageresponse_control(ld, response, &estimate, &next) == LDAP_SUCCESS)) *cookie = next;
	ldap_controls_free(returned);
	ldap_msgfree(res);
	return rc;
}

twofa_rcode_t twofa_ldap_list_users(twofa_ldap_t *ldap, TALLOC_CTX *ctx, unsigned int page_size,
				    twofa_ldap_log_t log, void *uctx, char ***out, size_t *count, bool *partial)
{
	logger_t		lg = { .log = log, .uctx = uctx };
	char			attr[128], *filter = NULL, **names = NULL;
	char const		*base = NULL;
	int			scope = ldap->dn_by_search ? LDAP_SCOPE_SUBTREE : LDAP_SCOPE_ONELEVEL;
	struct berval		cookie = { 0, NULL };
	conn_t			*conn;
	bool			fresh;
	int			rc, result = LDAP_OTHER;
	size_t			n = 0, before, pages = 0;

	*out = NULL;
	*count = 0;
	*partial = false;
	if (!page_size || (page_size > INT32_MAX)) return TWOFA_ERR_MALFORMED;
	if (!listing_search(ctx, ldap, &base, &filter, attr, sizeof(attr))) {
		say(&lg, TWOFA_LDAP_LOG_ERROR, "LDAP: no \"ATTRIBUTE={user}\" in the filter (or dn_template): "
		    "cannot tell which attribute holds the names");
		return TWOFA_ERR_MALFORMED;
	}
	conn = conn_get(ldap, POOL_SEARCH, &fresh, &lg);
	if (!conn) return TWOFA_ERR_UNAVAILABLE;

	/* Page after page, each within the timeout, until the server's cookie comes back empty. */
	do {
		before = n;
		rc = list_page(conn->ld, ldap->config, base, scope, filter, attr, page_size, &cookie, ctx, &names, &n,
			       &result);
		if (rc == LDAP_SUCCESS) rc = result;
		pages++;
		/* A page without an entry that still promises more: never loop on it. */
		if ((rc == LDAP_SUCCESS) && cookie.bv_len && (n == before)) rc = LDAP_SIZELIMIT_EXCEEDED;
	} while ((rc == LDAP_SUCCESS) && cookie.bv_len);
	ber_memfree(cookie.bv_val);

	if ((rc == LDAP_SIZELIMIT_EXCEEDED) || (rc == LDAP_TIMELIMIT_EXCEEDED)) {
		say(&lg, TWOFA_LDAP_LOG_WARN, "LDAP: search %s under %s: %s after %zu entries, the list is partial",
		    filter, base, ldap_err2string(rc), n);
		*partial = true;
	} else if (rc == LDAP_ADMINLIMIT_EXCEEDED) {
		say(&lg, TWOFA_LDAP_LOG_ERROR, "LDAP: search %s under %s: the server refuses pages of %u entries "
		    "(its limit for the service account is lower)", filter, base, page_size);
		pool_give(ldap, conn);
		return TWOFA_ERR_UNAVAILABLE;
	} else if (rc != LDAP_SUCCESS) {
		say(&lg, TWOFA_LDAP_LOG_ERROR, "LDAP: search %s under %s failed: %s", filter, base, ldap_err2string(rc));
		if (connection_lost(rc)) pool_lost(ldap, POOL_SEARCH, conn);
		pool_give(ldap, conn);
		if (rc == LDAP_NO_MEMORY) return TWOFA_ERR_NO_MEMORY;
		return (rc == LDAP_NO_SUCH_OBJECT) ? TWOFA_ERR_NOT_FOUND : TWOFA_ERR_UNAVAILABLE;
	}
	say(&lg, TWOFA_LDAP_LOG_DEBUG, "LDAP: %zu entries in %zu page%s of at most %u", n, pages,
	    (pages == 1) ? "" : "s", page_size);
	pool_give(ldap, conn);
	if (!names && !(names = talloc_array(ctx, char *, 1))) return TWOFA_ERR_NO_MEMORY;
	qsort(names, n, sizeof(names[0]), name_cmp);
	*out = names;
	*count = n;
	return TWOFA_OK;
}
