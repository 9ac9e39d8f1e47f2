#![doc = include_str!("../README.md")]

mod agent;
mod article;
mod classifier;
pub mod confidence;
pub mod embeddings;
mod engine;
mod error;
pub mod eval;
mod handoff;
mod import;
mod kb;
mod lexicon;
mod logistic;
mod model;
mod model_semantic;
mod query;
mod rasa;
mod search;
mod text;

pub use agent::{
    AgentConfig, AgentMode, AgentRequest, BotMessage, Button, Decision, EmbeddedAgent,
    LIVE_AGENT_PAYLOAD, RemoteAgent, Reply, ReplySource, VirtualAgent, build_agent,
};
pub use article::{Article, FileProblem, Language, LoadReport, load_dir, parse_article};
pub use classifier::{HandoffCrossValidation, HandoffFigures};
pub use embeddings::{EmbedReport, EmbeddingsConfig, FallbackReason, QueryEmbedding};
pub use error::{Error, ErrorKind};
pub use handoff::{HandoffReason, detect_handoff, handoff_cross_validation};
pub use import::{ImportReport, import_zendesk};
pub use kb::{KnowledgeBase, Reload, Watcher};
pub use lexicon::{LEXICON_FILE, Lexicon};
pub use rasa::{DEFAULT_TIMEOUT as RASA_DEFAULT_TIMEOUT, RasaButton, RasaClient, RasaMessage};
pub use search::{
    Answer, Confidence, DEFAULT_SURE_THRESHOLD, DEFAULT_THRESHOLD, SearchOptions, Suggestion,
};
pub use text::detect_language;
