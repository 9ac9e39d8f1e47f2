//! Gateway transport compression (`compress=zlib-stream`, `compress=zstd-stream`) and JSON in
//! binary frames from the client, driven with a plain websocket client.

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::{TOKEN, WAIT, emulator, intents};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The client's side of one compressed stream: every frame continues it.
enum Inflater {
    Zlib(flate2::Decompress),
    Zstd(zstd::stream::raw::Decoder<'static>),
}

impl Inflater {
    fn inflate(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() * 8 + 1024);
        match self {
            Self::Zlib(z) => {
                let start = z.total_in();
                loop {
                    let done = usize::try_from(z.total_in() - start).expect("fits");
                    if out.len() == out.capacity() {
                        out.reserve(out.capacity());
                    }
                    z.decompress_vec(&data[done..], &mut out, flate2::FlushDecompress::Sync)
                        .expect("a valid zlib stream");
                    let done = usize::try_from(z.total_in() - start).expect("fits");
                    if done == data.len() && out.len() < out.capacity() {
                        break;
                    }
                }
            }
            Self::Zstd(d) => {
                use zstd::stream::raw::{InBuffer, Operation as _, OutBuffer};
                let mut input = InBuffer::around(data);
                let mut buf = vec![0; 1 << 16];
                loop {
                    let mut output = OutBuffer::around(&mut buf[..]);
                    d.run(&mut input, &mut output).expect("a valid zstd stream");
                    let n = output.pos();
                    out.extend_from_slice(&buf[..n]);
                    if input.pos() == data.len() && n < buf.len() {
                        break;
                    }
                }
            }
        }
        out
    }
}

async fn connect(url: &str) -> Socket {
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the gateway accepts the upgrade");
    socket
}

/// The next payload: a binary frame inflated, with the raw frame for inspection.
async fn next_binary(socket: &mut Socket, inflater: &mut Inflater) -> (Value, Vec<u8>) {
    let frame = tokio::time::timeout(WAIT, socket.next())
        .await
        .expect("a frame in time")
        .expect("the connection is open")
        .expect("a frame");
    let Message::Binary(raw) = frame else {
        panic!("expected a binary frame, got {frame:?}");
    };
    let text = inflater.inflate(&raw);
    let value = serde_json::from_slice(&text).expect("each frame inflates to one JSON payload");
    (value, raw.to_vec())
}

fn identify() -> Message {
    let d = json!({"op": 2, "d": {"token": TOKEN, "intents": intents().bits(),
        "properties": {"os": "linux", "browser": "test", "device": "test"}}});
    // Sent as a binary frame, as some clients do.
    Message::Binary(d.to_string().into_bytes().into())
}

#[tokio::test]
async fn zlib_stream_sends_every_payload_as_a_flushed_chunk_of_one_stream() {
    let emu = emulator().await;
    let url = format!(
        "{}/?v=10&encoding=json&compress=zlib-stream",
        emu.gateway_url()
    );
    let mut socket = connect(&url).await;
    let mut inflater = Inflater::Zlib(flate2::Decompress::new(true));
    let (hello, raw) = next_binary(&mut socket, &mut inflater).await;
    assert_eq!(hello["op"], 10);
    assert!(
        raw.ends_with(&[0, 0, 0xff, 0xff]),
        "a sync flush ends each frame"
    );
    socket.send(identify()).await.expect("sent");
    let (ready, raw) = next_binary(&mut socket, &mut inflater).await;
    assert_eq!(ready["t"], "READY");
    assert!(raw.ends_with(&[0, 0, 0xff, 0xff]));
    let (guild, _) = next_binary(&mut socket, &mut inflater).await;
    assert_eq!(guild["t"], "GUILD_CREATE");
    let alice = emu.user_id("alice").expect("user");
    emu.inject_dm(alice, "compressed hello").expect("inject");
    let (dm, _) = next_binary(&mut socket, &mut inflater).await;
    assert_eq!(dm["t"], "MESSAGE_CREATE");
    assert_eq!(dm["d"]["content"], "compressed hello");
    // A heartbeat in a text frame is answered in the same compressed stream.
    socket
        .send(Message::Text(json!({"op": 1, "d": 3}).to_string().into()))
        .await
        .expect("sent");
    let (ack, _) = next_binary(&mut socket, &mut inflater).await;
    assert_eq!(ack["op"], 11);
}

#[tokio::test]
async fn zstd_stream_sends_every_payload_as_a_flushed_chunk_of_one_stream() {
    let emu = emulator().await;
    let url = format!(
        "{}/?v=10&encoding=json&compress=zstd-stream",
        emu.gateway_url()
    );
    let mut socket = connect(&url).await;
    let mut inflater = Inflater::Zstd(zstd::stream::raw::Decoder::new().expect("decoder"));
    let (hello, _) = next_binary(&mut socket, &mut inflater).await;
    assert_eq!(hello["op"], 10);
    socket.send(identify()).await.expect("sent");
    let (ready, _) = next_binary(&mut socket, &mut inflater).await;
    assert_eq!(ready["t"], "READY");
    assert_eq!(ready["d"]["resume_gateway_url"], emu.gateway_url());
    let (guild, _) = next_binary(&mut socket, &mut inflater).await;
    assert_eq!(guild["t"], "GUILD_CREATE");
    assert_eq!(guild["d"]["id"], emu.guild_id().to_string());
}

#[tokio::test]
async fn without_compress_payloads_are_text_frames_and_bad_binary_is_refused() {
    let emu = emulator().await;
    let url = format!("{}/?v=10&encoding=json", emu.gateway_url());
    let mut socket = connect(&url).await;
    let hello = tokio::time::timeout(WAIT, socket.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("frame");
    assert!(hello.is_text(), "{hello:?}");
    // Bytes that are not UTF-8 JSON close the connection with 4002, as Discord does.
    socket
        .send(Message::Binary(vec![0xff, 0xfe, 0x00].into()))
        .await
        .expect("sent");
    let close = tokio::time::timeout(WAIT, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    })
    .await
    .expect("closed in time");
    assert_eq!(close, Some(4002));
}
