/*
 * test_since.c	"twofa-admin log --since TIME" (tools/since.c): ages,
 *		ISO dates and times, and what is refused.
 */
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "../../tools/since.h"

#define NOW	((time_t) 1800000000)

static bool parses_to(char const *text, time_t expected)
{
	time_t t = 0;

	if (!twofa_since_parse(text, NOW, &t)) {
		printf("  \"%s\" refused\n", text);
		return false;
	}
	if (t != expected) printf("  \"%s\": %lld, not %lld\n", text, (long long) t, (long long) expected);
	return t == expected;
}

static bool refused(char const *text)
{
	time_t t = 42;
	bool ok = !twofa_since_parse(text, NOW, &t) && (t == 42);

	if (!ok) printf("  \"%s\" taken\n", text);
	return ok;
}

static void ages_count_back_from_now(void)
{
	CHECK(parses_to("30s", NOW - 30));
	CHECK(parses_to("90m", NOW - 90 * 60));
	CHECK(parses_to("1h", NOW - 3600));
	CHECK(parses_to("2d", NOW - 2 * 86400));
	CHECK(parses_to("1w", NOW - 7 * 86400));
	CHECK(parses_to("0d", NOW));
	CHECK(parses_to("999999s", NOW - 999999));
}

#define DAY	((time_t) 1799971200)	/* 2027-01-15T00:00:00Z */

static void utc_dates_and_times(void)
{
	CHECK(parses_to("2027-01-15Z", DAY));
	CHECK(parses_to("1970-01-01T00:00:00Z", 0));
	CHECK(parses_to("2027-01-15T08:00:00Z", DAY + 8 * 3600));
	CHECK(parses_to("2027-01-15 08:00Z", DAY + 8 * 3600));
	CHECK(parses_to("2024-02-29T23:59:59Z", 1709251199));
}

static void local_dates_follow_tz(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	CHECK(parses_to("2027-01-15", DAY));
	CHECK(parses_to("2027-01-15T08:30", DAY + 8 * 3600 + 30 * 60));
	setenv("TZ", "UTC-2", 1);	/* POSIX: two hours east of UTC */
	tzset();
	CHECK(parses_to("2027-01-15T08:30", DAY + 6 * 3600 + 30 * 60));
	unsetenv("TZ");
	tzset();
}

static void anything_else_is_refused(void)
{
	char const *bad[] = {
		"", "h", "1", "-1h", "+1h", "1 h", " 1h", "1h ", "1H", "1y", "1000000s", "1.5h", "0x10s", "1hh",
		"2026-02-30", "2025-02-29", "2026-13-01", "2026-00-10", "2026-01-00", "1969-12-31Z", "2026-1-15",
		"2026/01/15", "2026-01-15T", "2026-01-15T24:00", "2026-01-15T12:60", "2026-01-15T12:30:60",
		"2026-01-15T12", "2026-01-15T12:3", "2026-01-15X12:30", "2026-01-15T12:30Z ", "2026-01-15ZZ",
		"2026-01-15z", "2026-01-15T12:30:00+01:00", "２０２６-01-15", "now", "yesterday",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) CHECK(refused(bad[i]));
	CHECK(!twofa_since_parse(NULL, NOW, &(time_t){ 0 }));
}

int main(void)
{
	RUN(ages_count_back_from_now);
	RUN(utc_dates_and_times);
	RUN(local_dates_follow_tz);
	RUN(anything_else_is_refused);
	CHECK_EXIT();
}
