/*
 * errors.c	twofa_strerror: one phrase per return code.
 */
#include "twofa.h"

/* A switch rather than a table: -Wswitch names a value left out. */
char const *twofa_strerror(twofa_rcode_t rc)
{
	switch (rc) {
	case TWOFA_OK:			return "ok";
	case TWOFA_ERR_NOT_FOUND:	return "not found";
	case TWOFA_ERR_NOT_ENROLLED:	return "not enrolled";
	case TWOFA_ERR_BAD_PASSWORD:	return "bad password";
	case TWOFA_ERR_BAD_CODE:	return "bad code";
	case TWOFA_ERR_MALFORMED:	return "malformed";
	case TWOFA_ERR_REPLAYED:	return "replayed";
	case TWOFA_ERR_LOCKED:		return "locked";
	case TWOFA_ERR_EXPIRED:		return "expired";
	case TWOFA_ERR_EXISTS:		return "exists";
	case TWOFA_ERR_STORE:		return "store error";
	case TWOFA_ERR_BUSY:		return "store busy";
	case TWOFA_ERR_CRYPTO:		return "crypto error";
	case TWOFA_ERR_IO:		return "i/o error";
	case TWOFA_ERR_NO_MEMORY:	return "out of memory";
	case TWOFA_ERR_THROTTLED:	return "throttled";
	case TWOFA_ERR_DENIED:		return "denied";
	case TWOFA_ERR_UNAVAILABLE:	return "directory unavailable";
	}
	return "unknown error";
}
