/*
 * check.h	A minimal test harness for the unit tests.
 *
 *		Each named case prints "ok NAME" or "FAIL NAME: why"; tools/test
 *		counts those lines.  A binary exits non-zero if any case failed.
 */
#ifndef TWOFA_CHECK_H
#define TWOFA_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failed;	//!< failures in the current case
static int check_total_failed;

#define CHECK(cond) do { \
	if (!(cond)) { \
		printf("  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		check_failed++; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	char const *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b) != 0) { \
		printf("  %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, _a ? _a : "(null)", _b ? _b : "(null)"); \
		check_failed++; \
	} \
} while (0)

/** Run one named case: a void function. */
#define RUN(fn) do { \
	check_failed = 0; \
	fn(); \
	if (check_failed) { printf("FAIL %s\n", #fn); check_total_failed++; } \
	else printf("ok %s\n", #fn); \
	fflush(stdout); \
} while (0)

#define CHECK_EXIT() return check_total_failed ? 1 : 0

#endif
