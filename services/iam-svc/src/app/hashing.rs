//! Argon2id behind a bounded gate: each hash or verification takes about
//! 19 MiB and tens of milliseconds of CPU, so an unbounded burst of sign-ins
//! would take as much memory as it has requests. At most `concurrency`
//! run at once; at most `queue` more wait; anything beyond is refused at
//! once with `RESOURCE_EXHAUSTED` instead of waiting in memory.

use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::IamError;
use crate::domain::password::PasswordHasher;

/// `IAM_PASSWORD_HASH_CONCURRENCY` / `IAM_PASSWORD_HASH_QUEUE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashingLimits {
    /// Hashes running at once; the number of CPUs by default (more would
    /// only queue for the CPU while holding their memory). 0 counts as 1.
    pub concurrency: usize,
    /// Requests that may wait for a turn; 64 by default.
    pub queue: usize,
}

impl Default for HashingLimits {
    fn default() -> Self {
        Self {
            concurrency: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            queue: 64,
        }
    }
}

/// The gate, shared by every request of one process.
#[derive(Debug)]
pub(crate) struct PasswordWork {
    hasher: Arc<PasswordHasher>,
    /// Running plus waiting.
    admission: Arc<Semaphore>,
    /// Running.
    workers: Arc<Semaphore>,
}

/// A request's place in the gate: taken before any other work, so a full
/// gate refuses a sign-in before it touches the database.
pub(crate) struct Admission {
    slot: OwnedSemaphorePermit,
    hasher: Arc<PasswordHasher>,
    workers: Arc<Semaphore>,
}

impl PasswordWork {
    pub(crate) fn new(hasher: PasswordHasher, limits: HashingLimits) -> Self {
        let concurrency = limits.concurrency.clamp(1, Semaphore::MAX_PERMITS);
        let admitted = concurrency
            .saturating_add(limits.queue)
            .min(Semaphore::MAX_PERMITS);
        Self {
            hasher: Arc::new(hasher),
            admission: Arc::new(Semaphore::new(admitted)),
            workers: Arc::new(Semaphore::new(concurrency)),
        }
    }

    /// A place in the gate, or [`IamError::Busy`] when it is full.
    pub(crate) fn admit(&self) -> Result<Admission, IamError> {
        match Arc::clone(&self.admission).try_acquire_owned() {
            Ok(slot) => Ok(Admission {
                slot,
                hasher: Arc::clone(&self.hasher),
                workers: Arc::clone(&self.workers),
            }),
            Err(TryAcquireError::NoPermits) => {
                tracing::warn!("password hashing queue full; request refused");
                Err(IamError::Busy)
            }
            Err(TryAcquireError::Closed) => Err(IamError::internal(anyhow::anyhow!(
                "the password hashing gate is closed"
            ))),
        }
    }
}

impl Admission {
    /// Waits for a turn, then runs `work` off the async threads. Both
    /// permits move into the blocking task: a caller that goes away while
    /// the hash runs does not free its place before the memory is.
    pub(crate) async fn run<T, F>(self, work: F) -> Result<T, IamError>
    where
        T: Send + 'static,
        F: FnOnce(&PasswordHasher) -> T + Send + 'static,
    {
        let worker = Arc::clone(&self.workers)
            .acquire_owned()
            .await
            .map_err(IamError::internal)?;
        let Self { slot, hasher, .. } = self;
        tokio::task::spawn_blocking(move || {
            let _held = (slot, worker);
            work(&hasher)
        })
        .await
        .map_err(IamError::internal)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

    use super::*;

    /// Whether a job starts running within `wait`.
    async fn starts(running: &mut UnboundedReceiver<()>, wait: Duration) -> bool {
        tokio::time::timeout(wait, running.recv()).await.is_ok()
    }

    fn gate(concurrency: usize, queue: usize) -> PasswordWork {
        let hasher = PasswordHasher::insecure_for_tests().unwrap();
        PasswordWork::new(hasher, HashingLimits { concurrency, queue })
    }

    /// Starts a job that runs until `release` receives; `started` hears
    /// when it runs.
    fn blocked_job(
        work: &PasswordWork,
        started: UnboundedSender<()>,
    ) -> (
        mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), IamError>>,
    ) {
        let (release, released) = mpsc::channel::<()>();
        let admission = work.admit().unwrap();
        let job = tokio::spawn(admission.run(move |_| {
            started.send(()).unwrap();
            released.recv().unwrap();
        }));
        (release, job)
    }

    #[tokio::test]
    async fn at_most_concurrency_run_at_most_queue_wait_the_rest_are_refused() {
        let work = gate(1, 1);
        let (started, mut running) = unbounded_channel();
        let (release_first, first) = blocked_job(&work, started.clone());
        assert!(starts(&mut running, Duration::from_secs(5)).await);
        // The second is admitted but waits: the one worker is busy.
        let (release_second, second) = blocked_job(&work, started);
        assert!(!starts(&mut running, Duration::from_millis(200)).await);
        // The third finds the gate full.
        assert!(matches!(work.admit(), Err(IamError::Busy)));
        release_first.send(()).unwrap();
        first.await.unwrap().unwrap();
        assert!(starts(&mut running, Duration::from_secs(5)).await);
        // One place is free again while the second runs.
        let third = work.admit().unwrap();
        assert!(matches!(work.admit(), Err(IamError::Busy)));
        drop(third);
        release_second.send(()).unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(work.admission.available_permits(), 2);
        assert_eq!(work.workers.available_permits(), 1);
    }

    #[tokio::test]
    async fn a_dropped_caller_keeps_its_place_until_the_hash_ends() {
        let work = gate(1, 0);
        let (started, mut running) = unbounded_channel();
        let (release, job) = blocked_job(&work, started);
        assert!(starts(&mut running, Duration::from_secs(5)).await);
        job.abort();
        assert!(matches!(work.admit(), Err(IamError::Busy)));
        release.send(()).unwrap();
        for _ in 0..100 {
            if work.admission.available_permits() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(work.admit().is_ok());
    }

    #[test]
    fn zero_concurrency_counts_as_one() {
        let work = gate(0, 0);
        assert_eq!(work.workers.available_permits(), 1);
        assert_eq!(work.admission.available_permits(), 1);
        let huge = gate(usize::MAX, usize::MAX);
        assert_eq!(huge.admission.available_permits(), Semaphore::MAX_PERMITS);
    }
}
