//! Studio v2 (`https://studio.twilio.com`): flow executions (the REST API trigger).
//!
//! ```no_run
//! # async fn run(twilio: flexcord_twilio::Client) -> Result<(), flexcord_twilio::Error> {
//! use flexcord_twilio::sid::FlowSid;
//! let flow: FlowSid = "FW0123456789abcdef0123456789abcdef".parse()?;
//! let execution = twilio
//!     .studio()
//!     .executions(&flow)
//!     .create("discord:4021", "flexcord")
//!     .parameters(&serde_json::json!({"conversation": "CH0123456789abcdef0123456789abcdef"}))
//!     .await?;
//! let again = twilio.studio().executions(&flow).fetch(&execution.sid).await?;
//! # let _ = again; Ok(()) }
//! ```

use serde::Deserialize;

use crate::builder::{Draft, builder};
use crate::client::Client;
use crate::enums::string_enum;
use crate::model::{Timestamp, date};
use crate::request::{Product, Request};
use crate::sid::{AccountSid, ContactSid, ExecutionSid, FlowSid};

const P: Product = Product::Studio;

impl Client {
    /// Studio v2.
    pub fn studio(&self) -> Studio<'_> {
        Studio { client: self }
    }
}

/// Handler for Studio.
#[derive(Debug, Clone, Copy)]
pub struct Studio<'a> {
    client: &'a Client,
}

impl<'a> Studio<'a> {
    /// `/v2/Flows/{FlowSid}/Executions`.
    pub fn executions(self, flow: &FlowSid) -> Executions<'a> {
        Executions {
            client: self.client,
            flow: *flow,
        }
    }
}

string_enum! {
    /// Status of an execution.
    pub enum ExecutionStatus {
        /// Running.
        Active = "active",
        /// Finished.
        Ended = "ended",
    }
}

/// A Studio flow execution.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Execution {
    /// `FN…`.
    pub sid: ExecutionSid,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<AccountSid>,
    /// The flow.
    #[serde(default)]
    pub flow_sid: Option<FlowSid>,
    /// The contact's address (`To` on create).
    #[serde(default)]
    pub contact_channel_address: Option<String>,
    /// The contact.
    #[serde(default)]
    pub contact_sid: Option<ContactSid>,
    /// The flow revision that ran.
    #[serde(default)]
    pub flow_version: Option<u64>,
    /// The execution's context.
    #[serde(default)]
    pub context: Option<serde_json::Value>,
    /// Active or ended.
    #[serde(default)]
    pub status: Option<ExecutionStatus>,
    /// Created at.
    #[serde(default, with = "date::opt")]
    pub date_created: Timestamp,
    /// Updated at.
    #[serde(default, with = "date::opt")]
    pub date_updated: Timestamp,
    /// The resource URL.
    #[serde(default)]
    pub url: Option<String>,
}

/// Handler for `/v2/Flows/{FlowSid}/Executions`.
#[derive(Debug, Clone, Copy)]
pub struct Executions<'a> {
    client: &'a Client,
    flow: FlowSid,
}

impl<'a> Executions<'a> {
    /// `POST …/Executions`: `to` is the contact's address (`{{contact.channel.address}}`),
    /// `from` the flow's address (`{{flow.channel.address}}`).
    pub fn create(self, to: impl Into<String>, from: impl Into<String>) -> CreateExecution<'a> {
        let path = format!("/v2/Flows/{}/Executions", self.flow);
        CreateExecution::from_draft(
            Draft::new(self.client, Request::post(P, path))
                .set("To", to)
                .set("From", from),
        )
    }

    /// `GET …/Executions/{Sid}`.
    pub fn fetch(self, execution: &ExecutionSid) -> FetchExecution<'a> {
        let path = format!("/v2/Flows/{}/Executions/{execution}", self.flow);
        FetchExecution::from_draft(Draft::new(self.client, Request::get(P, path)))
    }
}

builder! {
    /// `POST /v2/Flows/{FlowSid}/Executions` (201).
    CreateExecution -> Execution
}
builder! {
    /// `GET /v2/Flows/{FlowSid}/Executions/{Sid}`.
    FetchExecution -> Execution
}

impl CreateExecution<'_> {
    /// Data for the flow, available as `{{flow.data.<key>}}` (`Parameters`, a JSON text).
    pub fn parameters(mut self, parameters: &serde_json::Value) -> Self {
        self.draft = self.draft.set("Parameters", parameters.to_string());
        self
    }
}
