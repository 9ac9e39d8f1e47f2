#![doc = include_str!("../README.md")]

mod agent;
mod article;
mod engine;
mod error;
pub mod eval;
mod handoff;
mod kb;
mod rasa;
mod search;
mod synonyms;
mod text;

pub use agent::{
    AgentConfig, AgentMode, AgentRequest, BotMessage, Button, Decision, EmbeddedAgent, RemoteAgent,
    Reply, ReplySource, VirtualAgent, build_agent,
};
pub use article::{Article, FileProblem, Language, LoadReport, load_dir, parse_article};
pub use error::{Error, ErrorKind};
pub use handoff::{HandoffReason, detect_handoff};
pub use kb::{KnowledgeBase, Watcher};
pub use rasa::{DEFAULT_TIMEOUT as RASA_DEFAULT_TIMEOUT, RasaButton, RasaClient, RasaMessage};
pub use search::{DEFAULT_THRESHOLD, SearchOptions, Suggestion};
pub use text::detect_language;
