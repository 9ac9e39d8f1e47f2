#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
pub mod chat;
mod client;
pub mod conversations;
mod enums;
mod error;
pub mod flex;
pub mod media;
mod model;
pub mod page;
pub mod registry;
pub mod request;
pub mod retry;
pub mod sid;
pub mod studio;
pub mod webhook;

pub use client::{Client, ClientBuilder, Credentials, Response, Secret};
pub use error::{ApiError, Error, ErrorKind};
pub use model::{Order, WebhookConfiguration, WebhookMethod};
pub use page::{Page, PageMeta};
pub use request::{Product, Request, TryIntoRequest};
