//! Calendar-month arithmetic (docs/methods.md): adding months keeps the
//! day, clamped to the month's end (31 March - 1 month = 28/29 February); relative month k of
//! a date is the k with index + k months <= date < index + (k+1) months.

use chrono::{Datelike, Months, NaiveDate};

/// `date` moved by `months` calendar months, the day clamped to the target month's end;
/// None when the result is outside chrono's date range.
pub fn add_months(date: NaiveDate, months: i32) -> Option<NaiveDate> {
    if months >= 0 {
        date.checked_add_months(Months::new(months as u32))
    } else {
        date.checked_sub_months(Months::new(months.unsigned_abs()))
    }
}

/// The relative month of `date` with respect to `index` (negative before the index); None
/// when a month boundary between them is outside chrono's date range.
pub fn relative_month(index: NaiveDate, date: NaiveDate) -> Option<i32> {
    let mut k = (date.year() - index.year()) * 12 + date.month() as i32 - index.month() as i32;
    while add_months(index, k)? > date {
        k -= 1;
    }
    while add_months(index, k + 1)? <= date {
        k += 1;
    }
    Some(k)
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

    #[test]
    fn out_of_range_is_none_not_a_panic() {
        assert_eq!(add_months(ymd(2020, 1, 1), i32::MAX), None);
        assert_eq!(relative_month(NaiveDate::MIN, NaiveDate::MAX), None);
    }
}
