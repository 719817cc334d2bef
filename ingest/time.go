package ingest

// A point's "time" field, read only when TrackTime asks for it (replay): k6 writes it with
// encoding/json's time.Time format, RFC 3339 with up to nine fraction digits (trailing zeros
// trimmed) and "Z" or a "+hh:mm" offset; a unix number is accepted as well. Times are kept as
// unix milliseconds rounded UP, so a flush stamped with a millisecond at or after a point's
// stamp is never earlier than the point itself.

import "math"

// msCeil converts unix seconds and nanoseconds within the second to milliseconds, rounded up.
func msCeil(sec, nsec int64) int64 {
	return sec*1000 + (nsec+999_999)/1_000_000
}

// parseTime reads an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm)) as unix
// milliseconds rounded up. It allocates nothing and agrees with time.Parse(time.RFC3339Nano),
// except that it refuses a zone offset of 24 hours or more (RFC 3339 allows 00-23;
// time.Parse's lenient fallback takes 24).
func parseTime(b []byte) (int64, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") || b[4] != '-' || b[7] != '-' ||
		b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	second, ok6 := digits(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 ||
		month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || second > 59 {
		return 0, false
	}
	rest := b[19:]
	var nsec int64
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		scale := int64(100_000_000)
		for ; n < len(rest) && rest[n] >= '0' && rest[n] <= '9'; n++ {
			nsec += int64(rest[n]-'0') * scale // digits past the ninth add 0, as time.Parse cuts them
			scale /= 10
		}
		if n == 1 {
			return 0, false
		}
		rest = rest[n:]
	}
	var offset int64 // seconds east of UTC
	switch {
	case len(rest) == 1 && rest[0] == 'Z':
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	sec := daysFromCivil(year, month, day)*86400 + hour*3600 + minute*60 + second - offset
	return msCeil(sec, nsec), true
}

// digits reads a run of ASCII digits.
func digits(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// daysIn returns the number of days of a month in the proleptic Gregorian calendar.
func daysIn(year, month int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days from 1970-01-01 to the given date (proleptic Gregorian): the
// year is counted from March, so the leap day ends it, in 400-year eras of 146097 days.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 { // year 0000 in January or February
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// Bounds of a plausible unix time in each unit, by magnitude: 1e11 s is the year 5138, so a
// smaller number is seconds, a number below 1e14 milliseconds, below 1e17 microseconds, and
// anything larger nanoseconds.
const (
	maxUnixSeconds = 1e11
	maxUnixMillis  = 1e14
	maxUnixMicros  = 1e17
	maxUnixNanos   = 1e20
)

// unixTime converts a unix timestamp in seconds, milliseconds, microseconds or nanoseconds
// (told apart by magnitude) to milliseconds rounded up. Negative and non-finite numbers are
// refused.
func unixTime(f float64) (int64, bool) {
	switch {
	case !(f >= 0): // also NaN
		return 0, false
	case f < maxUnixSeconds:
		return int64(math.Ceil(f * 1e3)), true
	case f < maxUnixMillis:
		return int64(math.Ceil(f)), true
	case f < maxUnixMicros:
		return int64(math.Ceil(f / 1e3)), true
	case f < maxUnixNanos:
		return int64(math.Ceil(f / 1e6)), true
	}
	return 0, false
}
