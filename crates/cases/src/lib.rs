#![doc = include_str!("../README.md")]

mod api;
mod client;
mod error;
mod model;
mod service;
mod store;
mod web;

pub use api::{ApiErrorBody, openapi};
pub use client::CaseClient;
pub use error::{Error, ErrorKind};
pub use model::{
    Assignment, Case, CaseFilter, CaseKind, CaseNumber, CasePage, CaseSource, CaseStatus,
    MessageBatch, NewCase, NewLink, NewMessage, NewNote, PageRequest, Priority, PriorityChange,
    Rating, Requester, SimilarCase, StatusChange, TimelineEntry, TimelineEvent,
};
pub use service::CasesService;
pub use store::postgres::PgCaseStore;
pub use store::sqlite::SqliteCaseStore;
pub use store::{CaseStore, open};
