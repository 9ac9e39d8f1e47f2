//! Files both ways through the whole bridge: an agent's file reaches the user's DM as a Discord
//! upload, a user's attachment reaches the agent as Twilio media; files over the cap go as
//! links.

use std::time::Duration;

use flexcord_cases::TimelineEvent;

use crate::bridge::Bridge;

const WAIT: Duration = Duration::from_secs(30);

/// A small PNG: signature, IHDR (1x1), IEND.
const PNG: &[u8] = &[
    0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0,
    0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0, b'I', b'E', b'N', b'D',
    0xae, 0x42, 0x60, 0x82,
];

impl Bridge {
    /// Waits until the case timeline has a message whose text contains `needle`.
    async fn timeline_mentions(&self, needle: &str) {
        let case = self.case_when("opened", |_| true).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let timeline = self.cases.timeline(case.number).await.unwrap();
            if timeline.iter().any(|e| {
                matches!(&e.event, TimelineEvent::Message { text, .. } if text.contains(needle))
            }) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no case message mentions {needle:?}: {timeline:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The first DM to `user` that carries an attachment.
    async fn dm_with_file(&self, user: u64) -> flexcord_testkit::discord::StoredMessage {
        self.discord
            .wait_for_dm_where(user, |m| !m.attachments.is_empty(), WAIT)
            .await
            .expect("a DM with a file")
    }
}

#[tokio::test]
async fn an_agents_file_reaches_the_dm_as_an_upload() {
    let b = Bridge::start_with(&[]).await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, _task) = b.agent_joins(alice, &agent).await;
    agent
        .send_media(&sid, "label.png", "image/png", PNG.to_vec(), None)
        .unwrap();
    let dm = b.dm_with_file(alice).await;
    let attachment = &dm.attachments[0];
    assert_eq!(attachment["filename"], "label.png");
    assert_eq!(attachment["size"], PNG.len());
    // The bytes Discord stored are the agent's file, and its CDN link serves them.
    let id: u64 = attachment["id"].as_str().unwrap().parse().unwrap();
    let stored = b.discord.state(|s| s.attachment(id).cloned()).unwrap();
    assert_eq!(stored.data, PNG);
    let url = attachment["url"].as_str().unwrap();
    let served = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    assert_eq!(served.as_ref(), PNG);
    // It went as a multipart upload, once.
    let uploads: Vec<_> = b
        .discord
        .rest_calls()
        .into_iter()
        .filter(|c| !c.files.is_empty())
        .collect();
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    assert_eq!(uploads[0].files[0].filename, "label.png");
    assert_eq!(uploads[0].files[0].size, PNG.len());
    assert_eq!(uploads[0].status, 200);
    // The case transcript names the file.
    b.timeline_mentions("label.png").await;
    b.stop().await;
}

#[tokio::test]
async fn an_agents_file_over_the_cap_is_posted_as_a_link() {
    let b = Bridge::start_with(&[("FLEXCORD_DISCORD__MAX_UPLOAD_BYTES", "1024")]).await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, _task) = b.agent_joins(alice, &agent).await;
    let big: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
    agent
        .send_media(
            &sid,
            "big.bin",
            "application/octet-stream",
            big.clone(),
            None,
        )
        .unwrap();
    agent.send(&sid, "Anything else?").unwrap();
    let dm = b.dm_containing(alice, "big.bin: http").await;
    assert!(dm.attachments.is_empty(), "{:?}", dm.attachments);
    // The link is the media's short-lived download link: it serves the whole file.
    let url = dm.content.split("big.bin: ").nth(1).unwrap().trim();
    let served = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    assert_eq!(served.as_ref(), big.as_slice());
    // Nothing was uploaded to Discord, and later messages still flow.
    b.dm_containing(alice, "Anything else?").await;
    assert!(b.discord.rest_calls().iter().all(|c| c.files.is_empty()));
    b.stop().await;
}

#[tokio::test]
async fn a_users_file_reaches_the_agent_as_media() {
    use flexcord_testkit::discord::Attachment;
    let b = Bridge::start_with(&[]).await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, _task) = b.agent_joins(alice, &agent).await;
    b.discord
        .inject_dm_with_files(
            alice,
            "here is a screenshot",
            &[Attachment::new("shot.png", "image/png", PNG.to_vec())],
        )
        .unwrap();
    let me = format!("discord:{alice}");
    let with_media = b
        .twilio
        .wait_for(WAIT, |t| {
            t.messages(&sid)
                .into_iter()
                .find(|m| m.author == me && !m.media.is_empty())
        })
        .await
        .expect("a media message from the user");
    assert_eq!(with_media.media[0].filename, "shot.png");
    assert_eq!(with_media.media[0].content_type, "image/png");
    assert_eq!(with_media.media[0].size, PNG.len() as u64);
    assert_eq!(
        with_media.body, None,
        "the file goes as media, not as a link"
    );
    // The Media Content Service holds the PNG's bytes.
    let media = b
        .twilio
        .media()
        .into_iter()
        .find(|m| m.sid == with_media.media[0].sid)
        .expect("the media item");
    assert_eq!(media.content.as_ref(), PNG);
    // The text went as its own message, before the file.
    let messages = b.twilio.messages(&sid);
    let text = messages
        .iter()
        .position(|m| m.body.as_deref() == Some("here is a screenshot"))
        .expect("the text");
    let file = messages
        .iter()
        .position(|m| m.sid == with_media.sid)
        .unwrap();
    assert!(text < file);
    // The case transcript names the file and its link.
    b.timeline_mentions("shot.png: http").await;
    b.stop().await;
}

#[tokio::test]
async fn a_users_file_over_the_cap_reaches_the_agent_as_a_link() {
    use flexcord_testkit::discord::Attachment;
    let b = Bridge::start_with(&[("FLEXCORD_DISCORD__MAX_UPLOAD_BYTES", "1024")]).await;
    let alice = b.discord.user_id("alice").unwrap();
    let agent = b.twilio.agent("agent:alice");
    let (sid, _task) = b.agent_joins(alice, &agent).await;
    let big = vec![7u8; 4096];
    b.discord
        .inject_dm_with_files(
            alice,
            "",
            &[Attachment::new(
                "dump.bin",
                "application/octet-stream",
                big.clone(),
            )],
        )
        .unwrap();
    let me = format!("discord:{alice}");
    let link = b
        .twilio
        .wait_for(WAIT, |t| {
            t.messages(&sid).into_iter().find(|m| {
                m.author == me
                    && m.body
                        .as_deref()
                        .is_some_and(|body| body.starts_with("dump.bin: http"))
            })
        })
        .await
        .expect("the file's link reaches the agent");
    assert!(link.media.is_empty());
    assert!(b.twilio.media().is_empty(), "nothing uploaded");
    // The link is Discord's CDN link of the attachment: it serves the file.
    let url = link
        .body
        .unwrap()
        .trim_start_matches("dump.bin: ")
        .to_owned();
    let served = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    assert_eq!(served.as_ref(), big.as_slice());
    b.stop().await;
}
