//! The daemon's self-limits, like osquery's watchdog but on by default: a CPU budget
//! (the agent's own CPU time averaged over a window) and a resident-memory limit.
//!
//! Pure: it is fed samples of the process's own CPU time and resident memory (read by
//! `collect::platform::own_usage`) and answers decisions — how far to stretch the report
//! interval, whether memory is over its limit. The daemon reads the samples, logs and
//! acts. The per-collector time budget is the collector runner's (`collect::run_all`).
//! This module must not read anything or log.

use std::collections::VecDeque;
use std::time::Duration;

use crate::config::LimitsConfig;

/// Share of the budget the projected use must fall under before the interval is
/// shortened again (hysteresis, so it does not flap at the budget's edge).
pub const RELAX_HEADROOM: f64 = 0.8;

/// What the agent's process has used so far, as the platform reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OwnUsage {
    /// CPU time, user and system, all threads, since the process started, seconds.
    pub cpu_seconds: f64,
    /// Resident memory now, bytes.
    pub rss_bytes: u64,
}

/// A change of the report interval's multiplier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stretch {
    /// The multiplier before.
    pub from: u32,
    /// The multiplier now.
    pub to: u32,
    /// The CPU use over the window that decided it, a ratio of one core.
    pub usage: f64,
}

/// The multiplier of the report interval that brings the CPU use `usage` (measured with
/// the interval stretched `current` times) under `budget`, at most `max`.
///
/// Over the budget, the interval grows in proportion (the agent's work is mostly per
/// report), by at least one step. Under it, the interval shrinks only as far as keeps the
/// projected use under [`RELAX_HEADROOM`] of the budget, and never below 1.
pub fn next_multiplier(current: u32, usage: f64, budget: f64, max: u32) -> u32 {
    let current = current.max(1);
    if !(usage.is_finite() && budget > 0.0) {
        return current;
    }
    let scaled = |target: f64| -> u32 {
        let steps = (f64::from(current) * usage / target).ceil();
        if steps >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            // `steps` is finite, non-negative and below u32::MAX here.
            steps.max(0.0) as u32
        }
    };
    if usage > budget {
        scaled(budget).max(current + 1).min(max.max(1))
    } else {
        scaled(RELAX_HEADROOM * budget).clamp(1, current)
    }
}

/// The CPU budget: samples of the agent's own CPU time over a sliding window, and the
/// current stretch of the report interval.
#[derive(Debug, Clone)]
pub struct CpuBudget {
    budget: f64,
    window: Duration,
    max_multiplier: u32,
    /// (time since an origin, CPU seconds), oldest first; the oldest is the newest sample
    /// at or before the window's start, once there is one.
    samples: VecDeque<(Duration, f64)>,
    multiplier: u32,
}

impl CpuBudget {
    /// A budget as configured, with the interval not stretched.
    pub fn new(limits: &LimitsConfig) -> Self {
        CpuBudget {
            budget: limits.max_cpu_ratio,
            window: limits.cpu_window,
            max_multiplier: limits.max_interval_multiplier.max(1),
            samples: VecDeque::new(),
            multiplier: 1,
        }
    }

    /// How many times the report interval is stretched now (1: not at all).
    pub fn multiplier(&self) -> u32 {
        self.multiplier
    }

    /// The budget, a ratio of one core.
    pub fn budget(&self) -> f64 {
        self.budget
    }

    /// Records the process's CPU time `cpu_seconds` at `at` (monotonic, from any fixed
    /// origin). A sample going back in time is ignored.
    pub fn observe(&mut self, at: Duration, cpu_seconds: f64) {
        if let Some(&(last_at, last_cpu)) = self.samples.back()
            && (at < last_at || cpu_seconds < last_cpu)
        {
            return;
        }
        self.samples.push_back((at, cpu_seconds));
        let Some(start) = at.checked_sub(self.window) else {
            return;
        };
        // Keep one sample at or before the window's start as its anchor.
        while self.samples.len() > 1 && self.samples.get(1).is_some_and(|s| s.0 <= start) {
            self.samples.pop_front();
        }
    }

    /// The CPU use over the last full window, a ratio of one core; `None` until the
    /// samples span a whole window.
    pub fn usage(&self) -> Option<f64> {
        let (first_at, first_cpu) = *self.samples.front()?;
        let (last_at, last_cpu) = *self.samples.back()?;
        let span = last_at.checked_sub(first_at)?;
        if span < self.window || span.is_zero() {
            return None;
        }
        Some((last_cpu - first_cpu) / span.as_secs_f64())
    }

    /// Decides the stretch from the last full window. After a change the samples start
    /// again from the newest, so the next decision sees a whole window at the new
    /// interval.
    pub fn update(&mut self) -> Option<Stretch> {
        let usage = self.usage()?;
        let to = next_multiplier(self.multiplier, usage, self.budget, self.max_multiplier);
        if to == self.multiplier {
            return None;
        }
        let from = self.multiplier;
        self.multiplier = to;
        while self.samples.len() > 1 {
            self.samples.pop_front();
        }
        Some(Stretch { from, to, usage })
    }
}

/// The resident memory is over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "resident memory {rss_bytes} bytes is over the agent's limit of {max_rss_bytes} bytes (limits.max_rss_bytes)"
)]
pub struct MemoryExceeded {
    /// Resident memory measured.
    pub rss_bytes: u64,
    /// The limit.
    pub max_rss_bytes: u64,
}

/// Checks resident memory against the limit.
pub fn check_memory(rss_bytes: u64, max_rss_bytes: u64) -> Result<(), MemoryExceeded> {
    if rss_bytes > max_rss_bytes {
        Err(MemoryExceeded {
            rss_bytes,
            max_rss_bytes,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(percent: f64, window_secs: u64, max: u32) -> LimitsConfig {
        LimitsConfig {
            max_cpu_ratio: percent / 100.0,
            cpu_window: Duration::from_secs(window_secs),
            max_interval_multiplier: max,
            ..LimitsConfig::default()
        }
    }

    /// Feeds samples every `step_secs` for `secs` seconds of a process using `ratio` of a
    /// core, from `(t, cpu)`; answers the new (t, cpu).
    fn feed(
        budget: &mut CpuBudget,
        (t, cpu): (u64, f64),
        secs: u64,
        step_secs: u64,
        ratio: f64,
    ) -> (u64, f64) {
        let mut now = (t, cpu);
        for _ in 0..secs / step_secs {
            now = (now.0 + step_secs, now.1 + ratio * step_secs as f64);
            budget.observe(Duration::from_secs(now.0), now.1);
        }
        now
    }

    #[test]
    fn no_decision_before_a_whole_window() {
        let mut budget = CpuBudget::new(&limits(5.0, 600, 4));
        budget.observe(Duration::ZERO, 0.0);
        // Busy start (the first full inventory): 50 % of a core for 5 minutes.
        feed(&mut budget, (0, 0.0), 300, 10, 0.5);
        assert_eq!(budget.usage(), None);
        assert_eq!(budget.update(), None);
        assert_eq!(budget.multiplier(), 1);
    }

    #[test]
    fn usage_is_the_average_over_the_window_only() {
        let mut budget = CpuBudget::new(&limits(5.0, 600, 4));
        budget.observe(Duration::ZERO, 0.0);
        // 10 minutes at 50 %, then 10 minutes at 1 %: only the last 10 count.
        let now = feed(&mut budget, (0, 0.0), 600, 10, 0.5);
        let usage = budget.usage().unwrap();
        assert!((usage - 0.5).abs() < 1e-9, "{usage}");
        feed(&mut budget, now, 600, 10, 0.01);
        let usage = budget.usage().unwrap();
        assert!((usage - 0.01).abs() < 1e-9, "{usage}");
    }

    #[test]
    fn over_budget_stretches_in_proportion_up_to_the_maximum() {
        let mut budget = CpuBudget::new(&limits(5.0, 600, 4));
        budget.observe(Duration::ZERO, 0.0);
        // 12 % of a core: 2.4 x the budget -> 3 x the interval.
        let now = feed(&mut budget, (0, 0.0), 600, 10, 0.12);
        let stretch = budget.update().unwrap();
        assert_eq!((stretch.from, stretch.to), (1, 3));
        assert!((stretch.usage - 0.12).abs() < 1e-9);
        // The next decision waits for a whole window at the new interval.
        let now = feed(&mut budget, now, 300, 10, 0.30);
        assert_eq!(budget.update(), None);
        // Still far over: capped at 4.
        let now = feed(&mut budget, now, 300, 10, 0.30);
        assert_eq!(budget.update().map(|s| s.to), Some(4));
        // Over, but already at the cap: no change.
        feed(&mut budget, now, 600, 10, 0.30);
        assert_eq!(budget.update(), None);
        assert_eq!(budget.multiplier(), 4);
    }

    #[test]
    fn under_budget_relaxes_with_headroom_and_never_below_one() {
        let mut budget = CpuBudget::new(&limits(5.0, 600, 8));
        budget.observe(Duration::ZERO, 0.0);
        let now = feed(&mut budget, (0, 0.0), 600, 10, 0.5);
        assert_eq!(budget.update().map(|s| s.to), Some(8));
        // At 8 x the use is 2.9 %: at 6 x it would be 3.9 % (under 80 % of the budget),
        // at 5 x 4.6 % (over it).
        let now = feed(&mut budget, now, 600, 10, 0.029);
        assert_eq!(budget.update().map(|s| (s.from, s.to)), Some((8, 6)));
        // Idle: back to 1, not 0.
        feed(&mut budget, now, 600, 10, 0.0);
        assert_eq!(budget.update().map(|s| s.to), Some(1));
    }

    #[test]
    fn next_multiplier_rules() {
        // Just over: at least one step.
        assert_eq!(next_multiplier(1, 0.0501, 0.05, 4), 2);
        assert_eq!(next_multiplier(2, 0.0501, 0.05, 4), 3);
        // Far over: proportional, capped.
        assert_eq!(next_multiplier(1, 0.10, 0.05, 4), 2);
        assert_eq!(next_multiplier(1, 1.0, 0.05, 4), 4);
        // A maximum of 1 never stretches.
        assert_eq!(next_multiplier(1, 1.0, 0.05, 1), 1);
        // At the budget: no change.
        assert_eq!(next_multiplier(3, 0.05, 0.05, 4), 3);
        // Under, but shortening would go over 80 %: no change.
        assert_eq!(next_multiplier(4, 0.035, 0.05, 4), 4);
        // Nonsense samples change nothing.
        assert_eq!(next_multiplier(2, f64::NAN, 0.05, 4), 2);
        assert_eq!(next_multiplier(2, 0.5, 0.0, 4), 2);
    }

    #[test]
    fn samples_going_back_are_ignored() {
        let mut budget = CpuBudget::new(&limits(5.0, 10, 4));
        budget.observe(Duration::from_secs(0), 1.0);
        budget.observe(Duration::from_secs(5), 0.5);
        budget.observe(Duration::from_secs(10), 1.1);
        let usage = budget.usage().unwrap();
        assert!((usage - 0.01).abs() < 1e-9, "{usage}");
    }

    #[test]
    fn memory_over_the_limit_is_an_error_naming_both_figures() {
        assert_eq!(check_memory(64, 64), Ok(()));
        let err = check_memory(65, 64).unwrap_err();
        assert_eq!(
            err.to_string(),
            "resident memory 65 bytes is over the agent's limit of 64 bytes (limits.max_rss_bytes)"
        );
    }
}
