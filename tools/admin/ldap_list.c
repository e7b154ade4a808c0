/*
 * ldap_list.c	twofa-admin user list --ldap [--config FILE] [--page-size N] [--without-2fa]:
 *		the directory's users (password_source = ldap), each with
 *		whether the store holds a second factor for them: the overview
 *		of who has not enrolled yet.  The directory is opened as the
 *		module opens it (ldap.c), from the ldap { } section of the
 *		module's own file read with radconf.c (default
 *		DEFAULT_MODULE_CONFIG): a search as the service account, in
 *		pages (RFC 2696), so that a size limit per search (Active
 *		Directory's MaxPageSize) does not cut the list short.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin.h"
#include "../radconf.h"
#include "../../rlm_twofa/ldap.h"
#include "../../rlm_twofa/policy.h"

#define SERVERS_MAX		16
#define TIMEOUT_DEFAULT		3		//!< seconds, as the module's
#define TIMEOUT_MAX		600

typedef struct {
	twofa_ldap_config_t	config;
	char const		*servers[SERVERS_MAX];
} ldap_settings_t;

/** The value of key in section, dflt if absent; NULL and *ret set if it holds ${...}. */
static char const *value_of(radconf_item_t const *section, char const *key, char const *dflt, int *ret)
{
	radconf_item_t const *p = radconf_pair(section, key, NULL);

	if (!p) return dflt;
	if (p->expands) {
		*ret = say(ADMIN_REFUSED, "ldap { %s } (line %u) holds a ${...} expansion, which twofa-admin does not "
			   "expand: write the value itself there", key, p->line);
		return NULL;
	}
	return p->value;
}

static int seconds_of(radconf_item_t const *section, char const *key, unsigned int *ms)
{
	int		ret = ADMIN_OK;
	char const	*v = value_of(section, key, NULL, &ret);
	unsigned int	s = TIMEOUT_DEFAULT;

	if (ret != ADMIN_OK) return ret;
	if (v && ((ret = parse_uint(v, key, 1, TIMEOUT_MAX, &s)) != ADMIN_OK)) return ret;
	*ms = s * 1000;
	return ADMIN_OK;
}

static int ldap_settings(radconf_item_t const *s, ldap_settings_t *l)
{
	twofa_ldap_config_t	*c = &l->config;
	radconf_item_t const	*p = NULL;
	char const		*tls;
	char			err[256];
	int			ret = ADMIN_OK;

	while ((p = radconf_pair(s, "server", p))) {
		if (p->expands) return say(ADMIN_REFUSED, "ldap { server } (line %u) holds a ${...} expansion", p->line);
		if (c->num_servers == SERVERS_MAX) return say(ADMIN_REFUSED, "more than %d ldap servers", SERVERS_MAX);
		l->servers[c->num_servers++] = p->value;
	}
	c->servers = l->servers;
	tls = value_of(s, "start_tls", "yes", &ret);
	c->start_tls = tls && (strcmp(tls, "no") != 0);
	c->ca_file = value_of(s, "ca_file", "", &ret);
	c->require_cert = value_of(s, "require_cert", "demand", &ret);
	c->dn_template = value_of(s, "dn_template", "", &ret);
	c->base_dn = value_of(s, "base_dn", "", &ret);
	c->filter = value_of(s, "filter", "", &ret);
	c->bind_dn = value_of(s, "bind_dn", "", &ret);
	c->bind_password = value_of(s, "bind_password", "", &ret);
	c->membership_attribute = c->member_attribute = "";
	c->mobile_attribute = c->mail_attribute = c->mail2_attribute = "";
	c->allow_group = c->require_2fa_group = c->skip_2fa_group = "";
	c->pool_size = 1;
	if (ret != ADMIN_OK) return ret;
	if (((ret = seconds_of(s, "net_timeout", &c->net_timeout_ms)) != ADMIN_OK) ||
	    ((ret = seconds_of(s, "timeout", &c->timeout_ms)) != ADMIN_OK)) return ret;
	if (!twofa_ldap_config_valid(c, err, sizeof(err))) return say(ADMIN_REFUSED, "ldap { }: %s", err);
	return ADMIN_OK;
}

/** Read path; take the first "twofa [NAME] { }" section's ldap { }. */
static int read_ldap_settings(admin_t *a, char const *path, ldap_settings_t *l)
{
	radconf_item_t const	*section;
	int			ret = module_subsection(a, path, "ldap", &section);

	if (ret != ADMIN_OK) return ret;
	if (!section) return say(ADMIN_REFUSED, "%s: no ldap { } section in twofa { }", path);
	return ldap_settings(section, l);
}

/* ldap.c's failures on stderr; its details are radiusd's debug, not ours. */
static void ldap_log(void *uctx, twofa_ldap_log_level_t level, char const *msg)
{
	if (level != TWOFA_LDAP_LOG_DEBUG) say(ADMIN_OK, "%s", msg);
}

typedef enum { HAS_2FA, NO_2FA, EXEMPT } second_factor_t;

static char const *second_factor_names[] = { "yes", "no", "exempt" };

int user_list_ldap(admin_t *a, char const *config, unsigned int page_size, bool only_without_2fa)
{
	ldap_settings_t		l = { 0 };
	twofa_ldap_t		*ldap = NULL;
	char			**names;
	size_t			count, i, width = 4, shown = 0;
	bool			partial;
	twofa_rcode_t		rc;
	int			ret;

	if ((ret = read_ldap_settings(a, config, &l)) != ADMIN_OK) return ret;
	if ((ret = open_store(a, false)) != ADMIN_OK) return ret;
	if (twofa_ldap_open(a->ctx, &l.config, &ldap) != TWOFA_OK) return say(ADMIN_ERROR, "out of memory");
	rc = twofa_ldap_list_users(ldap, a->ctx, page_size, ldap_log, NULL, &names, &count, &partial);
	talloc_free(ldap);		/* before l, its config, goes */
	if (rc != TWOFA_OK) return say(exit_status(rc) ? exit_status(rc) : ADMIN_ERROR, "cannot list the directory's users");

	for (i = 0; i < count; i++) if (strlen(names[i]) > width) width = strlen(names[i]);
	if (a->json) fputs("[", stdout);
	else printf("%-*s  %-8s  %s\n", (int) width, "NAME", "IN STORE", "2FA");
	for (i = 0; i < count; i++) {
		twofa_user_t	*u = NULL;
		second_factor_t	state;

		if (!twofa_user_name_valid(names[i], strlen(names[i]))) continue;	/* no login could use it */
		rc = twofa_store_get_user(a->store, a->ctx, names[i], &u);
		if ((rc != TWOFA_OK) && (rc != TWOFA_ERR_NOT_FOUND)) return store_failed(a, rc, names[i]);
		state = !u ? NO_2FA : u->exempt ? EXEMPT : user_without_2fa(u) ? NO_2FA : HAS_2FA;
		if (only_without_2fa && (state != NO_2FA)) continue;
		if (a->json) {
			fputs(shown++ ? ",\n{\"name\":" : "\n{\"name\":", stdout);
			json_escape(stdout, names[i]);
			printf(",\"in_store\":%s,\"second_factor\":\"%s\"}", u ? "true" : "false",
			       second_factor_names[state]);
		} else {
			printf("%-*s  %-8s  %s\n", (int) width, names[i], u ? "yes" : "no", second_factor_names[state]);
		}
		talloc_free(u);
	}
	if (a->json) fputs("\n]\n", stdout);
	if (partial) say(ADMIN_OK, "the directory's size or time limit cut the list short (a server without paged results?)");
	return ADMIN_OK;
}
