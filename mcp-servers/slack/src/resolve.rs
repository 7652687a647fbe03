//! Names ↔ ids: `#channel` to its id, user ids to names. All lazy, all cancellable.

use futures::StreamExt;
use mcp_core::ToolError;

use crate::call::Call;
use crate::client::{
    Args, ChannelInfo, ChannelsPage, RawUser, SlackError, UserInfo, UsersPage, next_cursor,
};
use crate::directory::UserName;
use crate::errors::{Subject, to_tool};
use crate::{SlackServer, looks_like_channel_id};

/// Most upstream pages one name lookup scans (1000 channels or 200 users a page).
const MAX_SCAN_PAGES: usize = 100;
/// Most `users.info` calls one result makes to name its authors.
const MAX_USER_LOOKUPS: usize = 50;
/// `users.info` calls in flight at once.
const LOOKUP_CONCURRENCY: usize = 8;

/// A resolved channel.
#[derive(Debug, Clone)]
pub struct ChannelRef {
    pub id: String,
    pub name: Option<String>,
}

impl ChannelRef {
    /// `#sales (C0123ABCD)` or the id alone.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("#{n} ({})", self.id),
            None => self.id.clone(),
        }
    }
}

/// The names of a user as we show them.
pub fn user_name(u: &RawUser) -> UserName {
    let handle = u.name.clone().unwrap_or_else(|| u.id.clone());
    let profile = u.profile.as_ref();
    let shown = profile
        .and_then(|p| p.display_name.clone())
        .filter(|s| !s.is_empty())
        .or_else(|| profile.and_then(|p| p.real_name.clone()))
        .filter(|s| !s.is_empty())
        .or_else(|| u.real_name.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| handle.clone());
    UserName { handle, shown }
}

impl SlackServer {
    /// Resolve a channel given as an id or `#name` (or a bare name).
    pub(crate) async fn channel(&self, given: &str, call: &Call) -> Result<ChannelRef, ToolError> {
        let given = given.trim();
        if given.is_empty() {
            return Err(ToolError::InvalidInput(
                "channel is empty; pass an id like C0123ABCD or a name like #general".into(),
            ));
        }
        if looks_like_channel_id(given) {
            return Ok(ChannelRef {
                id: given.to_string(),
                name: self.shared.dir.channel_name(given),
            });
        }
        let name = given.trim_start_matches('#');
        if let Some(id) = self.shared.dir.channel_id(name) {
            return Ok(ChannelRef {
                id,
                name: Some(name.to_string()),
            });
        }
        self.scan_channels(Some(name), call).await?;
        match self.shared.dir.channel_id(name) {
            Some(id) => Ok(ChannelRef {
                id,
                name: Some(name.to_string()),
            }),
            None => Err(ToolError::NotFound(format!(
                "channel not found: #{name}; call channel_list to see the channels this Slack app can see (a private channel needs the app invited)"
            ))),
        }
    }

    /// The channel's name, asking Slack (`conversations.info`) if we have not seen it.
    pub(crate) async fn channel_named(
        &self,
        mut channel: ChannelRef,
        call: &Call,
    ) -> Result<ChannelRef, ToolError> {
        if channel.name.is_some() {
            return Ok(channel);
        }
        let label = channel.id.clone();
        let info: ChannelInfo = self
            .client()
            .call(
                "conversations.info",
                self.client().main_token(),
                Args::Query(vec![("channel", channel.id.clone())]),
                &call.ct,
            )
            .await
            .map_err(|e| to_tool(e, Subject::channel(&label)))?;
        if let Some(name) = info.channel.name.filter(|n| !n.is_empty()) {
            self.shared.dir.put_channel(&channel.id, &name);
            channel.name = Some(name);
        }
        Ok(channel)
    }

    /// Page through `conversations.list` (public and private channels) filling the cache, until
    /// `wanted` is found or the list ends.
    async fn scan_channels(&self, wanted: Option<&str>, call: &Call) -> Result<(), ToolError> {
        let mut cursor: Option<String> = None;
        let mut types = "public_channel,private_channel";
        for _ in 0..MAX_SCAN_PAGES {
            let mut query = vec![
                ("types", types.to_string()),
                ("exclude_archived", "false".to_string()),
                ("limit", "1000".to_string()),
            ];
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let page: ChannelsPage = match self
                .client()
                .call(
                    "conversations.list",
                    self.client().main_token(),
                    Args::Query(query),
                    &call.ct,
                )
                .await
            {
                Ok(p) => p,
                // Without groups:read, look among public channels only.
                Err(SlackError::Api { code, .. })
                    if code == "missing_scope" && types != "public_channel" && cursor.is_none() =>
                {
                    types = "public_channel";
                    continue;
                }
                Err(e) => {
                    let label = wanted.map(|w| format!("#{w}")).unwrap_or_default();
                    return Err(to_tool(e, Subject::channel(&label)));
                }
            };
            call.progress("looking up the channel name: read a page of conversations.list")
                .await;
            let mut found = false;
            for c in &page.channels {
                if let Some(n) = c.name.as_deref().filter(|n| !n.is_empty()) {
                    self.shared.dir.put_channel(&c.id, n);
                    found |= wanted.is_some_and(|w| w.eq_ignore_ascii_case(n));
                }
            }
            cursor = next_cursor(&page.response_metadata);
            if found || cursor.is_none() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Remember a listed user.
    pub(crate) fn remember_user(&self, u: &RawUser) {
        self.shared.dir.put_user(&u.id, Some(user_name(u)));
    }

    /// Look up the names of `ids` we do not know yet (`users.info`, a few at a time). Failures
    /// leave a name out; they never fail the result.
    pub(crate) async fn learn_users<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
        call: &Call,
    ) {
        let dir = &self.shared.dir;
        if dir.users_blocked() {
            return;
        }
        let mut unknown = dir.unknown_users(ids);
        if unknown.is_empty() {
            return;
        }
        unknown.truncate(MAX_USER_LOOKUPS);
        let client = self.client().clone();
        let token = client.main_token();
        let results: Vec<(String, Result<UserInfo, SlackError>)> =
            futures::stream::iter(unknown.into_iter().map(|id| {
                let client = client.clone();
                async move {
                    let r = client
                        .call::<UserInfo>(
                            "users.info",
                            token,
                            Args::Query(vec![("user", id.clone())]),
                            &call.ct,
                        )
                        .await;
                    (id, r)
                }
            }))
            .buffer_unordered(LOOKUP_CONCURRENCY)
            .collect()
            .await;
        for (id, r) in results {
            match r {
                Ok(info) => self.remember_user(&info.user),
                Err(SlackError::Api { code, .. })
                    if code == "user_not_found" || code == "users_not_found" =>
                {
                    dir.put_user(&id, None);
                }
                Err(SlackError::Api { code, .. })
                    if matches!(
                        code.as_str(),
                        "missing_scope" | "invalid_auth" | "not_authed" | "not_allowed_token_type"
                    ) =>
                {
                    tracing::warn!(
                        code,
                        "cannot look up user names; results will carry ids only"
                    );
                    dir.set_users_blocked();
                }
                Err(e) => {
                    tracing::debug!(error = ?e, "users.info failed; the name is left out");
                }
            }
        }
    }

    /// The shown name of a user, if known.
    pub(crate) fn name_of(&self, id: Option<&str>) -> Option<String> {
        id.and_then(|id| self.shared.dir.user(id).flatten())
            .map(|n| n.shown)
    }

    /// Find a user id by `@handle`, display or real name, listing users until found.
    pub(crate) async fn find_user(
        &self,
        wanted: &str,
        call: &Call,
    ) -> Result<Option<String>, ToolError> {
        if let Some(id) = self.shared.dir.find_user(wanted) {
            return Ok(Some(id));
        }
        if self.shared.dir.users_complete() {
            return Ok(None);
        }
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_SCAN_PAGES {
            let mut query = vec![("limit", "200".to_string())];
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let page: UsersPage = self
                .client()
                .call(
                    "users.list",
                    self.client().main_token(),
                    Args::Query(query),
                    &call.ct,
                )
                .await
                .map_err(|e| to_tool(e, Subject::default().item(wanted)))?;
            call.progress("looking up the user: read a page of users.list")
                .await;
            for u in &page.members {
                self.remember_user(u);
            }
            cursor = next_cursor(&page.response_metadata);
            if cursor.is_none() {
                self.shared.dir.set_users_complete();
            }
            if let Some(id) = self.shared.dir.find_user(wanted) {
                return Ok(Some(id));
            }
            if cursor.is_none() {
                return Ok(None);
            }
        }
        Ok(None)
    }
}
