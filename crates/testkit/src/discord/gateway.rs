//! The gateway: v10 JSON over `ws://`.
//!
//! HELLO on connect; IDENTIFY -> READY (+ `GUILD_CREATE` with the GUILDS intent); heartbeats answered
//! with op 11, and a connection that misses its heartbeats is closed with 4009 (its session is
//! invalidated); RESUME replays every dispatch after the client's sequence number, then RESUMED;
//! an unknown or invalidated session gets op 9 `false`.
//!
//! Transport compression as Discord does it: with `compress=zlib-stream` every payload the
//! emulator sends is a binary frame cut from one zlib stream (each ending with a sync flush,
//! `00 00 ff ff`); with `compress=zstd-stream` from one zstd stream (each ending with a flush).
//! Clients may send their JSON payloads in text or binary frames.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::state::{
    DiscordState, INTENT_GUILDS, INTENT_MESSAGE_CONTENT, Outgoing, Session, Target,
};

/// Gateway commands a connection may send per minute.
const COMMANDS_PER_MINUTE: u32 = 120;

pub(crate) async fn upgrade(
    ws: WebSocketUpgrade,
    Query(query): Query<HashMap<String, String>>,
    State(shared): State<Arc<Shared>>,
) -> Response {
    if shared.with(|s| s.gateway_down) {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the gateway is down",
        )
            .into_response();
    }
    ws.on_upgrade(move |socket| run(socket, shared, query))
}

/// The transport compression a connection asked for with `compress=`.
enum Compressor {
    /// Text frames.
    None,
    /// `zlib-stream`: one zlib stream for the connection, a sync flush after each payload.
    Zlib(flate2::write::ZlibEncoder<Vec<u8>>),
    /// `zstd-stream`: one zstd stream for the connection, a flush after each payload.
    Zstd(Box<zstd::stream::write::Encoder<'static, Vec<u8>>>),
}

impl Compressor {
    fn for_query(query: &HashMap<String, String>) -> Self {
        match query.get("compress").map(String::as_str) {
            Some("zlib-stream") => Self::Zlib(flate2::write::ZlibEncoder::new(
                Vec::new(),
                flate2::Compression::default(),
            )),
            Some("zstd-stream") => zstd::stream::write::Encoder::new(Vec::new(), 0)
                .map_or(Self::None, |e| Self::Zstd(Box::new(e))),
            _ => Self::None,
        }
    }

    /// The frame for one payload: the text itself, or the next compressed chunk of the stream.
    fn frame(&mut self, text: String) -> std::io::Result<Message> {
        use std::io::Write as _;
        match self {
            Self::None => Ok(Message::Text(text.into())),
            Self::Zlib(e) => {
                e.write_all(text.as_bytes())?;
                e.flush()?;
                Ok(Message::Binary(std::mem::take(e.get_mut()).into()))
            }
            Self::Zstd(e) => {
                e.write_all(text.as_bytes())?;
                e.flush()?;
                Ok(Message::Binary(std::mem::take(e.get_mut()).into()))
            }
        }
    }
}

async fn run(socket: WebSocket, shared: Arc<Shared>, query: HashMap<String, String>) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let conn = shared.with(|s| s.register_conn(tx.clone()));
    let interval = shared.read(|s| s.config.heartbeat_interval);

    let mut compressor = Compressor::for_query(&query);
    let writer_cancel = cancel.clone();
    let writer = tokio::spawn(async move {
        loop {
            tokio::select! {
                () = writer_cancel.cancelled() => break,
                out = rx.recv() => match out {
                    Some(Outgoing::Text(text)) => {
                        let Ok(frame) = compressor.frame(text) else {
                            break;
                        };
                        if sink.send(frame).await.is_err() {
                            break;
                        }
                    }
                    Some(Outgoing::Close(code, reason)) => {
                        let frame = CloseFrame { code, reason: reason.into() };
                        if sink.send(Message::Close(Some(frame))).await.is_err() {
                            // The client closed first: the WebSocket layer has queued the echo
                            // of its close frame, and closing the sink flushes it out.
                            let _ = sink.close().await;
                        }
                        break;
                    }
                    Some(Outgoing::Abort) | None => break,
                },
            }
        }
        writer_cancel.cancel();
    });

    let version_ok = query.get("v").is_none_or(|v| v == "10");
    let encoding_ok = query.get("encoding").is_none_or(|e| e == "json");
    if !version_ok {
        let _ = tx.send(Outgoing::Close(4012, "Invalid API version".to_owned()));
    } else if !encoding_ok {
        let _ = tx.send(Outgoing::Close(
            4002,
            "Error while decoding payload.".to_owned(),
        ));
    } else {
        let hello = json!({
            "op": 10,
            "d": {"heartbeat_interval": interval.as_millis(), "_trace": ["[\"flexcord-testkit-gateway\"]"]},
            "s": null,
            "t": null,
        });
        let _ = tx.send(Outgoing::Text(hello.to_string()));
    }

    let grace = interval + interval / 2;
    let mut deadline = Instant::now() + grace;
    let mut closed_by_client = false;
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep_until(deadline) => {
                shared.with(|s| s.heartbeat_missed(conn));
                deadline = Instant::now() + Duration::from_secs(3600);
            }
            msg = stream.next() => match msg {
                None | Some(Err(_)) => break,
                Some(Ok(Message::Close(frame))) => {
                    // Answer the client's close as a WebSocket peer does (RFC 6455 §5.5.1):
                    // the writer sends the echo of its status code, so the client's closing
                    // handshake completes instead of waiting for a reply that never comes.
                    let code = frame.map_or(1000, |f| f.code);
                    let _ = tx.send(Outgoing::Close(code, String::new()));
                    closed_by_client = true;
                    break;
                }
                Some(Ok(Message::Text(text))) => {
                    if shared.with(|s| s.handle_frame(conn, text.as_str())) {
                        deadline = Instant::now() + grace;
                    }
                }
                Some(Ok(Message::Binary(bytes))) => {
                    // Discord reads a client's JSON from binary frames too (never compressed).
                    match std::str::from_utf8(&bytes) {
                        Ok(text) => {
                            if shared.with(|s| s.handle_frame(conn, text)) {
                                deadline = Instant::now() + grace;
                            }
                        }
                        Err(_) => shared.with(|s| {
                            s.send_to_conn(conn, close(4002, "Error while decoding payload."));
                        }),
                    }
                }
                Some(Ok(_)) => {}
            },
        }
    }
    if !closed_by_client {
        cancel.cancel();
    }
    shared.with(|s| s.conn_closed(conn));
    // The writer ends once it has sent the close echo; never wait on a stuck peer for long.
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    cancel.cancel();
}

fn close(code: u16, reason: &str) -> Outgoing {
    Outgoing::Close(code, reason.to_owned())
}

fn token_matches(expected: Option<&str>, given: Option<&str>) -> bool {
    let Some(given) = given else {
        return false;
    };
    let given = given.strip_prefix("Bot ").unwrap_or(given);
    match expected {
        Some(exp) => exp.strip_prefix("Bot ").unwrap_or(exp) == given,
        None => !given.is_empty(),
    }
}

pub(crate) fn rest_token_ok(expected: Option<&str>, header: Option<&str>) -> bool {
    token_matches(expected, header)
}

impl DiscordState {
    /// Handles one text frame; returns true when it was a heartbeat.
    fn handle_frame(&mut self, conn: u64, text: &str) -> bool {
        let Ok(payload) = serde_json::from_str::<Value>(text) else {
            self.send_to_conn(conn, close(4002, "Error while decoding payload."));
            return false;
        };
        // Discord allows 120 gateway commands per connection and minute, then closes with 4008.
        if let Some(c) = self.conns.get_mut(&conn) {
            if c.window.0.elapsed() >= Duration::from_secs(60) {
                c.window = (std::time::Instant::now(), 0);
            }
            c.window.1 += 1;
            if c.window.1 > COMMANDS_PER_MINUTE {
                self.send_to_conn(conn, close(4008, "Rate limited."));
                return false;
            }
        }
        let identified = self.conns.get(&conn).is_some_and(|c| c.session.is_some());
        let d = &payload["d"];
        match payload["op"].as_u64() {
            Some(1) => {
                let ack = json!({"op": 11, "d": null, "s": null, "t": null});
                self.send_to_conn(conn, Outgoing::Text(ack.to_string()));
                true
            }
            Some(2) => {
                self.identify(conn, d);
                false
            }
            Some(6) => {
                self.resume(conn, d);
                false
            }
            Some(3 | 4 | 8 | 31) if identified => false,
            Some(3 | 4 | 8 | 31) => {
                self.send_to_conn(conn, close(4003, "Not authenticated."));
                false
            }
            _ => {
                self.send_to_conn(conn, close(4001, "Unknown opcode."));
                false
            }
        }
    }

    fn heartbeat_missed(&mut self, conn: u64) {
        if let Some(sid) = self.conns.get(&conn).and_then(|c| c.session.clone())
            && let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid)
        {
            s.alive = false;
        }
        self.send_to_conn(conn, close(4009, "Session timed out."));
    }

    fn identify(&mut self, conn: u64, d: &Value) {
        if self.conns.get(&conn).is_some_and(|c| c.session.is_some()) {
            self.send_to_conn(conn, close(4005, "Already authenticated."));
            return;
        }
        if !token_matches(self.config.token.as_deref(), d["token"].as_str()) {
            self.send_to_conn(conn, close(4004, "Authentication failed."));
            return;
        }
        let Some(intents) = d["intents"].as_u64() else {
            self.send_to_conn(conn, close(4013, "Invalid intent(s)."));
            return;
        };
        if intents & INTENT_MESSAGE_CONTENT != 0 && !self.config.message_content_allowed {
            self.send_to_conn(conn, close(4014, "Disallowed intent(s)."));
            return;
        }
        let shard = match &d["shard"] {
            Value::Null => [0, 1],
            v => {
                let id = v[0].as_u64().and_then(|n| u32::try_from(n).ok());
                let total = v[1].as_u64().and_then(|n| u32::try_from(n).ok());
                match (id, total) {
                    (Some(id), Some(total)) if total > 0 && id < total => [id, total],
                    _ => {
                        self.send_to_conn(conn, close(4010, "Invalid shard."));
                        return;
                    }
                }
            }
        };
        for old in self.sessions.iter_mut().filter(|s| s.shard == shard) {
            old.alive = false;
        }
        let session_id = format!(
            "{:032x}",
            u128::from(self.next_id()) * 0x9E37_79B9_7F4A_7C15
        );
        self.identifies += 1;
        let on_guild_shard = Target::Guild(self.config.guild_id).on_shard(shard);
        let ready = self.ready_value(&session_id, shard, on_guild_shard);
        self.sessions.push(Session {
            id: session_id.clone(),
            shard,
            intents,
            seq: 0,
            log: Vec::new(),
            dropped_through: 0,
            conn: Some(conn),
            alive: true,
            resumes: 0,
        });
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(session_id.clone());
        }
        self.send_session_dispatch(&session_id, "READY", &ready);
        if on_guild_shard && intents & INTENT_GUILDS != 0 {
            let guild = self.guild_create_value();
            self.send_session_dispatch(&session_id, "GUILD_CREATE", &guild);
        }
        self.flush_pending();
    }

    fn send_session_dispatch(&mut self, session_id: &str, t: &str, d: &Value) {
        let Some(s) = self.sessions.iter_mut().find(|s| s.id == session_id) else {
            return;
        };
        s.seq += 1;
        let frame = json!({"op": 0, "s": s.seq, "t": t, "d": d}).to_string();
        s.push_frame(frame.clone());
        if let Some(c) = s.conn {
            self.send_to_conn(c, Outgoing::Text(frame));
        }
    }

    fn resume(&mut self, conn: u64, d: &Value) {
        if self.conns.get(&conn).is_some_and(|c| c.session.is_some()) {
            self.send_to_conn(conn, close(4005, "Already authenticated."));
            return;
        }
        if !token_matches(self.config.token.as_deref(), d["token"].as_str()) {
            self.send_to_conn(conn, close(4004, "Authentication failed."));
            return;
        }
        let sid = d["session_id"].as_str().unwrap_or_default().to_owned();
        let client_seq = d["seq"].as_u64().unwrap_or(0);
        let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid && s.alive) else {
            let invalid = json!({"op": 9, "d": false, "s": null, "t": null});
            self.send_to_conn(conn, Outgoing::Text(invalid.to_string()));
            return;
        };
        if client_seq > s.seq {
            self.send_to_conn(conn, close(4007, "Invalid seq."));
            return;
        }
        if !s.can_replay_after(client_seq) {
            // Dispatches it missed are no longer kept: it must start a new session.
            let invalid = json!({"op": 9, "d": false, "s": null, "t": null});
            self.send_to_conn(conn, Outgoing::Text(invalid.to_string()));
            return;
        }
        let old = s.conn.replace(conn);
        s.resumes += 1;
        let replay: Vec<String> = s
            .log
            .iter()
            .filter(|(seq, _)| *seq > client_seq)
            .map(|(_, f)| f.clone())
            .collect();
        s.seq += 1;
        let resumed = json!({"op": 0, "s": s.seq, "t": "RESUMED", "d": {"_trace": ["[\"flexcord-testkit\"]"]}});
        if let Some(old) = old
            && old != conn
        {
            self.send_to_conn(old, Outgoing::Abort);
            if let Some(c) = self.conns.get_mut(&old) {
                c.session = None;
            }
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(sid);
        }
        for frame in replay {
            self.send_to_conn(conn, Outgoing::Text(frame));
        }
        self.send_to_conn(conn, Outgoing::Text(resumed.to_string()));
    }

    /// Connections attached to sessions of `shard` (all connections when `None`).
    fn conns_of(&self, shard: Option<u32>) -> Vec<u64> {
        self.conns
            .iter()
            .filter(|(_, c)| {
                shard.is_none_or(|want| {
                    c.session
                        .as_ref()
                        .and_then(|sid| self.sessions.iter().find(|s| &s.id == sid))
                        .is_some_and(|s| s.shard[0] == want)
                })
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Drops connections without a close frame (the client sees the TCP stream end).
    pub(crate) fn drop_connections(&mut self, shard: Option<u32>) -> usize {
        let conns = self.conns_of(shard);
        for c in &conns {
            self.send_to_conn(*c, Outgoing::Abort);
            // Later dispatches are only buffered for the resume.
            self.conn_closed(*c);
        }
        conns.len()
    }

    /// Closes connections with a close frame.
    pub(crate) fn close_connections(
        &mut self,
        shard: Option<u32>,
        code: u16,
        reason: &str,
    ) -> usize {
        let conns = self.conns_of(shard);
        for c in &conns {
            self.send_to_conn(*c, close(code, reason));
        }
        conns.len()
    }

    /// Sends op 7 RECONNECT.
    pub(crate) fn request_reconnect(&mut self, shard: Option<u32>) -> usize {
        let conns = self.conns_of(shard);
        let frame = json!({"op": 7, "d": null, "s": null, "t": null}).to_string();
        for c in &conns {
            self.send_to_conn(*c, Outgoing::Text(frame.clone()));
        }
        conns.len()
    }

    /// Sends op 9 `INVALID_SESSION`; when not resumable the sessions are discarded.
    pub(crate) fn invalidate_sessions(&mut self, shard: Option<u32>, resumable: bool) -> usize {
        let conns = self.conns_of(shard);
        let frame = json!({"op": 9, "d": resumable, "s": null, "t": null}).to_string();
        for c in &conns {
            if !resumable
                && let Some(sid) = self.conns.get(c).and_then(|c| c.session.clone())
                && let Some(s) = self.sessions.iter_mut().find(|s| s.id == sid)
            {
                s.alive = false;
            }
            self.send_to_conn(*c, Outgoing::Text(frame.clone()));
        }
        if !resumable {
            // Sessions without a connection (dropped, not yet resumed) die too, with the
            // events buffered for their resume.
            for s in self
                .sessions
                .iter_mut()
                .filter(|s| s.conn.is_none() && shard.is_none_or(|n| s.shard[0] == n))
            {
                s.alive = false;
            }
        }
        if !resumable {
            // Sessions without a connection (dropped, not yet resumed) die too, with the
            // events buffered for their resume.
            for s in self
                .sessions
                .iter_mut()
                .filter(|s| s.conn.is_none() && shard.is_none_or(|n| s.shard[0] == n))
            {
                s.alive = false;
            }
        }
        conns.len()
    }
}
