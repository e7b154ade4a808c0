/*
 * import_csv.h	One line of "twofa-admin user import": name,password,base32secret.
 *
 *		Pure parsing, no I/O: twofa-admin reads the lines, this splits
 *		and checks one, and tests/fuzz/fuzz_import_csv.c feeds it anything.
 */
#ifndef TWOFA_IMPORT_CSV_H
#define TWOFA_IMPORT_CSV_H

#include <stddef.h>
#include <stdint.h>
#include "../rlm_twofa/crypto.h"

#define TWOFA_IMPORT_SECRET_MIN	10		//!< bytes: 80-bit secrets of older tools still import

typedef enum {
	TWOFA_IMPORT_ROW = 0,		//!< a user: the fields below are set
	TWOFA_IMPORT_NOTHING,		//!< a blank line or a # comment
	TWOFA_IMPORT_BAD_FORM,		//!< not name,password,secret
	TWOFA_IMPORT_BAD_NAME,		//!< twofa_user_name_valid() refused the name
	TWOFA_IMPORT_BAD_SECRET,	//!< not TWOFA_IMPORT_SECRET_MIN to TWOFA_SECRET_MAX bytes of base32
} twofa_import_result_t;

typedef struct {
	char const	*name;				//!< points into the line
	char const	*password;			//!< points into the line; "" for none
	uint8_t		secret[TWOFA_SECRET_MAX];	//!< raw TOTP secret; wipe after use
	size_t		secret_len;			//!< 0: no TOTP
} twofa_import_row_t;

/** Split line (NUL-terminated, changed in place: commas and the line end become
 *  NULs) into row.  The name ends at the first comma, the secret starts after the
 *  last, so a password may hold commas.
 */
twofa_import_result_t twofa_import_parse_line(char *line, twofa_import_row_t *row);

#endif
