//! Cancelling work that is blocked on the network: a query the server has not answered yet
//! does not look at the run's cancel flag, so a watcher does it for the step and interrupts the
//! query the way its server allows (MySQL `KILL QUERY` on a second connection, PostgreSQL's
//! cancel request). The blocked read then fails at once and the run ends as cancelled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How often the watcher looks at the cancel flag.
const POLL: Duration = Duration::from_millis(100);

/// The way to interrupt the work in progress, registered once it is known (after connecting).
#[derive(Default)]
pub(crate) struct Interrupt(Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl Interrupt {
    /// Register `action` (it runs at most once, on the watcher's thread).
    pub(crate) fn set(&self, action: impl FnOnce() + Send + 'static) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(action));
    }

    fn fire(&self) {
        if let Some(action) = self.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
            action();
        }
    }
}

/// Run `work` while a watcher polls `cancel`; once it is set, the registered [`Interrupt`] runs.
pub(crate) fn interruptible<T>(cancel: &AtomicBool, work: impl FnOnce(&Interrupt) -> T) -> T {
    let interrupt = Interrupt::default();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                if cancel.load(Ordering::SeqCst) {
                    interrupt.fire();
                    return;
                }
                std::thread::sleep(POLL);
            }
        });
        let result = work(&interrupt);
        done.store(true, Ordering::SeqCst);
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interrupt_runs_once_cancelled_and_not_otherwise() {
        let fired = std::sync::Arc::new(AtomicBool::new(false));
        let cancel = AtomicBool::new(false);
        let f = std::sync::Arc::clone(&fired);
        interruptible(&cancel, |i| i.set(move || f.store(true, Ordering::SeqCst)));
        assert!(!fired.load(Ordering::SeqCst), "finished work is not interrupted");
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let f = std::sync::Arc::clone(&fired);
        interruptible(&cancel, |i| {
            i.set(move || {
                f.store(true, Ordering::SeqCst);
                let _ = tx.send(());
            });
            cancel.store(true, Ordering::SeqCst);
            // Blocked until the watcher interrupts us.
            rx.recv().unwrap();
        });
        assert!(fired.load(Ordering::SeqCst));
    }
}
