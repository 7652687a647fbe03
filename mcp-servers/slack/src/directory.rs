//! What we remember about the workspace: user ids → names and channel ids ↔ names.
//!
//! Filled lazily, as tools run (`user_list`, `channel_list`, the name lookups of message
//! results): nothing is loaded at start, so `initialize` never waits on Slack (the peer that warms
//! its caches first blocks start-up for minutes on big workspaces, korotovsky/slack-mcp-server#271).

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// The names of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName {
    /// The handle (`name`).
    pub handle: String,
    /// What Slack shows: display name, else real name, else the handle.
    pub shown: String,
}

#[derive(Default)]
struct Channels {
    by_id: HashMap<String, String>,
    by_name: HashMap<String, String>,
}

/// The caches. Lock scopes are short and never held across an await.
#[derive(Default)]
pub struct Directory {
    /// `None`: Slack said the user does not exist (not asked again).
    users: RwLock<HashMap<String, Option<UserName>>>,
    /// Every user has been listed once (`users.list` to the end).
    users_complete: AtomicBool,
    /// Name lookups failed for a reason that will not change (missing scope, bad token).
    users_blocked: AtomicBool,
    channels: RwLock<Channels>,
}

impl Directory {
    pub fn user(&self, id: &str) -> Option<Option<UserName>> {
        self.users.read().ok().and_then(|m| m.get(id).cloned())
    }

    pub fn put_user(&self, id: &str, name: Option<UserName>) {
        if let Ok(mut m) = self.users.write() {
            m.insert(id.to_string(), name);
        }
    }

    /// Users whose names we do not know yet, without duplicates, in first-seen order.
    pub fn unknown_users<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let Ok(m) = self.users.read() else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for id in ids {
            if !id.is_empty() && !m.contains_key(id) && !out.iter().any(|o| o == id) {
                out.push(id.to_string());
            }
        }
        out
    }

    /// Find a user by handle, display name or real name (case-insensitive, leading `@` ignored).
    pub fn find_user(&self, wanted: &str) -> Option<String> {
        let wanted = wanted.trim().trim_start_matches('@').to_lowercase();
        let m = self.users.read().ok()?;
        let mut found = None;
        for (id, name) in m.iter() {
            let Some(n) = name else { continue };
            if n.handle.to_lowercase() == wanted {
                return Some(id.clone());
            }
            if found.is_none() && n.shown.to_lowercase() == wanted {
                found = Some(id.clone());
            }
        }
        found
    }

    pub fn user_count(&self) -> usize {
        self.users.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn users_complete(&self) -> bool {
        self.users_complete.load(Ordering::Relaxed)
    }

    pub fn set_users_complete(&self) {
        self.users_complete.store(true, Ordering::Relaxed);
    }

    pub fn users_blocked(&self) -> bool {
        self.users_blocked.load(Ordering::Relaxed)
    }

    pub fn set_users_blocked(&self) {
        self.users_blocked.store(true, Ordering::Relaxed);
    }

    pub fn put_channel(&self, id: &str, name: &str) {
        if let Ok(mut c) = self.channels.write() {
            c.by_id.insert(id.to_string(), name.to_string());
            c.by_name.insert(name.to_lowercase(), id.to_string());
        }
    }

    pub fn channel_name(&self, id: &str) -> Option<String> {
        self.channels.read().ok()?.by_id.get(id).cloned()
    }

    pub fn channel_id(&self, name: &str) -> Option<String> {
        self.channels
            .read()
            .ok()?
            .by_name
            .get(&name.to_lowercase())
            .cloned()
    }

    pub fn channel_count(&self) -> usize {
        self.channels.read().map(|c| c.by_id.len()).unwrap_or(0)
    }
}
