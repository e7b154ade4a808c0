/*
 * module.h	What the files of the module share (rlm_twofa.c, mod_*.c): the
 *		instance, the request data it keeps, and the functions one file
 *		calls in another.  Only the module's own files include it; the
 *		module exports nothing but rlm_twofa (Makefile.am), so these names
 *		meet no other module's.
 */
#ifndef TWOFA_MODULE_H
#define TWOFA_MODULE_H

#include <freeradius/radiusd.h>
#include <freeradius/modules.h>
#include <freeradius/rad_assert.h>

#include <openssl/crypto.h>

#include "twofa.h"
#include "totp.h"
#include "crypto.h"
#include "policy.h"
#include "store.h"
#include "pending.h"
#include "method.h"
#include "ldap.h"
#include "netpolicy.h"
#include "state.h"
#include "delivery.h"
#include "sender.h"
#include "sms_http.h"
#include "mail.h"
#include "append.h"
#include "devices.h"

typedef enum {
	PASSWORD_SOURCE_LOCAL = 0,	//!< crypt(3) hash in our store
	PASSWORD_SOURCE_NONE,		//!< an earlier module (pap, ldap, mschap) checked it
	PASSWORD_SOURCE_LDAP,		//!< a bind to the directory as the user (ldap.c, the ldap { } section)
} password_source_t;

typedef enum {
	FAILMODE_SECURE = 0,		//!< a code that cannot be sent: reject (a send limit: another method held)
	FAILMODE_ANOTHER_METHOD,	//!< a code that cannot be sent: challenge with another method held
} failmode_t;

/* The words a user may type at the challenge prompt (words { }). */
enum { WORD_SMS = 0, WORD_EMAIL, WORD_TOTP, WORD_RESEND, WORD_COUNT };

typedef enum {
	ENFORCE_REQUIRED = 0,		//!< no second factor on file: reject
	ENFORCE_OPTIONAL,		//!< no second factor on file: the first factor is enough
} enforce_t;

/*
 *	ldap { groups { reply { "GROUP-DN" = "Attr = value, ..." } } }: one
 *	entry per line, in config order (ldap_config.reply_groups holds the
 *	same DNs at the same index).  The tag names the group in a pending
 *	challenge, so that round two, which asks the directory nothing,
 *	answers with the set round one found (group_reply_tag).
 */
typedef struct {
	char const		*group;			//!< the group's DN, as configured
	uint32_t		tag;			//!< SHA-256 of the DN as written, first 4 bytes; never 0
	VALUE_PAIR		*vps;			//!< its attributes, checked in the dictionary at start
} group_reply_t;

typedef struct {
	char const		*name;			//!< instance name, also the Auth-Type value
	char const		*store_path;		//!< the store URL: an SQLite file, or postgresql://...
	char const		*key_file;		//!< AES-256 key for TOTP secrets at rest
	char const		*password_source_name;	//!< "local", "none" or "ldap"
	password_source_t	password_source;
	char const		*enforce_name;		//!< "required" or "optional"
	enforce_t		enforce;
	bool			require;		//!< deprecated: enforce = required (yes) or optional (no)
	char const		*optional_reminder;	//!< Reply-Message of an accept without a second factor, "" for none
	char const		*challenge_message;	//!< Reply-Message of the first Access-Challenge
	char const		*retry_message;		//!< Reply-Message of a challenge after a wrong answer ({attempts})
	char const		*reject_message;	//!< Reply-Message of every Access-Reject
	uint32_t		challenge_timeout;	//!< seconds a challenge may be answered in
	uint32_t		attempts;		//!< codes a user may try in one login
	uint32_t		window;			//!< TOTP steps either side of now
	uint32_t		busy_timeout;		//!< sqlite { busy_timeout }: ms to wait for a locked store
	uint32_t		old_busy_timeout;	//!< busy_timeout at the top, deprecated
	struct {
		char const	*password_file;		//!< the role's password, mode 0600; "" for none
		uint32_t	connect_timeout;	//!< seconds
		uint32_t	statement_timeout;	//!< ms: a call's limit, and a wait for a connection
		uint32_t	pool_size;		//!< connections per radiusd
	} pg;					//!< postgresql { }: store = postgresql://...
	twofa_lockout_t		lockout;		//!< consecutive failed codes across logins
	twofa_password_throttle_t throttle;		//!< consecutive failed first factors
	uint32_t		backup_codes_low;	//!< at most this many left: the Accept says so
	char const		*backup_challenge;	//!< backup { challenge_message }
	char const		*backup_retry;		//!< backup { retry_message }
	struct {
		char const	*challenge;		//!< the first prompt of a challenge for this method
		char const	*retry;			//!< after a wrong answer ({attempts})
		char const	*sent;			//!< append mode, a code sent on request ({to}); NULL: none
	} prompts[TWOFA_METHOD_LAST + 1];		//!< by method id (pending.h), filled at instantiate
	uint32_t		audit_days;		//!< days the login log keeps, 0 for ever
	bool			enrol_at_login;		//!< no factor held: the password alone enrols a TOTP secret
	char const		*enrol_message;		//!< Reply-Message showing the new secret ({secret})
	char const		*policy_file;		//!< per-NAS rules (netpolicy.h), NULL for none

	twofa_store_t		*store;			//!< shared by all worker threads
	uint8_t			key[TWOFA_KEY_LEN];	//!< wiped in detach
	char const		*state_name;		//!< state = sealed | session
	bool			sealed_state;		//!< the State carries the pending challenge (state.h)
	char const		*state_key_file;	//!< the State key's own file; "": derived from key_file
	char const		*previous_key_file;	//!< its States still open (key rotation), "" if none
	twofa_state_key_t	state_keys[2];		//!< [0] seals, every one opens; wiped in detach
	size_t			num_state_keys;
	char			*dummy_hash;		//!< checked for unknown users, so they cost the same

	DICT_ATTR const		*da_pending;		//!< session-state: the pending challenge (pending_t)
	DICT_ATTR const		*da_pending_nas;	//!< session-state: the NAS it was sent to

	/* password_source = ldap: the ldap { } section (ldap.h), and the pool made from it. */
	twofa_ldap_config_t	ldap_config;
	char const		*ldap_server;		//!< the first "server"; parse_ldap_config() reads them all
	uint32_t		ldap_net_timeout;	//!< seconds
	uint32_t		ldap_timeout;		//!< seconds
	twofa_ldap_t		*ldap;			//!< shared by all worker threads; freed in detach
	group_reply_t		*group_replies;		//!< ldap.groups.reply, by the index of ldap_config.reply_groups
	size_t			num_group_replies;

	/*
	 *	SMS and email codes (method_sms.c, method_email.c): sms { },
	 *	email { } and the send settings.  The sender thread is made at
	 *	instantiate and stopped in detach (a HUP makes a new one).
	 */
	twofa_sms_http_config_t	sms;			//!< sms { }, url NULL: no SMS
	char const		*sms_header;		//!< the first "header"; setup_delivery() reads them all
	uint32_t		sms_timeout;		//!< seconds
	uint32_t		sms_digits;
	uint32_t		sms_lifetime;
	char const		*sms_challenge;		//!< {to}: the number, masked
	char const		*sms_retry;		//!< {attempts}
	char const		*sms_sent;		//!< append mode: the Reject after a code sent on request ({to})
	bool			sms_ask_number;		//!< no method held: ask for a number, save it once its code checks
	char const		*sms_ask_message;
	char const		*sms_ask_retry;
	twofa_mail_config_t	mail;			//!< email { }, url NULL: no email
	bool			mail_require_starttls;
	uint32_t		mail_timeout;		//!< seconds
	uint32_t		mail_digits;
	uint32_t		mail_lifetime;
	char const		*mail_challenge;	//!< {to}: the address(es), masked
	char const		*mail_retry;
	char const		*mail_sent;		//!< append mode: the Reject after a code sent on request ({to})
	struct timeval		send_wait;
	uint32_t		queue_max;
	uint32_t		per_user_hour;
	uint32_t		per_nas_hour;
	char const		*failmode_name;
	failmode_t		failmode;
	uint32_t		resend_limit;		//!< codes sent and switches in one login, after the first
	char const		*words[WORD_COUNT];	//!< "" disables one
	twofa_sender_t		*sender;		//!< NULL if neither sms nor email is configured
	twofa_delivery_t	delivery;		//!< what the methods send with; okey wiped in detach
	uint32_t		usable;			//!< TWOFA_METHOD_BIT of each method this server can use

	twofa_netpolicy_t	*policy;		//!< policy_file's rules, read at instantiate (and so on HUP)
	void const		*decision_key;		//!< request data key, the same across HUPs (decision_key())

	/* The network and its NAS (issue 16): the section "NAS compatibility" below. */
	bool			append;			//!< the code typed after the password (append.h), by default
	char const		*append_separator;	//!< between password and code; "" for none
	uint32_t		remember_days;		//!< days a device is remembered after a second factor; 0: never
	uint8_t			device_key[TWOFA_DEVICE_KEY_LEN];	//!< devices.h; wiped in detach
	char const		*user_name_source;	//!< user_name = stripped | full
	bool			full_name;		//!< look users up by User-Name as sent
	char const		*eap_tls_name;		//!< eap_tls = require | skip
	bool			eap_tls_skip;		//!< an EAP-TLS login needs no second factor
	VALUE_PAIR		*reply_vps;		//!< reply { }: added to every Accept of this module
	VALUE_PAIR		**rule_reply_vps;	//!< each rule's reply=, by rule index; NULL: the module's
} rlm_twofa_t;

/*
 *	What this module decided in this request, for post-auth: kept as
 *	request data, which no packet, unlang or other module can set.
 */
enum {
	DECIDED_SECOND_FACTOR = 1,	//!< a second factor was verified in this request
	DECIDED_NOT_NEEDED,		//!< the first alone will do: exempt, or no factor on file under enforce = optional
	DECIDED_REJECT,			//!< this module rejected: not a first-factor failure of another module
	DECIDED_BYPASS,			//!< with DECIDED_NOT_NEEDED: a policy_file rule said skip (data: the rule)
};

/** A login's row for the login log, and the NAS address it points to. */
typedef struct {
	twofa_login_t	row;
	char		nas[INET6_ADDRSTRLEN];
} login_record_t;

/* A sealed State opened (request data: once per request, from authorize on). */
typedef struct {
	twofa_pending_t	pending;
	uint8_t		nonce[TWOFA_STATE_NONCE_LEN];
	bool		spent;		//!< recorded as answered in the store (by a consume, or state_spend)
	bool		answered_before;	//!< state_spend found it recorded already: refused, not asked again
} unsealed_t;
#define UNSEALED_STATE	101

/** The NAS as text (the packet's source address), for the per-NAS send limit. */
typedef struct {
	char		nas[INET6_ADDRSTRLEN];
	twofa_delivery_report_t report;
} send_info_t;

/*
 *	NAS compatibility (issue 16): append mode, remembered devices and
 *	reply attributes.  The mechanisms are in append.c and devices.c;
 *	here only what the flow calls, each in one place:
 *	  - round one splits "password+code" (append_split_request) before
 *	    the password is checked, so that it is checked once, alone
 *	    (password_source = none: in authorize, append_split_authorize);
 *	  - second_factor_or_not verifies an appended code instead of
 *	    sending the challenge (verify_appended), sends a code asked for
 *	    by a word after the password (send_appended_code, a Reject that
 *	    says so: code_sent_reject), or lets a remembered device in
 *	    without one (device_remembered);
 *	  - a verified second factor remembers the device (remember_device);
 *	  - post-auth adds the reply attributes to an Accept (add_reply_attributes).
 *	Request data under decision_key, as the decisions above.
 */
#define NET_APPENDED	200	//!< the code typed after the password (appended_t)
#define NET_REMEMBERED	201	//!< with DECIDED_NOT_NEEDED: a remembered device let the password alone in
#define NET_CERTIFICATE	202	//!< with DECIDED_NOT_NEEDED: an EAP-TLS certificate, with eap_tls = skip
#define NET_USER_REPLY	203	//!< the user's own reply attributes as stored ("" none): set by load_user
#define NET_CODE_SENT	204	//!< append mode: a code sent on request; the Reject's Reply-Message (char *)
#define NET_USER	205	//!< password_source = none: the user authorize read for the split, for post-auth
#define NET_GROUP_REPLY	206	//!< the directory group's reply set (group_reply_t const *): round one
				//!< from the entry, round two from the pending challenge's tag
#define EAP_TYPE_TLS	13	//!< RFC 5216 (eap_types.h is rlm_eap's, not installed)

typedef struct {
	char		code[TWOFA_BACKUP_INPUT_MAX + 1];
	size_t		len;
	bool		word;			//!< a switch word: send a code by method
	uint8_t		method;			//!< TWOFA_METHOD_*: the first to try, or the word's
	uint32_t	methods;		//!< TWOFA_METHOD_BIT of each method the code may be (append.h)
} appended_t;

/*
 *	What the directory said of the user in round one (phone, mail, group
 *	rule), as request data under this key, for what comes later in the
 *	request.  (The SMS and email methods read no request data: round one
 *	copies the phone and mail into the user's factors, mod_ldap.c.)
 */
#define DIRECTORY_ENTRY	100

extern const CONF_PARSER twofa_module_config[];
extern char const *twofa_enforce_names[];	//!< by enforce_t

/*
 *	mod_reply.c
 */
void decided(rlm_twofa_t const *inst, REQUEST *request, int what);
bool was_decided(rlm_twofa_t const *inst, REQUEST *request, int what);
void add_message_authenticator(REQUEST *request);
void reply_clear(REQUEST *request);
void add_reply_message(REQUEST *request, char const *text, FR_TOKEN op);
void login_record(rlm_twofa_t const *inst, REQUEST *request, login_record_t *l, char const *method,
		char const *result, char const *reason);
void log_login(rlm_twofa_t const *inst, REQUEST *request, char const *method, char const *result,
		char const *reason);
void reject_reply(rlm_twofa_t const *inst, REQUEST *request);
rlm_rcode_t reject(rlm_twofa_t const *inst, REQUEST *request, char const *stage, twofa_rcode_t rc);
rlm_rcode_t code_sent_reject(rlm_twofa_t const *inst, REQUEST *request, char const *method, char const *message);
bool code_sent_reply(rlm_twofa_t const *inst, REQUEST *request);
void log_store_error(rlm_twofa_t const *inst, REQUEST *request, char const *what, twofa_rcode_t rc);
char const *user_name(rlm_twofa_t const *inst, REQUEST *request);
VALUE_PAIR *user_password(REQUEST *request);
void add_optional_reminder(rlm_twofa_t const *inst, REQUEST *request);

/*
 *	mod_config.c
 */
int mod_name_and_attrs(CONF_SECTION *conf, rlm_twofa_t *inst);
int load_policy(CONF_SECTION *conf, rlm_twofa_t *inst);
int parse_config(CONF_SECTION *conf, rlm_twofa_t *inst);
int parse_net_config(CONF_SECTION *conf, rlm_twofa_t *inst);
int load_reply_attributes(CONF_SECTION *conf, rlm_twofa_t *inst);
int load_state_keys(CONF_SECTION *conf, rlm_twofa_t *inst);
int check_wiring(rlm_twofa_t const *inst, CONF_SECTION *conf);
int setup_delivery(CONF_SECTION *conf, rlm_twofa_t *inst);

/*
 *	mod_password.c
 */
twofa_rcode_t load_user(rlm_twofa_t const *inst, REQUEST *request, char const *name, twofa_user_t **out);
twofa_rcode_t load_user_kept(rlm_twofa_t const *inst, REQUEST *request, char const *name, twofa_user_t **out);
twofa_rcode_t check_local_password(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user);
void count_password_failure(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user);
void count_password_success(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user);
bool is_locked(twofa_user_t const *user, time_t now);

/*
 *	mod_challenge.c
 */
bool answers_our_challenge(rlm_twofa_t const *inst, REQUEST *request);
bool pending_load(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t *pending);
bool state_spend(rlm_twofa_t const *inst, REQUEST *request);
rlm_rcode_t send_challenge(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t *pending,
		char const *message);
twofa_method_ctx_t method_ctx(rlm_twofa_t const *inst);
twofa_method_ctx_t method_ctx_send(rlm_twofa_t const *inst, REQUEST *request, send_info_t *info);
twofa_rcode_t pending_from_user(rlm_twofa_t const *inst, REQUEST *request, twofa_method_t const *method,
		twofa_user_t const *user, twofa_pending_t *pending, send_info_t *info);
twofa_rcode_t pending_to_check(rlm_twofa_t const *inst, REQUEST *request, twofa_method_t const *method,
		twofa_user_t const *user, twofa_pending_t *pending);
rlm_rcode_t offer_enrolment(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user);

/*
 *	mod_nas.c
 */
/** An attribute of the packet the NAS sent: the outermost request's, in an EAP tunnel. */
VALUE_PAIR *nas_pair(REQUEST *request, unsigned int attr);
/** A reply attribute this module may add to an Accept (not State, EAP-Message, ...). */
bool reply_attribute_allowed(DICT_ATTR const *da);
void append_split_authorize(rlm_twofa_t const *inst, REQUEST *request);
void append_split_request(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user);
void remember_device(rlm_twofa_t const *inst, REQUEST *request, int64_t user_id);
bool second_factor_without_challenge(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user,
		twofa_netpolicy_rule_t const *rule, rlm_rcode_t *rcode);
bool eap_tls_skips(rlm_twofa_t const *inst, REQUEST *request, VALUE_PAIR const *auth_type);
void add_reply_attributes(rlm_twofa_t const *inst, REQUEST *request);
void group_reply_found(rlm_twofa_t const *inst, REQUEST *request, int index);
void group_reply_from_pending(rlm_twofa_t const *inst, REQUEST *request, uint32_t tag);
uint32_t group_reply_tag(rlm_twofa_t const *inst, REQUEST *request);
bool nas_rule_decides(rlm_twofa_t const *inst, REQUEST *request, char const *who, bool first_factor_checked,
		twofa_netpolicy_rule_t const **rule, rlm_rcode_t *rcode);
char const *accept_reason(rlm_twofa_t const *inst, REQUEST *request);

/*
 *	mod_delivery.c
 */
rlm_rcode_t challenge_with(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user,
		twofa_method_t const *method, twofa_pending_t const *carry, char const *message);
rlm_rcode_t ask_number(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user);
rlm_rcode_t answer_number(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t *pending);
int prompt_word(rlm_twofa_t const *inst, VALUE_PAIR const *answer);
bool switch_method(rlm_twofa_t const *inst, REQUEST *request, twofa_pending_t const *pending, int word,
		rlm_rcode_t *rcode);
void append_delivery_shapes(rlm_twofa_t const *inst, twofa_user_t const *user, twofa_append_shapes_t *shapes);
rlm_rcode_t send_appended_code(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user,
		twofa_method_t const *method);

/*
 *	mod_ldap.c
 */
int ldap_instantiate(CONF_SECTION *conf, rlm_twofa_t *inst);
rlm_rcode_t CC_HINT(nonnull) round_one_ldap(rlm_twofa_t const *inst, REQUEST *request);

/*
 *	the flow (rlm_twofa.c)
 */
rlm_rcode_t second_factor_or_not(rlm_twofa_t const *inst, REQUEST *request, twofa_user_t const *user);
void say_how_many_left(rlm_twofa_t const *inst, REQUEST *request, char const *name,
		twofa_method_t const *method, int left);

#endif
