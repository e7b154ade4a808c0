/*
 * fuzz_sink_record.c	tools/sink_record.c: the lines of the test gateway
 *			sink's record, as twofa-bench --mode sms reads them.
 *
 *	Nothing may be read past a line's end or written past an output's
 *	size; what is taken is a NUL-terminated string that fits; a code is
 *	SINK_CODE_MIN to SINK_CODE_MAX digits.
 *
 * sources: tools/sink_record.c
 * max_len: 512
 */
#include <string.h>

#include "fuzz.h"
#include "../../tools/sink_record.h"

int LLVMFuzzerTestOneInput(uint8_t const *data, size_t size)
{
	char	*line = malloc(size + 1);
	char	body[64], user[16], text[128], code[SINK_CODE_MAX + 1];

	if (!line) return 0;
	memcpy(line, data, size);
	line[size] = '\0';

	if (sink_json_string(line, "body", body, sizeof(body)) == 0) {
		FUZZ_CHECK(strlen(body) < sizeof(body));
		if (sink_form_value(body, "user", user, sizeof(user)) == 0) FUZZ_CHECK(strlen(user) < sizeof(user));
		if (sink_form_value(body, "text", text, sizeof(text)) == 0) {
			FUZZ_CHECK(strlen(text) < sizeof(text));
			if (sink_code_in_text(text, code) == 0) {
				size_t len = strlen(code);

				FUZZ_CHECK((len >= SINK_CODE_MIN) && (len <= SINK_CODE_MAX));
				FUZZ_CHECK(strspn(code, "0123456789") == len);
			}
		}
	}
	/* The line itself as a form and as a message's text. */
	if (sink_form_value(line, "text", text, sizeof(text)) == 0) FUZZ_CHECK(strlen(text) < sizeof(text));
	if (sink_code_in_text(line, code) == 0) FUZZ_CHECK(strspn(code, "0123456789") == strlen(code));
	free(line);
	return 0;
}
