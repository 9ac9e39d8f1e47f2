#![doc = include_str!("../README.md")]

mod accounts;
mod api;
mod client;
mod error;
mod limit;
mod model;
mod oidc;
mod service;
mod store;
mod web;

pub use accounts::{Accounts, Agent, ApiToken, MIN_PASSWORD_CHARS, Session};
pub use api::{ApiErrorBody, openapi};
pub use client::CaseClient;
pub use error::{Error, ErrorKind};
pub use limit::LoginLimits;
pub use model::{
    Assignment, Case, CaseFilter, CaseKind, CaseNumber, CasePage, CaseSource, CaseStatus,
    MessageBatch, NewCase, NewLink, NewMessage, NewNote, PageRequest, Priority, PriorityChange,
    Rating, Requester, SimilarCase, StatusChange, TimelineEntry, TimelineEvent,
};
pub use oidc::OidcConfig;
pub use service::{CasesService, Clock, DEFAULT_INTEGRATION, DEFAULT_SESSION_TTL};
pub use store::postgres::PgCaseStore;
pub use store::sqlite::SqliteCaseStore;
pub use store::{CLOSE_QUIET_BATCH, CaseStore, open, open_with_accounts};
