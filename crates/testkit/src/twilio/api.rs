//! The REST surface: one dispatcher over the path segments of every product.

use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{Value, json};

use super::model::{Execution, FlexFlow, Media};
use super::state::{Deferred, World};
use super::util::{ApiError, Params, now, page, sid};

/// A parsed REST request.
pub(crate) struct Req {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Params,
    pub(crate) form: Params,
    pub(crate) webhook_header: Option<String>,
    pub(crate) raw_body: Bytes,
    pub(crate) content_type: Option<String>,
}

type Answer = Result<(StatusCode, Value), ApiError>;

#[allow(clippy::unnecessary_wraps)]
fn ok(v: Value) -> Answer {
    Ok((StatusCode::OK, v))
}

#[allow(clippy::unnecessary_wraps)]
fn created(v: Value) -> Answer {
    Ok((StatusCode::CREATED, v))
}

#[allow(clippy::unnecessary_wraps)]
fn deleted() -> Answer {
    Ok((StatusCode::NO_CONTENT, Value::Null))
}

fn method_not_allowed(path: &str) -> Answer {
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        20004,
        format!("Method not allowed on {path}"),
    ))
}

/// Ordered `asc` (default) or `desc` by `Order`.
fn ordered(mut items: Vec<Value>, query: &Params) -> Result<Vec<Value>, ApiError> {
    match query.one_of("Order", &["asc", "desc"])?.as_deref() {
        Some("desc") => {
            items.reverse();
            Ok(items)
        }
        _ => Ok(items),
    }
}

/// Answers one REST request. Conversations under `/v1/Services/{ChatServiceSid}/Conversations`
/// and users under `/v1/Services/{ChatServiceSid}/Users` are the account-level resources of that
/// service: the request runs with [`World::scope`] set to it.
pub(crate) fn dispatch(w: &mut World, r: &Req) -> Answer {
    let segs: Vec<&str> = r.path.trim_matches('/').split('/').collect();
    if let [
        "v1",
        "Services",
        svc,
        kind @ ("Conversations" | "Users"),
        rest @ ..,
    ] = segs.as_slice()
    {
        if !w.conv_services.iter().any(|s| s.sid == *svc) {
            return Err(ApiError::not_found(&r.path));
        }
        let mut inner = vec!["v1", *kind];
        inner.extend_from_slice(rest);
        w.scope = Some((*svc).to_owned());
        let answer = dispatch_segs(w, r, &inner);
        w.scope = None;
        return answer;
    }
    dispatch_segs(w, r, &segs)
}

#[allow(clippy::too_many_lines, clippy::many_single_char_names)] // one arm per route
fn dispatch_segs(w: &mut World, r: &Req, segs: &[&str]) -> Answer {
    let method = r.method.as_str();
    let form = &r.form;
    let query = &r.query;
    let origin = w.rest_origin(r.webhook_header.as_deref());
    let base = w.base.clone();
    let path = r.path.as_str();
    let nf = || ApiError::not_found(path);
    match segs {
        // ---------------------------------------------------------------- Conversations v1
        ["v1", "Services"] => match method {
            "POST" => {
                let name = form.required("FriendlyName")?.to_owned();
                let sid = w.conv_service_create(&name);
                let i = w.conv_services.len() - 1;
                debug_assert_eq!(w.conv_services[i].sid, sid);
                created(w.r_conv_service(&w.conv_services[i]))
            }
            "GET" => {
                let items = w
                    .conv_services
                    .iter()
                    .map(|x| w.r_conv_service(x))
                    .collect();
                ok(page(items, "services", &base, path, query, 50, 1000, &[])?)
            }
            _ => method_not_allowed(path),
        },
        ["v1", "Services", s] => {
            let i = w
                .conv_services
                .iter()
                .position(|x| x.sid == *s)
                .ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_conv_service(&w.conv_services[i])),
                "DELETE" if i == 0 => Err(ApiError::invalid(
                    "The default Conversations service cannot be deleted",
                )),
                "DELETE" => {
                    let gone = w.conv_services.remove(i).sid;
                    w.conversations.retain(|c| c.chat_service_sid != gone);
                    w.conv_users.retain(|u| u.chat_service_sid != gone);
                    w.changed = true;
                    deleted()
                }
                _ => method_not_allowed(path),
            }
        }
        ["v1", "Users"] => {
            let service = w.scope_service().to_owned();
            match method {
                "POST" => {
                    let identity = form.required("Identity")?.to_owned();
                    let attributes = form.json_text("Attributes")?;
                    let role = form.sid("RoleSid", "RL")?;
                    let friendly = form.get("FriendlyName").map(str::to_owned);
                    let i = w.conv_user_create(&service, &identity, friendly, attributes, role)?;
                    created(w.r_conv_user(&w.conv_users[i]))
                }
                "GET" => {
                    let items = w
                        .conv_users
                        .iter()
                        .filter(|u| u.chat_service_sid == service)
                        .map(|u| w.r_conv_user(u))
                        .collect();
                    ok(page(items, "users", &base, path, query, 50, 100, &[])?)
                }
                _ => method_not_allowed(path),
            }
        }
        ["v1", "Users", s] => {
            let service = w.scope_service().to_owned();
            let i = w.conv_user_index(&service, s).ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_conv_user(&w.conv_users[i])),
                "POST" => {
                    let attributes = form.json_text("Attributes")?;
                    let role = form.sid("RoleSid", "RL")?;
                    let u = &mut w.conv_users[i];
                    if let Some(a) = attributes {
                        u.attributes = a;
                    }
                    if let Some(r) = role {
                        u.role_sid = r;
                    }
                    if let Some(f) = form.get("FriendlyName") {
                        u.friendly_name = Some(f.to_owned());
                    }
                    u.date_updated = now();
                    w.changed = true;
                    ok(w.r_conv_user(&w.conv_users[i]))
                }
                "DELETE" => {
                    w.conv_users.remove(i);
                    w.changed = true;
                    deleted()
                }
                _ => method_not_allowed(path),
            }
        }
        ["v1", "Conversations"] => match method {
            "POST" => {
                let i = w.conv_create(form, &origin)?;
                created(w.r_conversation(&w.conversations[i]))
            }
            "GET" => {
                let state = query.one_of("State", &["active", "inactive", "closed"])?;
                let service = w.scope_service();
                let items = w
                    .conversations
                    .iter()
                    .filter(|c| c.chat_service_sid == service)
                    .filter(|c| state.as_deref().is_none_or(|s| c.state == s))
                    .map(|c| w.r_conversation(c))
                    .collect();
                ok(page(
                    items,
                    "conversations",
                    &base,
                    path,
                    query,
                    50,
                    100,
                    &["State"],
                )?)
            }
            _ => method_not_allowed(path),
        },
        ["v1", "Conversations", c] => {
            let i = w.conv(c, path)?;
            match method {
                "GET" => ok(w.r_conversation(&w.conversations[i])),
                "POST" => {
                    w.conv_update(i, form, &origin)?;
                    ok(w.r_conversation(&w.conversations[i]))
                }
                "DELETE" => {
                    w.conv_delete(i, &origin);
                    deleted()
                }
                _ => method_not_allowed(path),
            }
        }
        ["v1", "Conversations", c, "Participants"] => {
            let ci = w.conv(c, path)?;
            let conv_sid = w.conversations[ci].sid.clone();
            match method {
                "POST" => {
                    let i = w.participant_create(ci, form, &origin)?;
                    created(w.r_participant(&w.participants[i]))
                }
                "GET" => {
                    let items = w
                        .participants
                        .iter()
                        .filter(|x| x.conversation_sid == conv_sid)
                        .map(|x| w.r_participant(x))
                        .collect();
                    ok(page(
                        items,
                        "participants",
                        &base,
                        path,
                        query,
                        50,
                        100,
                        &[],
                    )?)
                }
                _ => method_not_allowed(path),
            }
        }
        ["v1", "Conversations", c, "Participants", s] => {
            let ci = w.conv(c, path)?;
            let conv_sid = w.conversations[ci].sid.clone();
            let i = w.participant_index(&conv_sid, s).ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_participant(&w.participants[i])),
                "POST" => {
                    let attributes = form.json_text("Attributes")?;
                    let x = &mut w.participants[i];
                    if let Some(a) = attributes {
                        x.attributes = a;
                    }
                    if let Some(id) = form.get("Identity") {
                        x.identity = Some(id.to_owned());
                    }
                    x.date_updated = now();
                    w.changed = true;
                    ok(w.r_participant(&w.participants[i]))
                }
                "DELETE" => {
                    w.participant_delete(ci, i, &origin);
                    deleted()
                }
                _ => method_not_allowed(path),
            }
        }
        ["v1", "Conversations", c, "Messages"] => {
            let ci = w.conv(c, path)?;
            let conv_sid = w.conversations[ci].sid.clone();
            match method {
                "POST" => {
                    let i = w.message_create(ci, form, &origin)?;
                    created(w.r_message(&w.messages[i]))
                }
                "GET" => {
                    let items = w
                        .messages
                        .iter()
                        .filter(|x| x.conversation_sid == conv_sid)
                        .map(|x| w.r_message(x))
                        .collect();
                    ok(page(
                        ordered(items, query)?,
                        "messages",
                        &base,
                        path,
                        query,
                        50,
                        100,
                        &["Order"],
                    )?)
                }
                _ => method_not_allowed(path),
            }
        }
        ["v1", "Conversations", c, "Messages", s] => {
            let ci = w.conv(c, path)?;
            let conv_sid = w.conversations[ci].sid.clone();
            let i = w.message_index(&conv_sid, s).ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_message(&w.messages[i])),
                "POST" => {
                    w.message_update(ci, i, form, &origin)?;
                    ok(w.r_message(&w.messages[i]))
                }
                "DELETE" => {
                    w.message_delete(ci, i, &origin);
                    deleted()
                }
                _ => method_not_allowed(path),
            }
        }
        ["v1", "Conversations", c, "Webhooks"] => {
            let ci = w.conv(c, path)?;
            let conv_sid = w.conversations[ci].sid.clone();
            match method {
                "POST" => {
                    let i = w.conv_webhook_create(ci, form)?;
                    created(w.r_conv_webhook(&w.conv_webhooks[i]))
                }
                "GET" => {
                    let items = w
                        .conv_webhooks
                        .iter()
                        .filter(|x| x.conversation_sid == conv_sid)
                        .map(|x| w.r_conv_webhook(x))
                        .collect();
                    ok(page(items, "webhooks", &base, path, query, 5, 5, &[])?)
                }
                _ => method_not_allowed(path),
            }
        }
        ["v1", "Conversations", c, "Webhooks", s] => {
            let ci = w.conv(c, path)?;
            let conv_sid = w.conversations[ci].sid.clone();
            let i = w
                .conv_webhooks
                .iter()
                .position(|x| x.conversation_sid == conv_sid && x.sid == *s)
                .ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_conv_webhook(&w.conv_webhooks[i])),
                "POST" => {
                    w.conv_webhook_update(i, form)?;
                    ok(w.r_conv_webhook(&w.conv_webhooks[i]))
                }
                "DELETE" => {
                    w.conv_webhooks.remove(i);
                    w.changed = true;
                    deleted()
                }
                _ => method_not_allowed(path),
            }
        }
        // ---------------------------------------------------------------- Chat v2
        ["v2", "Services", svc, rest @ ..] => {
            if *svc != w.cfg.chat_service_sid {
                return Err(nf());
            }
            chat(w, r, rest, &origin)
        }
        // ---------------------------------------------------------------- Flex v1
        ["v1", "Channels"] => match method {
            "POST" => {
                let i = w.flex_channel_create(form)?;
                created(w.r_flex_channel(&w.flex_channels[i]))
            }
            "GET" => {
                let items = w
                    .flex_channels
                    .iter()
                    .map(|x| w.r_flex_channel(x))
                    .collect();
                ok(page(
                    items,
                    "flex_chat_channels",
                    &base,
                    path,
                    query,
                    50,
                    1000,
                    &[],
                )?)
            }
            _ => method_not_allowed(path),
        },
        ["v1", "Channels", s] => {
            let i = w
                .flex_channels
                .iter()
                .position(|x| x.sid == *s)
                .ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_flex_channel(&w.flex_channels[i])),
                "DELETE" => {
                    let fc = w.flex_channels.remove(i);
                    if let Some(ch) = w.chat_channel_index(&fc.sid) {
                        w.chat_channel_delete(ch, &origin);
                    }
                    w.changed = true;
                    deleted()
                }
                _ => method_not_allowed(path),
            }
        }
        ["v1", "FlexFlows"] => match method {
            "GET" => {
                let name = query.get("FriendlyName");
                let items = w
                    .flex_flows
                    .iter()
                    .filter(|f| name.is_none_or(|n| f.friendly_name == n))
                    .map(|x| w.r_flex_flow(x))
                    .collect();
                ok(page(
                    items,
                    "flex_flows",
                    &base,
                    path,
                    query,
                    50,
                    1000,
                    &["FriendlyName"],
                )?)
            }
            "POST" => {
                let friendly = form.required("FriendlyName")?.to_owned();
                let chat_service = form
                    .sid("ChatServiceSid", "IS")?
                    .ok_or_else(|| ApiError::missing("ChatServiceSid"))?;
                let channel_type = form
                    .one_of(
                        "ChannelType",
                        &["web", "sms", "facebook", "whatsapp", "line", "custom"],
                    )?
                    .ok_or_else(|| ApiError::missing("ChannelType"))?;
                let integration_type = form
                    .one_of("IntegrationType", &["studio", "external", "task"])?
                    .unwrap_or_else(|| "studio".to_owned());
                let mut integration = serde_json::Map::new();
                for (k, v) in &form.0 {
                    if let Some(name) = k.strip_prefix("Integration.") {
                        let snake: String = name
                            .chars()
                            .enumerate()
                            .flat_map(|(i, c)| {
                                let lower = c.to_ascii_lowercase();
                                if c.is_ascii_uppercase() && i > 0 {
                                    vec!['_', lower]
                                } else {
                                    vec![lower]
                                }
                            })
                            .collect();
                        integration.insert(snake, json!(v));
                    }
                }
                let flow = FlexFlow {
                    sid: sid("FO"),
                    friendly_name: friendly,
                    chat_service_sid: chat_service,
                    channel_type,
                    integration_type,
                    integration: Value::Object(integration),
                    contact_identity: form.get("ContactIdentity").map(str::to_owned),
                    enabled: form.bool("Enabled")?.unwrap_or(true),
                    long_lived: form.bool("LongLived")?.unwrap_or(false),
                    janitor_enabled: form.bool("JanitorEnabled")?.unwrap_or(false),
                    date_created: now(),
                    date_updated: now(),
                };
                w.flex_flows.push(flow);
                w.changed = true;
                created(w.r_flex_flow(&w.flex_flows[w.flex_flows.len() - 1]))
            }
            _ => method_not_allowed(path),
        },
        ["v1", "FlexFlows", s] => {
            let i = w
                .flex_flows
                .iter()
                .position(|x| x.sid == *s)
                .ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_flex_flow(&w.flex_flows[i])),
                "DELETE" => {
                    w.flex_flows.remove(i);
                    w.changed = true;
                    deleted()
                }
                _ => method_not_allowed(path),
            }
        }
        ["v1", "Interactions"] => match method {
            "POST" => {
                let channel_text = form.required("Channel")?;
                let channel: Value = serde_json::from_str(channel_text).map_err(|_| {
                    ApiError::invalid("Invalid Channel: the value must be a JSON object")
                })?;
                if !channel.is_object() {
                    return Err(ApiError::invalid(
                        "Invalid Channel: the value must be a JSON object",
                    ));
                }
                let kind = channel.get("type").and_then(Value::as_str).unwrap_or("");
                if ![
                    "voice",
                    "sms",
                    "email",
                    "web",
                    "whatsapp",
                    "chat",
                    "messenger",
                    "gbm",
                ]
                .contains(&kind)
                {
                    return Err(ApiError::invalid(format!("Invalid Channel.type: '{kind}'")));
                }
                let routing = match form.get("Routing") {
                    None => {
                        json!({"properties": {"workspace_sid": w.cfg.workspace_sid, "workflow_sid": w.cfg.workflow_sid}})
                    }
                    Some(t) => serde_json::from_str::<Value>(t)
                        .ok()
                        .filter(Value::is_object)
                        .ok_or_else(|| {
                            ApiError::invalid("Invalid Routing: the value must be a JSON object")
                        })?,
                };
                let conv = channel
                    .pointer("/properties/media_channel_sid")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let kd = w.interaction_new(
                    channel,
                    routing,
                    conv,
                    form.get("WebhookTtid").map(str::to_owned),
                );
                let after = w.cfg.handoff_delay;
                w.deferred.push(Deferred::ActivateInteraction {
                    sid: kd.clone(),
                    after,
                });
                let i = w
                    .interactions
                    .iter()
                    .position(|x| x.sid == kd)
                    .ok_or_else(nf)?;
                ok(w.r_interaction(&w.interactions[i]))
            }
            _ => method_not_allowed(path),
        },
        ["v1", "Interactions", s] => {
            let i = w
                .interactions
                .iter()
                .position(|x| x.sid == *s)
                .ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_interaction(&w.interactions[i])),
                "POST" => {
                    if let Some(t) = form.get("WebhookTtid") {
                        w.interactions[i].webhook_ttid = Some(t.to_owned());
                        w.changed = true;
                    }
                    ok(w.r_interaction(&w.interactions[i]))
                }
                _ => method_not_allowed(path),
            }
        }
        ["v1", "Interactions", kd, "Channels"] => {
            if !w.interactions.iter().any(|x| x.sid == *kd) {
                return Err(nf());
            }
            match method {
                "GET" => {
                    let items = w
                        .interaction_channels
                        .iter()
                        .filter(|c| c.interaction_sid == *kd)
                        .map(|c| w.r_interaction_channel(c))
                        .collect();
                    ok(page(items, "channels", &base, path, query, 50, 1000, &[])?)
                }
                _ => method_not_allowed(path),
            }
        }
        ["v1", "Interactions", kd, "Channels", s] => {
            let i = w
                .interaction_channels
                .iter()
                .position(|c| c.interaction_sid == *kd && c.sid == *s)
                .ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_interaction_channel(&w.interaction_channels[i])),
                "POST" => {
                    let status = form
                        .one_of("Status", &["closed", "inactive"])?
                        .ok_or_else(|| ApiError::missing("Status"))?;
                    let routing_closed = match form.get("Routing") {
                        None => false,
                        Some(t) => {
                            let v: Value = serde_json::from_str(t).map_err(|_| {
                                ApiError::invalid("Invalid Routing: the value must be JSON")
                            })?;
                            v.get("status").and_then(Value::as_str) == Some("closed")
                        }
                    };
                    if status == "inactive" && !routing_closed {
                        return Err(ApiError::invalid(
                            "Routing status 'closed' is required when Status is inactive",
                        ));
                    }
                    w.interaction_channel_update(i, &status, routing_closed);
                    ok(w.r_interaction_channel(&w.interaction_channels[i]))
                }
                _ => method_not_allowed(path),
            }
        }
        // ---------------------------------------------------------------- Studio v2
        ["v2", "Flows", flow, "Executions"] => {
            if *flow != w.cfg.studio_flow_sid {
                return Err(nf());
            }
            match method {
                "POST" => {
                    let to = form.required("To")?.to_owned();
                    let from = form.required("From")?.to_owned();
                    let parameters = match form.json_text("Parameters")? {
                        Some(t) => serde_json::from_str(&t).unwrap_or(Value::Null),
                        None => json!({}),
                    };
                    let e = Execution {
                        sid: sid("FN"),
                        flow_sid: (*flow).to_owned(),
                        contact_sid: sid("FC"),
                        to,
                        from,
                        parameters,
                        status: "active".to_owned(),
                        date_created: now(),
                        date_updated: now(),
                    };
                    w.executions.push(e);
                    w.changed = true;
                    created(w.r_execution(&w.executions[w.executions.len() - 1]))
                }
                "GET" => {
                    let status = query.one_of("status", &["active", "ended"])?;
                    let items = w
                        .executions
                        .iter()
                        .filter(|e| {
                            e.flow_sid == *flow && status.as_deref().is_none_or(|s| e.status == s)
                        })
                        .map(|e| w.r_execution(e))
                        .collect();
                    ok(page(
                        items,
                        "executions",
                        &base,
                        path,
                        query,
                        50,
                        1000,
                        &["status"],
                    )?)
                }
                _ => method_not_allowed(path),
            }
        }
        ["v2", "Flows", flow, "Executions", s, "Context"] => {
            let e = w
                .executions
                .iter()
                .find(|e| e.flow_sid == *flow && e.sid == *s)
                .ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_execution_context(e)),
                _ => method_not_allowed(path),
            }
        }
        ["v2", "Flows", flow, "Executions", s] => {
            let i = w
                .executions
                .iter()
                .position(|e| e.flow_sid == *flow && e.sid == *s)
                .ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_execution(&w.executions[i])),
                "POST" => {
                    form.one_of("Status", &["ended"])?
                        .ok_or_else(|| ApiError::missing("Status"))?;
                    "ended".clone_into(&mut w.executions[i].status);
                    w.executions[i].date_updated = now();
                    w.changed = true;
                    ok(w.r_execution(&w.executions[i]))
                }
                "DELETE" => {
                    w.executions.remove(i);
                    w.changed = true;
                    deleted()
                }
                _ => method_not_allowed(path),
            }
        }
        // ---------------------------------------------------------------- Media Content Service
        ["v1", "Services", svc, "Media"] if method == "POST" => {
            if *svc != w.cfg.chat_service_sid {
                return Err(nf());
            }
            if r.raw_body.is_empty() {
                return Err(ApiError::invalid(
                    "The request body must be the media content",
                ));
            }
            let filename = query.get("Filename").unwrap_or("file").to_owned();
            let media = Media {
                sid: sid("ME"),
                service_sid: (*svc).to_owned(),
                filename,
                content_type: r
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".to_owned()),
                content: r.raw_body.clone(),
                author: query.get("Author").map(str::to_owned),
                message_sid: None,
                channel_sid: None,
                date_created: now(),
            };
            w.media.push(media);
            w.changed = true;
            let (exp, sig) = temporary_link(w, &w.media[w.media.len() - 1].sid);
            created(w.r_media(&w.media[w.media.len() - 1], exp, &sig))
        }
        ["v1", "Services", svc, "Media", s] if method == "GET" => {
            let i = w
                .media
                .iter()
                .position(|x| x.service_sid == *svc && x.sid == *s)
                .ok_or_else(nf)?;
            let (exp, sig) = temporary_link(w, s);
            ok(w.r_media(&w.media[i], exp, &sig))
        }
        _ => Err(nf()),
    }
}

/// The expiry (Unix seconds, 5 minutes ahead) and signature of a temporary media link.
pub(crate) fn temporary_link(w: &World, media_sid: &str) -> (i64, String) {
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 300;
    (expires, link_signature(w, media_sid, expires))
}

pub(crate) fn link_signature(w: &World, media_sid: &str, expires: i64) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (w.cfg.auth_token.as_str(), media_sid, expires).hash(&mut h);
    format!("{:016x}", h.finish())
}

#[allow(clippy::too_many_lines, clippy::many_single_char_names)] // one arm per route
fn chat(w: &mut World, r: &Req, rest: &[&str], origin: &super::state::Origin) -> Answer {
    let method = r.method.as_str();
    let form = &r.form;
    let query = &r.query;
    let base = w.base.clone();
    let path = r.path.as_str();
    let nf = || ApiError::not_found(path);
    match rest {
        ["Users"] => match method {
            "POST" => {
                let identity = form.required("Identity")?.to_owned();
                if w.chat_user_index(&identity).is_some() {
                    return Err(ApiError::conflict(
                        50201,
                        format!("User {identity} already exists"),
                    ));
                }
                let attributes = form.json_text("Attributes")?;
                let role = form.sid("RoleSid", "RL")?;
                let i = w.chat_user_create(&identity, form.get("FriendlyName"), attributes);
                if let Some(role) = role {
                    w.chat_users[i].role_sid = role;
                }
                created(w.r_chat_user(&w.chat_users[i]))
            }
            "GET" => {
                let items = w.chat_users.iter().map(|u| w.r_chat_user(u)).collect();
                ok(page(items, "users", &base, path, query, 50, 100, &[])?)
            }
            _ => method_not_allowed(path),
        },
        ["Users", s] => {
            let i = w.chat_user_index(s).ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_chat_user(&w.chat_users[i])),
                "POST" => {
                    let attributes = form.json_text("Attributes")?;
                    let u = &mut w.chat_users[i];
                    if let Some(a) = attributes {
                        u.attributes = a;
                    }
                    if let Some(f) = form.get("FriendlyName") {
                        u.friendly_name = Some(f.to_owned());
                    }
                    u.date_updated = now();
                    w.changed = true;
                    ok(w.r_chat_user(&w.chat_users[i]))
                }
                "DELETE" => {
                    w.chat_users.remove(i);
                    w.changed = true;
                    deleted()
                }
                _ => method_not_allowed(path),
            }
        }
        ["Users", s, "Channels"] => {
            let i = w.chat_user_index(s).ok_or_else(nf)?;
            match method {
                "GET" => {
                    let u = w.chat_users[i].clone();
                    let items = w
                        .chat_members
                        .iter()
                        .filter(|x| x.identity == u.identity)
                        .map(|x| w.r_user_channel(&u, x))
                        .collect();
                    ok(page(items, "channels", &base, path, query, 50, 50, &[])?)
                }
                _ => method_not_allowed(path),
            }
        }
        ["Channels"] => match method {
            "POST" => {
                let i = w.chat_channel_create(form, origin)?;
                created(w.r_chat_channel(&w.chat_channels[i]))
            }
            "GET" => {
                let types = query.all("Type");
                for t in &types {
                    if t != "public" && t != "private" {
                        return Err(ApiError::invalid(format!("Invalid Type: '{t}'")));
                    }
                }
                let types = if types.is_empty() {
                    vec!["public".to_owned()]
                } else {
                    types
                };
                let items = w
                    .chat_channels
                    .iter()
                    .filter(|c| types.contains(&c.kind))
                    .map(|c| w.r_chat_channel(c))
                    .collect();
                ok(page(
                    items,
                    "channels",
                    &base,
                    path,
                    query,
                    50,
                    100,
                    &["Type"],
                )?)
            }
            _ => method_not_allowed(path),
        },
        ["Channels", s] => {
            let i = w.chat_channel_index(s).ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_chat_channel(&w.chat_channels[i])),
                "POST" => {
                    w.chat_channel_update(i, form, origin)?;
                    ok(w.r_chat_channel(&w.chat_channels[i]))
                }
                "DELETE" => {
                    w.chat_channel_delete(i, origin);
                    deleted()
                }
                _ => method_not_allowed(path),
            }
        }
        ["Channels", c, "Members"] => {
            let ci = w.chat_channel_index(c).ok_or_else(nf)?;
            let ch_sid = w.chat_channels[ci].sid.clone();
            match method {
                "POST" => {
                    let identity = form.required("Identity")?.to_owned();
                    if w.chat_members
                        .iter()
                        .any(|x| x.channel_sid == ch_sid && x.identity == identity)
                    {
                        return Err(ApiError::conflict(50404, "Member already exists"));
                    }
                    let attributes = form.json_text("Attributes")?;
                    let i = w.chat_member_add(ci, &identity, attributes, origin);
                    created(w.r_chat_member(&w.chat_members[i]))
                }
                "GET" => {
                    let ids = query.all("Identity");
                    let items = w
                        .chat_members
                        .iter()
                        .filter(|x| {
                            x.channel_sid == ch_sid && (ids.is_empty() || ids.contains(&x.identity))
                        })
                        .map(|x| w.r_chat_member(x))
                        .collect();
                    ok(page(
                        items,
                        "members",
                        &base,
                        path,
                        query,
                        50,
                        100,
                        &["Identity"],
                    )?)
                }
                _ => method_not_allowed(path),
            }
        }
        ["Channels", c, "Members", s] => {
            let ci = w.chat_channel_index(c).ok_or_else(nf)?;
            let ch_sid = w.chat_channels[ci].sid.clone();
            let i = w
                .chat_members
                .iter()
                .position(|x| x.channel_sid == ch_sid && (x.sid == *s || x.identity == *s))
                .ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_chat_member(&w.chat_members[i])),
                "DELETE" => {
                    w.chat_members.remove(i);
                    w.changed = true;
                    deleted()
                }
                _ => method_not_allowed(path),
            }
        }
        ["Channels", c, "Messages"] => {
            let ci = w.chat_channel_index(c).ok_or_else(nf)?;
            let ch_sid = w.chat_channels[ci].sid.clone();
            match method {
                "POST" => {
                    let i = w.chat_message_create(ci, form, origin)?;
                    created(w.r_chat_message(&w.chat_messages[i]))
                }
                "GET" => {
                    let items = w
                        .chat_messages
                        .iter()
                        .filter(|x| x.channel_sid == ch_sid)
                        .map(|x| w.r_chat_message(x))
                        .collect();
                    ok(page(
                        ordered(items, query)?,
                        "messages",
                        &base,
                        path,
                        query,
                        50,
                        100,
                        &["Order"],
                    )?)
                }
                _ => method_not_allowed(path),
            }
        }
        ["Channels", c, "Messages", s] => {
            let ci = w.chat_channel_index(c).ok_or_else(nf)?;
            let ch_sid = w.chat_channels[ci].sid.clone();
            let i = w
                .chat_messages
                .iter()
                .position(|x| x.channel_sid == ch_sid && x.sid == *s)
                .ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_chat_message(&w.chat_messages[i])),
                "POST" => {
                    w.chat_message_update(ci, i, form, origin)?;
                    ok(w.r_chat_message(&w.chat_messages[i]))
                }
                "DELETE" => {
                    w.chat_messages.remove(i);
                    w.changed = true;
                    deleted()
                }
                _ => method_not_allowed(path),
            }
        }
        ["Channels", c, "Webhooks"] => {
            let ci = w.chat_channel_index(c).ok_or_else(nf)?;
            let ch_sid = w.chat_channels[ci].sid.clone();
            match method {
                "POST" => {
                    let i = w.chat_webhook_create(ci, form)?;
                    created(w.r_chat_webhook(&w.chat_webhooks[i]))
                }
                "GET" => {
                    let items = w
                        .chat_webhooks
                        .iter()
                        .filter(|x| x.channel_sid == ch_sid)
                        .map(|x| w.r_chat_webhook(x))
                        .collect();
                    ok(page(items, "webhooks", &base, path, query, 5, 5, &[])?)
                }
                _ => method_not_allowed(path),
            }
        }
        ["Channels", c, "Webhooks", s] => {
            let ci = w.chat_channel_index(c).ok_or_else(nf)?;
            let ch_sid = w.chat_channels[ci].sid.clone();
            let i = w
                .chat_webhooks
                .iter()
                .position(|x| x.channel_sid == ch_sid && x.sid == *s)
                .ok_or_else(nf)?;
            match method {
                "GET" => ok(w.r_chat_webhook(&w.chat_webhooks[i])),
                "DELETE" => {
                    w.chat_webhooks.remove(i);
                    w.changed = true;
                    deleted()
                }
                _ => method_not_allowed(path),
            }
        }
        _ => Err(nf()),
    }
}
