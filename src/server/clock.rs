//! A coarse clock per worker thread, for deadlines checked on every read without a timer each
//! (as nginx's cached time): [`now`] returns the instant of the thread's last [`tick`] instead of
//! reading the system clock.
//!
//! A worker ticks its clock when its runtime wakes from waiting for events ([`install`]) and
//! every [`TICK`] while it runs ([`run`]), so the clock lags real time by at most about one
//! `TICK` on a busy worker and hardly at all on a quiet one. A thread that never ticks (a test's
//! runtime, a blocking pool thread) reads the system clock on every call: coarse time is an
//! optimisation, never a change of meaning.
//!
//! Only single-threaded runtimes may tick: a multi-threaded runtime moves tasks between threads,
//! and a thread it left would keep a stale time.

use std::cell::Cell;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// How often a running worker refreshes its clock.
pub const TICK: Duration = Duration::from_millis(100);

thread_local! {
    /// The time of this thread's last tick; `None` on a thread that does not tick.
    static NOW: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// This thread's time: as of its last tick on a worker, the system clock elsewhere.
pub fn now() -> Instant {
    NOW.with(Cell::get).unwrap_or_else(Instant::now)
}

/// Reads the system clock into this thread's coarse clock and returns it.
pub fn tick() -> Instant {
    let t = Instant::now();
    NOW.with(|c| c.set(Some(t)));
    t
}

/// Whether this thread's [`now`] is a cached (coarse) time.
pub fn is_coarse() -> bool {
    NOW.with(Cell::get).is_some()
}

/// The instant `after` from now, by this thread's clock.
pub fn deadline(after: Duration) -> Instant {
    now() + after
}

/// Whether `at` has passed by this thread's clock.
pub fn expired(at: Instant) -> bool {
    now() >= at
}

/// Makes a single-threaded runtime tick the clock of its thread each time it wakes up.
pub fn install(b: &mut tokio::runtime::Builder) -> &mut tokio::runtime::Builder {
    b.on_thread_unpark(|| {
        tick();
    })
}

/// Ticks this thread's clock every [`TICK`] until `stop`; spawn it on the worker's own
/// single-threaded runtime.
pub async fn run(stop: CancellationToken) {
    let mut every = tokio::time::interval(TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {
                tick();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on a fresh thread, so the thread-local clock starts unset.
    fn on_new_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(f).join().unwrap()
    }

    #[test]
    fn a_thread_that_does_not_tick_reads_the_system_clock() {
        on_new_thread(|| {
            assert!(!is_coarse());
            let a = now();
            std::thread::sleep(Duration::from_millis(5));
            let b = now();
            assert!(b - a >= Duration::from_millis(5));
        });
    }

    #[test]
    fn a_ticked_clock_stands_still_until_the_next_tick() {
        on_new_thread(|| {
            let t = tick();
            assert!(is_coarse());
            std::thread::sleep(Duration::from_millis(5));
            assert_eq!(now(), t);
            assert!(!expired(t + Duration::from_millis(1)));
            let u = tick();
            assert!(u - t >= Duration::from_millis(5));
            assert_eq!(now(), u);
            assert!(expired(t + Duration::from_millis(1)));
            assert_eq!(deadline(Duration::from_secs(1)), u + Duration::from_secs(1));
        });
    }

    #[test]
    fn each_thread_has_its_own_clock() {
        on_new_thread(|| {
            tick();
            assert!(on_new_thread(|| !is_coarse()));
        });
    }

    fn runtime(hook: bool) -> tokio::runtime::Runtime {
        let mut b = tokio::runtime::Builder::new_current_thread();
        if hook {
            install(&mut b);
        }
        b.enable_all().build().unwrap()
    }

    #[test]
    fn a_runtime_ticks_when_it_wakes_up() {
        on_new_thread(|| {
            runtime(true).block_on(async {
                let a = tick();
                // Waiting parks the thread; waking up ticks.
                tokio::time::sleep(Duration::from_millis(30)).await;
                let b = now();
                assert!(b - a >= Duration::from_millis(30), "{:?}", b - a);
                assert!(b <= Instant::now());
            })
        });
    }

    #[test]
    fn the_ticker_keeps_a_busy_worker_current() {
        on_new_thread(|| {
            // No wake-up hook: only the ticker task moves the clock.
            runtime(false).block_on(async {
                let stop = CancellationToken::new();
                let ticker = tokio::spawn(run(stop.clone()));
                let a = tick();
                // Busy: the task never lets the thread wait for events.
                let started = Instant::now();
                let mut moved = false;
                while started.elapsed() < Duration::from_secs(2) {
                    tokio::task::yield_now().await;
                    if now() - a >= TICK {
                        moved = true;
                        break;
                    }
                }
                assert!(moved, "the clock did not move in 2 s");
                // Never ahead of the system clock, and at most a couple of ticks behind.
                let lag = Instant::now() - now();
                assert!(lag < 3 * TICK, "lag {lag:?}");
                stop.cancel();
                ticker.await.unwrap();
            })
        });
    }
}
