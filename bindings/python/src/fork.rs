//! Surviving `os.fork`: [`ForkSafe`], the one fork-aware holder of core state.
//!
//! A child process inherits the parent's memory but none of its threads: the module's tokio
//! runtime, and every core object that keeps tasks or connections on it (a client's pool, a
//! validator's key fetches, a resolver's single-flight), are unusable there, and dropping them
//! could wait forever for threads that do not exist. So every such object is held in a
//! [`ForkSafe`], which hands out the value built in this process and, in a forked child,
//! builds a fresh one (leaking the parent's on purpose).
//!
//! A fork is detected by one scheme: a counter bumped by an
//! `os.register_at_fork(after_in_child=...)` hook ([`register`]). Comparing it costs one atomic
//! load, where `getpid` is a system call (~0.5 µs in sandboxed VMs, a third of a cache hit).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::guard::guarded;

/// How many forks separate this process from the one that loaded the module.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The fork generation of this process (0 in the process that loaded the module).
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

guarded! {
    /// `_native._after_fork_in_child()`: registered with `os.register_at_fork` at import.
    #[pyfunction(name = "_after_fork_in_child")]
    pub fn after_fork_in_child() {
        GENERATION.fetch_add(1, Ordering::Relaxed);
    }
}

/// Adds [`after_fork_in_child`] to the module and registers it with `os.register_at_fork`
/// (where `os.fork` exists).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(after_fork_in_child, m)?)?;
    let py = m.py();
    let os = py.import(intern!(py, "os"))?;
    if !os.hasattr(intern!(py, "register_at_fork"))? {
        return Ok(());
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item(
        intern!(py, "after_in_child"),
        m.getattr(intern!(py, "_after_fork_in_child"))?,
    )?;
    os.call_method(intern!(py, "register_at_fork"), (), Some(&kwargs))?;
    Ok(())
}

/// A value that belongs to the process that built it: [`ForkSafe::get`] returns it, or in a
/// forked child builds a new one. The lock is held only to read or swap the slot, never while
/// building (building may call into Python, or take another holder's lock).
pub(crate) struct ForkSafe<T> {
    slot: Mutex<Option<(u64, T)>>,
}

impl<T: Clone> ForkSafe<T> {
    /// An empty holder: the first [`get`](ForkSafe::get) builds the value.
    pub(crate) const fn empty() -> Self {
        ForkSafe {
            slot: Mutex::new(None),
        }
    }

    /// A holder of `value`, built in this process.
    pub(crate) fn new(value: T) -> Self {
        ForkSafe {
            slot: Mutex::new(Some((generation(), value))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<(u64, T)>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of this process; `build` makes it when there is none yet, or when the one
    /// held was built before a fork. The parent's value is leaked: its tasks and connections
    /// belong to the parent's runtime, and dropping it here could block forever.
    pub(crate) fn get(&self, build: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
        let now = generation();
        if let Some((built, value)) = &*self.lock()
            && *built == now
        {
            return Ok(value.clone());
        }
        let fresh = build()?;
        let mut slot = self.lock();
        if let Some((built, value)) = &*slot
            && *built == now
        {
            // Another thread built it meanwhile: keep one.
            return Ok(value.clone());
        }
        if let Some(stale) = slot.replace((now, fresh.clone())) {
            std::mem::forget(stale);
        }
        Ok(fresh)
    }
}
