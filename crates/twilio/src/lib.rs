#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod conversations;
mod enums;
pub mod sid;
pub mod webhook;
