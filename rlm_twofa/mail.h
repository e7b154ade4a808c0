/*
 * mail.h	A code by email over SMTP: the relay's configuration, the
 *		message (RFC 5322 headers, UTF-8 text as quoted-printable,
 *		CRLF line ends), and the transfer that sends it to one or two
 *		addresses (a sender job, sender.h).
 *
 *		smtp:// with STARTTLS required (CURLUSESSL_ALL) unless told
 *		otherwise, or smtps://.  Subject and body are templates
 *		(template.h) of {code} and {user}; the Subject is RFC 2047
 *		encoded when not ASCII.  A CR or LF in any header value, an
 *		address twofa_email_valid refuses, or a value with a control
 *		character is refused: nothing a user can set reaches the
 *		headers' structure.  Dot-stuffing is libcurl's.  Nothing here
 *		logs; the code and the password are never in an error text.
 *		No FreeRADIUS includes.
 */
#ifndef TWOFA_MAIL_H
#define TWOFA_MAIL_H

#include <stdbool.h>
#include <time.h>
#include <talloc.h>
#include "sender.h"
#include "twofa.h"

typedef enum {
	TWOFA_MAIL_TLS_REQUIRED = 0,	//!< smtp:// must STARTTLS (the default), smtps:// is TLS from the start
	TWOFA_MAIL_TLS_NONE,		//!< smtp:// in clear: only for a relay on the same host
} twofa_mail_tls_t;

#define TWOFA_MAIL_TO_MAX	2	//!< addresses one message goes to
#define TWOFA_MAIL_SUBJECT_MAX	200	//!< bytes of the expanded subject, before encoding

/** The configuration.  Strings are copied by twofa_mail_new; NULL means unset. */
typedef struct {
	char const		*url;		//!< smtp://host[:port] or smtps://host[:port]
	twofa_mail_tls_t	tls;
	char const		*username;	//!< SMTP AUTH (only ever over TLS when tls is REQUIRED)
	char const		*password;	//!< secret
	char const		*ca_file;	//!< PEM CAs to verify the relay with (NULL: the system's)
	char const		*from;		//!< a plain address (twofa_email_valid): envelope and From:
	char const		*subject;	//!< template: {code} {user}
	char const		*body;		//!< template: {code} {user}; LF or CRLF line ends
	unsigned int		timeout_ms;	//!< this relay's hard limit (0: the sender's)
} twofa_mail_config_t;

typedef struct twofa_mail twofa_mail_t;

/** What one message puts in. */
typedef struct {
	char const	*to[TWOFA_MAIL_TO_MAX];	//!< one or two addresses; to[1] may be NULL
	char const	*code;
	char const	*user;
} twofa_mail_values_t;

/** Check config once (at start-up) and keep a copy under ctx; the password is
 *  wiped when it is freed.  @return TWOFA_OK, TWOFA_ERR_MALFORMED (err says
 *  what), TWOFA_ERR_NO_MEMORY. */
twofa_rcode_t twofa_mail_new(TALLOC_CTX *ctx, twofa_mail_config_t const *config, twofa_mail_t **out,
			     char *err, size_t err_len);

/** The message as it goes to the relay, dated now: headers, a blank line, the
 *  body as quoted-printable, every line ending in CRLF; a talloc string under
 *  ctx, wiped when freed.  @return TWOFA_OK; TWOFA_ERR_MALFORMED for an address
 *  twofa_email_valid refuses, no address, or a value that cannot go in a header
 *  or the text (err says which, never the value); TWOFA_ERR_CRYPTO (no random
 *  Message-ID); TWOFA_ERR_NO_MEMORY. */
twofa_rcode_t twofa_mail_message(TALLOC_CTX *ctx, twofa_mail_t const *mail, twofa_mail_values_t const *values,
				 time_t now, char **out, char *err, size_t err_len);

/** A sender job for one message to values->to: envelope, the message, TLS, auth,
 *  CA and timeout set on its easy handle.  @return as twofa_mail_message. */
twofa_rcode_t twofa_mail_job(twofa_mail_t const *mail, twofa_sender_t *sender, twofa_mail_values_t const *values,
			     twofa_send_job_t **out, char *err, size_t err_len);

/** Did the relay take it?  @return TWOFA_OK, or TWOFA_ERR_IO with why: curl's
 *  error (e.g. STARTTLS required but not offered) and the last SMTP reply code. */
twofa_rcode_t twofa_mail_outcome(twofa_mail_t const *mail, twofa_send_result_t const *result,
				 char *why, size_t why_len);

#endif
