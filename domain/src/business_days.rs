//! Business days in Ontario: weekdays that are not a statutory holiday as the province observes it.
//!
//! The nine holidays of the Employment Standards Act, 2000 (s. 1): New Year's Day, Family Day (third
//! Monday of February), Good Friday, Victoria Day (the Monday before May 25), Canada Day, Labour Day
//! (first Monday of September), Thanksgiving (second Monday of October), Christmas Day and Boxing
//! Day. One that falls on a weekend is observed on the next weekday that is not itself a holiday
//! (Christmas on a Saturday: Monday the 27th, and Boxing Day on Tuesday the 28th), as the
//! province's offices close. Computed, not listed: no table runs out in some future year.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// Easter Sunday of `year` (the anonymous Gregorian algorithm, Meeus/Jones/Butcher).
fn easter(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// The `n`th (1-based) `weekday` of `month` in `year`.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

/// The nine holidays of `year` on their calendar dates, in order.
fn calendar_dates(year: i32) -> Vec<NaiveDate> {
    let fixed = |month, day| NaiveDate::from_ymd_opt(year, month, day);
    // Victoria Day: the last Monday before May 25 (May 18 to 24).
    let victoria = fixed(5, 24).map(|d| d - Duration::days(i64::from(d.weekday().num_days_from_monday())));
    [
        fixed(1, 1),
        nth_weekday(year, 2, Weekday::Mon, 3),
        easter(year).map(|e| e - Duration::days(2)),
        victoria,
        fixed(7, 1),
        nth_weekday(year, 9, Weekday::Mon, 1),
        nth_weekday(year, 10, Weekday::Mon, 2),
        fixed(12, 25),
        fixed(12, 26),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The days Ontario observes its statutory holidays in `year`: each on its date, or, on a
/// weekend, on the next weekday not already taken by another holiday.
#[must_use]
pub fn observed_holidays(year: i32) -> Vec<NaiveDate> {
    let mut observed: Vec<NaiveDate> = Vec::with_capacity(9);
    for date in calendar_dates(year) {
        let mut day = date;
        while is_weekend(day) || observed.contains(&day) {
            day += Duration::days(1);
        }
        observed.push(day);
    }
    observed
}

/// Whether `date` is a business day in Ontario.
#[must_use]
pub fn is_business_day(date: NaiveDate) -> bool {
    !is_weekend(date) && !observed_holidays(date.year()).contains(&date)
}

/// The business day `n` business days after `from` (`from` itself not counted, whatever it is):
/// a decision due "within 3 business days" of a Friday submission is due the next Wednesday, or
/// Thursday when Monday is a holiday.
#[must_use]
pub fn add_business_days(from: NaiveDate, n: u32) -> NaiveDate {
    let mut day = from;
    let mut left = n;
    while left > 0 {
        day += Duration::days(1);
        if is_business_day(day) {
            left -= 1;
        }
    }
    day
}

/// Business days from `from` (exclusive) to `to` (inclusive); 0 when `to` is not after `from`.
#[must_use]
pub fn business_days_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let mut day = from;
    let mut count = 0;
    while day < to {
        day += Duration::days(1);
        if is_business_day(day) {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn ontarios_holidays_of_2026_are_where_the_province_puts_them() {
        assert_eq!(
            observed_holidays(2026),
            [
                date(2026, 1, 1),
                date(2026, 2, 16),
                date(2026, 4, 3),
                date(2026, 5, 18),
                date(2026, 7, 1),
                date(2026, 9, 7),
                date(2026, 10, 12),
                date(2026, 12, 25),
                // Boxing Day 2026 is a Saturday: observed on Monday the 28th.
                date(2026, 12, 28),
            ]
        );
    }

    #[test]
    fn holidays_on_a_weekend_move_to_the_next_free_weekday() {
        // 2027: Christmas on a Saturday, Boxing Day on a Sunday: Monday 27th and Tuesday 28th.
        let h = observed_holidays(2027);
        assert!(h.contains(&date(2027, 12, 27)) && h.contains(&date(2027, 12, 28)));
        // 2028: New Year's Day on a Saturday: Monday 3 January. Canada Day 2028 is a Saturday: Monday 3 July.
        assert!(observed_holidays(2028).contains(&date(2028, 1, 3)));
        assert!(observed_holidays(2028).contains(&date(2028, 7, 3)));
        // Easter: 2025 April 20, 2027 March 28 (Good Friday March 26).
        assert!(observed_holidays(2025).contains(&date(2025, 4, 18)));
        assert!(observed_holidays(2027).contains(&date(2027, 3, 26)));
    }

    #[test]
    fn business_days_skip_a_holiday_weekend() {
        // The Thursday before Good Friday 2026: the next business day is Monday (Easter Monday is
        // no statutory holiday in Ontario).
        assert_eq!(add_business_days(date(2026, 4, 2), 1), date(2026, 4, 6));
        // Friday before Victoria Day 2026: 3 business days are Tue, Wed, Thu.
        assert_eq!(add_business_days(date(2026, 5, 15), 3), date(2026, 5, 21));
        // Christmas week 2026: from Wednesday the 23rd, 3 business days: 24th, 29th, 30th.
        assert_eq!(add_business_days(date(2026, 12, 23), 3), date(2026, 12, 30));
        assert_eq!(business_days_between(date(2026, 12, 23), date(2026, 12, 30)), 3);
        assert_eq!(business_days_between(date(2026, 12, 30), date(2026, 12, 23)), 0);
        assert!(!is_business_day(date(2026, 12, 26)) && !is_business_day(date(2026, 12, 28)));
    }

    #[test]
    fn adding_and_counting_agree_on_every_day_of_three_years() {
        let mut day = date(2025, 1, 1);
        while day < date(2028, 1, 1) {
            for n in [1, 3, 5, 10] {
                assert_eq!(business_days_between(day, add_business_days(day, n)), n, "{day} + {n}");
            }
            day += Duration::days(1);
        }
    }
}
