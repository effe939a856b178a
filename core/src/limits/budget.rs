//! Budgets: spend per UTC calendar day and month, and the civil-date
//! arithmetic they need.
//!
//! Each spend is stored with the period it was made in, so a new day or
//! month starts from zero without anyone resetting it: a spend from an
//! earlier period simply does not count. Spend is only recorded for budgets
//! that are set, so a per-user state without budgets can still become idle
//! and be forgotten; a budget added mid-period therefore starts from zero.
//!
//! Dates use Howard Hinnant's `days_from_civil` / `civil_from_days`
//! (proleptic Gregorian, exact for every date a u64 of ms can name), which
//! keeps the crate free of a date library.

use serde::{Deserialize, Serialize};

use super::{BudgetPeriod, Limits, Refusal};

/// Ms in a UTC day (no leap seconds in Unix time).
pub(super) const DAY_MS: u64 = 86_400_000;

/// Days from 0000-03-01 to 1970-01-01, the shift in Hinnant's algorithms.
const EPOCH_SHIFT: i64 = 719_468;
/// Days in a 400-year Gregorian era.
const DAYS_PER_ERA: i64 = 146_097;

/// A proleptic Gregorian date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Civil {
    /// The year, e.g. 2026.
    pub(super) year: i64,
    /// The month, 1..=12.
    pub(super) month: i64,
    /// The day of the month, 1..=31.
    pub(super) day: i64,
}

impl Civil {
    /// The date `days` after 1970-01-01.
    pub(super) fn from_days(days: i64) -> Self {
        let z = days + EPOCH_SHIFT;
        let era = z.div_euclid(DAYS_PER_ERA);
        let doe = z - era * DAYS_PER_ERA; // day of era, 0..=146 096
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
        let mp = (5 * doy + 2) / 153; // month from March, 0..=11
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self { year, month, day: doy - (153 * mp + 2) / 5 + 1 }
    }

    /// Days from 1970-01-01 to this date.
    pub(super) fn to_days(self) -> i64 {
        let year = self.year - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let yoe = year - era * 400;
        let mp = (self.month + 9) % 12; // March is 0
        let doy = (153 * mp + 2) / 5 + self.day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * DAYS_PER_ERA + doe - EPOCH_SHIFT
    }

    /// The first day of the next month.
    fn next_month(self) -> Self {
        match self.month {
            12 => Self { year: self.year + 1, month: 1, day: 1 },
            month => Self { year: self.year, month: month + 1, day: 1 },
        }
    }
}

/// Whole days from the epoch to `ms`; a u64 of ms is at most 2.1 × 10¹¹
/// days, so the conversion cannot fail.
pub(super) fn days_of(ms: u64) -> i64 {
    i64::try_from(ms / DAY_MS).unwrap_or(0)
}

/// Ms from the epoch to the start of day `days` (never negative here).
fn ms_of(days: i64) -> u64 {
    u64::try_from(days).unwrap_or(0).saturating_mul(DAY_MS)
}

/// When the UTC day or month containing `now_ms` began (ms since epoch).
pub fn period_start_ms(period: BudgetPeriod, now_ms: u64) -> u64 {
    let days = days_of(now_ms);
    match period {
        BudgetPeriod::Day => ms_of(days),
        BudgetPeriod::Month => {
            let date = Civil::from_days(days);
            ms_of(Civil { day: 1, ..date }.to_days())
        }
    }
}

/// A period's number (days, or year × 12 + month − 1) and when it ends.
fn current(period: BudgetPeriod, now_ms: u64) -> (u64, u64) {
    let days = days_of(now_ms);
    match period {
        BudgetPeriod::Day => (now_ms / DAY_MS, ms_of(days + 1)),
        BudgetPeriod::Month => {
            let date = Civil::from_days(days);
            (u64::try_from(date.year * 12 + date.month - 1).unwrap_or(0), ms_of(date.next_month().to_days()))
        }
    }
}

/// Spend in one period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Tally {
    /// The period `usd` was spent in.
    period: u64,
    /// USD spent in it.
    usd: f64,
}

impl Tally {
    /// Spend counting in `period`. A tally from a later period (the clock
    /// went back) still counts, rather than being forgiven.
    fn spent_in(&self, period: u64) -> f64 {
        if self.period >= period { self.usd } else { 0.0 }
    }

    fn add(&mut self, period: u64, usd: f64) {
        *self = Self { period: period.max(self.period), usd: self.spent_in(period) + usd };
    }
}

/// Spend in the current day and month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Spend {
    /// Spend in the UTC day.
    day: Tally,
    /// Spend in the UTC month.
    month: Tally,
}

impl Spend {
    /// The exhausted budget that resets last, if any: retrying when the day
    /// resets is pointless while the month is spent too.
    pub(super) fn exhausted(&self, limits: &Limits, now_ms: u64) -> Option<Refusal> {
        budgets(limits).into_iter().find_map(|(period, budget)| {
            let budget = budget?;
            let (number, resets_at_ms) = current(period, now_ms);
            (self.tally(period).spent_in(number) >= budget).then_some(Refusal::BudgetExhausted { period, resets_at_ms })
        })
    }

    /// Adds a cost to every budget that is set; a cost that is not a
    /// finite positive number is ignored, since it can only be a bug.
    pub(super) fn add(&mut self, limits: &Limits, cost_usd: f64, now_ms: u64) {
        if !(cost_usd.is_finite() && cost_usd > 0.0) {
            return;
        }
        for (period, budget) in budgets(limits) {
            if budget.is_some() {
                self.tally_mut(period).add(current(period, now_ms).0, cost_usd);
            }
        }
    }

    /// True when nothing is spent in the current period of a set budget.
    pub(super) fn is_idle(&self, limits: &Limits, now_ms: u64) -> bool {
        budgets(limits).into_iter().all(|(period, budget)| budget.is_none() || self.tally(period).spent_in(current(period, now_ms).0) <= 0.0)
    }

    fn tally(&self, period: BudgetPeriod) -> &Tally {
        match period {
            BudgetPeriod::Day => &self.day,
            BudgetPeriod::Month => &self.month,
        }
    }

    fn tally_mut(&mut self, period: BudgetPeriod) -> &mut Tally {
        match period {
            BudgetPeriod::Day => &mut self.day,
            BudgetPeriod::Month => &mut self.month,
        }
    }
}

/// The budgets, the one that resets last first.
fn budgets(limits: &Limits) -> [(BudgetPeriod, Option<f64>); 2] {
    [(BudgetPeriod::Month, limits.budget_monthly_usd), (BudgetPeriod::Day, limits.budget_daily_usd)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(year: i64, month: i64, day: i64) -> Civil {
        Civil { year, month, day }
    }

    /// Ms at `year-month-day` 00:00 UTC.
    fn ms(year: i64, month: i64, day: i64) -> u64 {
        ms_of(date(year, month, day).to_days())
    }

    fn daily(usd: f64) -> Limits {
        Limits { budget_daily_usd: Some(usd), ..Limits::default() }
    }

    fn monthly(usd: f64) -> Limits {
        Limits { budget_monthly_usd: Some(usd), ..Limits::default() }
    }

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(date(1970, 1, 1).to_days(), 0);
        assert_eq!(date(2000, 3, 1).to_days(), 11_017);
        assert_eq!(date(2026, 1, 1).to_days(), 20_454);
        assert_eq!(Civil::from_days(-1), date(1969, 12, 31));
        assert_eq!(Civil::from_days(19_782), date(2024, 2, 29));
        assert_eq!(ms(2026, 12, 1), 1_796_083_200_000);
    }

    #[test]
    fn february_has_29_days_in_leap_years_only() {
        let february = |year| date(year, 3, 1).to_days() - date(year, 2, 1).to_days();
        assert_eq!([february(2024), february(2023), february(2100), february(2000), february(1900)], [29, 28, 28, 29, 28]);
        assert_eq!(Civil::from_days(date(2100, 2, 28).to_days() + 1), date(2100, 3, 1));
        assert_eq!(Civil::from_days(date(2000, 2, 28).to_days() + 1), date(2000, 2, 29));
    }

    #[test]
    fn a_period_ends_at_the_next_utc_midnight_or_first_of_the_month() {
        let noon = ms(2024, 2, 29) + DAY_MS / 2;
        assert_eq!(current(BudgetPeriod::Day, noon).1, ms(2024, 3, 1));
        assert_eq!(current(BudgetPeriod::Month, noon).1, ms(2024, 3, 1));
        assert_eq!(current(BudgetPeriod::Month, ms(2025, 12, 31) + DAY_MS - 1).1, ms(2026, 1, 1));
        assert_eq!(current(BudgetPeriod::Month, ms(2026, 1, 1)).1, ms(2026, 2, 1));
        assert_eq!(current(BudgetPeriod::Month, ms(2026, 1, 1)).0, current(BudgetPeriod::Month, ms(2025, 12, 31)).0 + 1);
        // The largest u64 does not overflow.
        assert!(current(BudgetPeriod::Month, u64::MAX).1 > 0);
    }

    #[test]
    fn a_daily_budget_is_spent_until_utc_midnight() {
        let (limits, midnight) = (daily(1.0), ms(2026, 3, 15));
        let mut spend = Spend::default();
        spend.add(&limits, 0.6, midnight - 3_600_000);
        assert_eq!(spend.exhausted(&limits, midnight - 1), None);
        spend.add(&limits, 0.4, midnight - 1);
        assert_eq!(spend.exhausted(&limits, midnight - 1), Some(Refusal::BudgetExhausted { period: BudgetPeriod::Day, resets_at_ms: midnight }));
        assert_eq!(spend.exhausted(&limits, midnight), None);
        assert!(spend.is_idle(&limits, midnight));
        spend.add(&limits, 0.5, midnight);
        assert_eq!(spend.day, Tally { period: midnight / DAY_MS, usd: 0.5 });
    }

    #[test]
    fn a_monthly_budget_resets_on_the_first_across_february_and_the_new_year() {
        let cases = [(2024, 2, 29, (2024, 3)), (2100, 2, 28, (2100, 3)), (2000, 2, 29, (2000, 3)), (2023, 2, 28, (2023, 3)), (2025, 12, 31, (2026, 1))];
        for (year, month, last_day, (next_year, next_month)) in cases {
            let limits = monthly(10.0);
            let first = ms(next_year, next_month, 1);
            let mut spend = Spend::default();
            spend.add(&limits, 4.0, ms(year, month, 1));
            spend.add(&limits, 6.0, ms(year, month, last_day));
            let refusal = Some(Refusal::BudgetExhausted { period: BudgetPeriod::Month, resets_at_ms: first });
            assert_eq!(spend.exhausted(&limits, first - 1), refusal, "{year}-{month}");
            assert_eq!(spend.exhausted(&limits, first), None, "{year}-{month}");
        }
    }

    #[test]
    fn the_month_is_reported_when_both_budgets_are_spent() {
        let limits = Limits { budget_daily_usd: Some(1.0), budget_monthly_usd: Some(1.0), ..Limits::default() };
        let mut spend = Spend::default();
        spend.add(&limits, 1.0, ms(2026, 5, 10));
        assert_eq!(spend.exhausted(&limits, ms(2026, 5, 10)), Some(Refusal::BudgetExhausted { period: BudgetPeriod::Month, resets_at_ms: ms(2026, 6, 1) }));
        let day_only = Limits { budget_monthly_usd: Some(5.0), ..limits };
        assert_eq!(spend.exhausted(&day_only, ms(2026, 5, 10)), Some(Refusal::BudgetExhausted { period: BudgetPeriod::Day, resets_at_ms: ms(2026, 5, 11) }));
    }

    #[test]
    fn costs_that_are_not_finite_and_positive_are_ignored() {
        let limits = Limits { budget_daily_usd: Some(1.0), budget_monthly_usd: Some(1.0), ..Limits::default() };
        let mut spend = Spend::default();
        for cost in [-1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0] {
            spend.add(&limits, cost, ms(2026, 1, 1));
        }
        assert_eq!(spend, Spend::default());
        // Without budgets nothing is recorded, so the state can be forgotten.
        spend.add(&Limits::default(), 5.0, ms(2026, 1, 1));
        assert_eq!(spend, Spend::default());
    }

    #[test]
    fn spend_from_a_later_period_still_counts_when_the_clock_goes_back() {
        let limits = daily(1.0);
        let mut spend = Spend::default();
        spend.add(&limits, 1.0, ms(2026, 1, 2));
        assert!(spend.exhausted(&limits, ms(2026, 1, 2) - 1).is_some());
        spend.add(&limits, 0.5, ms(2026, 1, 1));
        assert_eq!(spend.day.usd, 1.5);
    }

    proptest! {
        #[test]
        fn civil_from_days_inverts_days_from_civil(days in -1_000_000i64..100_000_000) {
            let civil = Civil::from_days(days);
            prop_assert_eq!(civil.to_days(), days);
            prop_assert!((1..=12).contains(&civil.month) && (1..=31).contains(&civil.day));
            let next = Civil::from_days(days + 1);
            prop_assert!(next.day == civil.day + 1 || (next.day == 1 && (next.month == civil.month % 12 + 1)));
        }
    }
}
