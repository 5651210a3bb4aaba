//! The machine-token lifecycle (docs/spec.md §5.3): load, renew when missing, expired or inside the
//! renewal window (once, however many callers), save; revoke.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::token::DEFAULT_RENEWAL_WINDOW;
use super::{
    ENV_MACHINE_TOKEN, MachineToken, TokenStore, check_id, load_machine_token, save_machine_token,
};
use crate::Secret;
use crate::client::{AuthorizeRequest, Client};
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::{TokenManagerCounters, TokenManagerStats};

/// Supplies the user JWT or Sanctum token used to (re-)authorize the gateway; called only
/// when a renewal is due, on a blocking thread.
pub type CredentialFn = dyn Fn() -> Result<Secret> + Send + Sync;

/// How long a credential callback may take before the renewal is abandoned.
pub const CREDENTIAL_TIMEOUT: Duration = Duration::from_secs(60);

/// Called when the stored token is inside the renewal window (before any renewal attempt).
pub type RenewalWindowFn = dyn Fn(&MachineToken) + Send + Sync;

/// Where the renewal credential comes from.
#[derive(Clone)]
pub enum Credential {
    /// A fixed user JWT or Sanctum token.
    Token(Secret),
    /// A callback returning one (e.g. read from a vault).
    Callback(Arc<CredentialFn>),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Token(_) => f.write_str("Credential::Token(***)"),
            Credential::Callback(_) => f.write_str("Credential::Callback"),
        }
    }
}

/// Keeps one gateway instance's machine token valid.
///
/// ```no_run
/// use std::sync::Arc;
/// use runbeam_core::{client::Client, storage::{self, Credential, TokenManager}, Secret};
/// # async fn run() -> runbeam_core::Result<()> {
/// let store = storage::open_default_token_store()?;
/// let manager = TokenManager::new("radiology-gw-1", store, Client::new("https://api.runbeam.io")?)
///     .credential(Credential::Token(Secret::new("1|sanctum-token".into())));
/// let token = manager.ensure_token().await?;   // loads, or authorizes and saves
/// let gateway = Client::new("https://api.runbeam.io")?.with_token(token.machine_token.clone());
/// # Ok(())
/// # }
/// ```
pub struct TokenManager {
    instance_id: String,
    gateway_code: String,
    store: Arc<dyn TokenStore>,
    client: Client,
    credential: Option<Credential>,
    window: Duration,
    on_window: Option<Arc<RenewalWindowFn>>,
    renewal: tokio::sync::Mutex<()>,
    counters: TokenManagerCounters,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("instance_id", &self.instance_id)
            .field("gateway_code", &self.gateway_code)
            .field("store", &self.store)
            .field("credential", &self.credential)
            .field("renewal_window", &self.window)
            .finish()
    }
}

impl TokenManager {
    /// A manager for `instance_id` (also the gateway code to authorize, unless
    /// [`TokenManager::gateway_code`] says otherwise), keeping tokens in `store`, renewing
    /// through `client` (its own token is not used).
    pub fn new(instance_id: impl Into<String>, store: Arc<dyn TokenStore>, client: Client) -> Self {
        let instance_id = instance_id.into();
        TokenManager {
            gateway_code: instance_id.clone(),
            instance_id,
            store,
            client,
            credential: None,
            window: DEFAULT_RENEWAL_WINDOW,
            on_window: None,
            renewal: tokio::sync::Mutex::new(()),
            counters: TokenManagerCounters::default(),
        }
    }

    /// Renewals and renewal failures since the manager was built.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use runbeam_core::{client::Client, storage::{MemoryTokenStore, TokenManager}};
    /// let cloud = Client::new("https://api.runbeam.io")?;
    /// let manager = TokenManager::new("gw-1", Arc::new(MemoryTokenStore::new()), cloud);
    /// assert_eq!(manager.stats().renewals, 0);
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    pub fn stats(&self) -> TokenManagerStats {
        self.counters.snapshot()
    }

    /// The gateway code sent to `/harmony/authorize`.
    pub fn gateway_code(mut self, code: impl Into<String>) -> Self {
        self.gateway_code = code.into();
        self
    }

    /// The credential renewals use; without one, a missing or expired token is an error.
    pub fn credential(mut self, credential: Credential) -> Self {
        self.credential = Some(credential);
        self
    }

    /// Renew this long before expiry (default 7 days).
    pub fn renewal_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Called (and logged) when the stored token is inside the renewal window: once per
    /// renewal (by the caller that renews), on a blocking thread.
    pub fn on_renewal_window(mut self, callback: Arc<RenewalWindowFn>) -> Self {
        self.on_window = Some(callback);
        self
    }

    /// The renewal window in use: a token expiring within it is renewed when a credential is
    /// configured.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The instance whose token is managed.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The store in use.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.store
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Arc<dyn TokenStore>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = Arc::clone(&self.store);
        // A panic in the store is caught on the blocking thread and reported like every other
        // caught panic (`Internal`, its message, nothing printed).
        tokio::task::spawn_blocking(move || crate::panic::catch("the token store", || f(store)))
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, format!("storage task failed: {e}")))?
    }

    async fn load(&self) -> Result<Option<MachineToken>> {
        let instance = self.instance_id.clone();
        self.blocking(move |store| load_machine_token(&*store, &instance))
            .await
    }

    /// The stored token, without renewal.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn current(&self) -> Result<Option<MachineToken>> {
        check_id("instance id", &self.instance_id)?;
        self.load().await
    }

    /// A valid machine token: the stored one, or — when it is missing, expired or inside the
    /// renewal window and a credential is configured — a new one from `/harmony/authorize`,
    /// saved before it is returned. Concurrent callers share one renewal. A renewal that fails
    /// while the stored token is still valid returns the stored token (and logs a warning).
    ///
    /// # Errors
    /// `NoToken` / `TokenExpired` (saying what to do) without a credential; the store's or
    /// the API's errors otherwise.
    pub async fn ensure_token(&self) -> Result<MachineToken> {
        self.ensure_token_via(&self.client).await
    }

    /// [`TokenManager::ensure_token`], renewing at `cloud`'s API (with its HTTP settings)
    /// instead of this manager's client: a [`crate::resolve::Resolver`] renews at the API of
    /// the provider it is calling, so that a configuration pointed elsewhere
    /// ([`crate::config::MeshConfig::with_provider_api`]) takes the renewals along.
    pub(crate) async fn ensure_token_via(&self, cloud: &Client) -> Result<MachineToken> {
        check_id("instance id", &self.instance_id)?;
        let first = self.load().await?;
        if let Some(token) = &first {
            if !token.needs_renewal(self.window) {
                return Ok(token.clone());
            }
            if std::env::var_os(ENV_MACHINE_TOKEN).is_some() {
                return self.provisioned(token).await;
            }
        }
        let _renewal = self.renewal.lock().await;
        let now = self.load().await?;
        if let Some(token) = &now {
            let renewed_meanwhile = match &first {
                Some(old) => old.machine_token != token.machine_token,
                None => true,
            };
            if renewed_meanwhile && !token.is_expired() {
                return Ok(token.clone());
            }
            // Announced once per renewal, by the caller that does it.
            self.announce(token).await;
        }
        let Some(credential) = self.credential.clone() else {
            return self.without_credential(now);
        };
        let renewed = self.renew(credential, cloud).await;
        crate::metrics::bump(if renewed.is_ok() {
            &self.counters.renewals
        } else {
            &self.counters.renewal_failures
        });
        match renewed {
            Ok(token) => Ok(token),
            Err(e) => match now {
                Some(token) if !token.is_expired() => {
                    tracing::warn!(
                        instance = %self.instance_id, error = %e.message(),
                        "runbeam: machine token renewal failed; the current token stays in use"
                    );
                    Ok(token)
                }
                _ => Err(e),
            },
        }
    }

    async fn provisioned(&self, token: &MachineToken) -> Result<MachineToken> {
        if token.is_expired() {
            return Err(Error::new(
                ErrorKind::TokenExpired,
                format!(
                    "the machine token in {ENV_MACHINE_TOKEN} expired at {}; provision a new one \
                     (it takes precedence over the token store)",
                    token.expires_at
                ),
            ));
        }
        self.announce(token).await;
        Ok(token.clone())
    }

    /// Logs that `token` is inside its renewal window and calls the callback on a blocking
    /// thread (a binding's callback may wait for an interpreter lock).
    async fn announce(&self, token: &MachineToken) {
        tracing::warn!(
            instance = %self.instance_id,
            expires_in_secs = token.expires_in().as_secs(),
            "runbeam: the machine token is inside its renewal window"
        );
        if let Some(callback) = &self.on_window {
            let (callback, token) = (Arc::clone(callback), token.clone());
            let call = tokio::task::spawn_blocking(move || callback(&token));
            // A callback that blocks must not stall the renewal (and every resolve behind it).
            if tokio::time::timeout(CREDENTIAL_TIMEOUT, call)
                .await
                .is_err()
            {
                tracing::warn!(
                    instance = %self.instance_id,
                    "runbeam: the renewal-window callback did not return within {} s; renewing \
                     without waiting for it",
                    CREDENTIAL_TIMEOUT.as_secs()
                );
            }
        }
    }

    fn without_credential(&self, token: Option<MachineToken>) -> Result<MachineToken> {
        let location = self.store.location(&self.instance_id, super::MACHINE_TOKEN);
        match token {
            None => Err(Error::new(
                ErrorKind::NoToken,
                format!(
                    "no machine token for gateway instance '{}' ({location}); authorize the \
                     gateway with a user or Sanctum token (configure a renewal credential), or \
                     provision one in {ENV_MACHINE_TOKEN}",
                    self.instance_id
                ),
            )),
            Some(t) if t.is_expired() => Err(Error::new(
                ErrorKind::TokenExpired,
                format!(
                    "the machine token of '{}' expired at {}; configure a renewal credential \
                     (user or Sanctum token) or authorize the gateway again",
                    self.instance_id, t.expires_at
                ),
            )),
            Some(t) => Ok(t),
        }
    }

    async fn user_token(&self, credential: Credential) -> Result<Secret> {
        match credential {
            Credential::Token(token) => Ok(token),
            Credential::Callback(callback) => {
                let call = tokio::task::spawn_blocking(move || callback());
                match tokio::time::timeout(CREDENTIAL_TIMEOUT, call).await {
                    Ok(joined) => joined.map_err(|e| {
                        Error::new(
                            ErrorKind::Internal,
                            format!("the credential callback failed: {e}"),
                        )
                    })?,
                    Err(_) => Err(Error::new(
                        ErrorKind::NoToken,
                        format!(
                            "the credential callback gave no token within {}s; the renewal was \
                             abandoned (the current token, if still valid, stays in use)",
                            CREDENTIAL_TIMEOUT.as_secs()
                        ),
                    )),
                }
            }
        }
    }

    async fn renew(&self, credential: Credential, cloud: &Client) -> Result<MachineToken> {
        let user = self.user_token(credential).await?;
        let granted = cloud
            .with_token(user)
            .authorize(AuthorizeRequest::new(self.gateway_code.clone()))
            .await?;
        let token = MachineToken {
            machine_token: granted.machine_token,
            expires_at: granted.expires_at,
            gateway_id: granted.gateway.id,
            abilities: granted.abilities,
            issued_at: Some(OffsetDateTime::now_utc()),
        };
        let instance = self.instance_id.clone();
        let saved = token.clone();
        self.blocking(move |store| save_machine_token(&*store, &instance, &saved))
            .await?;
        tracing::info!(
            instance = %self.instance_id, gateway = %token.gateway_id,
            expires_at = %token.expires_at, "runbeam: machine token renewed and saved"
        );
        Ok(token)
    }

    /// Revokes every machine token of the gateway at the API (with the credential) and
    /// clears the store.
    ///
    /// # Errors
    /// `NoToken` without a credential; the API's and the store's errors.
    pub async fn revoke(&self) -> Result<()> {
        check_id("instance id", &self.instance_id)?;
        let Some(credential) = self.credential.clone() else {
            return Err(Error::new(
                ErrorKind::NoToken,
                "revoking needs a user or Sanctum token: configure a credential on the token manager",
            ));
        };
        let user = self.user_token(credential).await?;
        self.client
            .with_token(user)
            .revoke(&self.gateway_code)
            .await?;
        let instance = self.instance_id.clone();
        self.blocking(move |store| store.delete(&instance, super::MACHINE_TOKEN))
            .await?;
        Ok(())
    }
}
