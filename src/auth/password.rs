//! Password hashing off the async threads. Each hash costs tens of milliseconds of one core, so hashes run on a
//! few dedicated threads of the lowest CPU priority (Linux `SCHED_IDLE`, else nice 19): chat work on the tokio
//! workers preempts them at once, while cores nobody else wants still hash at full speed. A semaphore in front
//! queues a burst of sign-ins in order, and a request that gives up while queued leaves the queue.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use anyhow::Context;
use tokio::sync::{Semaphore, oneshot};

use super::crypto::{self, PasswordScheme};

type Job = Box<dyn FnOnce() + Send>;

pub struct Passwords {
    scheme: PasswordScheme,
    permits: Arc<Semaphore>,
    /// Feeds the hashing threads; they end when this is dropped.
    jobs: mpsc::Sender<Job>,
}

impl Passwords {
    /// `concurrency` 0 means one less than the cores, at least one. Starts that many hashing threads.
    pub fn new(scheme: PasswordScheme, concurrency: usize) -> Self {
        let threads = match concurrency {
            0 => default_concurrency(),
            n => n,
        };
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("password-{i}")).spawn(move || work(&queue));
            // Without any thread every job answers an error (the queue is gone), which beats refusing to start.
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password-hashing thread");
            }
        }
        Passwords { scheme, permits: Arc::new(Semaphore::new(threads)), jobs }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        // One permit per thread, so a job that gets a permit finds a thread free (unless an abandoned job is still
        // finishing, which the pool's fixed size still bounds).
        let _permit = self.permits.acquire().await?;
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            // Its request gave up while the job was queued: spare the core.
            if !reply.is_closed() {
                let _ = reply.send(f());
            }
        });
        self.jobs.send(job).ok().context("no password-hashing thread is running")?;
        // A job that panicked dropped `reply` unanswered.
        answer.await.context("password hashing failed")
    }

    /// A new hash in the configured format.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let (password, scheme) = (password.to_string(), self.scheme);
        self.run(move || crypto::hash_password(&password, scheme)).await
    }

    /// Checks a password against a stored hash of either format.
    pub async fn verify(&self, password: &str, stored: &str) -> anyhow::Result<bool> {
        let (password, stored) = (password.to_string(), stored.to_string());
        self.run(move || crypto::verify_password(&password, &stored)).await
    }

    /// Spends the time a real check would, for an email that has no account, so timing reveals nothing.
    pub async fn burn(&self, password: &str) -> anyhow::Result<()> {
        let (password, scheme) = (password.to_string(), self.scheme);
        self.run(move || crypto::burn_password_check(&password, scheme)).await
    }
}

/// One less than the cores, at least one. Even at idle priority a hash slows the chat work beside it (argon2 sweeps
/// 19 MiB, through the caches the chat shares), so one core is left free of hashing.
fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1)).max(1)
}

/// A hashing thread: lowers its own priority, then runs jobs until the `Passwords` is dropped.
fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    lower_priority();
    loop {
        // The guard is a temporary, so the lock is released before the job runs and the other threads can take
        // the next one. Nothing panics while it is held, but a poisoned lock is still usable.
        let Ok(job) = queue.lock().unwrap_or_else(|e| e.into_inner()).recv() else { return };
        // The panic is already reported by the hook; the thread lives on for the next job.
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

/// Puts the current thread at the lowest CPU priority the OS grants; a refusal is logged once and hashing goes on
/// at normal priority.
fn lower_priority() {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if let Err(e) = try_lower_priority()
        && !WARNED.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(error = %e, "password hashing runs at normal CPU priority: a burst of sign-ins can slow chat");
    }
}

#[cfg(target_os = "linux")]
fn try_lower_priority() -> Result<(), thread_priority::Error> {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id, thread_schedule_policy,
    };
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    let other = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other);
    match set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle) {
        Ok(()) => Ok(()),
        // The crate also resets the nice value, which a process already niced may not do; SCHED_IDLE ignores it.
        Err(_) if thread_schedule_policy().is_ok_and(|p| p == idle) => Ok(()),
        // SCHED_IDLE refused (a seccomp filter, say): nice 19, which any thread may take.
        Err(_) => set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, other),
    }
}

#[cfg(not(target_os = "linux"))]
fn try_lower_priority() -> Result<(), thread_priority::Error> {
    thread_priority::ThreadPriority::Min.set_for_current()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_burn() {
        let passwords = Passwords::new(PasswordScheme::Argon2id, 2);
        let hash = passwords.hash("correct horse").await.unwrap();
        assert!(passwords.verify("correct horse", &hash).await.unwrap());
        assert!(!passwords.verify("wrong horse", &hash).await.unwrap());
        passwords.burn("anything").await.unwrap();
    }

    #[tokio::test]
    async fn a_panicking_job_answers_an_error_and_the_thread_lives_on() {
        let passwords = Passwords::new(PasswordScheme::Argon2id, 1);
        let err = passwords.run(|| -> u32 { panic!("boom") }).await.unwrap_err();
        assert!(err.to_string().contains("password hashing failed"), "{err:#}");
        // The only thread took the panic and still answers.
        assert_eq!(passwords.run(|| 7).await.unwrap(), 7);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_threads_run_at_the_lowest_priority() {
        use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy};
        let passwords = Passwords::new(PasswordScheme::Argon2id, 1);
        // Linux lets any thread lower itself to SCHED_IDLE.
        let policy = passwords.run(thread_schedule_policy).await.unwrap().unwrap();
        assert_eq!(policy, ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle));
    }
}
