//! The day the service takes as today for the program's rules: VQRP+ time limits, decision
//! windows counted in Ontario business days, and payment dates.
//!
//! It is Ontario's date of the present, unless code in this process moved it: the tests stand on
//! a chosen day (a Thursday before a holiday weekend) to show the business-day rules over HTTP.
//! No setting, environment variable or request can move it, so a deployment always counts from
//! the real day.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{Duration, NaiveDate, Utc};

/// Today, for the program's rules (see the module's header).
#[derive(Clone, Debug, Default)]
pub struct Calendar {
    /// Days from the real Ontario date; 0 unless code in this process moved it.
    offset_days: Arc<AtomicI64>,
}

impl Calendar {
    /// Ontario's date today, as this calendar stands.
    #[must_use]
    pub fn today(&self) -> NaiveDate {
        domain::reporting::ontario_date(Utc::now()) + Duration::days(self.offset_days.load(Ordering::Relaxed))
    }

    /// Stands the calendar on `day` (every clone of it moves too): for tests only, which is why
    /// nothing outside the process can reach it.
    pub fn stand_on(&self, day: NaiveDate) {
        let real = domain::reporting::ontario_date(Utc::now());
        self.offset_days.store((day - real).num_days(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calendar_is_todays_until_moved_and_its_clones_move_with_it() {
        let calendar = Calendar::default();
        assert_eq!(calendar.today(), domain::reporting::ontario_date(Utc::now()));
        let day = NaiveDate::from_ymd_opt(2026, 12, 24).unwrap_or_default();
        let clone = calendar.clone();
        calendar.stand_on(day);
        assert_eq!(clone.today(), day);
    }
}
