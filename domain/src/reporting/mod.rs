//! Ministry reporting rules: the de-identified facts figures are computed from, the metrics and
//! dimensions an analyst may ask for, Ontario's fiscal quarters, response-time percentiles, and
//! (in [`suppression`]) small-cell suppression with complementary suppression.

pub mod release;
pub mod report;
pub mod suppression;

use chrono::{Datelike, NaiveDate};

use crate::case::name_enum;
pub use suppression::{Additivity, Cell, DEFAULT_THRESHOLD, protect};

name_enum!(
    /// What happened, as one de-identified fact. Facts are written in the same transaction as the
    /// change they record and are never updated.
    FactKind,
    "case_opened, case_closed, service_delivered, referral_created, referral_accepted, referral_first_contact, vqrp_application_submitted, vqrp_application_decided, vqrp_payment" {
        CaseOpened => "case_opened",
        CaseClosed => "case_closed",
        ServiceDelivered => "service_delivered",
        ReferralCreated => "referral_created",
        ReferralAccepted => "referral_accepted",
        ReferralFirstContact => "referral_first_contact",
        VqrpSubmitted => "vqrp_application_submitted",
        VqrpDecided => "vqrp_application_decided",
        VqrpPaid => "vqrp_payment",
    }
);

name_enum!(
    /// A figure `GET /aggregates` can compute.
    Metric,
    "clients_served, cases_opened, cases_closed, referrals, services, vqrp_plus_cents, minutes_to_accept_p50, minutes_to_accept_p90, minutes_to_first_contact_p50, minutes_to_first_contact_p90, vqrp_applications, vqrp_approved_cents, vqrp_paid_cents, vqrp_days_to_decision_p50, vqrp_days_to_decision_p90" {
        ClientsServed => "clients_served",
        CasesOpened => "cases_opened",
        CasesClosed => "cases_closed",
        Referrals => "referrals",
        Services => "services",
        VqrpPlusCents => "vqrp_plus_cents",
        MinutesToAcceptP50 => "minutes_to_accept_p50",
        MinutesToAcceptP90 => "minutes_to_accept_p90",
        MinutesToFirstContactP50 => "minutes_to_first_contact_p50",
        MinutesToFirstContactP90 => "minutes_to_first_contact_p90",
        VqrpApplications => "vqrp_applications",
        VqrpApprovedCents => "vqrp_approved_cents",
        VqrpPaidCents => "vqrp_paid_cents",
        VqrpDaysToDecisionP50 => "vqrp_days_to_decision_p50",
        VqrpDaysToDecisionP90 => "vqrp_days_to_decision_p90",
    }
);

/// The number of metrics: the figures each released cell holds.
pub const METRICS: usize = Metric::ALL.len();

/// How a metric is computed from the facts of its kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Distinct people (the facts' pseudonymous subjects).
    DistinctPeople,
    /// Number of facts: events, each about one person.
    Events,
    /// Sum of the facts' amounts, in cents.
    SumOfAmounts,
    /// The nearest-rank percentile (p of 100) of the facts' durations ([`Metric::duration`]).
    Percentile(u8),
}

/// What the durations a percentile metric reads measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duration {
    /// Whole minutes (a referral's response times).
    Minutes,
    /// Ontario business days (a VQRP+ decision: the program's window is in business days).
    BusinessDays,
}

/// What a metric counts, for the people who read the figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Distinct people within one agency. Across agencies these are service episodes: a person
    /// served by two agencies is counted by each.
    People,
    /// Events (cases, referrals, services); one person may have several.
    Events,
    /// Cents of VQRP+ money.
    Cents,
    /// Minutes.
    Minutes,
    /// Ontario business days.
    BusinessDays,
}

impl Metric {
    /// The fact kinds the metric reads.
    #[must_use]
    pub const fn kinds(self) -> &'static [FactKind] {
        match self {
            // Served in a period: a case opened for them or a service delivered to them in it.
            Self::ClientsServed => &[FactKind::CaseOpened, FactKind::ServiceDelivered],
            Self::CasesOpened => &[FactKind::CaseOpened],
            Self::CasesClosed => &[FactKind::CaseClosed],
            Self::Referrals => &[FactKind::ReferralCreated],
            Self::Services | Self::VqrpPlusCents => &[FactKind::ServiceDelivered],
            Self::MinutesToAcceptP50 | Self::MinutesToAcceptP90 => &[FactKind::ReferralAccepted],
            Self::MinutesToFirstContactP50 | Self::MinutesToFirstContactP90 => &[FactKind::ReferralFirstContact],
            Self::VqrpApplications => &[FactKind::VqrpSubmitted],
            // A decision's fact carries the amount approved (0 when declined) and its business days.
            Self::VqrpApprovedCents | Self::VqrpDaysToDecisionP50 | Self::VqrpDaysToDecisionP90 => {
                &[FactKind::VqrpDecided]
            }
            Self::VqrpPaidCents => &[FactKind::VqrpPaid],
        }
    }

    /// How it is computed.
    #[must_use]
    pub const fn measure(self) -> Measure {
        match self {
            Self::ClientsServed => Measure::DistinctPeople,
            Self::CasesOpened | Self::CasesClosed | Self::Referrals | Self::Services | Self::VqrpApplications => {
                Measure::Events
            }
            Self::VqrpPlusCents | Self::VqrpApprovedCents | Self::VqrpPaidCents => Measure::SumOfAmounts,
            Self::MinutesToAcceptP50 | Self::MinutesToFirstContactP50 | Self::VqrpDaysToDecisionP50 => {
                Measure::Percentile(50)
            }
            Self::MinutesToAcceptP90 | Self::MinutesToFirstContactP90 | Self::VqrpDaysToDecisionP90 => {
                Measure::Percentile(90)
            }
        }
    }

    /// What a percentile metric's durations measure (`None` for the others).
    #[must_use]
    pub const fn duration(self) -> Option<Duration> {
        match self {
            Self::MinutesToAcceptP50
            | Self::MinutesToAcceptP90
            | Self::MinutesToFirstContactP50
            | Self::MinutesToFirstContactP90 => Some(Duration::Minutes),
            Self::VqrpDaysToDecisionP50 | Self::VqrpDaysToDecisionP90 => Some(Duration::BusinessDays),
            _ => None,
        }
    }

    /// What its values count.
    #[must_use]
    pub const fn unit(self) -> Unit {
        match self.measure() {
            Measure::DistinctPeople => Unit::People,
            Measure::Events => Unit::Events,
            Measure::SumOfAmounts => Unit::Cents,
            Measure::Percentile(_) => match self.duration() {
                Some(Duration::BusinessDays) => Unit::BusinessDays,
                _ => Unit::Minutes,
            },
        }
    }

    /// Whether its totals are sums of their parts (so complementary suppression applies).
    #[must_use]
    pub const fn additivity(self) -> Additivity {
        match self.measure() {
            Measure::Percentile(_) => Additivity::NotAdditive,
            _ => Additivity::Additive,
        }
    }

    /// Only VQRP+ services carry money among services; `vqrp_plus_cents` reads those.
    #[must_use]
    pub fn service_type_filter(self) -> Option<&'static str> {
        (self == Self::VqrpPlusCents).then_some("vqrp_plus")
    }
}

name_enum!(
    /// A dimension figures can be grouped by. Every value is a code, never a record id of a
    /// personal table; a fact that has no value for a dimension is grouped as `not_recorded`.
    /// `service_type` is what was provided: a service's type, and for the `vqrp_*` application
    /// metrics the VQRP+ expense category (their facts hold no other service).
    Dimension,
    "agency, program, fiscal_quarter, month, victimization_type, division, service_type, gender, age_band, urgency" {
        Agency => "agency",
        Program => "program",
        FiscalQuarterOf => "fiscal_quarter",
        Month => "month",
        VictimizationType => "victimization_type",
        Division => "division",
        ServiceType => "service_type",
        Gender => "gender",
        AgeBand => "age_band",
        Urgency => "urgency",
    }
);

/// The value of a fact that has none for a dimension.
pub const NOT_RECORDED: &str = "not_recorded";

/// The most dimensions one table may be grouped by. Finer tables are almost all withheld, and
/// the cost of proving a table safe grows with its margins.
pub const MAX_DIMENSIONS: usize = 3;

/// The most interior cells one table may have. Proving a table safe grows faster than its size
/// (about half a second for 3,600 cells on one core, eight seconds for 23,000; see
/// docs/benchmarks.md), and a finer table is mostly withheld anyway.
pub const MAX_TABLE_CELLS: usize = 5_000;

/// A `group_by` that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GroupByError {
    /// Not one of the dimensions.
    #[error("{0}")]
    Unknown(crate::case::UnknownName),
    /// Named twice.
    #[error("names a dimension twice")]
    Repeated,
    /// More than [`MAX_DIMENSIONS`].
    #[error("groups by at most 3 dimensions")]
    TooMany,
}

/// Parses a comma list of dimensions (empty: the grand total only).
///
/// # Errors
/// [`GroupByError`] for an unknown or repeated name, or too many.
pub fn parse_group_by(raw: &str) -> Result<Vec<Dimension>, GroupByError> {
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let dimension = Dimension::parse(name).map_err(GroupByError::Unknown)?;
        if out.contains(&dimension) {
            return Err(GroupByError::Repeated);
        }
        out.push(dimension);
    }
    if out.len() > MAX_DIMENSIONS {
        return Err(GroupByError::TooMany);
    }
    Ok(out)
}

/// The date in Ontario (Eastern Time) of an instant, since figures are reported by the agency's
/// calendar, not UTC's: a referral at 9 p.m. on 31 March belongs to March and to the fourth
/// quarter. Eastern Time is UTC−5, and UTC−4 from 2 a.m. on the second Sunday of March to 2 a.m.
/// on the first Sunday of November (Canada's rule since 2007).
#[must_use]
pub fn ontario_date(at: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    use chrono::{Duration, NaiveTime, Weekday};
    let year = at.year();
    let nth_sunday = |month: u32, n: u8| NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n);
    let two_am = NaiveTime::from_hms_opt(2, 0, 0).unwrap_or_default();
    // Daylight time starts at 2 a.m. EST (07:00 UTC) and ends at 2 a.m. EDT (06:00 UTC).
    let starts = nth_sunday(3, 2).map(|d| d.and_time(two_am).and_utc() + Duration::hours(5));
    let ends = nth_sunday(11, 1).map(|d| d.and_time(two_am).and_utc() + Duration::hours(4));
    let daylight = matches!((starts, ends), (Some(s), Some(e)) if at >= s && at < e);
    let offset = if daylight { Duration::hours(4) } else { Duration::hours(5) };
    (at - offset).date_naive()
}

/// `2026-07`: the month dimension's value.
#[must_use]
pub fn month_label(day: NaiveDate) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

/// A quarter of Ontario's fiscal year, which starts on 1 April: fiscal year 2026, quarter 1 is
/// April to June 2026; quarter 4 is January to March 2027.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FiscalQuarter {
    year: i32,
    quarter: u8,
}

/// A fiscal quarter that does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("quarter must be 1 to 4 and fiscal_year 2000 to 2100")]
pub struct QuarterError;

impl FiscalQuarter {
    /// Builds a quarter.
    ///
    /// # Errors
    /// [`QuarterError`] outside quarter 1–4 or fiscal years 2000–2100.
    pub fn new(year: i32, quarter: u8) -> Result<Self, QuarterError> {
        if (1..=4).contains(&quarter) && (2000..=2100).contains(&year) {
            Ok(Self { year, quarter })
        } else {
            Err(QuarterError)
        }
    }

    /// The quarter a day falls in.
    #[must_use]
    pub fn of(day: NaiveDate) -> Self {
        let (year, quarter) = match day.month() {
            4..=6 => (day.year(), 1),
            7..=9 => (day.year(), 2),
            10..=12 => (day.year(), 3),
            _ => (day.year() - 1, 4),
        };
        Self { year, quarter }
    }

    /// The fiscal year (named for the calendar year it starts in).
    #[must_use]
    pub const fn year(self) -> i32 {
        self.year
    }

    /// The quarter, 1 to 4.
    #[must_use]
    pub const fn quarter(self) -> u8 {
        self.quarter
    }

    /// The first day of the quarter and the first day after it.
    #[must_use]
    pub fn range(self) -> (NaiveDate, NaiveDate) {
        let (year, month) = match self.quarter {
            1 => (self.year, 4),
            2 => (self.year, 7),
            3 => (self.year, 10),
            _ => (self.year + 1, 1),
        };
        let start = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN);
        let end = start.checked_add_months(chrono::Months::new(3)).unwrap_or(NaiveDate::MAX);
        (start, end)
    }

    /// `2026-Q1`.
    #[must_use]
    pub fn label(self) -> String {
        format!("{}-Q{}", self.year, self.quarter)
    }
}

/// A period figures are released for: an Ontario fiscal month, quarter or year (the fiscal year
/// starts on 1 April and is named for the calendar year it starts in). Only these may be asked:
/// arbitrary ranges let an analyst subtract two overlapping answers (10 April against 10 April to
/// 11 May) and recover what one of them withheld.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReleasePeriod {
    /// A calendar month: the fiscal year's months are April to March.
    Month {
        /// The calendar year.
        year: i32,
        /// 1 to 12.
        month: u32,
    },
    /// A fiscal quarter.
    Quarter(FiscalQuarter),
    /// A fiscal year, April to March.
    Year(i32),
}

/// A range that is not a release period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "from and to must span one Ontario fiscal month (e.g. 2026-04-01 to 2026-04-30), quarter (2026-04-01 to \
     2026-06-30 for 2026-Q1) or year (2026-04-01 to 2027-03-31), fiscal years 2000 to 2100"
)]
pub struct NotAReleasePeriod;

impl ReleasePeriod {
    /// The period exactly spanning `from` to `to` (both inclusive), if there is one.
    ///
    /// # Errors
    /// [`NotAReleasePeriod`] for any other range.
    pub fn spanning(from: NaiveDate, to: NaiveDate) -> Result<Self, NotAReleasePeriod> {
        let quarter = FiscalQuarter::of(from);
        if !(2000..=2100).contains(&quarter.year()) || from.day() != 1 {
            return Err(NotAReleasePeriod);
        }
        let month = Self::Month { year: from.year(), month: from.month() };
        let candidates = [month, Self::Quarter(quarter), Self::Year(quarter.year())];
        candidates.into_iter().find(|p| p.first_day() == from && p.last_day() == to).ok_or(NotAReleasePeriod)
    }

    /// The first day.
    #[must_use]
    pub fn first_day(self) -> NaiveDate {
        match self {
            Self::Month { year, month } => NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN),
            Self::Quarter(q) => q.range().0,
            Self::Year(year) => NaiveDate::from_ymd_opt(year, 4, 1).unwrap_or(NaiveDate::MIN),
        }
    }

    /// The last day (inclusive).
    #[must_use]
    pub fn last_day(self) -> NaiveDate {
        let after = match self {
            Self::Month { .. } => self.first_day().checked_add_months(chrono::Months::new(1)),
            Self::Quarter(q) => Some(q.range().1),
            Self::Year(_) => self.first_day().checked_add_months(chrono::Months::new(12)),
        };
        after.and_then(|d| d.pred_opt()).unwrap_or(NaiveDate::MAX)
    }

    /// `2026-04`, `2026-Q1` or `FY2026`.
    #[must_use]
    pub fn label(self) -> String {
        match self {
            Self::Month { year, month } => format!("{year}-{month:02}"),
            Self::Quarter(q) => q.label(),
            Self::Year(year) => format!("FY{year}"),
        }
    }
}

/// The `p`-th percentile (0 < p ≤ 100) of `values` by the nearest-rank method: the smallest value
/// with at least p % of values at or below it. `None` for no values.
#[must_use]
pub fn percentile(values: &mut [i64], p: u8) -> Option<i64> {
    if values.is_empty() || p == 0 || p > 100 {
        return None;
    }
    values.sort_unstable();
    let rank = (usize::from(p) * values.len()).div_ceil(100);
    values.get(rank.saturating_sub(1)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fiscal_months_quarters_and_years_are_release_periods() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap_or(NaiveDate::MIN);
        let q1 = FiscalQuarter::new(2026, 1).unwrap_or_else(|e| panic!("{e}"));
        let q4 = FiscalQuarter::new(2026, 4).unwrap_or_else(|e| panic!("{e}"));
        for (from, to, period) in [
            (d(2026, 4, 1), d(2026, 4, 30), ReleasePeriod::Month { year: 2026, month: 4 }),
            (d(2027, 2, 1), d(2027, 2, 28), ReleasePeriod::Month { year: 2027, month: 2 }),
            (d(2028, 2, 1), d(2028, 2, 29), ReleasePeriod::Month { year: 2028, month: 2 }),
            (d(2026, 4, 1), d(2026, 6, 30), ReleasePeriod::Quarter(q1)),
            (d(2027, 1, 1), d(2027, 3, 31), ReleasePeriod::Quarter(q4)),
            (d(2026, 4, 1), d(2027, 3, 31), ReleasePeriod::Year(2026)),
        ] {
            assert_eq!(ReleasePeriod::spanning(from, to), Ok(period), "{from} {to}");
            assert_eq!((period.first_day(), period.last_day()), (from, to));
        }
        // The overlapping ranges of the attack, and other shapes.
        for (from, to) in [
            (d(2026, 4, 10), d(2026, 4, 10)),
            (d(2026, 4, 10), d(2026, 5, 11)),
            (d(2026, 4, 1), d(2026, 5, 31)),
            (d(2026, 1, 1), d(2026, 12, 31)),
            (d(2026, 4, 1), d(2026, 4, 29)),
            (d(2026, 5, 1), d(2026, 7, 31)),
            (d(1999, 4, 1), d(2000, 3, 31)),
        ] {
            assert_eq!(ReleasePeriod::spanning(from, to), Err(NotAReleasePeriod), "{from} {to}");
        }
        assert_eq!(ReleasePeriod::Year(2026).label(), "FY2026");
        assert_eq!(ReleasePeriod::Month { year: 2027, month: 1 }.label(), "2027-01");
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn fiscal_quarters_start_in_april() {
        assert_eq!(FiscalQuarter::of(day(2026, 4, 1)), FiscalQuarter { year: 2026, quarter: 1 });
        assert_eq!(FiscalQuarter::of(day(2026, 12, 31)), FiscalQuarter { year: 2026, quarter: 3 });
        assert_eq!(FiscalQuarter::of(day(2027, 3, 31)), FiscalQuarter { year: 2026, quarter: 4 });
        let q4 = FiscalQuarter { year: 2026, quarter: 4 };
        assert_eq!(q4.range(), (day(2027, 1, 1), day(2027, 4, 1)));
        assert_eq!(FiscalQuarter { year: 2026, quarter: 1 }.range(), (day(2026, 4, 1), day(2026, 7, 1)));
        assert_eq!(q4.label(), "2026-Q4");
        assert!(FiscalQuarter::new(2026, 5).is_err());
    }

    proptest::proptest! {
        /// Fuzzing the query parsers: any text is parsed or refused, never a panic, and what is
        /// accepted is at most three distinct known dimensions.
        #[test]
        fn query_parameters_are_parsed_or_refused(raw in "\\PC{0,200}") {
            if let Ok(dims) = parse_group_by(&raw) {
                proptest::prop_assert!(dims.len() <= MAX_DIMENSIONS);
                let mut unique = dims.clone();
                unique.dedup();
                proptest::prop_assert_eq!(unique.len(), dims.len());
            }
            let _ = Metric::parse(&raw);
        }
    }

    #[test]
    fn group_by_names_known_dimensions_once_and_at_most_three() {
        assert_eq!(parse_group_by(""), Ok(vec![]));
        assert_eq!(parse_group_by("agency, month"), Ok(vec![Dimension::Agency, Dimension::Month]));
        assert!(matches!(parse_group_by("agency,name"), Err(GroupByError::Unknown(_))));
        assert_eq!(parse_group_by("agency,agency"), Err(GroupByError::Repeated));
        assert_eq!(parse_group_by("agency,month,gender,urgency"), Err(GroupByError::TooMany));
    }

    #[test]
    fn ontario_dates_follow_eastern_time_and_its_daylight_rule() {
        let utc = |y, m, d, h, min| {
            NaiveDate::from_ymd_opt(y, m, d)
                .and_then(|d| d.and_hms_opt(h, min, 0))
                .map(|t| t.and_utc())
                .unwrap_or_default()
        };
        // 9 p.m. EDT on 31 March is 01:00 UTC on 1 April: still March, still Q4.
        assert_eq!(ontario_date(utc(2027, 4, 1, 1, 0)), day(2027, 3, 31));
        assert_eq!(FiscalQuarter::of(ontario_date(utc(2027, 4, 1, 1, 0))).label(), "2026-Q4");
        // Winter: UTC−5.
        assert_eq!(ontario_date(utc(2027, 1, 1, 4, 59)), day(2026, 12, 31));
        assert_eq!(ontario_date(utc(2027, 1, 1, 5, 0)), day(2027, 1, 1));
        // 2026: daylight time from 8 March 07:00 UTC to 1 November 06:00 UTC.
        assert_eq!(ontario_date(utc(2026, 3, 8, 6, 59)), day(2026, 3, 8)); // 01:59 EST
        assert_eq!(ontario_date(utc(2026, 3, 9, 3, 30)), day(2026, 3, 8)); // 23:30 EDT
        assert_eq!(ontario_date(utc(2026, 11, 1, 5, 30)), day(2026, 11, 1)); // 01:30 EDT
        assert_eq!(ontario_date(utc(2026, 11, 2, 4, 30)), day(2026, 11, 1)); // 23:30 EST
    }

    #[test]
    fn every_metric_reads_facts_and_says_what_it_counts() {
        assert_eq!(Metric::ClientsServed.unit(), Unit::People);
        assert_eq!(Metric::Services.unit(), Unit::Events);
        assert_eq!(Metric::MinutesToAcceptP90.measure(), Measure::Percentile(90));
        assert_eq!(Metric::VqrpDaysToDecisionP50.unit(), Unit::BusinessDays);
        assert_eq!(Metric::VqrpPaidCents.unit(), Unit::Cents);
        assert!(Metric::ALL.iter().all(|m| (m.duration().is_some()) == matches!(m.measure(), Measure::Percentile(_))));
        assert_eq!(Metric::MinutesToAcceptP90.additivity(), Additivity::NotAdditive);
        assert!(Metric::ALL.iter().all(|m| !m.kinds().is_empty()));
        assert_eq!(month_label(day(2026, 7, 4)), "2026-07");
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut minutes = vec![30, 5, 10, 20, 15];
        assert_eq!(percentile(&mut minutes, 50), Some(15));
        assert_eq!(percentile(&mut minutes, 90), Some(30));
        assert_eq!(percentile(&mut minutes, 100), Some(30));
        assert_eq!(percentile(&mut [], 50), None);
        assert_eq!(percentile(&mut [7], 50), Some(7));
    }
}
