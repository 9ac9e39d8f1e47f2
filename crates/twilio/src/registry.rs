//! The operations this client implements: method, path template (as in Twilio's `OpenAPI`
//! specs), product, and every parameter and header name a builder can send.
//!
//! Tests use it to check each builder against Twilio's published specs and to make sure every
//! operation has a mock-server test.

use http::Method;

use crate::request::Product;

/// One implemented REST operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Operation {
    /// A stable identifier such as `conversations.messages.create`.
    pub id: &'static str,
    /// The product (base URL).
    pub product: Product,
    /// `GET`, `POST` or `DELETE`.
    pub method: &'static str,
    /// The path template with Twilio's parameter names, e.g.
    /// `/v1/Conversations/{ConversationSid}/Messages`.
    pub path: &'static str,
    /// Every form or query parameter name the builder can send.
    pub params: &'static [&'static str],
    /// Every optional header the builder can send.
    pub headers: &'static [&'static str],
}

impl Operation {
    /// The HTTP method as a value.
    pub fn http_method(&self) -> Method {
        match self.method {
            "POST" => Method::POST,
            "DELETE" => Method::DELETE,
            _ => Method::GET,
        }
    }

    /// Whether `path` (without query) is an instance of this operation's template.
    pub fn matches_path(&self, path: &str) -> bool {
        let mut want = self.path.split('/');
        let mut got = path.split('/');
        loop {
            match (want.next(), got.next()) {
                (None, None) => return true,
                (Some(w), Some(g)) => {
                    let placeholder = w.starts_with('{') && w.ends_with('}');
                    if placeholder {
                        if g.is_empty() {
                            return false;
                        }
                    } else if w != g {
                        return false;
                    }
                }
                _ => return false,
            }
        }
    }

    /// Looks an operation up by id.
    pub fn by_id(id: &str) -> Option<&'static Operation> {
        OPERATIONS.iter().find(|op| op.id == id)
    }
}

const HOOK: &[&str] = &["X-Twilio-Webhook-Enabled"];

macro_rules! op {
    ($id:literal, $product:ident, $method:literal, $path:literal, [$($param:literal),* $(,)?], $headers:expr) => {
        Operation {
            id: $id,
            product: Product::$product,
            method: $method,
            path: $path,
            params: &[$($param),*],
            headers: $headers,
        }
    };
}

/// Every operation the client implements.
pub const OPERATIONS: &[Operation] = &[
    // Programmable Chat v2
    op!(
        "chat.users.fetch",
        Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Users/{Sid}",
        [],
        &[]
    ),
    op!(
        "chat.users.create",
        Chat,
        "POST",
        "/v2/Services/{ServiceSid}/Users",
        ["Identity", "RoleSid", "Attributes", "FriendlyName"],
        HOOK
    ),
    op!(
        "chat.user_channels.list",
        Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Users/{UserSid}/Channels",
        ["PageSize"],
        &[]
    ),
    op!(
        "chat.channels.create",
        Chat,
        "POST",
        "/v2/Services/{ServiceSid}/Channels",
        [
            "FriendlyName",
            "UniqueName",
            "Attributes",
            "Type",
            "DateCreated",
            "DateUpdated",
            "CreatedBy"
        ],
        HOOK
    ),
    op!(
        "chat.channels.fetch",
        Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Channels/{Sid}",
        [],
        &[]
    ),
    op!(
        "chat.channels.update",
        Chat,
        "POST",
        "/v2/Services/{ServiceSid}/Channels/{Sid}",
        [
            "FriendlyName",
            "UniqueName",
            "Attributes",
            "DateCreated",
            "DateUpdated",
            "CreatedBy"
        ],
        HOOK
    ),
    op!(
        "chat.channels.list",
        Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Channels",
        ["Type", "PageSize"],
        &[]
    ),
    op!(
        "chat.messages.create",
        Chat,
        "POST",
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages",
        [
            "From",
            "Body",
            "Attributes",
            "MediaSid",
            "DateCreated",
            "DateUpdated",
            "LastUpdatedBy"
        ],
        HOOK
    ),
    op!(
        "chat.messages.fetch",
        Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages/{Sid}",
        [],
        &[]
    ),
    op!(
        "chat.messages.list",
        Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages",
        ["Order", "PageSize"],
        &[]
    ),
    op!(
        "chat.webhooks.create",
        Chat,
        "POST",
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks",
        [
            "Type",
            "Configuration.Url",
            "Configuration.Method",
            "Configuration.Filters",
            "Configuration.Triggers",
            "Configuration.FlowSid",
            "Configuration.RetryCount"
        ],
        &[]
    ),
    op!(
        "chat.webhooks.list",
        Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks",
        ["PageSize"],
        &[]
    ),
    op!(
        "chat.webhooks.delete",
        Chat,
        "DELETE",
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks/{Sid}",
        [],
        &[]
    ),
    op!(
        "chat.members.list",
        Chat,
        "GET",
        "/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Members",
        ["Identity", "PageSize"],
        &[]
    ),
    // Flex v1
    op!(
        "flex.channels.create",
        Flex,
        "POST",
        "/v1/Channels",
        [
            "FlexFlowSid",
            "Identity",
            "ChatUserFriendlyName",
            "ChatFriendlyName",
            "Target",
            "ChatUniqueName",
            "PreEngagementData",
            "TaskSid",
            "TaskAttributes",
            "LongLived"
        ],
        &[]
    ),
    op!(
        "flex.flex_flows.list",
        Flex,
        "GET",
        "/v1/FlexFlows",
        ["FriendlyName", "PageSize"],
        &[]
    ),
    op!(
        "flex.interactions.create",
        Flex,
        "POST",
        "/v1/Interactions",
        ["Channel", "Routing", "InteractionContextSid", "WebhookTtid"],
        &[]
    ),
    op!(
        "flex.interactions.fetch",
        Flex,
        "GET",
        "/v1/Interactions/{Sid}",
        [],
        &[]
    ),
    op!(
        "flex.interaction_channels.list",
        Flex,
        "GET",
        "/v1/Interactions/{InteractionSid}/Channels",
        ["PageSize"],
        &[]
    ),
    op!(
        "flex.interaction_channels.update",
        Flex,
        "POST",
        "/v1/Interactions/{InteractionSid}/Channels/{Sid}",
        ["Status", "Routing"],
        &[]
    ),
    // Conversations v1
    op!(
        "conversations.create",
        Conversations,
        "POST",
        "/v1/Conversations",
        [
            "FriendlyName",
            "UniqueName",
            "Attributes",
            "MessagingServiceSid",
            "State",
            "Timers.Inactive",
            "Timers.Closed",
            "DateCreated",
            "DateUpdated",
            "Bindings.Email.Address",
            "Bindings.Email.Name"
        ],
        HOOK
    ),
    op!(
        "conversations.fetch",
        Conversations,
        "GET",
        "/v1/Conversations/{Sid}",
        [],
        &[]
    ),
    op!(
        "conversations.update",
        Conversations,
        "POST",
        "/v1/Conversations/{Sid}",
        [
            "FriendlyName",
            "UniqueName",
            "Attributes",
            "MessagingServiceSid",
            "State",
            "Timers.Inactive",
            "Timers.Closed",
            "DateCreated",
            "DateUpdated",
            "Bindings.Email.Address",
            "Bindings.Email.Name"
        ],
        HOOK
    ),
    op!(
        "conversations.list",
        Conversations,
        "GET",
        "/v1/Conversations",
        ["StartDate", "EndDate", "State", "PageSize"],
        &[]
    ),
    op!(
        "conversations.delete",
        Conversations,
        "DELETE",
        "/v1/Conversations/{Sid}",
        [],
        HOOK
    ),
    op!(
        "conversations.participants.create",
        Conversations,
        "POST",
        "/v1/Conversations/{ConversationSid}/Participants",
        [
            "Identity",
            "Attributes",
            "RoleSid",
            "MessagingBinding.Address",
            "MessagingBinding.ProxyAddress",
            "MessagingBinding.ProjectedAddress",
            "DateCreated",
            "DateUpdated"
        ],
        HOOK
    ),
    op!(
        "conversations.participants.list",
        Conversations,
        "GET",
        "/v1/Conversations/{ConversationSid}/Participants",
        ["PageSize"],
        &[]
    ),
    op!(
        "conversations.messages.create",
        Conversations,
        "POST",
        "/v1/Conversations/{ConversationSid}/Messages",
        [
            "Author",
            "Body",
            "Attributes",
            "MediaSid",
            "ContentSid",
            "ContentVariables",
            "Subject",
            "DateCreated",
            "DateUpdated"
        ],
        HOOK
    ),
    op!(
        "conversations.messages.fetch",
        Conversations,
        "GET",
        "/v1/Conversations/{ConversationSid}/Messages/{Sid}",
        [],
        &[]
    ),
    op!(
        "conversations.messages.list",
        Conversations,
        "GET",
        "/v1/Conversations/{ConversationSid}/Messages",
        ["Order", "PageSize"],
        &[]
    ),
    op!(
        "conversations.webhooks.create",
        Conversations,
        "POST",
        "/v1/Conversations/{ConversationSid}/Webhooks",
        [
            "Target",
            "Configuration.Url",
            "Configuration.Method",
            "Configuration.Filters",
            "Configuration.Triggers",
            "Configuration.FlowSid",
            "Configuration.ReplayAfter"
        ],
        &[]
    ),
    op!(
        "conversations.webhooks.list",
        Conversations,
        "GET",
        "/v1/Conversations/{ConversationSid}/Webhooks",
        ["PageSize"],
        &[]
    ),
    op!(
        "conversations.webhooks.delete",
        Conversations,
        "DELETE",
        "/v1/Conversations/{ConversationSid}/Webhooks/{Sid}",
        [],
        &[]
    ),
    // Conversations v1 in a named service (`Client::conversations_in`)
    op!(
        "conversations.users.fetch",
        Conversations,
        "GET",
        "/v1/Users/{Sid}",
        [],
        &[]
    ),
    op!(
        "conversations.services.users.fetch",
        Conversations,
        "GET",
        "/v1/Services/{ChatServiceSid}/Users/{Sid}",
        [],
        &[]
    ),
    op!(
        "conversations.services.create",
        Conversations,
        "POST",
        "/v1/Services/{ChatServiceSid}/Conversations",
        [
            "FriendlyName",
            "UniqueName",
            "Attributes",
            "MessagingServiceSid",
            "State",
            "Timers.Inactive",
            "Timers.Closed",
            "DateCreated",
            "DateUpdated",
            "Bindings.Email.Address",
            "Bindings.Email.Name"
        ],
        HOOK
    ),
    op!(
        "conversations.services.fetch",
        Conversations,
        "GET",
        "/v1/Services/{ChatServiceSid}/Conversations/{Sid}",
        [],
        &[]
    ),
    op!(
        "conversations.services.update",
        Conversations,
        "POST",
        "/v1/Services/{ChatServiceSid}/Conversations/{Sid}",
        [
            "FriendlyName",
            "UniqueName",
            "Attributes",
            "MessagingServiceSid",
            "State",
            "Timers.Inactive",
            "Timers.Closed",
            "DateCreated",
            "DateUpdated",
            "Bindings.Email.Address",
            "Bindings.Email.Name"
        ],
        HOOK
    ),
    op!(
        "conversations.services.list",
        Conversations,
        "GET",
        "/v1/Services/{ChatServiceSid}/Conversations",
        ["StartDate", "EndDate", "State", "PageSize"],
        &[]
    ),
    op!(
        "conversations.services.delete",
        Conversations,
        "DELETE",
        "/v1/Services/{ChatServiceSid}/Conversations/{Sid}",
        [],
        HOOK
    ),
    op!(
        "conversations.services.participants.create",
        Conversations,
        "POST",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Participants",
        [
            "Identity",
            "Attributes",
            "RoleSid",
            "MessagingBinding.Address",
            "MessagingBinding.ProxyAddress",
            "MessagingBinding.ProjectedAddress",
            "DateCreated",
            "DateUpdated"
        ],
        HOOK
    ),
    op!(
        "conversations.services.participants.list",
        Conversations,
        "GET",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Participants",
        ["PageSize"],
        &[]
    ),
    op!(
        "conversations.services.messages.create",
        Conversations,
        "POST",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Messages",
        [
            "Author",
            "Body",
            "Attributes",
            "MediaSid",
            "ContentSid",
            "ContentVariables",
            "Subject",
            "DateCreated",
            "DateUpdated"
        ],
        HOOK
    ),
    op!(
        "conversations.services.messages.fetch",
        Conversations,
        "GET",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Messages/{Sid}",
        [],
        &[]
    ),
    op!(
        "conversations.services.messages.list",
        Conversations,
        "GET",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Messages",
        ["Order", "PageSize"],
        &[]
    ),
    op!(
        "conversations.services.webhooks.create",
        Conversations,
        "POST",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Webhooks",
        [
            "Target",
            "Configuration.Url",
            "Configuration.Method",
            "Configuration.Filters",
            "Configuration.Triggers",
            "Configuration.FlowSid",
            "Configuration.ReplayAfter"
        ],
        &[]
    ),
    op!(
        "conversations.services.webhooks.list",
        Conversations,
        "GET",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Webhooks",
        ["PageSize"],
        &[]
    ),
    op!(
        "conversations.services.webhooks.delete",
        Conversations,
        "DELETE",
        "/v1/Services/{ChatServiceSid}/Conversations/{ConversationSid}/Webhooks/{Sid}",
        [],
        &[]
    ),
    // Studio v2
    op!(
        "studio.executions.create",
        Studio,
        "POST",
        "/v2/Flows/{FlowSid}/Executions",
        ["To", "From", "Parameters"],
        &[]
    ),
    op!(
        "studio.executions.fetch",
        Studio,
        "GET",
        "/v2/Flows/{FlowSid}/Executions/{Sid}",
        [],
        &[]
    ),
    // Media Content Service (not in Twilio's OpenAPI specs)
    op!(
        "media.create",
        Media,
        "POST",
        "/v1/Services/{ServiceSid}/Media",
        ["Filename"],
        &[]
    ),
    op!(
        "media.fetch",
        Media,
        "GET",
        "/v1/Services/{ServiceSid}/Media/{Sid}",
        [],
        &[]
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_paths_match_themselves() {
        for (i, op) in OPERATIONS.iter().enumerate() {
            assert!(
                OPERATIONS[i + 1..].iter().all(|o| o.id != op.id),
                "duplicate {}",
                op.id
            );
            assert!(op.matches_path(op.path), "{}", op.id);
            assert!(matches!(op.method, "GET" | "POST" | "DELETE"), "{}", op.id);
        }
        let op = Operation::by_id("conversations.messages.create").expect("registered");
        assert!(op.matches_path("/v1/Conversations/CH1/Messages"));
        assert!(!op.matches_path("/v1/Conversations/CH1/Messages/IM1"));
        assert!(!op.matches_path("/v1/Conversations//Messages"));
    }
}
