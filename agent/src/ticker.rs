//! The daemon's sample clock: a tick every sample interval, waking the process once per
//! tick.
//!
//! tokio's timers live in a hierarchical wheel: a deadline a second away sits in a slot
//! 64 ms wide, so the runtime wakes at the slot's start, moves the timer to the finest
//! level and sleeps again, and re-arming an [`tokio::time::Interval`] from the task
//! wakes the driver through its eventfd. Measured with `strace` on the daemon sampling
//! every second: two or three sleeps and six `epoll_wait`/`write` calls per sample. On
//! Linux the ticker is a periodic `timerfd` watched by the runtime's epoll instead: the
//! kernel wakes the daemon at the tick, once. Elsewhere, or when no timerfd can be made,
//! it is a tokio interval.
//!
//! Ticks missed while the daemon was busy (a report that ran longer than the interval)
//! are not made up: the next tick fires once, as [`MissedTickBehavior::Skip`] does.
//!
//! [`MissedTickBehavior::Skip`]: tokio::time::MissedTickBehavior::Skip

use std::time::Duration;

/// A tick every `period`, the first one `period` from its creation.
#[derive(Debug)]
pub struct Ticker {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    #[cfg(target_os = "linux")]
    TimerFd(tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>),
    Tokio(tokio::time::Interval),
}

impl Ticker {
    /// A ticker with its first tick one `period` from now. Call from within a tokio
    /// runtime with its I/O and time drivers enabled.
    pub fn new(period: Duration) -> Self {
        #[cfg(target_os = "linux")]
        if let Ok(fd) = crate::collect::platform::watched_interval_timer(period) {
            return Ticker {
                inner: Inner::TimerFd(fd),
            };
        }
        Ticker::tokio(period)
    }

    /// The portable ticker (a tokio interval), whatever the platform.
    pub fn tokio(period: Duration) -> Self {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        Ticker {
            inner: Inner::Tokio(interval),
        }
    }

    /// Whether the ticker is a kernel timer (a `timerfd`), not a tokio interval.
    pub fn is_kernel_timer(&self) -> bool {
        match &self.inner {
            #[cfg(target_os = "linux")]
            Inner::TimerFd(_) => true,
            Inner::Tokio(_) => false,
        }
    }

    /// Waits for the next tick. Cancel-safe: a tick that comes while the future is not
    /// being awaited is returned by the next call.
    pub async fn tick(&mut self) {
        match &mut self.inner {
            #[cfg(target_os = "linux")]
            Inner::TimerFd(fd) => loop {
                let mut guard = match fd.readable().await {
                    Ok(guard) => guard,
                    // The reactor is gone (the runtime is shutting down): no more ticks.
                    Err(_) => return std::future::pending().await,
                };
                match guard.try_io(|fd| crate::collect::platform::read_timer(fd.get_ref())) {
                    Ok(_) => return,
                    // Not expired yet (a spurious wake-up): wait again.
                    Err(_would_block) => continue,
                }
            },
            Inner::Tokio(interval) => {
                interval.tick().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    const PERIOD: Duration = Duration::from_millis(100);

    /// Both kinds tick once per period, the first one a period after creation, and
    /// ticks missed while nobody waited are not made up one by one. (Lower bounds are
    /// exact, timers never fire early; upper bounds leave room for a loaded machine.)
    #[test]
    fn ticks_every_period_and_skips_missed_ticks() {
        runtime().block_on(async {
            #[cfg(target_os = "linux")]
            assert!(Ticker::new(PERIOD).is_kernel_timer());
            assert!(!Ticker::tokio(PERIOD).is_kernel_timer());
            for make in [Ticker::new, Ticker::tokio] {
                let mut ticker = make(PERIOD);
                let start = Instant::now();
                ticker.tick().await;
                let first = start.elapsed();
                assert!(
                    first >= PERIOD - Duration::from_millis(2),
                    "first tick after {first:?}"
                );
                ticker.tick().await;
                ticker.tick().await;
                let three = start.elapsed();
                assert!(
                    three >= PERIOD * 3 - Duration::from_millis(2),
                    "three ticks in {three:?}"
                );
                // Busy for four periods: one tick is due at once, and the next comes
                // with the period's phase, not straight away.
                std::thread::sleep(PERIOD * 4);
                let before = Instant::now();
                ticker.tick().await;
                assert!(before.elapsed() < PERIOD - Duration::from_millis(10));
                let before = Instant::now();
                ticker.tick().await;
                assert!(
                    before.elapsed() >= Duration::from_millis(20),
                    "a missed tick was made up: {:?}",
                    before.elapsed()
                );
            }
        });
    }

    /// A tick that comes while its future is not being awaited (dropped by a
    /// `select!`, say) is returned by the next call.
    #[test]
    fn a_tick_is_kept_when_its_future_is_dropped() {
        runtime().block_on(async {
            let mut ticker = Ticker::new(PERIOD);
            assert!(
                tokio::time::timeout(Duration::from_millis(10), ticker.tick())
                    .await
                    .is_err()
            );
            tokio::time::sleep(PERIOD + Duration::from_millis(20)).await;
            let before = Instant::now();
            ticker.tick().await;
            assert!(before.elapsed() < PERIOD / 2);
        });
    }
}
