/*
 * avlogical — the text forms services write for Avro's logical types, turned into the values
 * Avro stores: ISO-8601 timestamps, dates and times of day, UUIDs, and decimal numbers as
 * unscaled two's-complement integers.
 *
 * The encoder (avenc) calls these for fields whose schema carries a logical type. They are pure
 * functions: no allocation, no locale, no time zone database (the calendar arithmetic is
 * proleptic Gregorian, done here rather than through timegm).
 */
#ifndef OUTBOX_RELAY_AVLOGICAL_H
#define OUTBOX_RELAY_AVLOGICAL_H

#include <stddef.h>
#include <stdint.h>

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; negative before 1970). */
int64_t avlogical_days_from_civil(int64_t y, unsigned m, unsigned d);

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.fraction][zone]": "T", "t" or a space between date and time, a
 * fraction of 1 to 9 digits, zone "Z", "z", "+HH:MM", "-HH:MM", "+HHMM" or "-HHMM" or none.
 * Fills *sec (seconds since 1970-01-01T00:00:00, the offset applied when there is one), *nsec
 * (0..999999999) and *has_zone. Returns 0, or -1 when s is not such a date-time or names a day,
 * hour, minute or second that does not exist (leap seconds included).
 */
int avlogical_parse_timestamp(const char *s, size_t len, int64_t *sec, int32_t *nsec,
			      int *has_zone);

/* Parses "YYYY-MM-DD" into days since 1970-01-01. Returns 0, or -1. */
int avlogical_parse_date(const char *s, size_t len, int32_t *days);

/* Parses "HH:MM:SS[.fraction]" (1 to 9 digits) into nanoseconds after midnight. 0, or -1. */
int avlogical_parse_time(const char *s, size_t len, int64_t *nsec);

/* Whether s is a UUID's text form: 8-4-4-4-12 hexadecimal digits, either case. */
int avlogical_uuid_ok(const char *s, size_t len);

enum avlogical_decimal_rc {
	AVLOGICAL_DECIMAL_OK = 0,
	AVLOGICAL_DECIMAL_SYNTAX,	/* not a decimal number */
	AVLOGICAL_DECIMAL_SCALE,	/* *detail = its decimal places, more than scale */
	AVLOGICAL_DECIMAL_PRECISION,	/* *detail = its digits at scale, more than precision */
	AVLOGICAL_DECIMAL_TOO_LONG	/* *detail = its digits, more than the MAX_DIGITS below */
};

/*
 * The most digits an unscaled value may have, whatever the precision: the conversion takes time
 * quadratic in the digits, and no real schema comes near this.
 */
#define AVLOGICAL_DECIMAL_MAX_DIGITS 4096

/* The buffer avlogical_decimal needs for a decimal of the given precision. */
size_t avlogical_decimal_bufsize(int precision);

/*
 * Converts the decimal number s ("-12.30", "1e3", "+0.5", ".5") to its unscaled value at scale,
 * as the minimal big-endian two's-complement bytes Avro's decimal takes. Digits past scale are
 * accepted only when they are zeros: nothing is rounded. buf is scratch space of buf_size bytes,
 * at least avlogical_decimal_bufsize(the smaller of precision and AVLOGICAL_DECIMAL_MAX_DIGITS);
 * on success *out points into it and *out_len is 1 or more. Returns AVLOGICAL_DECIMAL_OK or why
 * not, with *detail as above.
 */
enum avlogical_decimal_rc avlogical_decimal(const char *s, size_t len, int precision, int scale,
					    unsigned char *buf, size_t buf_size,
					    const unsigned char **out, size_t *out_len,
					    int64_t *detail);

#endif
