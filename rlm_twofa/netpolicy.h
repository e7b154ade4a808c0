/*
 * netpolicy.h	Per-NAS rules: which NAS (and which users' addresses behind
 *		it) skip the second factor, require it, or are refused.
 *
 *		The rules live in a file of their own (policy_file), one per
 *		line, read by the module at start and on HUP and by
 *		"twofa-admin policy": the same parser for both.  Pure C: no
 *		FreeRADIUS types, no I/O but reading the file and its lists.
 *
 *		File format (raddb/mods-config/twofa/policy says it at length):
 *
 *		  # comment
 *		  NAME nas=LIST [nas_ip=LIST] [from=LIST] action=skip|require|reject
 *		       [message="challenge text"] [append=yes|no] [remember=yes|no]
 *		       [reply="Attr=value, Attr=value"] [eap_tls=skip|require]
 *
 *		LIST is comma-separated: IPv4 or IPv6 addresses and CIDRs,
 *		client shortnames (nas= only), "*" (any, alone), or @FILE, a
 *		file of such items one per line (relative to the policy
 *		file's folder).  First matching rule wins, in file order.
 */
#ifndef TWOFA_NETPOLICY_H
#define TWOFA_NETPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <talloc.h>

#define TWOFA_NETPOLICY_NAME_MAX	64	//!< bytes of a rule's name
#define TWOFA_NETPOLICY_FILE_MAX	(64 * 1024 * 1024)	//!< bytes of the policy file or a list file

typedef enum {
	TWOFA_NETPOLICY_SKIP = 1,	//!< the first factor alone lets the user in
	TWOFA_NETPOLICY_REQUIRE,	//!< the second factor is asked for, whatever enforce says
	TWOFA_NETPOLICY_REJECT,		//!< the login is refused (after the first factor)
} twofa_netpolicy_action_t;

/** An option a rule may leave unset: the module's setting then applies. */
typedef enum {
	TWOFA_NETPOLICY_UNSET = 0,
	TWOFA_NETPOLICY_NO,
	TWOFA_NETPOLICY_YES,
} twofa_netpolicy_flag_t;

/** An address, IPv4 (af 4, the first 4 bytes) or IPv6 (af 6), in network order. */
typedef struct {
	int			af;		//!< 4 or 6; 0: none
	uint8_t			addr[16];
} twofa_ip_t;

typedef struct twofa_netpolicy_set twofa_netpolicy_set_t;

/** One attribute of a rule's reply=: checked against the dictionary by the module. */
typedef struct {
	char const			*name;
	char const			*value;
} twofa_netpolicy_reply_t;

#define TWOFA_NETPOLICY_REPLY_MAX	32	//!< attributes in one reply=

/** Reply attributes as a rule's reply= writes them ("Class=vpn-users, Filter-Id=x"),
 *  the syntax only (no dictionary here: the module checks the names); also a
 *  user's own (twofa-admin user set --reply, the store's users.reply).
 *  *out (talloc'd under ctx) and *count set on success.
 *  @return 0, or -1 with a message in err. */
int twofa_netpolicy_reply_parse(TALLOC_CTX *ctx, char const *text, twofa_netpolicy_reply_t const **out,
				unsigned int *count, char *err, size_t err_len);

/** One rule as written; read-only once parsed. */
typedef struct {
	char const			*name;
	char const			*file;		//!< where it was written
	unsigned int			line;
	unsigned int			index;		//!< 0-based position in the file's order
	twofa_netpolicy_action_t	action;
	char const			*message;	//!< challenge text, NULL: the module's challenge_message
	twofa_netpolicy_flag_t		append;		//!< the code typed after the password (append.h)
	twofa_netpolicy_flag_t		remember;	//!< NO: no device is remembered or recognised here
	twofa_netpolicy_flag_t		eap_tls;	//!< eap_tls=: YES skip, NO require, for EAP-TLS logins
	twofa_netpolicy_reply_t const	*reply;		//!< reply= attributes of an Accept, NULL for none
	unsigned int			reply_count;

	twofa_netpolicy_set_t const	*nas;		//!< NULL: nas= not given
	twofa_netpolicy_set_t const	*nas_ip;	//!< NULL: nas_ip= not given
	twofa_netpolicy_set_t const	*from;		//!< NULL: from= not given or "*"
} twofa_netpolicy_rule_t;

/** A parsed rule file: immutable, shared by every thread reading it. */
typedef struct {
	char const			*file;
	unsigned int			count;
	twofa_netpolicy_rule_t		*rules;
	size_t				entries;	//!< addresses, CIDRs and names in all lists
	char const			**lists;	//!< the @FILE lists read, as opened (a HUP must see them change)
	unsigned int			num_lists;
} twofa_netpolicy_t;

/** What a request says about where it comes from.  Any field may be absent. */
typedef struct {
	twofa_ip_t const	*src;		//!< the packet's source address (the client holding the secret)
	char const		*shortname;	//!< the client's shortname (clients.conf)
	twofa_ip_t const	*nas_ip4;	//!< NAS-IP-Address, as the NAS claims it
	twofa_ip_t const	*nas_ip6;	//!< NAS-IPv6-Address, as the NAS claims it
	twofa_ip_t const	*from;		//!< the user's address: Calling-Station-Id or Framed-IP-Address
} twofa_netpolicy_query_t;

/** Parse flags. */
#define TWOFA_NETPOLICY_NO_LISTS	0x01	//!< refuse @FILE lists (the fuzzer: no file access)

/** Parse rules from text (len bytes, NULs refused).  file names the text in
 *  errors and is where @FILE lists are looked for (its folder).
 *
 *  @return 0 and *out (a talloc child of ctx), or -1 with err holding
 *  "FILE:LINE: why".
 */
int twofa_netpolicy_parse(TALLOC_CTX *ctx, char const *file, char const *text, size_t len, int flags,
			  twofa_netpolicy_t **out, char *err, size_t err_len);

/** Read and parse a rule file.  Same return as twofa_netpolicy_parse. */
int twofa_netpolicy_load(TALLOC_CTX *ctx, char const *path, twofa_netpolicy_t **out, char *err, size_t err_len);

/** The first rule that matches q, or NULL (none: the module's enforce applies).
 *  Cost: per rule, a binary search in each of its lists, never a scan.
 */
twofa_netpolicy_rule_t const *twofa_netpolicy_match(twofa_netpolicy_t const *policy, twofa_netpolicy_query_t const *q);

/** Parse one address or CIDR ("10.0.0.0/8", "::1", "2001:db8::/32").
 *  Refused: host bits set past the prefix, a prefix over 32 or 128, an IPv4
 *  part with leading zeros, anything else inet_pton refuses.
 *
 *  @return 0, or -1 with err saying why.
 */
int twofa_cidr_parse(char const *text, twofa_ip_t *ip, unsigned int *prefix, char *err, size_t err_len);

/** An address in text (IPv4, IPv6, or IPv4-mapped IPv6, which becomes IPv4).  Not a CIDR. */
bool twofa_ip_parse(char const *text, twofa_ip_t *ip);

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 one; others unchanged. */
void twofa_ip_unmap(twofa_ip_t *ip);

char const *twofa_netpolicy_action_name(twofa_netpolicy_action_t action);

#endif
