/*
 * since.h	The TIME of "twofa-admin log --since TIME": a point in time
 *		written by an admin, as an ISO 8601 date or date and time, or
 *		as an age ("90m", "2d").
 *
 *		Pure parsing, no I/O: tests/unit/test_since.c checks it and
 *		tests/fuzz/fuzz_since.c feeds it anything.
 */
#ifndef TWOFA_SINCE_H
#define TWOFA_SINCE_H

#include <stdbool.h>
#include <time.h>

#define TWOFA_SINCE_AGE_MAX	999999		//!< the largest number of an age

/** Parse text, strictly: nothing before, after or between the parts.
 *
 *  - an age: 1 to 6 digits and a unit, s, m, h, d or w ("1h", "2d"):
 *    that long before now;
 *  - a date "YYYY-MM-DD" (midnight), or a date and time "YYYY-MM-DDTHH:MM"
 *    or "YYYY-MM-DDTHH:MM:SS" (a space for the T will do), in local time,
 *    or in UTC with a "Z" after it.  Years 1970 to 9999.
 *
 *  @return true and *out set, or false (*out unchanged) for anything else,
 *  a date that does not exist ("2026-02-30") included.
 */
bool twofa_since_parse(char const *text, time_t now, time_t *out);

#endif
