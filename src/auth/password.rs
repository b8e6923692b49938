//! Password hashing off the async threads. Each hash costs tens of milliseconds of one core, so hashes run on
//! the blocking pool behind a semaphore: a burst of sign-ins queues here instead of starving other requests.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::crypto::{self, PasswordScheme};

pub struct Passwords {
    scheme: PasswordScheme,
    permits: Arc<Semaphore>,
}

impl Passwords {
    /// `concurrency` 0 means one less than the cores, at least one.
    pub fn new(scheme: PasswordScheme, concurrency: usize) -> Self {
        let permits = match concurrency {
            0 => std::thread::available_parallelism().map(|n| n.get().saturating_sub(1)).unwrap_or(1).max(1),
            n => n,
        };
        Passwords { scheme, permits: Arc::new(Semaphore::new(permits)) }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        let _permit = self.permits.acquire().await?;
        Ok(tokio::task::spawn_blocking(f).await?)
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
