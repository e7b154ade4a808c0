/*
 * since.c	"twofa-admin log --since TIME" (since.h).
 */
#include <string.h>

#include "since.h"

/* n digits at p, as a number; -1 if any is not a digit. */
static int digits(char const *p, int n)
{
	int v = 0;

	while (n--) {
		if ((*p < '0') || (*p > '9')) return -1;
		v = v * 10 + (*p++ - '0');
	}
	return v;
}

static bool age_parse(char const *text, size_t len, time_t now, time_t *out)
{
	static char const	units[] = "smhdw";
	static long const	seconds[] = { 1, 60, 3600, 86400, 7 * 86400 };
	char const		*unit;
	int			n;

	if ((len < 2) || (len > 7)) return false;
	unit = strchr(units, text[len - 1]);
	if (!unit) return false;
	n = digits(text, (int) len - 1);
	if (n < 0) return false;
	*out = now - (time_t) n * seconds[unit - units];
	return true;
}

static bool leap(int year)
{
	return ((year % 4) == 0) && (((year % 100) != 0) || ((year % 400) == 0));
}

static int days_in(int year, int month)
{
	static int const days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return ((month == 2) && leap(year)) ? 29 : days[month - 1];
}

/*
 *	YYYY-MM-DD[(T| )HH:MM[:SS]][Z]: 10, 16 or 19 bytes, and a Z.
 */
static bool date_parse(char const *text, size_t len, time_t *out)
{
	struct tm	tm;
	bool		utc = false;
	int		year, month, day, hour = 0, min = 0, sec = 0;
	time_t		t;

	if (len && (text[len - 1] == 'Z')) {
		utc = true;
		len--;
	}
	if ((len != 10) && (len != 16) && (len != 19)) return false;
	if ((text[4] != '-') || (text[7] != '-')) return false;
	year = digits(text, 4);
	month = digits(text + 5, 2);
	day = digits(text + 8, 2);
	if ((year < 1970) || (month < 1) || (month > 12) || (day < 1) || (day > days_in(year, month))) return false;
	if (len >= 16) {
		if (((text[10] != 'T') && (text[10] != ' ')) || (text[13] != ':')) return false;
		hour = digits(text + 11, 2);
		min = digits(text + 14, 2);
		if ((hour < 0) || (hour > 23) || (min < 0) || (min > 59)) return false;
	}
	if (len == 19) {
		if (text[16] != ':') return false;
		sec = digits(text + 17, 2);
		if ((sec < 0) || (sec > 59)) return false;
	}

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	t = utc ? timegm(&tm) : mktime(&tm);
	if (t == (time_t) -1) return false;
	*out = t;
	return true;
}

bool twofa_since_parse(char const *text, time_t now, time_t *out)
{
	size_t len;

	if (!text) return false;
	len = strlen(text);
	if ((len > 0) && (text[len - 1] >= 'a') && (text[len - 1] <= 'z')) return age_parse(text, len, now, out);
	return date_parse(text, len, out);
}
