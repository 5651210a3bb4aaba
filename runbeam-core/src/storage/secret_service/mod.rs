//! librunbeam's own Secret Service client (the freedesktop Secret Service API over the D-Bus
//! session bus): the few calls a token slot needs — search, unlock (with its prompt), read,
//! write, create and delete an item — over an encrypted session, as a keyring-core store.
//!
//! Items are those of the keyring crates' Secret Service stores, which earlier librunbeam
//! builds and runbeam-sdk used: attributes `service` and `username`, label
//! `keyring:<username>@<service>`, in the default collection; so existing entries are read and
//! replaced in place. Why our own client rather than a general D-Bus library (zbus, 1.41 MB of
//! the library with its async runtime and helper threads; or libdbus): docs/design.md.
//!
//! The connection is made when the store is opened and kept. An operation that finds it stale
//! (the socket closed, the daemon restarted and forgot our session, the service gone from the
//! bus) connects again and is tried once more; every try has [`OPERATION_TIMEOUT`], however
//! many messages other processes send meanwhile.

mod bus;
mod session;
pub(crate) mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use keyring_core::api::{CredentialApi, CredentialStoreApi};
use keyring_core::{Credential, Entry, Error as KeyringError};
use zeroize::Zeroizing;

use bus::{Bus, BusError};
use session::{KeyPair, SessionKey};
use wire::{Call, Message, Value, Writer};

const DESTINATION: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE: &str = "org.freedesktop.Secret.Service";
const COLLECTION: &str = "org.freedesktop.Secret.Collection";
const ITEM: &str = "org.freedesktop.Secret.Item";
const PROMPT: &str = "org.freedesktop.Secret.Prompt";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
/// The content type of the secrets written (as the keyring crates write them).
const CONTENT_TYPE: &str = "application/octet-stream";
/// What the service says when there is no prompt to run.
const NO_PROMPT: &str = "/";
/// How long one try of an operation may take, prompts included (the keyring store answers its
/// caller after 5 s; this ends the helper thread of an operation nobody waits for any more).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Error names that mean the connection or its session is stale: connect again.
const STALE: [&str; 5] = [
    "org.freedesktop.Secret.Error.NoSession",
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.NoReply",
    "org.freedesktop.DBus.Error.Disconnected",
];

/// Why a Secret Service operation failed.
#[derive(Debug)]
enum Failure {
    Bus(BusError),
    /// No item matches.
    NoEntry,
    /// Several items match (their paths).
    Ambiguous(Vec<String>),
    /// Locked, and not unlocked (a prompt dismissed, no default collection).
    Locked(String),
}

impl From<BusError> for Failure {
    fn from(e: BusError) -> Self {
        match e {
            BusError::Reply { ref name, .. } if name == "org.freedesktop.Secret.Error.IsLocked" => {
                Failure::Locked(e.to_string())
            }
            e => Failure::Bus(e),
        }
    }
}

impl Failure {
    /// Whether a new connection might succeed where this one failed.
    fn stale(&self) -> bool {
        match self {
            Failure::Bus(BusError::Unreachable(_) | BusError::Protocol(_)) => true,
            Failure::Bus(BusError::Reply { name, .. }) => STALE.contains(&name.as_str()),
            _ => false,
        }
    }

    /// An item found by a search and gone by the next call (deleted meanwhile) is no entry.
    fn vanished(self) -> Failure {
        match self {
            Failure::Bus(BusError::Reply { ref name, .. })
                if name == "org.freedesktop.Secret.Error.NoSuchObject" =>
            {
                Failure::NoEntry
            }
            other => other,
        }
    }
}

fn unexpected(call: &str) -> Failure {
    Failure::Bus(BusError::Protocol(format!(
        "{call} answered with an unexpected body"
    )))
}

/// An open connection with its encrypted session.
struct Connection {
    bus: Bus,
    /// The Secret Service's unique name on the bus (the only sender of its prompts' signals).
    service: String,
    session: String,
    key: SessionKey,
}

impl Connection {
    fn open() -> Result<Connection, Failure> {
        let mut bus = Bus::session(OPERATION_TIMEOUT)?;
        let pair = KeyPair::generate().map_err(|e| BusError::Protocol(e.into()))?;
        let mut body = Writer::default();
        body.str(session::ALGORITHM);
        body.signature("ay");
        body.bytes(&pair.public);
        let reply = bus.call(&Call {
            destination: DESTINATION,
            path: SERVICE_PATH,
            interface: SERVICE,
            member: "OpenSession",
            signature: "sv",
            body: body.bytes,
        })?;
        let (Some(theirs), Some(session), Some(service)) = (
            reply.body.first().and_then(Value::as_bytes),
            reply.body.get(1).and_then(Value::as_path),
            // A unique name (`:1.42`): it goes into a match rule between quotes.
            reply.header.sender.as_deref().filter(|name| {
                name.starts_with(':')
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b))
            }),
        ) else {
            return Err(unexpected("OpenSession"));
        };
        let key = pair
            .agree(theirs)
            .map_err(|e| BusError::Protocol(e.into()))?;
        Ok(Connection {
            service: service.to_string(),
            session: session.to_string(),
            bus,
            key,
        })
    }

    fn call(
        &mut self,
        path: &str,
        interface: &str,
        member: &str,
        signature: &str,
        body: Writer,
    ) -> Result<Message, Failure> {
        Ok(self.bus.call(&Call {
            destination: DESTINATION,
            path,
            interface,
            member,
            signature,
            body: body.bytes,
        })?)
    }

    /// The bus daemon's own methods (`AddMatch`, `RemoveMatch`).
    fn bus_call(&mut self, member: &str, rule: &str) -> Result<(), Failure> {
        let mut body = Writer::default();
        body.str(rule);
        self.bus.call(&Call {
            destination: "org.freedesktop.DBus",
            path: "/org/freedesktop/DBus",
            interface: "org.freedesktop.DBus",
            member,
            signature: "s",
            body: body.bytes,
        })?;
        Ok(())
    }

    /// Runs a prompt (unless it is [`NO_PROMPT`]) and waits for its `Completed` signal, sent
    /// by the Secret Service itself (a signal of the same name from any other process of the
    /// user is ignored).
    fn prompt(&mut self, prompt: &str) -> Result<(), Failure> {
        if prompt == NO_PROMPT {
            return Ok(());
        }
        // `prompt` is an object path (checked when it was read), so it cannot end the quotes.
        let rule = format!(
            "type='signal',sender='{}',interface='{PROMPT}',member='Completed',path='{prompt}'",
            self.service
        );
        self.bus_call("AddMatch", &rule)?;
        let service = self.service.clone();
        self.bus.watch(&service, prompt, PROMPT, "Completed");
        let completed = (|| {
            let mut body = Writer::default();
            body.str("");
            self.call(prompt, PROMPT, "Prompt", "s", body)?;
            Ok::<_, Failure>(self.bus.watched()?)
        })();
        // Whatever happened: the rule only lets the signals of this prompt through.
        let _ = self.bus_call("RemoveMatch", &rule);
        match completed?.body.first().and_then(Value::as_bool) {
            Some(false) => Ok(()),
            Some(true) => Err(Failure::Locked(
                "the Secret Service's unlock prompt was dismissed".into(),
            )),
            None => Err(unexpected("Prompt.Completed")),
        }
    }

    fn unlock(&mut self, objects: &[String]) -> Result<(), Failure> {
        let mut body = Writer::default();
        body.array(4, |w| objects.iter().for_each(|p| w.str(p)));
        let reply = self.call(SERVICE_PATH, SERVICE, "Unlock", "ao", body)?;
        let Some(prompt) = reply.body.get(1).and_then(Value::as_path) else {
            return Err(unexpected("Unlock"));
        };
        self.prompt(prompt)
    }

    /// The one item whose attributes include `attributes` (unlocked first when locked).
    fn item(&mut self, attributes: &[(&str, &str)]) -> Result<Option<String>, Failure> {
        let mut body = Writer::default();
        body.string_map(attributes);
        let reply = self.call(SERVICE_PATH, SERVICE, "SearchItems", "a{ss}", body)?;
        let (Some(unlocked), Some(locked)) = (
            reply.body.first().and_then(Value::as_paths),
            reply.body.get(1).and_then(Value::as_paths),
        ) else {
            return Err(unexpected("SearchItems"));
        };
        if !locked.is_empty() {
            self.unlock(&locked)?;
        }
        let mut all = unlocked;
        all.extend(locked);
        match all.len() {
            0 => Ok(None),
            1 => Ok(all.pop()),
            _ => Err(Failure::Ambiguous(all)),
        }
    }

    fn secret_struct(&self, w: &mut Writer, secret: &[u8]) -> Result<(), Failure> {
        let (iv, sealed) = self
            .key
            .encrypt(secret)
            .map_err(|e| BusError::Protocol(e.into()))?;
        w.structure(|w| {
            w.str(&self.session);
            w.bytes(&iv);
            w.bytes(&sealed);
            w.str(CONTENT_TYPE);
        });
        Ok(())
    }

    fn get_secret(&mut self, item: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
        let mut body = Writer::default();
        body.str(&self.session);
        let reply = self
            .call(item, ITEM, "GetSecret", "o", body)
            .map_err(Failure::vanished)?;
        let Some([_, Value::Bytes(iv), Value::Bytes(sealed), _]) =
            reply.body.first().and_then(Value::as_fields)
        else {
            return Err(unexpected("GetSecret"));
        };
        self.key
            .decrypt(iv, sealed)
            .map_err(|e| Failure::Bus(BusError::Protocol(e.into())))
    }

    fn set_secret(&mut self, item: &str, secret: &[u8]) -> Result<(), Failure> {
        let mut body = Writer::default();
        self.secret_struct(&mut body, secret)?;
        self.call(item, ITEM, "SetSecret", "(oayays)", body)?;
        Ok(())
    }

    fn delete(&mut self, item: &str) -> Result<(), Failure> {
        let reply = self
            .call(item, ITEM, "Delete", "", Writer::default())
            .map_err(Failure::vanished)?;
        let Some(prompt) = reply.body.first().and_then(Value::as_path) else {
            return Err(unexpected("Delete"));
        };
        self.prompt(prompt)
    }

    /// Creates the item in the default collection (unlocked first when locked).
    fn create(
        &mut self,
        label: &str,
        attributes: &[(&str, &str)],
        secret: &[u8],
    ) -> Result<(), Failure> {
        let mut body = Writer::default();
        body.str("default");
        let reply = self.call(SERVICE_PATH, SERVICE, "ReadAlias", "s", body)?;
        let collection = match reply.body.first().and_then(Value::as_path) {
            Some(NO_PROMPT) => {
                return Err(Failure::Locked(
                    "the Secret Service has no default collection".into(),
                ));
            }
            Some(path) => path.to_string(),
            None => return Err(unexpected("ReadAlias")),
        };
        let mut body = Writer::default();
        body.str(COLLECTION);
        body.str("Locked");
        let reply = self.call(&collection, PROPERTIES, "Get", "ss", body)?;
        match reply.body.first().and_then(Value::as_bool) {
            Some(true) => self.unlock(std::slice::from_ref(&collection))?,
            Some(false) => {}
            None => return Err(unexpected("Collection.Locked")),
        }
        let mut body = Writer::default();
        body.array(8, |w| {
            w.structure(|w| {
                w.str("org.freedesktop.Secret.Item.Label");
                w.signature("s");
                w.str(label);
            });
            w.structure(|w| {
                w.str("org.freedesktop.Secret.Item.Attributes");
                w.signature("a{ss}");
                w.string_map(attributes);
            });
        });
        self.secret_struct(&mut body, secret)?;
        body.bool(true); // replace an item with the same attributes
        let reply = self.call(
            &collection,
            COLLECTION,
            "CreateItem",
            "a{sv}(oayays)b",
            body,
        )?;
        let Some(prompt) = reply.body.get(1).and_then(Value::as_path) else {
            return Err(unexpected("CreateItem"));
        };
        self.prompt(prompt)
    }
}

/// The connection the store's credentials share (one call at a time).
struct Shared {
    connection: Mutex<Option<Connection>>,
}

impl Shared {
    /// Runs `op` on the connection; a stale one (see [`Failure::stale`]) is dropped, and `op`
    /// tried once more on a new one (every operation here is idempotent: a search, a read, a
    /// write or create that replaces, a delete whose repeat finds no entry).
    fn with<T>(
        self: &Arc<Self>,
        op: impl Fn(&mut Connection) -> Result<T, Failure>,
    ) -> keyring_core::Result<T> {
        let mut guard = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut tries = 0;
        loop {
            tries += 1;
            let fresh = guard.is_none();
            let attempt = match guard.as_mut() {
                Some(connection) => {
                    connection.bus.begin(OPERATION_TIMEOUT);
                    op(connection)
                }
                None => Connection::open().and_then(|c| op(guard.insert(c))),
            };
            match attempt {
                Ok(value) => return Ok(value),
                Err(e) if e.stale() && !fresh && tries < 2 => *guard = None,
                Err(e) => {
                    // A stale connection, or one whose answer may still come (out of step).
                    if e.stale() || matches!(e, Failure::Bus(BusError::TimedOut)) {
                        *guard = None;
                    }
                    return Err(self.error(e));
                }
            }
        }
    }

    fn error(self: &Arc<Self>, failure: Failure) -> KeyringError {
        match failure {
            Failure::Bus(e) => KeyringError::PlatformFailure(Box::new(e)),
            Failure::NoEntry => KeyringError::NoEntry,
            Failure::Locked(why) => KeyringError::NoStorageAccess(why.into()),
            Failure::Ambiguous(paths) => KeyringError::Ambiguous(
                paths
                    .into_iter()
                    .map(|path| {
                        Entry::new_with_credential(Arc::new(Item {
                            shared: Arc::clone(self),
                            path,
                        }))
                    })
                    .collect(),
            ),
        }
    }
}

/// The Secret Service as a keyring-core store.
pub(crate) struct Store {
    shared: Arc<Shared>,
    id: String,
}

impl Store {
    /// Connects to the Secret Service and opens an encrypted session.
    pub(crate) fn new() -> keyring_core::Result<Arc<Store>> {
        static STORES: AtomicU64 = AtomicU64::new(0);
        let shared = Arc::new(Shared {
            connection: Mutex::new(None),
        });
        shared.with(|_| Ok(()))?;
        Ok(Arc::new(Store {
            shared,
            id: format!(
                "librunbeam Secret Service store {}",
                STORES.fetch_add(1, Ordering::Relaxed)
            ),
        }))
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("secret_service::Store")
            .field("id", &self.id)
            .finish()
    }
}

impl CredentialStoreApi for Store {
    fn vendor(&self) -> String {
        "librunbeam Secret Service store".into()
    }

    fn id(&self) -> String {
        self.id.clone()
    }

    fn build(
        &self,
        service: &str,
        user: &str,
        modifiers: Option<&HashMap<&str, &str>>,
    ) -> keyring_core::Result<Entry> {
        if modifiers.is_some_and(|m| !m.is_empty()) {
            return Err(KeyringError::NotSupportedByStore(
                "entry modifiers (target, label)".into(),
            ));
        }
        Ok(Entry::new_with_credential(Arc::new(Specifier {
            shared: Arc::clone(&self.shared),
            service: service.to_string(),
            user: user.to_string(),
        })))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An entry by its service and user: the item with those attributes, created on first write.
#[derive(Debug)]
struct Specifier {
    shared: Arc<Shared>,
    service: String,
    user: String,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared")
    }
}

impl Specifier {
    fn attributes(&self) -> [(&str, &str); 2] {
        [("service", &self.service), ("username", &self.user)]
    }

    fn item(&self, connection: &mut Connection) -> Result<String, Failure> {
        connection.item(&self.attributes())?.ok_or(Failure::NoEntry)
    }
}

impl CredentialApi for Specifier {
    fn set_secret(&self, secret: &[u8]) -> keyring_core::Result<()> {
        self.shared.with(|c| match c.item(&self.attributes())? {
            Some(item) => c.set_secret(&item, secret),
            None => c.create(
                &format!("keyring:{}@{}", self.user, self.service),
                &self.attributes(),
                secret,
            ),
        })
    }

    fn get_secret(&self) -> keyring_core::Result<Vec<u8>> {
        self.shared.with(|c| {
            let item = self.item(c)?;
            c.get_secret(&item).map(|secret| secret.to_vec())
        })
    }

    fn delete_credential(&self) -> keyring_core::Result<()> {
        self.shared.with(|c| {
            let item = self.item(c)?;
            c.delete(&item)
        })
    }

    fn get_credential(&self) -> keyring_core::Result<Option<Arc<Credential>>> {
        let path = self.shared.with(|c| self.item(c))?;
        Ok(Some(Arc::new(Item {
            shared: Arc::clone(&self.shared),
            path,
        })))
    }

    fn get_specifiers(&self) -> Option<(String, String)> {
        Some((self.service.clone(), self.user.clone()))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// One item by its path (what an ambiguous lookup lists).
#[derive(Debug)]
struct Item {
    shared: Arc<Shared>,
    path: String,
}

impl CredentialApi for Item {
    fn set_secret(&self, secret: &[u8]) -> keyring_core::Result<()> {
        self.shared.with(|c| c.set_secret(&self.path, secret))
    }

    fn get_secret(&self) -> keyring_core::Result<Vec<u8>> {
        self.shared
            .with(|c| c.get_secret(&self.path).map(|secret| secret.to_vec()))
    }

    fn delete_credential(&self) -> keyring_core::Result<()> {
        self.shared.with(|c| c.delete(&self.path))
    }

    fn get_credential(&self) -> keyring_core::Result<Option<Arc<Credential>>> {
        Ok(None)
    }

    fn get_specifiers(&self) -> Option<(String, String)> {
        None
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
