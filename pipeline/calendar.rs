//! Calendar-month arithmetic (docs/methods.md): adding months keeps the
//! day, clamped to the month's end (31 March - 1 month = 28/29 February); relative month k of
//! a date is the k with index + k months <= date < index + (k+1) months.
//!
//! The arithmetic is on day numbers (days since 1970-01-01, Arrow's Date32), because the SQL
//! functions apply it to tens of millions of rows; the `NaiveDate` forms convert at the edges.

use chrono::NaiveDate;

/// `date` moved by `months` calendar months, the day clamped to the target month's end;
/// None when the result is outside chrono's date range.
pub fn add_months(date: NaiveDate, months: i32) -> Option<NaiveDate> {
    date_from_days(add_months_to_days(days_since_epoch(date), months)?)
}

/// The relative month of `date` with respect to `index` (negative before the index); None
/// when a month boundary between them is outside chrono's date range.
pub fn relative_month(index: NaiveDate, date: NaiveDate) -> Option<i32> {
    let month = relative_month_of_days(days_since_epoch(index), days_since_epoch(date))?;
    // Both month boundaries must be dates chrono can hold (as the NaiveDate API promises).
    add_months(index, month)?;
    add_months(index, month.checked_add(1)?)?;
    Some(month)
}

/// Days from 1970-01-01, the Arrow `Date32` representation.
pub fn days_since_epoch(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a valid date");
    (date - epoch).num_days() as i32
}

/// The date `days` after 1970-01-01 (inverse of [`days_since_epoch`]); None outside
/// chrono's date range (Arrow's Date32 reaches further).
pub fn date_from_days(days: i32) -> Option<NaiveDate> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a valid date");
    epoch.checked_add_signed(chrono::Duration::days(i64::from(days)))
}

/// [`add_months`] on day numbers; None when the result does not fit a Date32.
pub fn add_months_to_days(days: i32, months: i32) -> Option<i32> {
    let (year, month, day) = civil_from_days(i64::from(days));
    let target = year * 12 + i64::from(month - 1) + i64::from(months);
    let (year, month) = (target.div_euclid(12), target.rem_euclid(12) as u32 + 1);
    let day = day.min(days_in_month(year, month));
    i32::try_from(days_from_civil(year, month, day)).ok()
}

/// [`relative_month`] on day numbers: the k with index + k months <= date < index + (k+1)
/// months. `index + k` months, for k the difference of their calendar months, falls in
/// `date`'s calendar month, so it is k, or k - 1 when that day is after `date`.
pub fn relative_month_of_days(index: i32, date: i32) -> Option<i32> {
    let (index_year, index_month, _) = civil_from_days(i64::from(index));
    let (year, month, _) = civil_from_days(i64::from(date));
    let months =
        i32::try_from((year - index_year) * 12 + i64::from(month) - i64::from(index_month)).ok()?;
    let start = add_months_to_days(index, months)?;
    Some(if start > date { months - 1 } else { months })
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date. Hand-written (no crate gives this on
/// plain integers): H. Hinnant, "chrono-Compatible Low-Level Date Algorithms",
/// `days_from_civil` (https://howardhinnant.github.io/date_algorithms.html).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day). Same source, `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn month_end_clamps() {
        assert_eq!(add_months(ymd(2024, 3, 31), -1), Some(ymd(2024, 2, 29)));
        assert_eq!(add_months(ymd(2023, 3, 31), -1), Some(ymd(2023, 2, 28)));
        assert_eq!(add_months(ymd(2023, 1, 31), 1), Some(ymd(2023, 2, 28)));
        assert_eq!(add_months(ymd(2024, 2, 29), -12), Some(ymd(2023, 2, 28)));
    }

    #[test]
    fn relative_months_follow_the_index_day() {
        let index = ymd(2023, 1, 31);
        assert_eq!(relative_month(index, ymd(2023, 1, 31)), Some(0));
        assert_eq!(relative_month(index, ymd(2023, 2, 27)), Some(0));
        // index + 1 month = 28 Feb (clamped), so 28 Feb starts month 1.
        assert_eq!(relative_month(index, ymd(2023, 2, 28)), Some(1));
        assert_eq!(relative_month(index, ymd(2023, 1, 30)), Some(-1));
        assert_eq!(relative_month(index, ymd(2022, 1, 31)), Some(-12));
        assert_eq!(relative_month(index, ymd(2022, 1, 30)), Some(-13));
    }

    /// chrono's month arithmetic, the reference the day-number forms must equal.
    fn chrono_add_months(date: NaiveDate, months: i32) -> Option<NaiveDate> {
        use chrono::Months;
        if months >= 0 {
            date.checked_add_months(Months::new(months as u32))
        } else {
            date.checked_sub_months(Months::new(months.unsigned_abs()))
        }
    }

    fn chrono_relative_month(index: NaiveDate, date: NaiveDate) -> Option<i32> {
        use chrono::Datelike;
        let mut k = (date.year() - index.year()) * 12 + date.month() as i32 - index.month() as i32;
        while chrono_add_months(index, k)? > date {
            k -= 1;
        }
        while chrono_add_months(index, k + 1)? <= date {
            k += 1;
        }
        Some(k)
    }

    #[test]
    fn day_numbers_round_trip_through_civil_dates() {
        for days in -800_000..800_000 {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
            let date = date_from_days(days as i32).unwrap();
            assert_eq!(
                (year, month, day),
                (
                    i64::from(chrono::Datelike::year(&date)),
                    chrono::Datelike::month(&date),
                    chrono::Datelike::day(&date)
                )
            );
        }
    }

    #[test]
    fn day_arithmetic_equals_chrono_on_every_index_day_of_eight_years() {
        let first = ymd(2018, 1, 1);
        for offset in 0..(8 * 366) {
            let index = first + chrono::Duration::days(offset);
            for months in -30..=30 {
                assert_eq!(
                    add_months(index, months),
                    chrono_add_months(index, months),
                    "{index} {months}"
                );
            }
            for step in (-1000..1000).step_by(3) {
                let date = index + chrono::Duration::days(step);
                assert_eq!(
                    relative_month(index, date),
                    chrono_relative_month(index, date),
                    "{index} {date}"
                );
            }
        }
    }

    #[test]
    fn out_of_range_is_none_not_a_panic() {
        assert_eq!(add_months(ymd(2020, 1, 1), i32::MAX), None);
        assert_eq!(relative_month(NaiveDate::MIN, NaiveDate::MAX), None);
        assert_eq!(add_months_to_days(i32::MAX, 1), None);
    }
}
