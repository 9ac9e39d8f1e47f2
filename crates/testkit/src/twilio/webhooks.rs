//! Sends queued webhooks (and bot requests): signed, with an idempotency token, retried on
//! failure, subject to injected drop/duplicate faults. One worker sends them in order.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::Inner;
use super::faults::{WebhookFaultEffect, take_match};
use super::model::{Attempt, DeliveryKind, DeliveryOutcome};
use super::state::Outgoing;

/// `X-Twilio-Signature` for a request to `url` with these form parameters.
pub(crate) fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    flexcord_twilio::webhook::sign(auth_token, url, params)
}

pub(crate) async fn worker(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    while let Some(out) = rx.recv().await {
        let fault = inner.with(|w| {
            take_match(
                &mut w.webhook_faults,
                |f| f.matches(out.event_type.as_deref(), &out.url),
                |f| &mut f.remaining,
            )
        });
        match fault.map(|f| f.effect) {
            Some(WebhookFaultEffect::Drop) => {
                inner.with(|w| {
                    if let Some(d) = w.delivery_mut(out.id) {
                        d.outcome = DeliveryOutcome::Dropped;
                    }
                });
            }
            Some(WebhookFaultEffect::Duplicate) => {
                send(&inner, &out, out.id).await;
                let dup = inner.with(|w| {
                    let original = w.deliveries.iter().find(|d| d.id == out.id).cloned()?;
                    let id = w.next_delivery;
                    w.next_delivery += 1;
                    let mut copy = original;
                    copy.id = id;
                    copy.attempts.clear();
                    copy.outcome = DeliveryOutcome::Pending;
                    copy.duplicate_of = Some(out.id);
                    w.deliveries.push(copy);
                    w.changed = true;
                    Some(id)
                });
                if let Some(id) = dup {
                    send(&inner, &out, id).await;
                }
            }
            None => send(&inner, &out, out.id).await,
        }
    }
}

async fn send(inner: &Arc<Inner>, out: &Outgoing, id: u64) {
    let Some(token) = inner.with(|w| {
        w.deliveries
            .iter()
            .find(|d| d.id == id)
            .map(|d| d.idempotency_token.clone())
    }) else {
        return;
    };
    let (auth_token, timeout, delay) = {
        let c = &inner.cfg;
        (
            c.auth_token.clone(),
            c.webhook_timeout,
            c.webhook_retry_delay,
        )
    };
    let mut attempt: u32 = 0;
    loop {
        let mut params = out.params.clone();
        if out.kind == DeliveryKind::Event {
            params.push(("RetryCount".to_owned(), attempt.to_string()));
        }
        let is_get = out.method.eq_ignore_ascii_case("GET");
        let (url, body_params): (String, &[(String, String)]) = if is_get {
            let q = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter())
                .finish();
            let sep = if out.url.contains('?') { '&' } else { '?' };
            (format!("{}{sep}{q}", out.url), &[])
        } else {
            (out.url.clone(), &params)
        };
        let sig = signature(&auth_token, &url, body_params);
        let mut req = if is_get {
            inner.http.get(&url)
        } else {
            inner.http.post(&url)
        };
        req = req
            .timeout(timeout)
            .header("X-Twilio-Signature", &sig)
            .header("I-Twilio-Idempotency-Token", &token)
            .header("User-Agent", "TwilioProxy/1.1")
            .header("Accept", "*/*");
        for (k, v) in &out.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if !is_get {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter())
                .finish();
            req = req
                .header(
                    "Content-Type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                )
                .body(body);
        }
        let (status, response_body, error) = match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let text = res.text().await.unwrap_or_default();
                let text: String = text.chars().take(4096).collect();
                (Some(status), text, None)
            }
            Err(e) => (
                None,
                String::new(),
                Some(if e.is_timeout() {
                    format!("timeout: {e}")
                } else {
                    e.to_string()
                }),
            ),
        };
        tracing::debug!(id, url = %url, event = ?out.event_type, attempt, ?status, ?error, "twilio emulator delivery");
        let success = status.is_some_and(|s| (200..300).contains(&s));
        let retryable = !success && status.is_none_or(|s| s == 429 || s >= 500);
        let give_up = success || !retryable || attempt >= out.retries;
        inner.with(|w| {
            if let Some(d) = w.delivery_mut(id) {
                d.attempts.push(Attempt {
                    signature: sig.clone(),
                    params: params.clone(),
                    status,
                    response_body,
                    error,
                });
                if give_up {
                    d.outcome = if success {
                        DeliveryOutcome::Delivered
                    } else {
                        DeliveryOutcome::Failed
                    };
                }
            }
        });
        if give_up {
            return;
        }
        attempt += 1;
        tokio::time::sleep(delay).await;
    }
}
