//! What a form posted without JavaScript carried, for the page it comes back to with its error.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The fields a form sent, typed for the page at `path`. The server keeps them for a few minutes
/// and hands them over once (`backend::drafts`), never in an address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormDraft {
    pub path: String,
    pub fields: BTreeMap<String, String>,
}

impl FormDraft {
    /// What was typed into a field; empty when nothing was.
    pub fn field(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }
}
