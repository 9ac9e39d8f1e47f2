//! The virtual agent: one trait, an embedded implementation (knowledge base + hand-off
//! detection) and a remote one (Rasa, falling back to the embedded agent).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::article::Language;
use crate::embeddings::QueryEmbedding;
use crate::error::{Error, ErrorKind};
use crate::handoff::{self, HandoffReason};
use crate::kb::KnowledgeBase;
use crate::rasa::{self, RasaClient, RasaMessage};
use crate::search::{Confidence, SearchOptions, Suggestion};
use crate::text;

/// A message from the user to the virtual agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRequest {
    /// Who is talking (for Rasa: the conversation key, e.g. `discord:<user id>`).
    pub sender: String,
    /// What the user wrote.
    pub text: String,
    /// Extra data passed to Rasa as `metadata`.
    pub metadata: Option<serde_json::Value>,
    /// The user's language when known; detected from the text otherwise.
    pub language: Option<Language>,
}

impl AgentRequest {
    /// A request with no metadata and the language detected from the text.
    pub fn new(sender: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            sender: sender.into(),
            text: text.into(),
            metadata: None,
            language: None,
        }
    }
}

/// The payload of the live-agent button that the embedded agent adds in the
/// [`Confidence::Unsure`] and [`Confidence::Unknown`] bands. Sent back as a message, it is a
/// hand-off request.
pub const LIVE_AGENT_PAYLOAD: &str = "agent";

/// A quick-reply button.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Button {
    /// Text on the button.
    pub title: String,
    /// What pressing it sends back.
    pub payload: String,
}

/// One message to show the user.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BotMessage {
    /// Text (Markdown as Discord renders it).
    pub text: Option<String>,
    /// Quick-reply buttons.
    pub buttons: Vec<Button>,
    /// Address of an image.
    pub image: Option<String>,
}

impl BotMessage {
    /// A text-only message.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::default()
        }
    }
}

/// Which agent produced a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum ReplySource {
    /// The embedded agent.
    Embedded,
    /// The remote (Rasa) agent.
    Remote,
    /// The embedded agent, because the remote one failed, timed out or had no answer.
    Fallback,
}

/// What the virtual agent answers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reply {
    /// Messages to show, in order.
    pub messages: Vec<BotMessage>,
    /// Articles to suggest (render as an embed with links), best first.
    pub suggestions: Vec<Suggestion>,
    /// `true` when the user should be handed off to a person.
    pub handoff: bool,
    /// How sure the agent is of its articles, which decides how to show them:
    ///
    /// - [`Confidence::Sure`]: the articles are the answer ("Here are some articles...");
    /// - [`Confidence::Unsure`]: "Is it one of these?" with up to three articles, and a
    ///   live-agent button (payload [`LIVE_AGENT_PAYLOAD`]) in the last message;
    /// - [`Confidence::Unknown`]: "I don't know", no article, and the live-agent button.
    ///
    /// On a hand-off, the band of the articles found for the message (the "contact support"
    /// article comes first). A remote (Rasa) agent's own answer is [`Confidence::Sure`].
    pub confidence: Confidence,
    /// Why, when the embedded detection decided it.
    pub handoff_reason: Option<HandoffReason>,
    /// The language the reply is written in.
    pub language: Language,
    /// Which agent answered.
    pub source: ReplySource,
}

/// A virtual agent: answers a user's message with messages, article suggestions and whether to
/// hand off to a person.
#[async_trait]
pub trait VirtualAgent: Send + Sync + std::fmt::Debug {
    /// Answers one message.
    ///
    /// # Errors
    /// Only when no answer can be produced at all (the embedded search index failed); a failing
    /// remote agent falls back instead.
    async fn reply(&self, request: &AgentRequest) -> Result<Reply, Error>;

    /// The first message of a conversation, in the given language (Vietnamese greetings also
    /// carry the English text).
    fn greeting(&self, language: Language) -> String {
        greeting(language)
    }
}

fn greeting(language: Language) -> String {
    let en = "Hi! I'm the virtual assistant. Tell me what's wrong and I'll suggest help \
              articles. Type **agent** at any time to talk to a person.";
    match language {
        Language::English => en.to_owned(),
        Language::Vietnamese => format!(
            "Xin chào! Mình là trợ lý ảo. Bạn hãy mô tả vấn đề, mình sẽ gợi ý bài viết hướng \
             dẫn. Gõ **nhân viên** bất cứ lúc nào để gặp nhân viên hỗ trợ.\n\n{en}"
        ),
    }
}

fn found_text(language: Language) -> String {
    match language {
        Language::English => "Here are some articles that may help:".to_owned(),
        Language::Vietnamese => {
            "Mình tìm thấy vài bài viết có thể giúp bạn (Here are some articles that may help):"
                .to_owned()
        }
    }
}

fn unsure_text(language: Language) -> String {
    let en = "I'm not sure I understood. Is it one of these? If not, press the button below (or \
              type **agent**) to talk to a person.";
    match language {
        Language::English => en.to_owned(),
        Language::Vietnamese => format!(
            "Mình chưa chắc đã hiểu đúng. Có phải bạn hỏi về một trong các bài này không? Nếu \
             không, bấm nút bên dưới (hay gõ **nhân viên**) để gặp nhân viên hỗ trợ.\n\n{en}"
        ),
    }
}

fn no_answer_text(language: Language) -> String {
    let en = "Sorry, I don't know the answer to that. Try other words, or press the button \
              below (or type **agent**) to talk to a person.";
    match language {
        Language::English => en.to_owned(),
        Language::Vietnamese => format!(
            "Xin lỗi, mình chưa biết câu trả lời cho câu hỏi này. Bạn thử diễn đạt cách khác, \
             hoặc bấm nút bên dưới (hay gõ **nhân viên**) để gặp nhân viên hỗ trợ.\n\n{en}"
        ),
    }
}

/// The live-agent button, in the user's language.
fn live_agent_button(language: Language) -> Button {
    let title = match language {
        Language::English => "Talk to a person",
        Language::Vietnamese => "Gặp nhân viên (Talk to a person)",
    };
    Button {
        title: title.to_owned(),
        payload: LIVE_AGENT_PAYLOAD.to_owned(),
    }
}

fn handoff_text(language: Language) -> String {
    let en = "Sure, I'm bringing in a member of our support team. Please stay in this chat.";
    match language {
        Language::English => en.to_owned(),
        Language::Vietnamese => format!(
            "Vâng, mình đang chuyển bạn đến nhân viên hỗ trợ. Bạn vui lòng chờ trong cuộc trò \
             chuyện này nhé.\n\n{en}"
        ),
    }
}

/// `true` for a message that is only a greeting or small talk ("hi", "xin chào", "thanks").
fn is_small_talk(message: &str) -> bool {
    let words = text::words(message);
    !words.is_empty()
        && words.len() <= 6
        && words.iter().all(|w| text::is_stop(&w.folded))
        && words.iter().any(|w| {
            matches!(
                w.folded.as_str(),
                "hi" | "hello"
                    | "hey"
                    | "chao"
                    | "thanks"
                    | "thank"
                    | "thx"
                    | "ty"
                    | "ok"
                    | "okay"
                    | "bye"
                    | "goodbye"
                    | "cool"
                    | "awesome"
            )
        })
}

/// What the embedded agent decided for one message, before wording it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Articles to suggest, best first.
    pub suggestions: Vec<Suggestion>,
    /// How sure the articles are (see [`Reply::confidence`]).
    pub confidence: Confidence,
    /// Why the user should be handed off, if they should.
    pub handoff: Option<HandoffReason>,
    /// The language of the message.
    pub language: Language,
}

/// The default agent: answers from the knowledge base and detects hand-off requests itself.
/// Needs nothing running.
///
/// When a message asks for a person, the article that best answers "contact support / live
/// agent" is suggested first (how support works and its hours), followed by the articles found
/// for the message itself.
#[derive(Debug, Clone)]
pub struct EmbeddedAgent {
    kb: KnowledgeBase,
    options: SearchOptions,
    support_query: [String; 2],
}

impl EmbeddedAgent {
    /// An agent over a knowledge base, suggesting at most three articles.
    pub fn new(kb: KnowledgeBase) -> Self {
        Self {
            kb,
            options: SearchOptions::default().with_limit(3),
            support_query: [
                "contact support talk to a live agent".to_owned(),
                "liên hệ hỗ trợ gặp nhân viên".to_owned(),
            ],
        }
    }

    /// The searches that find the "how to reach support" article suggested on a hand-off
    /// (English, Vietnamese).
    #[must_use]
    pub fn with_support_query(mut self, english: &str, vietnamese: &str) -> Self {
        self.support_query = [english.to_owned(), vietnamese.to_owned()];
        self
    }

    /// Decides synchronously (CPU only): the suggestions and whether to hand off.
    ///
    /// # Errors
    /// [`ErrorKind::Index`] when the search index fails.
    pub fn decide(&self, message: &str, language: Option<Language>) -> Result<Decision, Error> {
        self.decide_with(message, language, &QueryEmbedding::Off)
    }

    /// [`decide`](Self::decide) with the message's vector (see
    /// [`KnowledgeBase::query_embedding`]): the articles are ranked semantically too.
    ///
    /// # Errors
    /// [`ErrorKind::Index`] when the search index fails.
    pub fn decide_with(
        &self,
        message: &str,
        language: Option<Language>,
        embedding: &QueryEmbedding,
    ) -> Result<Decision, Error> {
        let language = language.unwrap_or_else(|| text::detect_language(message));
        let (mut suggestions, confidence) = if is_small_talk(message) {
            (Vec::new(), Confidence::Unknown)
        } else {
            let answer = self.kb.answer_with(
                message,
                &self.options.clone().with_language(Some(language)),
                embedding,
            )?;
            (answer.suggestions, answer.confidence)
        };
        let handoff = handoff::detect(message, confidence == Confidence::Sure);
        if handoff.is_some() {
            let query = match language {
                Language::English => &self.support_query[0],
                Language::Vietnamese => &self.support_query[1],
            };
            let support = self.kb.search_with(
                query,
                &self
                    .options
                    .clone()
                    .with_limit(1)
                    .with_language(Some(language)),
            )?;
            if let Some(first) = support.into_iter().next() {
                suggestions.retain(|s| s.id != first.id);
                suggestions.insert(0, first);
                suggestions.truncate(self.options.limit.max(1));
            }
        }
        Ok(Decision {
            suggestions,
            confidence,
            handoff,
            language,
        })
    }

    /// Uses other search options (limit, threshold, ...).
    #[must_use]
    pub fn with_options(mut self, options: SearchOptions) -> Self {
        self.options = options;
        self
    }

    /// The knowledge base it answers from.
    pub fn knowledge_base(&self) -> &KnowledgeBase {
        &self.kb
    }

    async fn answer(&self, request: &AgentRequest, source: ReplySource) -> Result<Reply, Error> {
        let agent = self.clone();
        let message = request.text.clone();
        let language = request.language;
        // the message's vector, within the embeddings timeout (none without embeddings; on a
        // timeout or failure the lexical ranking answers alone)
        let embedding = if is_small_talk(&message) {
            QueryEmbedding::Off
        } else {
            self.kb.query_embedding(&message).await
        };
        let decision =
            tokio::task::spawn_blocking(move || agent.decide_with(&message, language, &embedding))
                .await
                .map_err(|e| Error::with_source(ErrorKind::Index, e))??;
        let Decision {
            suggestions,
            confidence,
            handoff,
            language,
        } = decision;
        let mut message = if handoff.is_some() {
            BotMessage::text(handoff_text(language))
        } else if is_small_talk(&request.text) && suggestions.is_empty() {
            BotMessage::text(greeting(language))
        } else {
            match confidence {
                Confidence::Sure => BotMessage::text(found_text(language)),
                Confidence::Unsure => BotMessage::text(unsure_text(language)),
                Confidence::Unknown => BotMessage::text(no_answer_text(language)),
            }
        };
        if handoff.is_none() && confidence != Confidence::Sure && !is_small_talk(&request.text) {
            message.buttons.push(live_agent_button(language));
        }
        Ok(Reply {
            messages: vec![message],
            suggestions,
            handoff: handoff.is_some(),
            confidence,
            handoff_reason: handoff,
            language,
            source,
        })
    }
}

#[async_trait]
impl VirtualAgent for EmbeddedAgent {
    async fn reply(&self, request: &AgentRequest) -> Result<Reply, Error> {
        self.answer(request, ReplySource::Embedded).await
    }
}

/// An agent backed by a Rasa server (REST channel). A hand-off is a message whose `custom`
/// payload is `{"handoff": true}`. When Rasa fails, times out or answers `[]` (no answer,
/// which Rasa also gives on its own internal errors), the embedded agent answers instead and
/// the switch is logged.
#[derive(Debug, Clone)]
pub struct RemoteAgent {
    client: RasaClient,
    fallback: EmbeddedAgent,
}

impl RemoteAgent {
    /// A remote agent with its fallback.
    pub fn new(client: RasaClient, fallback: EmbeddedAgent) -> Self {
        Self { client, fallback }
    }
}

fn to_message(m: &RasaMessage) -> Option<BotMessage> {
    let message = BotMessage {
        text: m.text.clone().filter(|t| !t.trim().is_empty()),
        buttons: m
            .buttons
            .iter()
            .map(|b| Button {
                title: b.title.clone(),
                payload: b.payload.clone(),
            })
            .collect(),
        image: m.image.clone(),
    };
    (message.text.is_some() || !message.buttons.is_empty() || message.image.is_some())
        .then_some(message)
}

#[async_trait]
impl VirtualAgent for RemoteAgent {
    async fn reply(&self, request: &AgentRequest) -> Result<Reply, Error> {
        let answer = self
            .client
            .send(&request.sender, &request.text, request.metadata.as_ref())
            .await;
        match answer {
            Ok(messages) if !messages.is_empty() => {
                let handoff = messages.iter().any(RasaMessage::is_handoff);
                Ok(Reply {
                    messages: messages.iter().filter_map(to_message).collect(),
                    suggestions: Vec::new(),
                    handoff,
                    confidence: Confidence::Sure,
                    handoff_reason: None,
                    language: request
                        .language
                        .unwrap_or_else(|| text::detect_language(&request.text)),
                    source: ReplySource::Remote,
                })
            }
            Ok(_) => {
                tracing::info!(
                    endpoint = self.client.endpoint(),
                    "Rasa had no answer ([]); the embedded agent answers"
                );
                self.fallback.answer(request, ReplySource::Fallback).await
            }
            Err(error) => {
                tracing::warn!(
                    endpoint = self.client.endpoint(),
                    %error,
                    "Rasa failed; the embedded agent answers"
                );
                self.fallback.answer(request, ReplySource::Fallback).await
            }
        }
    }
}

/// Which agent to run (configuration `bot.mode`, `bot.rasa_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentMode {
    /// The embedded agent (default).
    Embedded,
    /// A Rasa server, with the embedded agent as fallback.
    Rasa {
        /// Base URL of the Rasa server, e.g. `http://localhost:5005`.
        url: String,
        /// Time allowed for an answer.
        timeout: Duration,
    },
}

impl AgentMode {
    /// Reads `bot.mode` (`embedded` or `rasa`) and `bot.rasa_url`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an unknown mode, or `rasa` without a URL.
    pub fn from_config(mode: &str, rasa_url: Option<&str>) -> Result<Self, Error> {
        match mode.trim() {
            "" | "embedded" => Ok(Self::Embedded),
            "rasa" => match rasa_url.map(str::trim).filter(|u| !u.is_empty()) {
                Some(url) => Ok(Self::Rasa {
                    url: url.to_owned(),
                    timeout: rasa::DEFAULT_TIMEOUT,
                }),
                None => Err(Error::new(ErrorKind::Config(
                    "bot.mode is `rasa` but bot.rasa_url is not set".into(),
                ))),
            },
            other => Err(Error::new(ErrorKind::Config(format!(
                "bot.mode must be `embedded` or `rasa`, found `{other}`"
            )))),
        }
    }
}

/// Config used by [`build_agent`]: the mode plus search options for the embedded agent.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Which agent.
    pub mode: AgentMode,
    /// Search options of the embedded agent (and of the fallback).
    pub search: SearchOptions,
}

impl AgentConfig {
    /// The given mode with default search options (three suggestions, default threshold).
    pub fn new(mode: AgentMode) -> Self {
        Self {
            mode,
            search: SearchOptions::default().with_limit(3),
        }
    }
}

/// Builds the configured agent over a knowledge base.
///
/// ```
/// use flexcord_kb::{AgentConfig, AgentMode, KnowledgeBase, build_agent};
/// let kb = KnowledgeBase::sample()?;
/// let agent = build_agent(&AgentConfig::new(AgentMode::from_config("embedded", None)?), kb)?;
/// # Ok::<(), flexcord_kb::Error>(())
/// ```
///
/// # Errors
/// [`ErrorKind::Config`] when the Rasa URL is invalid.
pub fn build_agent(
    config: &AgentConfig,
    kb: KnowledgeBase,
) -> Result<Arc<dyn VirtualAgent>, Error> {
    let embedded = EmbeddedAgent::new(kb).with_options(config.search.clone());
    match &config.mode {
        AgentMode::Embedded => Ok(Arc::new(embedded)),
        AgentMode::Rasa { url, timeout } => {
            let client = RasaClient::with_timeout(url, *timeout)?;
            Ok(Arc::new(RemoteAgent::new(client, embedded)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_talk() {
        assert!(is_small_talk("hi!"));
        assert!(is_small_talk("Xin chào"));
        assert!(is_small_talk("ok thanks"));
        assert!(!is_small_talk("hi, my coins are missing"));
        assert!(!is_small_talk(""));
    }

    #[test]
    fn mode_from_config() {
        assert_eq!(
            AgentMode::from_config("embedded", None).ok(),
            Some(AgentMode::Embedded)
        );
        assert!(matches!(
            AgentMode::from_config("rasa", Some("http://r:5005")),
            Ok(AgentMode::Rasa { .. })
        ));
        assert!(AgentMode::from_config("rasa", None).is_err());
        assert!(AgentMode::from_config("gpt", None).is_err());
    }

    #[test]
    fn vietnamese_texts_carry_english() {
        for t in [
            greeting(Language::Vietnamese),
            no_answer_text(Language::Vietnamese),
            unsure_text(Language::Vietnamese),
        ] {
            assert!(t.contains("nhân viên") && t.contains("agent"), "{t}");
        }
    }
}
