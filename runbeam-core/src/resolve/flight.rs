//! One cached value with single-flight refresh: however many callers miss at once, one
//! fetch runs (on its own task, so a cancelled caller does not cancel it) and every waiter
//! gets its answer — errors included, which are shared but never stored.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::sync::watch;

use crate::error::{Error, ErrorKind, Result};

/// A stored value and how long it may be used.
#[derive(Clone)]
pub(crate) struct Entry<V> {
    pub(crate) value: V,
    /// Used without asking upstream until then.
    pub(crate) fresh_until: Instant,
    /// Usable as a flagged stale answer, when upstream fails, until then.
    pub(crate) usable_until: Instant,
}

type Answer<V> = Option<Result<V>>;

/// What a fetch does with the stored entry.
pub(crate) enum Keep<V> {
    /// Store this (a good answer).
    Store(Entry<V>),
    /// Forget the stored entry (the answer says it is gone or forbidden).
    Clear,
    /// Leave it (an error after which the old entry may still be served stale).
    Unchanged,
}

/// A cache slot: the stored entry and the fetch in flight, if any.
pub(crate) struct Slot<V> {
    entry: RwLock<Option<Entry<V>>>,
    flight: Mutex<Option<watch::Receiver<Answer<V>>>>,
}

impl<V: Clone + Send + Sync + 'static> Slot<V> {
    pub(crate) fn new() -> Slot<V> {
        Slot {
            entry: RwLock::new(None),
            flight: Mutex::new(None),
        }
    }

    /// The stored value if it is fresh at `now`.
    #[inline]
    pub(crate) fn fresh(&self, now: Instant) -> Option<V> {
        let entry = self.entry.read().unwrap_or_else(|e| e.into_inner());
        entry
            .as_ref()
            .filter(|e| now < e.fresh_until)
            .map(|e| e.value.clone())
    }

    /// The stored value if it may still be served stale at `now`.
    pub(crate) fn usable(&self, now: Instant) -> Option<V> {
        let entry = self.entry.read().unwrap_or_else(|e| e.into_inner());
        entry
            .as_ref()
            .filter(|e| now < e.usable_until)
            .map(|e| e.value.clone())
    }

    /// When the stored entry stops being usable, if there is one.
    pub(crate) fn usable_until(&self) -> Option<Instant> {
        let entry = self.entry.read().unwrap_or_else(|e| e.into_inner());
        entry.as_ref().map(|e| e.usable_until)
    }

    pub(crate) fn store(&self, entry: Entry<V>) {
        *self.entry.write().unwrap_or_else(|e| e.into_inner()) = Some(entry);
    }

    /// Forgets the stored entry (the provider said the resource is gone or forbidden: it must
    /// not be served stale afterwards).
    pub(crate) fn clear(&self) {
        self.entry.write().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Whether a fetch is in flight.
    pub(crate) fn in_flight(&self) -> bool {
        self.flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Joins the fetch in flight, returns the entry a fetch just stored, or starts `fetch` on
    /// its own task. `fetch` returns the answer and what to do with the stored entry; the
    /// entry is updated before waiters are woken, so a caller arriving later finds it.
    /// A fetch that runs past `deadline` answers `Timeout`; one that panics answers
    /// `Internal` — either way the flight ends and the next caller starts a new one.
    ///
    /// Must be called within a Tokio runtime.
    pub(crate) async fn fetch<F>(self: &Arc<Self>, deadline: Duration, fetch: F) -> Result<V>
    where
        F: Future<Output = (Result<V>, Keep<V>)> + Send + 'static,
    {
        let mut waiting = {
            let mut flight = self.flight.lock().unwrap_or_else(|e| e.into_inner());
            match &*flight {
                Some(receiver) => receiver.clone(),
                None => {
                    // A fetch may have finished between the caller's miss and now: it stores
                    // its entry before it leaves the flight, so this check cannot miss it.
                    if let Some(value) = self.fresh(Instant::now()) {
                        return Ok(value);
                    }
                    let (sender, receiver) = watch::channel(None);
                    *flight = Some(receiver.clone());
                    let slot = Arc::clone(self);
                    tokio::spawn(async move {
                        let guarded = AssertUnwindSafe(fetch).catch_unwind();
                        let (answer, keep) = match tokio::time::timeout(deadline, guarded).await {
                            Ok(Ok(done)) => done,
                            Ok(Err(_panic)) => (
                                Err(Error::new(
                                    ErrorKind::Internal,
                                    "the resolution task failed (this is a librunbeam bug; \
                                     please report it)",
                                )),
                                Keep::Unchanged,
                            ),
                            Err(_) => (
                                Err(Error::new(
                                    ErrorKind::Timeout,
                                    format!(
                                        "the resolution did not finish within {} s",
                                        deadline.as_secs()
                                    ),
                                )),
                                Keep::Unchanged,
                            ),
                        };
                        match keep {
                            Keep::Store(entry) => slot.store(entry),
                            Keep::Clear => slot.clear(),
                            Keep::Unchanged => {}
                        }
                        slot.flight.lock().unwrap_or_else(|e| e.into_inner()).take();
                        // Nobody waiting is fine: the entry is stored.
                        let _ = sender.send(Some(answer));
                    });
                    receiver
                }
            }
        };
        let answer = waiting.wait_for(Option::is_some).await.map_err(|_| {
            Error::new(
                ErrorKind::Internal,
                "the resolution task ended without an answer",
            )
        })?;
        answer.clone().unwrap_or_else(|| {
            Err(Error::new(
                ErrorKind::Internal,
                "the resolution task ended without an answer",
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const LONG: Duration = Duration::from_secs(60);

    fn entry(value: u32, fresh: Duration) -> Entry<u32> {
        let now = Instant::now();
        Entry {
            value,
            fresh_until: now + fresh,
            usable_until: now + fresh * 2,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_share_one_fetch_and_its_error() {
        let slot = Arc::new(Slot::<u32>::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let slot = Arc::clone(&slot);
            let calls = Arc::clone(&calls);
            tasks.push(tokio::spawn(async move {
                slot.fetch(LONG, async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    (
                        Err(Error::new(ErrorKind::NotFound, "gone")),
                        Keep::Unchanged,
                    )
                })
                .await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap_err().kind(), ErrorKind::NotFound);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(
            slot.usable(Instant::now()).is_none(),
            "errors are not stored"
        );
    }

    #[tokio::test]
    async fn a_stored_entry_is_fresh_then_only_usable() {
        let slot = Arc::new(Slot::<u32>::new());
        let got = slot
            .fetch(LONG, async {
                (Ok(7), Keep::Store(entry(7, Duration::from_millis(30))))
            })
            .await
            .unwrap();
        assert_eq!(got, 7);
        assert_eq!(slot.fresh(Instant::now()), Some(7));
        let later = Instant::now() + Duration::from_millis(40);
        assert_eq!(slot.fresh(later), None);
        assert_eq!(slot.usable(later), Some(7));
        assert_eq!(slot.usable(later + Duration::from_millis(40)), None);
    }

    #[tokio::test]
    async fn a_caller_that_missed_just_before_a_store_gets_the_stored_entry() {
        let slot = Arc::new(Slot::<u32>::new());
        slot.store(entry(3, Duration::from_secs(5)));
        let got = slot
            .fetch(LONG, async {
                panic!("no second fetch while the entry is fresh")
            })
            .await
            .unwrap();
        assert_eq!(got, 3);
    }

    #[tokio::test]
    async fn a_cancelled_caller_does_not_cancel_the_fetch() {
        let slot = Arc::new(Slot::<u32>::new());
        let first = {
            let slot = Arc::clone(&slot);
            tokio::spawn(async move {
                slot.fetch(LONG, async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    (Ok(1), Keep::Store(entry(1, Duration::from_secs(5))))
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        first.abort();
        let second = slot
            .fetch(LONG, async {
                (Ok(2), Keep::Store(entry(2, Duration::from_secs(5))))
            })
            .await
            .unwrap();
        assert_eq!(
            second, 1,
            "the second caller joined the first caller's fetch"
        );
        assert_eq!(slot.fresh(Instant::now()), Some(1));
    }

    #[tokio::test]
    async fn a_panicking_fetch_answers_internal_and_the_next_caller_fetches_again() {
        let slot = Arc::new(Slot::<u32>::new());
        let err = slot
            .fetch(LONG, async { panic!("bug in a fetch") })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert!(!slot.in_flight());
        let got = slot
            .fetch(LONG, async { (Ok(5), Keep::Store(entry(5, LONG))) })
            .await
            .unwrap();
        assert_eq!(got, 5);
    }

    #[tokio::test]
    async fn a_fetch_past_its_deadline_answers_timeout() {
        let slot = Arc::new(Slot::<u32>::new());
        let err = slot
            .fetch(Duration::from_millis(20), async {
                tokio::time::sleep(LONG).await;
                (Ok(1), Keep::Unchanged)
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(!slot.in_flight());
    }

    #[tokio::test]
    async fn clear_forgets_the_entry_so_it_is_not_served_stale() {
        let slot = Arc::new(Slot::<u32>::new());
        slot.store(entry(9, Duration::from_millis(20)));
        tokio::time::sleep(Duration::from_millis(25)).await;
        let later = Instant::now();
        assert_eq!(slot.fresh(later), None);
        assert_eq!(slot.usable(later), Some(9), "past its TTL, servable stale");
        let err = slot
            .fetch(LONG, async {
                (Err(Error::new(ErrorKind::NotFound, "gone")), Keep::Clear)
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(slot.usable(later), None);
    }
}
