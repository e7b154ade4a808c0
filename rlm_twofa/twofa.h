/*
 * twofa.h	Return codes and limits shared by every part of rlm_twofa.
 *
 *		No FreeRADIUS, SQLite or OpenSSL includes: the module, the store,
 *		the crypto helpers and tools/twofa-admin all include this file.
 */
#ifndef TWOFA_H
#define TWOFA_H

/*
 *	Every function in rlm_twofa that can fail returns one of these.
 *	0 is success, failures are negative.  Only rlm_twofa.c maps them
 *	to rlm_rcode_t, and only twofa-admin maps them to exit codes.
 */
typedef enum {
	TWOFA_OK		=   0,
	TWOFA_ERR_NOT_FOUND	=  -1,	//!< no such user
	TWOFA_ERR_NOT_ENROLLED	=  -2,	//!< no confirmed second factor on file
	TWOFA_ERR_BAD_PASSWORD	=  -3,	//!< first factor did not match
	TWOFA_ERR_BAD_CODE	=  -4,	//!< code did not match
	TWOFA_ERR_MALFORMED	=  -5,	//!< input not in the expected form
	TWOFA_ERR_REPLAYED	=  -6,	//!< code matched, but its time step was already used
	TWOFA_ERR_LOCKED	=  -7,	//!< too many recent failures
	TWOFA_ERR_EXPIRED	=  -8,	//!< challenge answered too late
	TWOFA_ERR_EXISTS	=  -9,	//!< user or enrolment already there
	TWOFA_ERR_STORE		= -10,	//!< store said no; detail from twofa_store_errmsg()
	TWOFA_ERR_BUSY		= -11,	//!< store locked past the busy timeout
	TWOFA_ERR_CRYPTO	= -12,	//!< OpenSSL or crypt(3) said no
	TWOFA_ERR_IO		= -13,	//!< a file (key file, PNG) could not be read or written
	TWOFA_ERR_NO_MEMORY	= -14,
	TWOFA_ERR_THROTTLED	= -15,	//!< too many failed first factors: not checked until later
	TWOFA_ERR_DENIED	= -16,	//!< first factor right, but a rule refuses the user (LDAP allow_group)
	TWOFA_ERR_UNAVAILABLE	= -17,	//!< a server we need (the directory) did not answer in time
} twofa_rcode_t;

/** Short lower-case phrase for a return code, e.g. "replayed", for log lines. */
char const *twofa_strerror(twofa_rcode_t rc);

/*
 *	Longest user name we accept, in bytes.  RADIUS allows 253; names
 *	longer than this are rejected before they reach the store.
 */
#define TWOFA_USER_NAME_MAX	128

#endif /* TWOFA_H */
