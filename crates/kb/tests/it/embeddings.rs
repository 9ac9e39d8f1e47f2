//! Semantic retrieval against a fake OpenAI-compatible embeddings endpoint (wiremock) that
//! serves deterministic vectors: a hashed bag of words in which a few words of the same
//! meaning share one token, so a message and an article with no word in common can still be
//! close.

use std::path::Path;
use std::time::{Duration, Instant};

use flexcord_kb::embeddings::hashed_embedding;
use flexcord_kb::{
    AgentRequest, EmbeddedAgent, EmbeddingsConfig, FallbackReason, KnowledgeBase, QueryEmbedding,
    SearchOptions, VirtualAgent,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ENDPOINT: &str = "/v1/embeddings";
const DIMS: usize = 256;

/// Words the fake model reads as one meaning: slang that no lexicon lists (the built-in one
/// already knows "disappeared" and "money back"), so only the vectors can connect them.
const SAME_MEANING: &[(&str, &str)] =
    &[("poofed", "missing"), ("blade", "item"), ("items", "item")];

fn fake_vector(text: &str) -> Vec<f32> {
    let text: String = text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .map(|w| {
            SAME_MEANING
                .iter()
                .find(|(word, _)| *word == w)
                .map_or(w, |(_, meaning)| *meaning)
        })
        .collect::<Vec<_>>()
        .join(" ");
    hashed_embedding(&text, DIMS)
}

/// Answers `{"model", "input": [...]}` with one vector per input, in reverse order with their
/// `index` (as some servers do), so the client has to sort them.
struct FakeModel;

impl Respond for FakeModel {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).expect("JSON body");
        assert_eq!(body["model"], "fake-embed");
        let inputs = body["input"].as_array().expect("input list");
        let mut data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .map(|(i, text)| {
                json!({
                    "object": "embedding",
                    "index": i,
                    "embedding": fake_vector(text.as_str().expect("text input")),
                })
            })
            .collect();
        data.reverse();
        ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "data": data,
            "model": "fake-embed",
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }))
    }
}

fn write(dir: &Path, id: &str, title: &str, body: &str) {
    let text = format!(
        "---\nid: {id}\ntitle: {title}\ntags: []\nlang: en\nurl: https://help.example/{id}\n---\n\n{body}\n"
    );
    std::fs::write(dir.join(format!("{id}.md")), text).expect("write article");
}

fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "lost-items",
        "Missing items in your inventory",
        "When an item is missing from your inventory, check the storage chest first. Items \
         traded away are not restored.",
    );
    write(
        dir.path(),
        "refunds",
        "Asking for a refund",
        "A refund of a purchase is possible within 14 days. Open the store page and choose \
         Request refund.",
    );
    write(
        dir.path(),
        "display-name",
        "Changing your display name",
        "Open the profile settings and choose Edit name. A name can be changed once a month.",
    );
    dir
}

fn config(server: &MockServer) -> EmbeddingsConfig {
    EmbeddingsConfig::from_settings(Some(&server.uri()), Some("fake-embed"))
        .expect("valid")
        .expect("configured")
}

async fn fake_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(FakeModel)
        .mount(&server)
        .await;
    server
}

/// The number of texts in each request the server received, in order.
async fn inputs_per_request(server: &MockServer) -> Vec<usize> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).expect("JSON");
            body["input"].as_array().map_or(0, Vec::len)
        })
        .collect()
}

fn raw() -> SearchOptions {
    SearchOptions::default().with_threshold(None).with_limit(5)
}

#[tokio::test]
async fn a_message_with_no_word_of_the_article_finds_it_through_its_vector() {
    let server = fake_server().await;
    let dir = folder();
    let (kb, _) = KnowledgeBase::open(dir.path()).expect("open");
    let kb = kb.with_embeddings(config(&server)).expect("embeddings");
    let report = kb.embed_articles().await;
    assert_eq!((report.embedded, report.missing), (3, 0), "{report}");
    assert_eq!(kb.embedded_articles(), 3);

    let message = "my blade poofed";
    // lexically nothing: neither word is in any article
    let lexical = kb.answer(message, &raw()).expect("answer");
    assert!(lexical.suggestions.is_empty(), "{lexical:?}");
    // with the vector, the lost-items article comes first
    let embedding = kb.query_embedding(message).await;
    assert!(
        matches!(embedding, QueryEmbedding::Vector(_)),
        "{embedding:?}"
    );
    let semantic = kb.answer_with(message, &raw(), &embedding).expect("answer");
    assert_eq!(semantic.suggestions[0].id, "lost-items", "{semantic:?}");

    // a message with one word of the article and one of the same meaning ranks it first,
    // and the fused ranking keeps the lexical evidence too
    let message = "all my items poofed";
    let embedding = kb.query_embedding(message).await;
    let semantic = kb.answer_with(message, &raw(), &embedding).expect("answer");
    assert_eq!(semantic.suggestions[0].id, "lost-items", "{semantic:?}");
    assert!((0.0..=1.0).contains(&semantic.suggestions[0].confidence));
    assert_eq!(kb.embedding_fallbacks(), 0);
}

#[tokio::test]
async fn fusion_puts_an_article_found_both_ways_above_one_found_one_way() {
    let server = fake_server().await;
    let dir = folder();
    let (kb, _) = KnowledgeBase::open(dir.path()).expect("open");
    let kb = kb.with_embeddings(config(&server)).expect("embeddings");
    kb.embed_articles().await;
    // "edit name" are lexical matches of display-name (its title and body) while "poofed
    // blade" means a missing item to the fake model: lost-items is found by cosine alone,
    // display-name both ways
    let message = "poofed blade, edit name";
    let lexical = kb.answer(message, &raw()).expect("lexical");
    let ids: Vec<&str> = lexical.suggestions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["display-name"], "{lexical:?}");
    let embedding = kb.query_embedding(message).await;
    let fused = kb.answer_with(message, &raw(), &embedding).expect("fused");
    let ids: Vec<&str> = fused.suggestions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids[..2], ["display-name", "lost-items"], "{ids:?}");
    // the fused scores decrease along the ranking
    assert!(
        fused
            .suggestions
            .windows(2)
            .all(|w| w[0].score >= w[1].score),
        "{fused:?}"
    );
}

#[tokio::test]
async fn without_a_vector_the_answer_is_the_lexical_one() {
    let server = fake_server().await;
    let plain = KnowledgeBase::sample().expect("sample");
    let kb = KnowledgeBase::sample()
        .expect("sample")
        .with_embeddings(config(&server))
        .expect("embeddings");
    kb.embed_articles().await;
    for message in [
        "forgot my password",
        "quên mật khẩu",
        "my purchase never arrived",
        "recipe for banana bread",
    ] {
        let options = SearchOptions::default();
        let lexical = kb.answer(message, &options).expect("lexical");
        for embedding in [
            QueryEmbedding::Off,
            QueryEmbedding::Fallback(FallbackReason::Timeout),
        ] {
            assert_eq!(
                kb.answer_with(message, &options, &embedding)
                    .expect("answer"),
                lexical,
                "{message}"
            );
        }
        // and a knowledge base without embeddings answers the same (two indexes of the same
        // articles may differ in the last bits of a score: compare what is shown)
        let plain = plain.answer(message, &options).expect("plain");
        let ids = |a: &flexcord_kb::Answer| -> Vec<String> {
            a.suggestions.iter().map(|s| s.id.clone()).collect()
        };
        assert_eq!(
            (lexical.confidence, ids(&lexical)),
            (plain.confidence, ids(&plain)),
            "{message}"
        );
    }
}

#[tokio::test]
async fn vectors_are_cached_on_disk_and_only_changed_articles_are_embedded_again() {
    let server = fake_server().await;
    let dir = folder();
    let cache = tempfile::tempdir().expect("cache dir");
    let with_cache = || {
        config(&server)
            .with_batch_size(2)
            .with_cache_dir(Some(cache.path().to_owned()))
    };
    let (kb, _) = KnowledgeBase::open(dir.path()).expect("open");
    let kb = kb.with_embeddings(with_cache()).expect("embeddings");
    let report = kb.embed_articles().await;
    assert_eq!((report.embedded, report.requests), (3, 2), "{report}");
    assert_eq!(inputs_per_request(&server).await, [2, 1]);
    let files: Vec<_> = std::fs::read_dir(cache.path())
        .expect("cache written")
        .collect();
    assert_eq!(files.len(), 1);

    // a restart: a new knowledge base over the same folder and cache asks for nothing
    let (again, _) = KnowledgeBase::open(dir.path()).expect("open");
    let again = again.with_embeddings(with_cache()).expect("embeddings");
    let report = again.embed_articles().await;
    assert_eq!((report.cached, report.embedded, report.requests), (3, 0, 0));
    assert_eq!(inputs_per_request(&server).await.len(), 2);
    assert_eq!(again.embedded_articles(), 3);

    // a reload after one article changed embeds that one alone, before it swaps
    write(
        dir.path(),
        "refunds",
        "Asking for a refund",
        "Refunds are possible within 30 days now.",
    );
    let reload = again.reload_async().await.expect("reload");
    assert_eq!(reload.changed, ["refunds"]);
    assert_eq!(inputs_per_request(&server).await, [2, 1, 1]);
    assert_eq!(again.embedded_articles(), 3);
    // and the cache file now holds the new text's vector: another restart asks for nothing
    let (third, _) = KnowledgeBase::open(dir.path()).expect("open");
    let third = third.with_embeddings(with_cache()).expect("embeddings");
    assert_eq!(third.embed_articles().await.requests, 0);

    // a synchronous reload takes the cached vectors and sends nothing
    let reload = third.reload().expect("reload");
    assert!(reload.is_unchanged());
    assert_eq!(third.embedded_articles(), 3);
    assert_eq!(inputs_per_request(&server).await.len(), 3);
}

#[tokio::test]
async fn a_failing_endpoint_leaves_the_lexical_answer_and_counts_the_fallback() {
    let server = MockServer::start().await;
    // the articles are embedded once, then the endpoint fails
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(FakeModel)
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(ResponseTemplate::new(500).set_body_string("model crashed"))
        .mount(&server)
        .await;
    let dir = folder();
    let (kb, _) = KnowledgeBase::open(dir.path()).expect("open");
    let kb = kb.with_embeddings(config(&server)).expect("embeddings");
    assert_eq!(kb.embed_articles().await.embedded, 3);
    let message = "how do I change my display name";
    let embedding = kb.query_embedding(message).await;
    assert_eq!(embedding, QueryEmbedding::Fallback(FallbackReason::Error));
    assert_eq!(kb.embedding_fallbacks(), 1);
    let options = SearchOptions::default();
    assert_eq!(
        kb.answer_with(message, &options, &embedding)
            .expect("answer"),
        kb.answer(message, &options).expect("lexical")
    );
    // the agent answers too, lexically, and counts a second fallback
    let agent = EmbeddedAgent::new(kb.clone());
    let reply = agent
        .reply(&AgentRequest::new("discord:1", message))
        .await
        .expect("reply");
    assert_eq!(reply.suggestions[0].id, "display-name");
    assert_eq!(kb.embedding_fallbacks(), 2);
}

#[tokio::test]
async fn a_slow_endpoint_is_cut_at_the_query_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(FakeModel)
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(FakeModelSlow(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let dir = folder();
    let (kb, _) = KnowledgeBase::open(dir.path()).expect("open");
    let config = config(&server)
        .with_query_timeout(Duration::from_millis(200))
        .expect("timeout");
    let kb = kb.with_embeddings(config).expect("embeddings");
    kb.embed_articles().await;
    let agent = EmbeddedAgent::new(kb.clone());
    let started = Instant::now();
    let reply = agent
        .reply(&AgentRequest::new(
            "discord:1",
            "how do I change my display name",
        ))
        .await
        .expect("reply");
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(reply.suggestions[0].id, "display-name");
    assert_eq!(kb.embedding_fallbacks(), 1);
    assert_eq!(
        kb.query_embedding("refund").await,
        QueryEmbedding::Fallback(FallbackReason::Timeout)
    );
}

struct FakeModelSlow(Duration);

impl Respond for FakeModelSlow {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        FakeModel.respond(request).set_delay(self.0)
    }
}

#[tokio::test]
async fn an_endpoint_down_at_start_up_leaves_articles_without_vectors_until_a_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("authorization", "Bearer sk-test"))
        .respond_with(FakeModel)
        .mount(&server)
        .await;
    let dir = folder();
    let (kb, _) = KnowledgeBase::open(dir.path()).expect("open");
    let kb = kb
        .with_embeddings(config(&server).with_api_key(Some("sk-test".into())))
        .expect("embeddings");
    let report = kb.embed_articles().await;
    assert_eq!((report.embedded, report.missing), (0, 3), "{report}");
    // no article vector: the message is not even sent, and counted
    assert_eq!(
        kb.query_embedding("refund").await,
        QueryEmbedding::Fallback(FallbackReason::NoVectors)
    );
    assert_eq!(kb.embedding_fallbacks(), 1);
    assert_eq!(inputs_per_request(&server).await.len(), 1);
    // the retry embeds them (with the bearer key)
    let report = kb.embed_articles().await;
    assert_eq!((report.embedded, report.missing), (3, 0), "{report}");
    assert!(matches!(
        kb.query_embedding("refund").await,
        QueryEmbedding::Vector(_)
    ));
}

#[test]
fn a_url_without_a_model_is_a_clear_error() {
    let e = EmbeddingsConfig::from_settings(Some("http://127.0.0.1:11434"), None)
        .expect_err("model missing");
    let text = e.to_string();
    assert!(
        text.contains("kb.embeddings_url is set but kb.embeddings_model is not"),
        "{text}"
    );
    assert!(
        EmbeddingsConfig::from_settings(Some("file:///tmp/x"), Some("m")).is_err(),
        "not http"
    );
}

#[tokio::test]
async fn bad_answers_are_errors_not_vectors() {
    for body in [
        json!({"data": []}),
        json!({"data": [{"embedding": [0.0, 0.0], "index": 0}]}),
        json!({"nothing": true}),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(ENDPOINT))
            .respond_with(ResponseTemplate::new(200).set_body_json(body.clone()))
            .mount(&server)
            .await;
        let kb = KnowledgeBase::sample()
            .expect("sample")
            .with_embeddings(config(&server))
            .expect("embeddings");
        let report = kb.embed_articles().await;
        assert_eq!(report.embedded, 0, "{body}");
        assert_eq!(report.missing, kb.len(), "{body}");
        let error = kb
            .query_embeddings(&["x".to_owned()])
            .await
            .expect_err("bad answer");
        assert!(
            matches!(
                error.kind(),
                flexcord_kb::ErrorKind::EmbeddingsDecode { .. }
            ),
            "{body}: {error}"
        );
    }
}
