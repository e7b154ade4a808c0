/*
 * fuzz_import_csv.c	twofa_import_parse_line (tools/import_csv.c): one
 *			line of "twofa-admin user import", as an admin's
 *			CSV file (or a file handed to them) holds it.
 *
 *	The line is split in place: nothing may be read or written past
 *	its end, and a row taken is one the rest of the tool can trust: a
 *	valid name, a secret of the allowed length.
 *
 * sources: tools/import_csv.c rlm_twofa/base32.c rlm_twofa/policy.c
 * max_len: 1024
 */
#include <string.h>

#include "fuzz.h"
#include "../../tools/import_csv.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	char			*line = malloc(size + 1);
	twofa_import_row_t	row;
	twofa_import_result_t	result;

	if (!line) return 0;
	memcpy(line, data, size);
	line[size] = '\0';

	result = twofa_import_parse_line(line, &row);
	if (result == TWOFA_IMPORT_ROW) {
		FUZZ_CHECK(row.name && row.password);
		FUZZ_CHECK(twofa_user_name_valid(row.name, strlen(row.name)));
		FUZZ_CHECK(!strchr(row.name, ','));
		FUZZ_CHECK((row.secret_len == 0) ||
			   ((row.secret_len >= TWOFA_IMPORT_SECRET_MIN) && (row.secret_len <= TWOFA_SECRET_MAX)));
		/* Both point into the line. */
		FUZZ_CHECK((row.name >= line) && (row.name <= line + size));
		FUZZ_CHECK((row.password >= line) && (row.password <= line + size));
	} else {
		FUZZ_CHECK(row.secret_len == 0);
	}
	free(line);
	return 0;
}
