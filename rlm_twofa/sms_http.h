/*
 * sms_http.h	An SMS gateway reached over HTTP(S): its configuration, the
 *		transfer that sends one code (a sender job, sender.h), and
 *		whether the gateway took it.
 *
 *		The URL and body are templates (template.h) of {phone},
 *		{code}, {user} and {message}, each value escaped for where it
 *		goes: the URL's (RFC 3986), the body's by its content type
 *		(application/x-www-form-urlencoded or JSON).  {message} is the
 *		message template with {code} and {user} put in as plain text.
 *		Headers are literal.  Auth: basic (user and password), a
 *		bearer token, or AWS SigV4 (CURLOPT_AWS_SIGV4, with the access
 *		key and secret as user and password: Amazon SNS).  Success is
 *		an HTTP status in the configured set and, if set, a substring
 *		of the response body.
 *
 *		Nothing here logs: the code and the secrets are never in an
 *		error text either.  No FreeRADIUS includes.
 */
#ifndef TWOFA_SMS_HTTP_H
#define TWOFA_SMS_HTTP_H

#include <stdbool.h>
#include <talloc.h>
#include "sender.h"
#include "twofa.h"

/** The configuration, as a module's config table or twofa-admin fills it.
 *  Strings are copied by twofa_sms_http_new; NULL means unset. */
typedef struct {
	char const		*url;		//!< http:// or https:// template: {phone} {code} {user} {message}
	char const		*method;	//!< "GET" or "POST" (NULL: POST if there is a body, else GET)
	char const * const	*headers;	//!< NULL-terminated list of literal "Name: value" lines
	char const		*body;		//!< template (POST only)
	char const		*content_type;	//!< of the body: application/x-www-form-urlencoded or application/json (or *+json)
	char const		*message;	//!< template of the text sent: {code} {user} {phone}; NULL: "{code}"
	char const		*username;	//!< HTTP basic auth, or AWS access key id with aws_sigv4
	char const		*password;	//!< secret
	char const		*bearer_token;	//!< secret; "Authorization: Bearer ..."
	char const		*aws_sigv4;	//!< CURLOPT_AWS_SIGV4, e.g. "aws:amz:eu-west-1:sns"
	char const		*success_status;//!< e.g. "2xx" (NULL), "200,201", "2xx,302"
	char const		*success_body;	//!< a substring the response body must hold (first TWOFA_SEND_BODY_MAX bytes)
	char const		*ca_file;	//!< PEM CAs to verify the gateway with (NULL: the system's)
	unsigned int		timeout_ms;	//!< this gateway's hard limit (0: the sender's)
} twofa_sms_http_config_t;

typedef struct twofa_sms_http twofa_sms_http_t;

/** What one send puts in.  phone E.164 (contact.h), code digits, user the name. */
typedef struct {
	char const	*phone;
	char const	*code;
	char const	*user;
} twofa_sms_values_t;

/** Check config once (at start-up) and keep a copy under ctx; the secrets in it
 *  are wiped when it is freed.  @return TWOFA_OK, TWOFA_ERR_MALFORMED (err says
 *  what, never a secret), TWOFA_ERR_NO_MEMORY. */
twofa_rcode_t twofa_sms_http_new(TALLOC_CTX *ctx, twofa_sms_http_config_t const *config, twofa_sms_http_t **out,
				 char *err, size_t err_len);

/** A sender job for one SMS: URL, method, headers, body, auth, CA and timeout
 *  set on its easy handle; everything it points to lives under the job.  Hand
 *  it to twofa_sender_send.  @return TWOFA_OK; TWOFA_ERR_MALFORMED if a value
 *  cannot go where the templates put it (err names which, not the value);
 *  TWOFA_ERR_NO_MEMORY. */
twofa_rcode_t twofa_sms_http_job(twofa_sms_http_t const *gw, twofa_sender_t *sender, twofa_sms_values_t const *values,
				 twofa_send_job_t **out, char *err, size_t err_len);

/** Did the gateway take it?  @return TWOFA_OK; TWOFA_ERR_IO if not, why saying
 *  how: "HTTP 500", "HTTP 200 without the success text", or curl's error.
 *  Neither the code nor a secret ever appears in why. */
twofa_rcode_t twofa_sms_http_outcome(twofa_sms_http_t const *gw, twofa_send_result_t const *result,
				     char *why, size_t why_len);

#endif
