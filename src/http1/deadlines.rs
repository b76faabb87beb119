//! Coarse timeouts, as nginx keeps them: one deadline per connection, stored as a number before
//! a wait, and a sweeper per thread that wakes the connections whose deadline passed. No timer is
//! registered per read; the sweeper ticks only while the thread has connections or idle
//! upstream connections to look after.
//!
//! The sweeper also closes the thread's idle upstream connections once they have been idle for
//! `upstream.pool_idle_timeout` ([`super::upstream`] keeps them), and wakes connections that
//! wait for a request head when the server drains.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::upstream::IdleStack;

/// How often the sweeper looks at the deadlines: a timeout fires at most this late.
pub const TICK: Duration = Duration::from_millis(50);

const NONE: u64 = u64::MAX;

/// Milliseconds since the first use of the clock in this process, by the worker's coarse clock
/// ([`crate::server::clock`]: the time of its last tick, not a system call per read).
pub fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    crate::server::clock::now()
        .saturating_duration_since(epoch)
        .as_millis() as u64
}

/// The deadline of one connection.
struct Slot {
    /// [`now_ms`] at which the current wait ends; [`NONE`] when it has no end.
    deadline: AtomicU64,
    /// Waiting for a request head: the drain ends the wait.
    idle: AtomicBool,
    waker: Mutex<Option<Waker>>,
    shutdown: CancellationToken,
}

impl Slot {
    fn due(&self, now: u64) -> bool {
        self.deadline.load(Ordering::Relaxed) <= now
            || (self.idle.load(Ordering::Relaxed) && self.shutdown.is_cancelled())
    }

    fn wake(&self) {
        let waker = self.waker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// What one thread's sweeper looks after.
pub(super) struct Local {
    slots: Mutex<Vec<Weak<Slot>>>,
    pub(super) idle: Mutex<IdleStack>,
    /// A sweeper task is running for this thread's state.
    sweeping: AtomicBool,
}

/// The thread's reference to its state.
struct ThreadLocal(Option<Arc<Local>>);

impl Drop for ThreadLocal {
    /// The thread ends: its idle upstream connections are let go without the runtime's
    /// deregistration, which may log through thread-local state already destroyed (the
    /// process is ending, or the runtime whose reactor they belong to is gone).
    fn drop(&mut self) {
        if let Some(local) = self.0.take() {
            let idle = std::mem::take(&mut *local.idle.lock().unwrap_or_else(|p| p.into_inner()));
            idle.leak();
        }
    }
}

thread_local! {
    static LOCAL: RefCell<ThreadLocal> = const { RefCell::new(ThreadLocal(None)) };
}

/// This thread's state.
pub(super) fn local() -> Arc<Local> {
    LOCAL.with(|l| {
        l.borrow_mut()
            .0
            .get_or_insert_with(|| {
                Arc::new(Local {
                    slots: Mutex::new(Vec::new()),
                    idle: Mutex::new(IdleStack::default()),
                    sweeping: AtomicBool::new(false),
                })
            })
            .clone()
    })
}

impl Local {
    /// Starts the sweeper if none runs (it stops when it has nothing left to look after, or
    /// with its runtime).
    pub(super) fn ensure_sweeper(self: &Arc<Self>) {
        if self.sweeping.load(Ordering::Acquire) || self.sweeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.sweeping.store(false, Ordering::Release);
            return;
        };
        let local = self.clone();
        rt.spawn(async move {
            /// Marks the sweeper gone however its task ends (a runtime that shuts down drops it).
            struct Running(Arc<Local>);
            impl Drop for Running {
                fn drop(&mut self) {
                    self.0.sweeping.store(false, Ordering::Release);
                }
            }
            let running = Running(local);
            loop {
                tokio::time::sleep(TICK).await;
                if !running.0.sweep() {
                    break;
                }
            }
        });
    }

    /// One tick: wakes the due connections and closes stale idle upstream connections. Returns
    /// whether there is anything left to look after (else the sweeper stops, under the lock
    /// that registrations take, so none is missed).
    fn sweep(&self) -> bool {
        let now = now_ms();
        let idle_left = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.prune(Instant::now());
            !idle.is_empty()
        };
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|w| match w.upgrade() {
            Some(s) => {
                if s.due(now) {
                    s.wake();
                }
                true
            }
            None => false,
        });
        if slots.is_empty() && !idle_left {
            self.sweeping.store(false, Ordering::Release);
            return false;
        }
        true
    }
}

/// The deadline of one client connection, checked by its thread's sweeper.
pub struct Timer {
    slot: Arc<Slot>,
}

impl Timer {
    /// A timer for a connection of the server that drains when `shutdown` is cancelled.
    pub fn new(shutdown: CancellationToken) -> Timer {
        let slot = Arc::new(Slot {
            deadline: AtomicU64::new(NONE),
            idle: AtomicBool::new(false),
            waker: Mutex::new(None),
            shutdown,
        });
        let local = local();
        local
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::downgrade(&slot));
        local.ensure_sweeper();
        Timer { slot }
    }

    /// The current wait ends `d` from now.
    pub fn set(&self, d: Duration) {
        let at = now_ms().saturating_add(d.as_millis().min(u64::MAX as u128 / 2) as u64);
        self.slot.deadline.store(at, Ordering::Relaxed);
    }

    /// The current wait ends at `at` (a [`now_ms`] value).
    pub fn set_at(&self, at: u64) {
        self.slot.deadline.store(at, Ordering::Relaxed);
    }

    /// [`now_ms`] plus `d`.
    pub fn after(d: Duration) -> u64 {
        now_ms().saturating_add(d.as_millis().min(u64::MAX as u128 / 2) as u64)
    }

    /// Whether the connection waits for a request head (a drain ends such a wait).
    pub fn set_idle(&self, idle: bool) {
        self.slot.idle.store(idle, Ordering::Relaxed);
    }

    /// Called when a wait is pending: registers the task to be woken and says whether the
    /// wait is over (deadline passed, or a drain while idle).
    pub fn poll_due(&self, cx: &mut Context<'_>) -> bool {
        {
            let mut w = self.slot.waker.lock().unwrap_or_else(|p| p.into_inner());
            match w.as_ref() {
                Some(old) if old.will_wake(cx.waker()) => {}
                _ => *w = Some(cx.waker().clone()),
            }
        }
        self.slot.due(now_ms())
    }

    /// Whether the drain started.
    pub fn draining(&self) -> bool {
        self.slot.shutdown.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pending_wait_is_woken_at_its_deadline() {
        let timer = Timer::new(CancellationToken::new());
        timer.set(Duration::from_millis(120));
        let started = Instant::now();
        std::future::poll_fn(|cx| {
            if timer.poll_due(cx) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await;
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(120), "{took:?}");
        assert!(took < Duration::from_millis(120) + TICK * 10, "{took:?}");
    }

    #[tokio::test]
    async fn a_drain_ends_an_idle_wait_only() {
        let token = CancellationToken::new();
        let timer = Timer::new(token.clone());
        timer.set(Duration::from_secs(60));
        token.cancel();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(!timer.poll_due(&mut cx));
        timer.set_idle(true);
        assert!(timer.poll_due(&mut cx));
        assert!(timer.draining());
    }
}
