/*
 * sink_record.h	Reading the test gateway sink's record (sink_record.c).
 */
#ifndef TWOFA_SINK_RECORD_H
#define TWOFA_SINK_RECORD_H

#include <stddef.h>

#define SINK_CODE_MIN	6	//!< a code's digits (rlm_twofa: code_length 6 to 10)
#define SINK_CODE_MAX	10

/** The JSON string value of "key" in line (as json.dumps writes it), unescaped into
 *  out (outlen bytes, NUL-terminated).  @return 0, or -1: no such key, a malformed
 *  escape, or the value does not fit. */
int sink_json_string(char const *line, char const *key, char *out, size_t outlen);

/** The value of field name in an application/x-www-form-urlencoded form, decoded
 *  into out.  @return 0, or -1: no such field, or it does not fit. */
int sink_form_value(char const *form, char const *name, char *out, size_t outlen);

/** The first run of SINK_CODE_MIN to SINK_CODE_MAX digits in text.  @return 0, or -1. */
int sink_code_in_text(char const *text, char out[SINK_CODE_MAX + 1]);

#endif
