/*
 * import_csv.c	One line of "twofa-admin user import" (import_csv.h).
 */
#include <string.h>

#include "import_csv.h"
#include "../rlm_twofa/base32.h"
#include "../rlm_twofa/policy.h"

twofa_import_result_t twofa_import_parse_line(char *line, twofa_import_row_t *row)
{
	char	*password, *secret;
	ssize_t	len;

	memset(row, 0, sizeof(*row));
	line[strcspn(line, "\r\n")] = '\0';
	if ((line[0] == '\0') || (line[0] == '#')) return TWOFA_IMPORT_NOTHING;

	password = strchr(line, ',');
	secret = strrchr(line, ',');
	if (!password || (password == secret)) return TWOFA_IMPORT_BAD_FORM;
	*password++ = '\0';
	*secret++ = '\0';
	if (!twofa_user_name_valid(line, strlen(line))) return TWOFA_IMPORT_BAD_NAME;

	if (*secret) {
		len = twofa_base32_decode(secret, row->secret, sizeof(row->secret));
		if (len < TWOFA_IMPORT_SECRET_MIN) {
			memset(row->secret, 0, sizeof(row->secret));
			return TWOFA_IMPORT_BAD_SECRET;
		}
		row->secret_len = (size_t) len;
	}
	row->name = line;
	row->password = password;
	return TWOFA_IMPORT_ROW;
}
