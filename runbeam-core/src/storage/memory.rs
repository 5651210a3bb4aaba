//! An in-process store for tests and ephemeral gateways.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{TokenStore, TokenStoreBackend, check_slot};
use crate::Secret;
use crate::error::Result;

/// Keeps tokens in memory (zeroized when replaced or dropped); nothing survives the process.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    slots: Mutex<HashMap<(String, String), Secret>>,
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> MemoryTokenStore {
        MemoryTokenStore::default()
    }
}

impl TokenStore for MemoryTokenStore {
    fn backend(&self) -> TokenStoreBackend {
        TokenStoreBackend::Memory
    }

    fn location(&self, instance_id: &str, token_type: &str) -> String {
        format!("memory:{instance_id}/{token_type}")
    }

    fn load(&self, instance_id: &str, token_type: &str) -> Result<Option<Secret>> {
        check_slot(instance_id, token_type)?;
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        Ok(slots
            .get(&(instance_id.to_string(), token_type.to_string()))
            .cloned())
    }

    fn save(&self, instance_id: &str, token_type: &str, json: &Secret) -> Result<()> {
        check_slot(instance_id, token_type)?;
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.insert(
            (instance_id.to_string(), token_type.to_string()),
            json.clone(),
        );
        Ok(())
    }

    fn update(
        &self,
        instance_id: &str,
        token_type: &str,
        f: &mut dyn FnMut(Option<Secret>) -> Result<Option<Secret>>,
    ) -> Result<()> {
        check_slot(instance_id, token_type)?;
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let key = (instance_id.to_string(), token_type.to_string());
        if let Some(next) = f(slots.get(&key).cloned())? {
            slots.insert(key, next);
        }
        Ok(())
    }

    fn delete(&self, instance_id: &str, token_type: &str) -> Result<bool> {
        check_slot(instance_id, token_type)?;
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        Ok(slots
            .remove(&(instance_id.to_string(), token_type.to_string()))
            .is_some())
    }
}
