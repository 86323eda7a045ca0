/*
 * avlogical — see avlogical.h.
 */
#include "avlogical.h"

#include <string.h>

#define NSEC_PER_SEC 1000000000

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The n-digit decimal number at s (every character a digit), or -1. */
static int
fixed_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned
days_in_month(int64_t y, unsigned m)
{
	static const unsigned char days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Howard Hinnant's days_from_civil: exact for every proleptic Gregorian date. */
int64_t
avlogical_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD" at s (10 characters). */
static int
parse_ymd(const char *s, int64_t *days)
{
	int y = fixed_digits(s, 4), m, d;

	if (y < 0 || s[4] != '-' || (m = fixed_digits(s + 5, 2)) < 1 || m > 12 || s[7] != '-' ||
	    (d = fixed_digits(s + 8, 2)) < 1 || (unsigned)d > days_in_month(y, (unsigned)m))
		return -1;
	*days = avlogical_days_from_civil(y, (unsigned)m, (unsigned)d);
	return 0;
}

/*
 * "HH:MM:SS[.fraction]" at the start of s (len bytes); fills *ns (after midnight) and *used (the
 * bytes read).
 */
static int
parse_hms(const char *s, size_t len, int64_t *ns, size_t *used)
{
	int h, m, sec;
	int64_t frac = 0;
	size_t i = 8;

	if (len < 8 || (h = fixed_digits(s, 2)) < 0 || h > 23 || s[2] != ':' ||
	    (m = fixed_digits(s + 3, 2)) < 0 || m > 59 || s[5] != ':' ||
	    (sec = fixed_digits(s + 6, 2)) < 0 || sec > 59)
		return -1;
	if (i < len && s[i] == '.') {
		int64_t unit = NSEC_PER_SEC;

		i++;
		while (i < len && is_digit(s[i])) {
			if (unit == 1)
				return -1;	/* more than nanoseconds */
			unit /= 10;
			frac += (s[i] - '0') * unit;
			i++;
		}
		if (unit == NSEC_PER_SEC)
			return -1;	/* a point without digits */
	}
	*ns = ((int64_t)h * 3600 + m * 60 + sec) * NSEC_PER_SEC + frac;
	*used = i;
	return 0;
}

int
avlogical_parse_timestamp(const char *s, size_t len, int64_t *sec, int32_t *nsec, int *has_zone)
{
	int64_t days, ns, offset = 0;
	size_t used;

	if (len < 19 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || parse_ymd(s, &days) != 0 ||
	    parse_hms(s + 11, len - 11, &ns, &used) != 0)
		return -1;
	s += 11 + used;
	len -= 11 + used;
	*has_zone = len > 0;
	if (len == 1 && (s[0] == 'Z' || s[0] == 'z')) {
		offset = 0;
	} else if (len == 6 || len == 5) {
		int oh, om;

		if ((s[0] != '+' && s[0] != '-') || (oh = fixed_digits(s + 1, 2)) < 0 || oh > 23 ||
		    (len == 6 && s[3] != ':') || (om = fixed_digits(s + len - 2, 2)) < 0 || om > 59)
			return -1;
		offset = (int64_t)(oh * 60 + om) * 60;
		if (s[0] == '-')
			offset = -offset;
	} else if (len != 0) {
		return -1;
	}
	*sec = days * 86400 + ns / NSEC_PER_SEC - offset;
	*nsec = (int32_t)(ns % NSEC_PER_SEC);
	return 0;
}

int
avlogical_parse_date(const char *s, size_t len, int32_t *days)
{
	int64_t d;

	if (len != 10 || parse_ymd(s, &d) != 0)
		return -1;
	*days = (int32_t)d;	/* years 0000..9999 are well inside int32 */
	return 0;
}

int
avlogical_parse_time(const char *s, size_t len, int64_t *nsec)
{
	size_t used;

	if (parse_hms(s, len, nsec, &used) != 0 || used != len)
		return -1;
	return 0;
}

int
avlogical_uuid_ok(const char *s, size_t len)
{
	if (len != 36)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!is_hex(s[i])) {
			return 0;
		}
	}
	return 1;
}

size_t
avlogical_decimal_bufsize(int precision)
{
	/* 10^p < 2^(p * 3.3220): that many bits, one more byte for rounding, one for the sign */
	return precision > 0 ? (size_t)precision * 3322 / 8000 + 2 : 2;
}

/* Multiplies the n-byte big-endian number b by 10 and adds d. */
static void
mul10_add(unsigned char *b, size_t n, unsigned d)
{
	unsigned carry = d;

	for (size_t k = n; k-- > 0;) {
		unsigned v = b[k] * 10u + carry;

		b[k] = (unsigned char)(v & 0xff);
		carry = v >> 8;
	}
}

enum avlogical_decimal_rc
avlogical_decimal(const char *s, size_t len, int precision, int scale, unsigned char *buf,
		  size_t buf_size, const unsigned char **out, size_t *out_len, int64_t *detail)
{
	size_t i = 0, int_at, n_int, frac_at = 0, n_frac = 0, n, lead, trail, nb, k;
	int64_t exp = 0, shift, n_sig, n_digits;
	int neg = 0;

	/* [+-] digits [. digits] [(e|E) [+-] digits], with a digit before or after the point */
	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	int_at = i;
	while (i < len && is_digit(s[i]))
		i++;
	n_int = i - int_at;
	if (i < len && s[i] == '.') {
		frac_at = ++i;
		while (i < len && is_digit(s[i]))
			i++;
		n_frac = i - frac_at;
	}
	if (n_int + n_frac == 0)
		return AVLOGICAL_DECIMAL_SYNTAX;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		int exp_neg = 0;

		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			exp_neg = s[i++] == '-';
		if (i == len || !is_digit(s[i]))
			return AVLOGICAL_DECIMAL_SYNTAX;
		for (; i < len && is_digit(s[i]); i++) {
			if (exp < 1000000000)	/* beyond any precision: saturate */
				exp = exp * 10 + (s[i] - '0');
		}
		if (exp_neg)
			exp = -exp;
	}
	if (i != len)
		return AVLOGICAL_DECIMAL_SYNTAX;

	/* the digits, integer part then fraction, as one sequence */
#define DIGIT(j) ((unsigned)((j) < n_int ? s[int_at + (j)] : s[frac_at + (j) - n_int]) - '0')
	n = n_int + n_frac;
	for (lead = 0; lead < n && DIGIT(lead) == 0; lead++)
		;
	if (lead == n) {
		buf[0] = 0;
		*out = buf;
		*out_len = 1;
		return AVLOGICAL_DECIMAL_OK;
	}
	for (trail = 0; DIGIT(n - 1 - trail) == 0; trail++)
		;

	/* the value is digits x 10^(exp - n_frac); unscaled, x 10^(exp - n_frac + scale) */
	shift = exp - (int64_t)n_frac + scale;
	if (shift < 0 && -shift > (int64_t)trail) {
		*detail = (int64_t)n_frac - exp - (int64_t)trail;
		return AVLOGICAL_DECIMAL_SCALE;
	}
	n_sig = (int64_t)(n - lead);
	n_digits = n_sig + shift;
	*detail = n_digits;
	if (n_digits > precision || n_digits > AVLOGICAL_DECIMAL_MAX_DIGITS)
		return n_digits > precision ? AVLOGICAL_DECIMAL_PRECISION : AVLOGICAL_DECIMAL_TOO_LONG;

	nb = avlogical_decimal_bufsize((int)n_digits);
	if (nb > buf_size)
		return AVLOGICAL_DECIMAL_TOO_LONG;	/* a caller's mistake: buf is too small */
	memset(buf, 0, nb);
	for (int64_t j = 0; j < n_sig + (shift < 0 ? shift : 0); j++)
		mul10_add(buf, nb, DIGIT(lead + (size_t)j));
	for (int64_t j = 0; j < shift; j++)
		mul10_add(buf, nb, 0);
#undef DIGIT

	if (neg) {
		unsigned carry = 1;

		for (k = nb; k-- > 0;) {
			unsigned v = (unsigned)(unsigned char)~buf[k] + carry;

			buf[k] = (unsigned char)(v & 0xff);
			carry = v >> 8;
		}
	}
	/* drop leading bytes that only repeat the sign */
	for (k = 0; k + 1 < nb; k++) {
		if (!((buf[k] == 0x00 && !(buf[k + 1] & 0x80)) ||
		      (buf[k] == 0xff && (buf[k + 1] & 0x80))))
			break;
	}
	*out = buf + k;
	*out_len = nb - k;
	return AVLOGICAL_DECIMAL_OK;
}
