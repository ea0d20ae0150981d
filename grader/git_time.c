/* git_time.c - ISO 8601 dates with an offset, parsed and printed without the
 * C library's time zone machinery (no TZ, no locale, any year 0000-9999). */
#include "tpgrade/git_impl.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian); H. Hinnant's method. */
static long long days_from_civil(long long y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(long long z, long long *y, int *m, int *d)
{
	z += 719468;
	long long era = (z >= 0 ? z : z - 146096) / 146097;
	long long doe = z - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static int bad(const char *s, const char *why, tpg_err *err)
{
	char *shown = tpg_git_printable(s, 64);
	tpg_err_set(err, TPG_EINVAL,
		"invalid date '%s': %s (expected ISO 8601 like 2026-12-10T23:59:00+01:00)",
		shown, why);
	free(shown);
	return TPG_EINVAL;
}

int tpg_parse_iso8601(const char *s, long long *epoch, int *offset_minutes, tpg_err *err)
{
	int Y, M, D, h, m, sec = 0, oh = 0, om = 0, sign = 1;
	bool basic;

	if (!s)
		return tpg_err_set(err, TPG_EINVAL, "no date given");
	const char *p = s;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!digits(&p, 4, &Y))
		return bad(s, "the year must have 4 digits", err);
	basic = *p != '-';
	if (!basic)
		p++;
	if (!digits(&p, 2, &M) || (!basic && *p++ != '-') || !digits(&p, 2, &D))
		return bad(s, "the date must be YYYY-MM-DD", err);
	if (*p != 'T' && *p != 't' && *p != ' ')
		return bad(s, *p ? "expected 'T' between date and time"
			: "a time and a UTC offset are needed after the date", err);
	p++;
	if (!digits(&p, 2, &h))
		return bad(s, "the time must be hh:mm or hh:mm:ss", err);
	if (!basic && *p++ != ':')
		return bad(s, "the time must be hh:mm or hh:mm:ss", err);
	if (!digits(&p, 2, &m))
		return bad(s, "the time must be hh:mm or hh:mm:ss", err);
	if ((!basic && *p == ':') || (basic && isdigit((unsigned char)*p))) {
		if (!basic)
			p++;
		if (!digits(&p, 2, &sec))
			return bad(s, "seconds must have 2 digits", err);
	}
	if (*p == '.' || *p == ',') {
		/* Fractions are dropped: commit times are whole seconds, so
		 * "at or before 23:59:59.5" is "at or before 23:59:59". */
		p++;
		if (!isdigit((unsigned char)*p))
			return bad(s, "a digit must follow the decimal separator", err);
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		p++;
		if (!digits(&p, 2, &oh))
			return bad(s, "the UTC offset must be +hh:mm, +hhmm or +hh", err);
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &om))
				return bad(s, "the UTC offset must be +hh:mm, +hhmm or +hh", err);
		} else if (isdigit((unsigned char)*p) && !digits(&p, 2, &om)) {
			return bad(s, "the UTC offset must be +hh:mm, +hhmm or +hh", err);
		}
	} else if (*p == '\0' || *p == ' ') {
		return bad(s, "the UTC offset is missing (add Z or +01:00)", err);
	} else {
		return bad(s, "unexpected character after the time", err);
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		return bad(s, "unexpected characters at the end", err);

	if (M < 1 || M > 12)
		return bad(s, "the month is out of range", err);
	if (D < 1 || D > days_in_month(Y, M))
		return bad(s, "the day is out of range for that month", err);
	if (h > 24 || (h == 24 && (m || sec)))
		return bad(s, "the hour is out of range", err);
	if (m > 59)
		return bad(s, "the minutes are out of range", err);
	if (sec > 60)
		return bad(s, "the seconds are out of range", err);
	if (oh > 23 || om > 59)
		return bad(s, "the UTC offset is out of range", err);
	/* A leap second counts as the second before it: never later than the
	 * instructor meant. 24:00 is the end of the day, the next midnight. */
	if (sec == 60)
		sec = 59;

	int off = sign * (oh * 60 + om);
	long long t = days_from_civil(Y, M, D) * 86400LL + h * 3600LL + m * 60LL + sec
		- off * 60LL;
	if (epoch)
		*epoch = t;
	if (offset_minutes)
		*offset_minutes = off;
	return 0;
}

char *tpg_format_iso8601(long long epoch, int offset_minutes)
{
	/* Commit offsets come from student data: keep them sane. */
	if (offset_minutes > 24 * 60 || offset_minutes < -24 * 60)
		offset_minutes = 0;
	/* Keep far-away (forged) dates printable and overflow-free. */
	const long long lim = 100000LL * 366 * 86400;
	if (epoch > lim)
		epoch = lim;
	if (epoch < -lim)
		epoch = -lim;
	long long local = epoch + offset_minutes * 60LL;
	long long days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	long long secs = local - days * 86400;
	long long y;
	int mo, d;
	civil_from_days(days, &y, &mo, &d);
	int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
	return tpg_xasprintf("%04lld-%02d-%02dT%02lld:%02lld:%02lld%c%02d:%02d",
		y, mo, d, secs / 3600, secs / 60 % 60, secs % 60,
		offset_minutes < 0 ? '-' : '+', a / 60, a % 60);
}
