/*
 * mod_config.c	the module's configuration: its CONF_PARSER tables, and what instantiate
 *		checks and builds from them (messages, prompts, enforce, LDAP, the
 *		gateways, the NAS rules, reply attributes, State keys, the wiring
 *		of the virtual servers that call the module).
 */
RCSID("$Id$")

#include <openssl/evp.h>

#include "module.h"

char const *twofa_enforce_names[] = {
	[ENFORCE_REQUIRED] = "required",
	[ENFORCE_OPTIONAL] = "optional",
};

static const CONF_PARSER totp_config[] = {
	{ "window", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, window), "1" },
	CONF_PARSER_TERMINATOR
};

static const CONF_PARSER lockout_config[] = {
	{ "max_failures", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, lockout.max_failures), "10" },
	{ "duration", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, lockout.lock_seconds), "900" },
	{ "max_duration", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, lockout.max_lock_seconds), "86400" },
	CONF_PARSER_TERMINATOR
};

static const CONF_PARSER throttle_config[] = {
	{ "free_failures", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, throttle.free_failures), "5" },
	{ "delay", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, throttle.delay_seconds), "1" },
	{ "max_delay", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, throttle.max_delay_seconds), "900" },
	CONF_PARSER_TERMINATOR
};

static const CONF_PARSER backup_config[] = {
	{ "backup_codes_low", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, backup_codes_low), "2" },
	{ "challenge_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, backup_challenge),
	  "Enter one of your backup codes" },
	{ "retry_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, backup_retry),
	  "Wrong code. Enter one of your backup codes (attempts left: {attempts})" },
	CONF_PARSER_TERMINATOR
};

/* Settings of the PostgreSQL backend only (store = postgresql://...). */
static const CONF_PARSER postgresql_config[] = {
	{ "password_file", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, pg.password_file), "" },
	{ "connect_timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, pg.connect_timeout), "5" },
	{ "statement_timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, pg.statement_timeout), "2000" },
	{ "pool_size", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, pg.pool_size), "10" },
	CONF_PARSER_TERMINATOR
};

/* Settings of the SQLite backend only (store = sqlite:PATH, or a path). */
static const CONF_PARSER sqlite_config[] = {
	{ "busy_timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, busy_timeout), "1000" },
	CONF_PARSER_TERMINATOR
};

/* password_source = ldap: raddb/mods-available/twofa says what each one does. */
static const CONF_PARSER ldap_groups_config[] = {
	{ "membership_attribute", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.membership_attribute), "memberOf" },
	{ "member_attribute", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.member_attribute), "member" },
	{ "allow", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.allow_group), "" },
	{ "require_2fa", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.require_2fa_group), "" },
	{ "skip_2fa", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.skip_2fa_group), "" },
	CONF_PARSER_TERMINATOR
};

static const CONF_PARSER ldap_config[] = {
	{ "server", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_MULTI, rlm_twofa_t, ldap_server), NULL },
	{ "start_tls", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_twofa_t, ldap_config.start_tls), "yes" },
	{ "ca_file", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.ca_file), "" },
	{ "require_cert", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.require_cert), "demand" },
	{ "dn_template", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.dn_template), "" },
	{ "base_dn", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.base_dn), "" },
	{ "filter", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.filter), "" },
	{ "bind_dn", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.bind_dn), "" },
	{ "bind_password", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_SECRET, rlm_twofa_t, ldap_config.bind_password), "" },
	{ "net_timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, ldap_net_timeout), "3" },
	{ "timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, ldap_timeout), "3" },
	{ "pool_size", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, ldap_config.pool_size), "8" },
	{ "mobile_attribute", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.mobile_attribute), "mobile" },
	{ "mail_attribute", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.mail_attribute), "mail" },
	{ "mail2_attribute", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, ldap_config.mail2_attribute), "" },
	{ "groups", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) ldap_groups_config },
	CONF_PARSER_TERMINATOR
};

/* SMS over HTTP(S): raddb/mods-available/twofa says what each one does. */
static const CONF_PARSER sms_config[] = {
	{ "url", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, sms.url), NULL },
	{ "method", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, sms.method), NULL },
	{ "header", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_MULTI, rlm_twofa_t, sms_header), NULL },
	{ "body", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, sms.body), NULL },
	{ "content_type", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, sms.content_type), NULL },
	{ "message", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, sms.message), "Your code is {code}" },
	{ "username", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, sms.username), NULL },
	{ "password", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_SECRET, rlm_twofa_t, sms.password), NULL },
	{ "bearer_token", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_SECRET, rlm_twofa_t, sms.bearer_token), NULL },
	{ "aws_sigv4", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, sms.aws_sigv4), NULL },
	{ "success_status", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, sms.success_status), NULL },
	{ "success_body", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, sms.success_body), NULL },
	{ "ca_file", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, sms.ca_file), NULL },
	{ "timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, sms_timeout), "10" },
	{ "code_length", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, sms_digits), "6" },
	{ "lifetime", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, sms_lifetime), "300" },
	{ "challenge_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, sms_challenge),
	  "Enter the code sent by SMS to {to}" },
	{ "retry_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, sms_retry),
	  "Wrong code. Enter the code sent to you by SMS (attempts left: {attempts})" },
	{ "append_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, sms_sent),
	  "Code sent by SMS to {to}. Log in again with your password followed by the code" },
	{ "ask_number_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, sms_ask_message),
	  "Enter your mobile number in international format (+44...) to get a code" },
	{ "ask_number_retry_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, sms_ask_retry),
	  "That is no number in international format. Enter it as +44... (attempts left: {attempts})" },
	CONF_PARSER_TERMINATOR
};

/* Email over SMTP. */
static const CONF_PARSER email_config[] = {
	{ "url", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, mail.url), NULL },
	{ "require_starttls", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_twofa_t, mail_require_starttls), "yes" },
	{ "username", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, mail.username), NULL },
	{ "password", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_SECRET, rlm_twofa_t, mail.password), NULL },
	{ "ca_file", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, mail.ca_file), NULL },
	{ "from", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, mail.from), NULL },
	{ "subject", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, mail.subject), "Your login code" },
	{ "body", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, mail.body),
	  "Hello {user},\n\nyour login code is {code}.\n" },
	{ "timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, mail_timeout), "10" },
	{ "code_length", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, mail_digits), "6" },
	{ "lifetime", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, mail_lifetime), "300" },
	{ "challenge_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, mail_challenge),
	  "Enter the code sent by email to {to}" },
	{ "retry_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, mail_retry),
	  "Wrong code. Enter the code sent to you by email (attempts left: {attempts})" },
	{ "append_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, mail_sent),
	  "Code sent by email to {to}. Log in again with your password followed by the code" },
	CONF_PARSER_TERMINATOR
};

static const CONF_PARSER send_limits_config[] = {
	{ "per_user", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, per_user_hour), "5" },
	{ "per_nas", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, per_nas_hour), "200" },
	CONF_PARSER_TERMINATOR
};

static const CONF_PARSER words_config[] = {
	{ "sms", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, words[WORD_SMS]), "sms" },
	{ "email", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, words[WORD_EMAIL]), "email" },
	{ "totp", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, words[WORD_TOTP]), "totp" },
	{ "resend", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, words[WORD_RESEND]), "resend" },
	CONF_PARSER_TERMINATOR
};

const CONF_PARSER twofa_module_config[] = {
	{ "store", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, store_path), "/var/lib/freeradius/twofa/twofa.db" },
	{ "key_file", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, key_file), "/var/lib/freeradius/twofa/twofa.key" },
	{ "state", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, state_name), "sealed" },
	{ "state_key_file", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, state_key_file), "" },
	{ "state_previous_key_file", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, previous_key_file), "" },
	/* Deprecated, no default: parse_busy_timeout() looks for the pair itself. */
	{ "busy_timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, old_busy_timeout), NULL },
	{ "sqlite", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) sqlite_config },
	{ "postgresql", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) postgresql_config },
	{ "password_source", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, password_source_name), "local" },
	{ "enforce", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, enforce_name), "required" },
	/* Deprecated, no default: parse_enforce() looks for the pair itself. */
	{ "require", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_twofa_t, require), NULL },
	{ "optional_reminder", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, optional_reminder), "" },
	{ "challenge_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, challenge_message),
	  "Enter the 6-digit code from your authenticator app" },
	{ "retry_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, retry_message),
	  "Wrong code. Enter the 6-digit code from your authenticator app (attempts left: {attempts})" },
	{ "reject_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, reject_message),
	  "Authentication failed" },
	{ "enrol_at_login", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_twofa_t, enrol_at_login), "no" },
	{ "enrol_message", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, enrol_message),
	  "Set up your authenticator app: add a time-based account with the key {secret} "
	  "then enter the 6-digit code it shows" },
	{ "challenge_timeout", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, challenge_timeout), "60" },
	{ "attempts", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, attempts), "3" },
	{ "audit_days", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, audit_days), "90" },
	/* FILE_INPUT: radiusd notes its mtime, and a HUP after a change re-instantiates the module. */
	{ "policy_file", FR_CONF_OFFSET(PW_TYPE_FILE_INPUT, rlm_twofa_t, policy_file), NULL },
	{ "totp", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) totp_config },
	{ "lockout", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) lockout_config },
	{ "password_throttle", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) throttle_config },
	{ "backup", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) backup_config },
	{ "ldap", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) ldap_config },
	{ "sms", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) sms_config },
	{ "email", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) email_config },
	{ "sms_ask_number", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_twofa_t, sms_ask_number), "no" },
	{ "send_wait", FR_CONF_OFFSET(PW_TYPE_TIMEVAL, rlm_twofa_t, send_wait), "2" },
	{ "queue_max", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, queue_max), "64" },
	{ "send_limits", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) send_limits_config },
	{ "failmode", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, failmode_name), "secure" },
	{ "resend_limit", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, resend_limit), "3" },
	{ "words", FR_CONF_POINTER(PW_TYPE_SUBSECTION, NULL), (void const *) words_config },
	/* NAS compatibility: append mode, remembered devices, names, EAP-TLS (reply { } is read apart). */
	{ "append", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_twofa_t, append), "no" },
	{ "append_separator", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_twofa_t, append_separator), "" },
	{ "remember_days", FR_CONF_OFFSET(PW_TYPE_INTEGER, rlm_twofa_t, remember_days), "30" },
	{ "user_name", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, user_name_source), "stripped" },
	{ "eap_tls", FR_CONF_OFFSET(PW_TYPE_STRING | PW_TYPE_NOT_EMPTY, rlm_twofa_t, eap_tls_name), "require" },
	CONF_PARSER_TERMINATOR
};

/*
 *	Request data is keyed by a pointer that outlives a HUP: the new
 *	instance of a name gets the old one's key, so a request that
 *	straddles a reload (authenticate by the old instance, post-auth by
 *	the new) finds what was decided.  Instantiate runs in the main
 *	thread only; the keys live as long as the process.
 */
typedef struct decision_key {
	struct decision_key	*next;
	char			name[];
} decision_key_t;

static void const *decision_key(char const *name)
{
	static decision_key_t	*keys;
	decision_key_t		*key;

	for (key = keys; key; key = key->next) {
		if (strcmp(key->name, name) == 0) return key;
	}
	key = malloc(sizeof(*key) + strlen(name) + 1);
	if (!key) return NULL;
	strcpy(key->name, name);
	key->next = keys;
	keys = key;
	return key;
}

/*
 *	Register a session-state attribute (once, shared by all instances),
 *	flagged secret: Twofa-Pending holds the enrolment's sealed TOTP
 *	secret, and with "suppress_secrets = yes" radiusd -X and -xx print it
 *	as <<< secret >>>, as they do User-Password.
 */
static DICT_ATTR const *session_attr(char const *name, PW_TYPE type)
{
	DICT_ATTR const	*da = dict_attrbyname(name);
	ATTR_FLAGS	flags;

	if (da) return da;	/* a HUP's new instance: registered at start, the dictionary is not written again */
	memset(&flags, 0, sizeof(flags));
	flags.secret = 1;
	if (dict_addattr(name, -1, 0, type, flags) < 0) {
		ERROR("rlm_twofa: Failed creating attribute %s: %s", name, fr_strerror());
		return NULL;
	}

	return dict_attrbyname(name);
}

/*
 *	No bootstrap method: FreeRADIUS 3.2 re-instantiates on HUP only a
 *	HUP-safe module without one (module_hup_module()).  What bootstrap
 *	did (the name, Twofa-Pending) is instantiate's first step.
 */
int mod_name_and_attrs(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	inst->name = cf_section_name2(conf);
	if (!inst->name) inst->name = cf_section_name1(conf);
	inst->decision_key = decision_key(inst->name);
	if (!inst->decision_key) return -1;

	inst->da_pending = session_attr("Twofa-Pending", PW_TYPE_OCTETS);
	if (!inst->da_pending) return -1;
	inst->da_pending_nas = session_attr("Twofa-Pending-NAS", PW_TYPE_STRING);
	if (!inst->da_pending_nas) return -1;

	return 0;
}

/*
 *	radiusd re-instantiates the module on HUP only if a file it watches
 *	changed: policy_file (a FILE_INPUT item) and, registered here the same
 *	way, each @FILE list the rules read.  Else a list edited alone would
 *	be "HUP - No files changed" until a restart.  The pairs live in a
 *	subsection of the module's own, reused at each instantiate: radiusd's
 *	list of watched files points at it for as long as it runs.
 */
#define POLICY_LISTS_SECTION	"policy_file_lists"

static int watch_policy_lists(CONF_SECTION *conf, twofa_netpolicy_t const *policy)
{
	CONF_SECTION	*cs;
	unsigned int	i;

	if (!policy->num_lists) return 0;
	if (!(cs = cf_section_sub_find(conf, POLICY_LISTS_SECTION))) {
		MEM(cs = cf_section_alloc(conf, POLICY_LISTS_SECTION, NULL));
		cf_section_add(conf, cs);
	}
	for (i = 0; i < policy->num_lists; i++) {
		char		name[32];
		char const	*watched = NULL;
		CONF_PAIR	*cp;

		snprintf(name, sizeof(name), "list%u", i);
		if ((cp = cf_pair_find(cs, name))) {
			if (cf_pair_replace(cs, cp, policy->lists[i]) < 0) return -1;
		} else {
			MEM(cp = cf_pair_alloc(cs, name, policy->lists[i], T_OP_EQ, T_BARE_WORD, T_SINGLE_QUOTED_STRING));
			cf_pair_add(cs, cp);
		}
		/* Also refuses a world-writable list, as radiusd does policy_file. */
		if (cf_item_parse(cs, name, PW_TYPE_FILE_INPUT, &watched, NULL) < 0) {
			cf_log_err_cs(conf, "policy_file: cannot watch %s for changes", policy->lists[i]);
			return -1;
		}
	}
	return 0;
}

/*
 *	policy_file: read whole at instantiate, so at start and on each HUP
 *	that re-instantiates the module (the file changed, or the
 *	configuration did, or "radmin hup twofa").  A bad file stops radiusd
 *	at start, and on HUP keeps the instance (and rules) already running.
 *	The rules are a child of the instance: a request in flight keeps the
 *	instance it started with, which FreeRADIUS frees no sooner than 60 s
 *	after it is replaced.
 */
int load_policy(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	char err[512];

	if (!inst->policy_file) return 0;
	if (twofa_netpolicy_load(inst, inst->policy_file, &inst->policy, err, sizeof(err)) < 0) {
		cf_log_err_cs(conf, "policy_file: %s", err);
		return -1;
	}
	if (watch_policy_lists(conf, inst->policy) < 0) return -1;
	INFO("rlm_twofa (%s): policy_file %s: %u rule%s, %zu address%s and name%s", inst->name, inst->policy_file,
	     inst->policy->count, (inst->policy->count == 1) ? "" : "s", inst->policy->entries,
	     (inst->policy->entries == 1) ? "" : "es", (inst->policy->entries == 1) ? "" : "s");
	return 0;
}

/*
 *	cf_section_parse() adds each option left out with its default as a
 *	pair of its own, from file "<internal>" at line 0: only a pair from
 *	a real file was written by the admin.
 */
static bool written_in_file(CONF_PAIR const *cp)
{
	return cp && (cf_pair_lineno(cp) > 0);
}

/*
 *	enforce = required | optional, or the deprecated require = yes | no
 *	(no default: its pair is there only if the admin wrote it).  Both
 *	at once is refused: which one wins would be a guess.
 */
/* busy_timeout moved into sqlite { }, where the backend's own settings are; the old place still works. */
static int parse_busy_timeout(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	CONF_PAIR	*old = cf_pair_find(conf, "busy_timeout");
	CONF_SECTION	*sqlite = cf_section_sub_find(conf, "sqlite");

	if (!old) return 0;
	if (sqlite && written_in_file(cf_pair_find(sqlite, "busy_timeout"))) {
		cf_log_err_cp(old, "\"busy_timeout\" is deprecated, and sqlite { busy_timeout } is set too: remove this one");
		return -1;
	}
	WARN("%s[%d]: \"busy_timeout\" is deprecated: write it in a \"sqlite { }\" section instead",
	     cf_pair_filename(old), cf_pair_lineno(old));
	inst->busy_timeout = inst->old_busy_timeout;
	return 0;
}

static int parse_enforce(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	CONF_PAIR *require = cf_pair_find(conf, "require");
	CONF_PAIR *enforce = cf_pair_find(conf, "enforce");

	if (require && written_in_file(enforce)) {
		cf_log_err_cp(require, "\"require\" is deprecated, and \"enforce\" is set too (line %d): "
			      "with both set, remove \"require\"", cf_pair_lineno(enforce));
		return -1;
	}
	if (require) {
		inst->enforce = inst->require ? ENFORCE_REQUIRED : ENFORCE_OPTIONAL;
		WARN("%s[%d]: \"require\" is deprecated: write \"enforce = %s\" instead",
		     cf_pair_filename(require), cf_pair_lineno(require), twofa_enforce_names[inst->enforce]);
		return 0;
	}

	if (strcmp(inst->enforce_name, twofa_enforce_names[ENFORCE_REQUIRED]) == 0) {
		inst->enforce = ENFORCE_REQUIRED;
	} else if (strcmp(inst->enforce_name, twofa_enforce_names[ENFORCE_OPTIONAL]) == 0) {
		inst->enforce = ENFORCE_OPTIONAL;
	} else {
		cf_log_err_cp(enforce, "enforce must be \"required\" or \"optional\", not \"%s\"",
			      inst->enforce_name);
		return -1;
	}

	return 0;
}

/** Warn of a message longer than a Reply-Message holds: it goes out cut. */
static void check_message_length(rlm_twofa_t const *inst, char const *option, size_t len)
{
	if (len <= TWOFA_REPLY_MESSAGE_MAX) return;
	WARN("rlm_twofa (%s): %s is %zu bytes; a Reply-Message holds %d, the rest is cut off",
	     inst->name, option, len, TWOFA_REPLY_MESSAGE_MAX);
}

static void check_messages(rlm_twofa_t const *inst)
{
	char buffer[TWOFA_REPLY_MESSAGE_MAX + 2];	/* one byte more than fits: shows a cut */

	check_message_length(inst, "challenge_message", strlen(inst->challenge_message));
	check_message_length(inst, "reject_message", strlen(inst->reject_message));
	check_message_length(inst, "optional_reminder", strlen(inst->optional_reminder));
	if ((inst->enforce == ENFORCE_REQUIRED) && (inst->optional_reminder[0] != '\0')) {
		WARN("rlm_twofa (%s): optional_reminder is never sent with enforce = required", inst->name);
	}
	check_message_length(inst, "retry_message (expanded)",
			     twofa_message_expand(buffer, sizeof(buffer), inst->retry_message, inst->attempts));
	check_message_length(inst, "backup.challenge_message", strlen(inst->backup_challenge));
	check_message_length(inst, "backup.retry_message (expanded)",
			     twofa_message_expand(buffer, sizeof(buffer), inst->backup_retry, inst->attempts));
}

/*
 *	Each method's prompts, by its id: the flow picks them by the pending
 *	method, without knowing which is which.  An enrolment's first text is
 *	enrol_message (with the secret), its retry the TOTP one.
 */
static void set_prompts(rlm_twofa_t *inst)
{
	inst->prompts[TWOFA_METHOD_TOTP].challenge = inst->challenge_message;
	inst->prompts[TWOFA_METHOD_TOTP].retry = inst->retry_message;
	inst->prompts[TWOFA_METHOD_BACKUP].challenge = inst->backup_challenge;
	inst->prompts[TWOFA_METHOD_BACKUP].retry = inst->backup_retry;
	inst->prompts[TWOFA_METHOD_ENROL].challenge = inst->enrol_message;
	inst->prompts[TWOFA_METHOD_ENROL].retry = inst->retry_message;
	inst->prompts[TWOFA_METHOD_SMS].challenge = inst->sms_challenge;
	inst->prompts[TWOFA_METHOD_SMS].retry = inst->sms_retry;
	inst->prompts[TWOFA_METHOD_SMS].sent = inst->sms_sent;
	inst->prompts[TWOFA_METHOD_SMS_NEW].challenge = inst->sms_challenge;
	inst->prompts[TWOFA_METHOD_SMS_NEW].retry = inst->sms_retry;
	inst->prompts[TWOFA_METHOD_SMS_NUMBER].challenge = inst->sms_ask_message;
	inst->prompts[TWOFA_METHOD_SMS_NUMBER].retry = inst->sms_ask_retry;
	inst->prompts[TWOFA_METHOD_EMAIL].challenge = inst->mail_challenge;
	inst->prompts[TWOFA_METHOD_EMAIL].retry = inst->mail_retry;
	inst->prompts[TWOFA_METHOD_EMAIL].sent = inst->mail_sent;
}

/*
 *	enrol_message must show the whole secret: a text without {secret},
 *	or too long with the longest secret in it, is refused at start
 *	rather than send a user a key cut short.
 */
static int check_enrol_message(rlm_twofa_t const *inst, CONF_SECTION *conf)
{
	char	buffer[TWOFA_REPLY_MESSAGE_MAX + 1];
	char	longest[TWOFA_ENROL_SECRET_TEXT_MAX + 1];

	memset(longest, 'A', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	if (twofa_enrol_message_expand(buffer, sizeof(buffer), inst->enrol_message, longest)) return 0;

	cf_log_err_cs(conf, "enrol_message must hold \"%s\", and with a secret of %d characters in it fit the "
		      "%d bytes of a Reply-Message", TWOFA_SECRET_TOKEN, TWOFA_ENROL_SECRET_TEXT_MAX,
		      TWOFA_REPLY_MESSAGE_MAX);
	return -1;
}

static int reply_attribute(rlm_twofa_t *inst, VALUE_PAIR **list, char const *name, char const *value,
			   char *err, size_t err_len);

/* A group's tag in a pending challenge: SHA-256 of its DN as written, the first 4 bytes (0: none). */
static uint32_t group_tag(char const *dn)
{
	uint8_t		md[EVP_MAX_MD_SIZE];
	unsigned int	len = 0;
	uint32_t	tag;

	if (!EVP_Digest(dn, strlen(dn), md, &len, EVP_sha256(), NULL) || (len < 4)) return 0;
	tag = ((uint32_t) md[0] << 24) | ((uint32_t) md[1] << 16) | ((uint32_t) md[2] << 8) | md[3];
	return tag ? tag : 1;
}

/*
 *	ldap { groups { reply { "GROUP-DN" = "Attr = value, ..." } } }: each
 *	line's list read by the parser of a policy_file rule's reply=
 *	(twofa_netpolicy_reply_parse), then each attribute checked in the
 *	dictionary as the module's reply { } is.  Any error stops radiusd.
 */
static int parse_group_replies(CONF_SECTION *ldap_cs, rlm_twofa_t *inst)
{
	CONF_SECTION		*groups = ldap_cs ? cf_section_sub_find(ldap_cs, "groups") : NULL;
	CONF_SECTION		*cs = groups ? cf_section_sub_find(groups, "reply") : NULL;
	twofa_ldap_config_t	*config = &inst->ldap_config;
	CONF_ITEM		*ci;
	char			err[512];
	size_t			n = 0, i;

	for (ci = cs ? cf_item_find_next(cs, NULL) : NULL; ci; ci = cf_item_find_next(cs, ci)) n += cf_item_is_pair(ci);
	if (!n) return 0;
	MEM(inst->group_replies = talloc_zero_array(inst, group_reply_t, n));
	MEM(config->reply_groups = talloc_zero_array(inst, char const *, n));

	for (ci = cf_item_find_next(cs, NULL); ci; ci = cf_item_find_next(cs, ci)) {
		CONF_PAIR			*cp;
		group_reply_t			*g;
		twofa_netpolicy_reply_t const	*list = NULL;
		unsigned int			count = 0, j;

		if (!cf_item_is_pair(ci)) continue;
		cp = cf_item_to_pair(ci);
		g = &inst->group_replies[inst->num_group_replies];
		g->group = cf_pair_attr(cp);
		if (!cf_pair_value(cp)) {
			cf_log_err_cp(cp, "ldap.groups.reply: group \"%s\" has no attribute list", g->group);
			return -1;
		}
		if (twofa_netpolicy_reply_parse(inst, cf_pair_value(cp), &list, &count, err, sizeof(err)) < 0) {
			cf_log_err_cp(cp, "ldap.groups.reply: group \"%s\": %s", g->group, err);
			return -1;
		}
		for (j = 0; j < count; j++) {
			if (reply_attribute(inst, &g->vps, list[j].name, list[j].value, err, sizeof(err)) < 0) {
				cf_log_err_cp(cp, "ldap.groups.reply: group \"%s\": reply: %s", g->group, err);
				talloc_free((void *) list);
				return -1;
			}
		}
		talloc_free((void *) list);
		g->tag = group_tag(g->group);
		for (i = 0; i < inst->num_group_replies; i++) {
			if ((strcasecmp(inst->group_replies[i].group, g->group) == 0) || (inst->group_replies[i].tag == g->tag)) {
				cf_log_err_cp(cp, "ldap.groups.reply: group \"%s\" %s", g->group,
					      (inst->group_replies[i].tag == g->tag) && strcasecmp(inst->group_replies[i].group, g->group) ?
					      "has the tag of an earlier group (a hash collision): spell its DN otherwise" :
					      "is listed twice");
				return -1;
			}
		}
		if (!g->tag) {
			cf_log_err_cp(cp, "ldap.groups.reply: cannot hash group \"%s\"", g->group);
			return -1;
		}
		config->reply_groups[inst->num_group_replies++] = g->group;
	}
	config->num_reply_groups = inst->num_group_replies;
	return 0;
}

/*
 *	password_source = ldap: the ldap { } section into ldap.c's config.
 *	Every "server" line, in order (failover); timeouts in ms.
 */
static int parse_ldap_config(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	CONF_SECTION		*cs = cf_section_sub_find(conf, "ldap");
	twofa_ldap_config_t	*config = &inst->ldap_config;
	CONF_PAIR		*cp;
	char			err[256];
	size_t			i;

	for (cp = cs ? cf_pair_find(cs, "server") : NULL; cp; cp = cf_pair_find_next(cs, cp, "server")) {
		config->servers = talloc_realloc(inst, config->servers, char const *, config->num_servers + 1);
		if (!config->servers) return -1;
		config->servers[config->num_servers++] = cf_pair_value(cp);
	}
	FR_INTEGER_BOUND_CHECK("ldap.net_timeout", inst->ldap_net_timeout, >=, 1);
	FR_INTEGER_BOUND_CHECK("ldap.net_timeout", inst->ldap_net_timeout, <=, 60);
	FR_INTEGER_BOUND_CHECK("ldap.timeout", inst->ldap_timeout, >=, 1);
	FR_INTEGER_BOUND_CHECK("ldap.timeout", inst->ldap_timeout, <=, 60);
	FR_INTEGER_BOUND_CHECK("ldap.pool_size", config->pool_size, >=, 1);
	FR_INTEGER_BOUND_CHECK("ldap.pool_size", config->pool_size, <=, 1024);
	config->net_timeout_ms = inst->ldap_net_timeout * 1000;
	config->timeout_ms = inst->ldap_timeout * 1000;
	if (!config->require_cert) config->require_cert = "";
	if (parse_group_replies(cs, inst) < 0) return -1;

	if (!twofa_ldap_config_valid(config, err, sizeof(err))) {
		cf_log_err_cs(cs ? cs : conf, "ldap: %s", err);
		return -1;
	}
	for (i = 0; i < config->num_servers; i++) {
		if (!config->start_tls && (strncasecmp(config->servers[i], "ldap:", 5) == 0)) {
			WARN("rlm_twofa (%s): ldap server %s without start_tls: passwords cross the network in clear",
			     inst->name, config->servers[i]);
		}
	}
	if (strcmp(config->require_cert, "never") == 0) {
		WARN("rlm_twofa (%s): ldap require_cert = never: any server may pose as the directory", inst->name);
	}
	return 0;
}

/* An empty string in the config is no value. */
static char const *unset_if_empty(char const *s)
{
	return (s && *s) ? s : NULL;
}

/* sms { }, email { } and the send settings: bounds, failmode. */
static int parse_send_config(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	if (strcmp(inst->failmode_name, "secure") == 0) {
		inst->failmode = FAILMODE_SECURE;
	} else if (strcmp(inst->failmode_name, "another-method") == 0) {
		inst->failmode = FAILMODE_ANOTHER_METHOD;
	} else {
		cf_log_err_cs(conf, "failmode must be \"secure\" or \"another-method\", not \"%s\"", inst->failmode_name);
		return -1;
	}
	FR_INTEGER_BOUND_CHECK("sms.code_length", inst->sms_digits, >=, TWOFA_OOB_DIGITS_MIN);
	FR_INTEGER_BOUND_CHECK("sms.code_length", inst->sms_digits, <=, TWOFA_OOB_DIGITS_MAX);
	FR_INTEGER_BOUND_CHECK("email.code_length", inst->mail_digits, >=, TWOFA_OOB_DIGITS_MIN);
	FR_INTEGER_BOUND_CHECK("email.code_length", inst->mail_digits, <=, TWOFA_OOB_DIGITS_MAX);
	FR_INTEGER_BOUND_CHECK("sms.lifetime", inst->sms_lifetime, >=, 1);
	FR_INTEGER_BOUND_CHECK("sms.lifetime", inst->sms_lifetime, <=, TWOFA_OOB_LIFETIME_MAX);
	FR_INTEGER_BOUND_CHECK("email.lifetime", inst->mail_lifetime, >=, 1);
	FR_INTEGER_BOUND_CHECK("email.lifetime", inst->mail_lifetime, <=, TWOFA_OOB_LIFETIME_MAX);
	FR_INTEGER_BOUND_CHECK("sms.timeout", inst->sms_timeout, >=, 1);
	FR_INTEGER_BOUND_CHECK("sms.timeout", inst->sms_timeout, <=, 120);
	FR_INTEGER_BOUND_CHECK("email.timeout", inst->mail_timeout, >=, 1);
	FR_INTEGER_BOUND_CHECK("email.timeout", inst->mail_timeout, <=, 120);
	FR_TIMEVAL_BOUND_CHECK("send_wait", &inst->send_wait, >=, 0, 100000);
	FR_TIMEVAL_BOUND_CHECK("send_wait", &inst->send_wait, <=, 10, 0);
	FR_INTEGER_BOUND_CHECK("queue_max", inst->queue_max, >=, 1);
	FR_INTEGER_BOUND_CHECK("queue_max", inst->queue_max, <=, 100000);
	FR_INTEGER_BOUND_CHECK("resend_limit", inst->resend_limit, <=, 20);
	inst->sms.url = unset_if_empty(inst->sms.url);
	inst->mail.url = unset_if_empty(inst->mail.url);
	if (inst->sms_ask_number && !inst->sms.url) {
		WARN("rlm_twofa (%s): sms_ask_number = yes without sms { url }: nobody is asked for a number", inst->name);
	}
	return 0;
}

int parse_config(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	if (parse_enforce(conf, inst) < 0) return -1;
	if (parse_busy_timeout(conf, inst) < 0) return -1;
	if (!inst->optional_reminder) inst->optional_reminder = "";

	if (strcmp(inst->password_source_name, "local") == 0) {
		inst->password_source = PASSWORD_SOURCE_LOCAL;
	} else if (strcmp(inst->password_source_name, "none") == 0) {
		inst->password_source = PASSWORD_SOURCE_NONE;
	} else if (strcmp(inst->password_source_name, "ldap") == 0) {
		inst->password_source = PASSWORD_SOURCE_LDAP;
		if (parse_ldap_config(conf, inst) < 0) return -1;
	} else {
		cf_log_err_cs(conf, "password_source must be \"local\", \"none\" or \"ldap\", not \"%s\"",
			      inst->password_source_name);
		return -1;
	}

	FR_INTEGER_BOUND_CHECK("totp.window", inst->window, <=, TWOFA_TOTP_MAX_WINDOW);
	FR_INTEGER_BOUND_CHECK("attempts", inst->attempts, >=, 1);
	FR_INTEGER_BOUND_CHECK("attempts", inst->attempts, <=, 10);
	FR_INTEGER_BOUND_CHECK("challenge_timeout", inst->challenge_timeout, >=, 10);
	FR_INTEGER_BOUND_CHECK("challenge_timeout", inst->challenge_timeout, <=, 600);
	FR_INTEGER_BOUND_CHECK("sqlite.busy_timeout", inst->busy_timeout, <=, 30000);
	FR_INTEGER_BOUND_CHECK("postgresql.connect_timeout", inst->pg.connect_timeout, >=, 2);
	FR_INTEGER_BOUND_CHECK("postgresql.connect_timeout", inst->pg.connect_timeout, <=, 60);
	FR_INTEGER_BOUND_CHECK("postgresql.statement_timeout", inst->pg.statement_timeout, >=, 100);
	FR_INTEGER_BOUND_CHECK("postgresql.statement_timeout", inst->pg.statement_timeout, <=, 30000);
	FR_INTEGER_BOUND_CHECK("postgresql.pool_size", inst->pg.pool_size, >=, 1);
	FR_INTEGER_BOUND_CHECK("postgresql.pool_size", inst->pg.pool_size, <=, 100);
	/* NIST SP 800-63B 5.2.2: at most 100 consecutive failed attempts. */
	FR_INTEGER_BOUND_CHECK("lockout.max_failures", inst->lockout.max_failures, >=, 1);
	FR_INTEGER_BOUND_CHECK("lockout.max_failures", inst->lockout.max_failures, <=, 100);
	FR_INTEGER_BOUND_CHECK("lockout.duration", inst->lockout.lock_seconds, >=, 1);
	FR_INTEGER_BOUND_CHECK("lockout.max_duration", inst->lockout.max_lock_seconds, >=, inst->lockout.lock_seconds);
	FR_INTEGER_BOUND_CHECK("password_throttle.free_failures", inst->throttle.free_failures, <=, 100);
	FR_INTEGER_BOUND_CHECK("password_throttle.delay", inst->throttle.delay_seconds, >=, 1);
	FR_INTEGER_BOUND_CHECK("password_throttle.delay", inst->throttle.delay_seconds, <=, 3600);
	FR_INTEGER_BOUND_CHECK("password_throttle.max_delay", inst->throttle.max_delay_seconds, >=, inst->throttle.delay_seconds);
	FR_INTEGER_BOUND_CHECK("password_throttle.max_delay", inst->throttle.max_delay_seconds, <=, 86400);
	FR_INTEGER_BOUND_CHECK("backup.backup_codes_low", inst->backup_codes_low, <=, TWOFA_BACKUP_COUNT_MAX);
	if (parse_send_config(conf, inst) < 0) return -1;
	check_messages(inst);
	set_prompts(inst);
	if (check_enrol_message(inst, conf) < 0) return -1;

	return 0;
}

/*
 *	NAS compatibility settings: append mode, remembered devices, the
 *	name looked up, EAP-TLS, reply attributes (the section "NAS
 *	compatibility" above).  Checked once, at start and on HUP.
 */
int parse_net_config(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	if (!inst->append_separator) inst->append_separator = "";
	if (inst->append_separator[0] && !twofa_append_separator_valid(inst->append_separator)) {
		cf_log_err_cs(conf, "append_separator \"%s\": 1 to %d printable characters, no letter, digit, '-' "
			      "or blank (they would end codes)", inst->append_separator, TWOFA_APPEND_SEPARATOR_MAX);
		return -1;
	}
	FR_INTEGER_BOUND_CHECK("remember_days", inst->remember_days, <=, TWOFA_REMEMBER_DAYS_MAX);
	if (strcmp(inst->user_name_source, "stripped") == 0) {
		inst->full_name = false;
	} else if (strcmp(inst->user_name_source, "full") == 0) {
		inst->full_name = true;
	} else {
		cf_log_err_cs(conf, "user_name must be \"stripped\" or \"full\", not \"%s\"", inst->user_name_source);
		return -1;
	}
	if (strcmp(inst->eap_tls_name, "require") == 0) {
		inst->eap_tls_skip = false;
	} else if (strcmp(inst->eap_tls_name, "skip") == 0) {
		inst->eap_tls_skip = true;
	} else {
		cf_log_err_cs(conf, "eap_tls must be \"require\" or \"skip\", not \"%s\"", inst->eap_tls_name);
		return -1;
	}
	return 0;
}

/*
 *	One reply attribute, by its dictionary name, into list.  Refused: a
 *	name the dictionary does not have, a server-internal attribute, one
 *	the protocol or this module owns, a value that does not parse.
 */
bool reply_attribute_allowed(DICT_ATTR const *da)
{
	if (da->vendor) return true;
	return (da->attr <= 255) && (da->attr != PW_STATE) && (da->attr != PW_MESSAGE_AUTHENTICATOR) &&
	       (da->attr != PW_EAP_MESSAGE) && (da->attr != PW_PROXY_STATE) && (da->attr != PW_USER_PASSWORD);
}

static int reply_attribute(rlm_twofa_t *inst, VALUE_PAIR **list, char const *name, char const *value,
			   char *err, size_t err_len)
{
	DICT_ATTR const *da = dict_attrbyname(name);

	if (!da) {
		snprintf(err, err_len, "unknown attribute \"%s\" (not in the dictionary)", name);
		return -1;
	}
	if (!reply_attribute_allowed(da)) {
		snprintf(err, err_len, "attribute \"%s\" may not be set here", name);
		return -1;
	}
	if (!fr_pair_make(inst, list, name, value, T_OP_ADD)) {
		snprintf(err, err_len, "%s = \"%s\": %s", name, value, fr_strerror());
		return -1;
	}
	return 0;
}

/* reply { Attr = value ... } of the module, and each rule's reply=. */
int load_reply_attributes(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	CONF_SECTION	*cs = cf_section_sub_find(conf, "reply");
	CONF_ITEM	*ci;
	char		err[512];
	unsigned int	i, j;

	for (ci = cs ? cf_item_find_next(cs, NULL) : NULL; ci; ci = cf_item_find_next(cs, ci)) {
		CONF_PAIR *cp;

		if (!cf_item_is_pair(ci)) continue;
		cp = cf_item_to_pair(ci);
		if (!cf_pair_value(cp) || (reply_attribute(inst, &inst->reply_vps, cf_pair_attr(cp), cf_pair_value(cp),
							   err, sizeof(err)) < 0)) {
			cf_log_err_cp(cp, "reply: %s", cf_pair_value(cp) ? err : "no value");
			return -1;
		}
	}
	if (!inst->policy || !inst->policy->count) return 0;
	MEM(inst->rule_reply_vps = talloc_zero_array(inst, VALUE_PAIR *, inst->policy->count));
	for (i = 0; i < inst->policy->count; i++) {
		twofa_netpolicy_rule_t const *rule = &inst->policy->rules[i];

		for (j = 0; j < rule->reply_count; j++) {
			if (reply_attribute(inst, &inst->rule_reply_vps[i], rule->reply[j].name, rule->reply[j].value,
					    err, sizeof(err)) < 0) {
				cf_log_err_cs(conf, "policy_file: %s:%u: rule %s: reply: %s", rule->file, rule->line,
					      rule->name, err);
				return -1;
			}
		}
	}
	return 0;
}

/** Does cs call module name: among its own items (top), or anywhere below? */
static bool section_calls(CONF_SECTION const *cs, char const *name, bool top)
{
	CONF_ITEM *ci;

	for (ci = cf_item_find_next(cs, NULL); ci; ci = cf_item_find_next(cs, ci)) {
		if (cf_item_is_pair(ci)) {
			char const *attr = cf_pair_attr(cf_item_to_pair(ci));

			if (*attr == '-') attr++;		/* "-twofa": call if loaded */
			if (strcmp(attr, name) == 0) return true;
		} else if (!top && cf_item_is_section(ci) &&
			   section_calls(cf_item_to_section(ci), name, false)) {
			return true;
		}
	}
	return false;
}

/*
 *	Is module name the first thing post-auth runs?  Anything before it
 *	may end the section ("ok = return", "return", a policy) and send an
 *	Access-Accept the gate never saw.  Post-Auth-Type subsections do not
 *	run in line, so they may come first.
 */
static bool section_starts_with(CONF_SECTION const *cs, char const *name)
{
	CONF_ITEM *ci;

	for (ci = cf_item_find_next(cs, NULL); ci; ci = cf_item_find_next(cs, ci)) {
		char const *attr;

		if (cf_item_is_section(ci)) {
			if (strcmp(cf_section_name1(cf_item_to_section(ci)), "Post-Auth-Type") == 0) continue;
			return false;
		}
		if (!cf_item_is_pair(ci)) continue;	/* data radiusd keeps, not a call */
		attr = cf_pair_attr(cf_item_to_pair(ci));
		if (*attr == '-') attr++;
		return strcmp(attr, name) == 0;
	}
	return false;
}

/*
 *	state = sealed (the default) | session.  The State key is derived
 *	(HKDF, a label of its own) from state_key_file, or from key_file if
 *	that is empty: never the TOTP secrets' key used raw.  With
 *	state_previous_key_file, States sealed under that key are still
 *	opened until their deadline: the State key rotates without dropping
 *	logins in flight.  Each file is checked as key_file is.
 */
static int state_key_from(CONF_SECTION *conf, char const *option, char const *file, twofa_state_key_t *out)
{
	uint8_t		key[TWOFA_KEY_LEN];
	char		err[256];
	twofa_rcode_t	rc;

	if (twofa_crypto_load_key(file, key, err, sizeof(err)) != TWOFA_OK) {
		cf_log_err_cs(conf, "Cannot use %s: %s", option, err);
		return -1;
	}
	rc = twofa_state_key_derive(key, out);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != TWOFA_OK) cf_log_err_cs(conf, "Cannot derive the State key from %s", option);
	return (rc == TWOFA_OK) ? 0 : -1;
}

int load_state_keys(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	if (strcmp(inst->state_name, "session") == 0) return 0;
	if (strcmp(inst->state_name, "sealed") != 0) {
		cf_log_err_cs(conf, "state must be \"sealed\" or \"session\", not \"%s\"", inst->state_name);
		return -1;
	}
	inst->sealed_state = true;
	if (inst->state_key_file && *inst->state_key_file) {
		if (state_key_from(conf, "state_key_file", inst->state_key_file, &inst->state_keys[0]) < 0) return -1;
	} else if (twofa_state_key_derive(inst->key, &inst->state_keys[0]) != TWOFA_OK) {
		cf_log_err_cs(conf, "Cannot derive the State key from key_file");
		return -1;
	}
	inst->num_state_keys = 1;
	if (!inst->previous_key_file || !*inst->previous_key_file) return 0;
	if (state_key_from(conf, "state_previous_key_file", inst->previous_key_file, &inst->state_keys[1]) < 0) return -1;
	inst->num_state_keys = 2;
	return 0;
}

/*
 *	Fail closed at start-up: every virtual server that calls this module
 *	in authorize or authenticate must list it first in post-auth (not
 *	only in Post-Auth-Type REJECT, nor after anything that may return),
 *	where it stops an Access-Accept that no second factor backs.  Says
 *	how each server is wired.
 */
int check_wiring(rlm_twofa_t const *inst, CONF_SECTION *conf)
{
	CONF_SECTION	*root = cf_top_section(conf), *server, *cs;
	char const	*sections[] = { "authorize", "authenticate" };
	unsigned int	i, servers = 0;

	for (server = cf_subsection_find_next(root, NULL, "server"); server;
	     server = cf_subsection_find_next(root, server, "server")) {
		bool calls = false;

		for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
			cs = cf_section_sub_find(server, sections[i]);
			if (cs && section_calls(cs, inst->name, false)) calls = true;
		}
		if (!calls) continue;

		cs = cf_section_sub_find(server, "post-auth");
		if (!cs || !section_calls(cs, inst->name, true)) {
			cf_log_err_cs(server, "Virtual server \"%s\" calls %s but does not list it at the top of its "
				      "post-auth section: an Access-Accept from another module (pap, chap, mschap, eap) "
				      "would skip the second factor.  Add \"%s\" as the first line of post-auth",
				      cf_section_name2(server), inst->name, inst->name);
			return -1;
		}
		if (!section_starts_with(cs, inst->name)) {
			cf_log_err_cs(cs, "Virtual server \"%s\" calls %s but something runs before it in post-auth: "
				      "anything that ends the section there (\"ok = return\", \"return\") would send an "
				      "Access-Accept that skips the second factor.  Add \"%s\" as the first line of post-auth",
				      cf_section_name2(server), inst->name, inst->name);
			return -1;
		}
		INFO("rlm_twofa (%s): virtual server %s: first factor by %s, second factor enforced in post-auth",
		     inst->name, cf_section_name2(server),
		     (inst->password_source == PASSWORD_SOURCE_LOCAL) ? "this module (local)" :
		     (inst->password_source == PASSWORD_SOURCE_LDAP) ? "this module (ldap)" :
		     "the site's modules, challenge from post-auth (none)");
		servers++;
	}
	if (!servers) WARN("rlm_twofa (%s): no virtual server calls this module", inst->name);
	return 0;
}

/*
 *	sms { } and email { } into their checked gateways, and the sender
 *	thread that runs their transfers (only if either is configured).
 *	Made here, freed in detach: a HUP's new instance has its own.
 */
static int setup_sms(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	CONF_SECTION		*cs = cf_section_sub_find(conf, "sms");
	twofa_sms_http_config_t	config = inst->sms;
	char const		**headers = NULL;
	size_t			n = 0;
	CONF_PAIR		*cp;
	char			err[256];

	for (cp = cs ? cf_pair_find(cs, "header") : NULL; cp; cp = cf_pair_find_next(cs, cp, "header")) {
		headers = talloc_realloc(inst, headers, char const *, n + 2);
		if (!headers) return -1;
		headers[n++] = cf_pair_value(cp);
		headers[n] = NULL;
	}
	config.headers = headers;
	config.method = unset_if_empty(config.method);
	config.body = unset_if_empty(config.body);
	config.content_type = unset_if_empty(config.content_type);
	config.username = unset_if_empty(config.username);
	config.password = unset_if_empty(config.password);
	config.bearer_token = unset_if_empty(config.bearer_token);
	config.aws_sigv4 = unset_if_empty(config.aws_sigv4);
	config.success_status = unset_if_empty(config.success_status);
	config.success_body = unset_if_empty(config.success_body);
	config.ca_file = unset_if_empty(config.ca_file);
	config.timeout_ms = inst->sms_timeout * 1000;
	if (twofa_sms_http_new(inst, &config, &inst->delivery.sms, err, sizeof(err)) != TWOFA_OK) {
		cf_log_err_cs(cs ? cs : conf, "sms: %s", err);
		return -1;
	}
	if (strncasecmp(config.url, "http://", 7) == 0) {
		WARN("rlm_twofa (%s): sms url is http://: codes and the gateway's credentials cross the network in clear",
		     inst->name);
	}
	return 0;
}

static int setup_email(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	CONF_SECTION		*cs = cf_section_sub_find(conf, "email");
	twofa_mail_config_t	config = inst->mail;
	char			err[256];

	config.tls = inst->mail_require_starttls ? TWOFA_MAIL_TLS_REQUIRED : TWOFA_MAIL_TLS_NONE;
	config.username = unset_if_empty(config.username);
	config.password = unset_if_empty(config.password);
	config.ca_file = unset_if_empty(config.ca_file);
	config.timeout_ms = inst->mail_timeout * 1000;
	if (twofa_mail_new(inst, &config, &inst->delivery.mail, err, sizeof(err)) != TWOFA_OK) {
		cf_log_err_cs(cs ? cs : conf, "email: %s", err);
		return -1;
	}
	if (!inst->mail_require_starttls && (strncasecmp(inst->mail.url, "smtp:", 5) == 0)) {
		WARN("rlm_twofa (%s): email require_starttls = no: codes cross the network in clear", inst->name);
	}
	return 0;
}

/* The sender's thread: a code that failed after its login stopped waiting (send_wait). */
static void sender_log(void *arg, char const *msg)
{
	rlm_twofa_t const *inst = arg;

	ERROR("rlm_twofa (%s): %s", inst->name, msg);
}

int setup_delivery(CONF_SECTION *conf, rlm_twofa_t *inst)
{
	twofa_sender_config_t	sc = { 0 };
	twofa_delivery_t	*d = &inst->delivery;
	uint32_t		longest = (inst->sms_timeout > inst->mail_timeout) ? inst->sms_timeout : inst->mail_timeout;

	inst->usable = TWOFA_METHODS_ALL & ~(TWOFA_METHOD_BIT(TWOFA_METHOD_SMS) | TWOFA_METHOD_BIT(TWOFA_METHOD_EMAIL));
	if (!inst->sms.url && !inst->mail.url) return 0;

	if (twofa_oob_key_derive(inst->key, d->okey) != TWOFA_OK) {
		cf_log_err_cs(conf, "Cannot derive the key of sent codes");
		return -1;
	}
	if (inst->sms.url && (setup_sms(conf, inst) < 0)) return -1;
	if (inst->mail.url && (setup_email(conf, inst) < 0)) return -1;

	sc.queue_max = inst->queue_max;
	sc.timeout_ms = longest * 1000;
	sc.connect_timeout_ms = (longest < 5) ? longest * 1000 : 5000;
	sc.log = sender_log;
	sc.log_arg = inst;
	if (twofa_sender_start(inst, &sc, &inst->sender) != TWOFA_OK) {
		cf_log_err_cs(conf, "Cannot start the sender thread for SMS and email");
		return -1;
	}
	d->sender = inst->sender;
	d->send_wait_ms = (unsigned int) (inst->send_wait.tv_sec * 1000 + inst->send_wait.tv_usec / 1000);
	d->sms_code = (twofa_oob_code_config_t) { .digits = inst->sms_digits, .lifetime = inst->sms_lifetime };
	d->email_code = (twofa_oob_code_config_t) { .digits = inst->mail_digits, .lifetime = inst->mail_lifetime };
	d->per_user_hour = inst->per_user_hour;
	d->per_nas_hour = inst->per_nas_hour;
	if (d->sms) inst->usable |= TWOFA_METHOD_BIT(TWOFA_METHOD_SMS);
	if (d->mail) inst->usable |= TWOFA_METHOD_BIT(TWOFA_METHOD_EMAIL);
	INFO("rlm_twofa (%s): codes by%s%s, send_wait %u ms, at most %u sends per user and %u per NAS an hour",
	     inst->name, d->sms ? " SMS" : "", d->mail ? (d->sms ? " and email" : " email") : "", d->send_wait_ms,
	     d->per_user_hour, d->per_nas_hour);
	return 0;
}
