//! Shared machinery of the typed request builders.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::client::Client;
use crate::error::Error;
use crate::request::Request;

/// The header that makes REST-originated changes fire webhooks.
pub(crate) const WEBHOOK_ENABLED: &str = "X-Twilio-Webhook-Enabled";

/// A request under construction: setters stay infallible and the first error wins.
pub(crate) struct Draft<'a> {
    pub(crate) client: &'a Client,
    pub(crate) request: Result<Request, Error>,
}

impl<'a> Draft<'a> {
    pub(crate) fn new(client: &'a Client, request: Request) -> Self {
        Self {
            client,
            request: Ok(request),
        }
    }

    pub(crate) fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        if let Ok(request) = &mut self.request {
            request.set_form(key, value.into());
        }
        self
    }

    pub(crate) fn push(mut self, key: &str, value: impl Into<String>) -> Self {
        if let Ok(request) = &mut self.request {
            request.push_form(key, value.into());
        }
        self
    }

    pub(crate) fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        if let Ok(request) = &mut self.request {
            request.set_query(key, value.into());
        }
        self
    }

    pub(crate) fn push_query(mut self, key: &str, value: impl Into<String>) -> Self {
        if let Ok(request) = &mut self.request {
            request.push_query(key, value.into());
        }
        self
    }

    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        if let Ok(request) = &mut self.request {
            request.set_header(name.to_owned(), value.into());
        }
        self
    }

    /// Records `error` unless an earlier error is already recorded.
    pub(crate) fn fail(mut self, error: Error) -> Self {
        if self.request.is_ok() {
            self.request = Err(error);
        }
        self
    }

    pub(crate) fn set_date(self, key: &str, date: OffsetDateTime) -> Self {
        match date.format(&Rfc3339) {
            Ok(text) => self.set(key, text),
            Err(e) => self.fail(Error::invalid(format!("{key}: {e}"))),
        }
    }

    pub(crate) fn set_bool(self, key: &str, value: bool) -> Self {
        self.set(key, if value { "true" } else { "false" })
    }

    pub(crate) fn webhook_enabled(self, enabled: bool) -> Self {
        self.header(WEBHOOK_ENABLED, if enabled { "true" } else { "false" })
    }

    pub(crate) fn page_size(self, size: u32, max: u32) -> Self {
        if (1..=max).contains(&size) {
            self.query("PageSize", size.to_string())
        } else {
            self.fail(Error::invalid(format!(
                "PageSize must be between 1 and {max}, got {size}"
            )))
        }
    }

    /// Sets `key` to `value` if it has at most `max` characters, else records an error.
    pub(crate) fn set_max_chars(self, key: &str, value: String, max: usize) -> Self {
        if value.chars().count() > max {
            self.fail(Error::invalid(format!(
                "{key} is longer than {max} characters"
            )))
        } else {
            self.set(key, value)
        }
    }
}

/// Declares an awaitable builder: the struct, [`TryIntoRequest`](crate::TryIntoRequest) and
/// `IntoFuture`. Variants: JSON output (`-> T`), no output (`-> ()` for deletes) and lists
/// (`-> Page<T>` with a `paginate()` stream).
macro_rules! builder {
    ($(#[$meta:meta])* $name:ident -> ()) => {
        $crate::builder::builder!(@struct $(#[$meta])* $name);
        impl<'a> ::std::future::IntoFuture for $name<'a> {
            type Output = Result<(), $crate::Error>;
            type IntoFuture = ::std::pin::Pin<
                Box<dyn ::std::future::Future<Output = Self::Output> + Send + 'a>,
            >;
            fn into_future(self) -> Self::IntoFuture {
                let client = self.draft.client;
                let request = self.draft.request;
                Box::pin(async move { client.send(request?).await.map(|_| ()) })
            }
        }
    };
    ($(#[$meta:meta])* $name:ident -> list $item:ty, $key:literal, max $max:literal) => {
        $crate::builder::builder!(@struct $(#[$meta])* $name);
        impl<'a> ::std::future::IntoFuture for $name<'a> {
            type Output = Result<$crate::Page<$item>, $crate::Error>;
            type IntoFuture = ::std::pin::Pin<
                Box<dyn ::std::future::Future<Output = Self::Output> + Send + 'a>,
            >;
            fn into_future(self) -> Self::IntoFuture {
                let client = self.draft.client;
                let request = self.draft.request;
                Box::pin(async move { client.page(request?, $key).await })
            }
        }
        impl $name<'_> {
            #[doc = concat!("Items per page, 1 to ", stringify!($max), " (`PageSize`).")]
            pub fn page_size(mut self, size: u32) -> Self {
                self.draft = self.draft.page_size(size, $max);
                self
            }
            /// Every item of every page, as a stream following `meta.next_page_url`.
            pub fn paginate(
                self,
            ) -> impl ::futures::Stream<Item = Result<$item, $crate::Error>> + Send + 'static {
                self.draft.client.paginate(self.draft.request, $key)
            }
        }
    };
    ($(#[$meta:meta])* $name:ident -> $out:ty) => {
        $crate::builder::builder!(@struct $(#[$meta])* $name);
        impl<'a> ::std::future::IntoFuture for $name<'a> {
            type Output = Result<$out, $crate::Error>;
            type IntoFuture = ::std::pin::Pin<
                Box<dyn ::std::future::Future<Output = Self::Output> + Send + 'a>,
            >;
            fn into_future(self) -> Self::IntoFuture {
                let client = self.draft.client;
                let request = self.draft.request;
                Box::pin(async move { client.execute(request?).await })
            }
        }
    };
    (@struct $(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[must_use = "a request does nothing until it is awaited"]
        pub struct $name<'a> {
            draft: $crate::builder::Draft<'a>,
        }
        impl $crate::TryIntoRequest for $name<'_> {
            fn try_into_request(self) -> Result<$crate::Request, $crate::Error> {
                self.draft.request
            }
        }
        impl ::std::fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("request", &self.draft.request)
                    .finish()
            }
        }
        #[allow(dead_code)]
        impl<'a> $name<'a> {
            pub(crate) fn from_draft(draft: $crate::builder::Draft<'a>) -> Self {
                Self { draft }
            }
        }
    };
}

/// Setters that store a text form field under its wire name.
macro_rules! text_setters {
    ($($(#[$meta:meta])* $fn:ident => $wire:literal;)*) => {
        $(
            $(#[$meta])*
            pub fn $fn(mut self, value: impl Into<String>) -> Self {
                self.draft = self.draft.set($wire, value);
                self
            }
        )*
    };
}

/// The `X-Twilio-Webhook-Enabled` setter.
macro_rules! webhook_header_setter {
    () => {
        /// Sends `X-Twilio-Webhook-Enabled: true|false`: whether this REST change fires the
        /// service's and the conversation's/channel's post-event webhooks (Twilio's default is
        /// false).
        pub fn webhook_enabled(mut self, enabled: bool) -> Self {
            self.draft = self.draft.webhook_enabled(enabled);
            self
        }
    };
}

/// The `Attributes` setter (a JSON text on the wire).
macro_rules! attributes_setter {
    () => {
        /// Attributes as JSON (`Attributes`, sent as one form field holding the JSON text).
        pub fn attributes(mut self, attributes: &::serde_json::Value) -> Self {
            self.draft = self.draft.set("Attributes", attributes.to_string());
            self
        }
    };
}

/// `DateCreated` / `DateUpdated` setters.
macro_rules! date_setters {
    ($($(#[$meta:meta])* $fn:ident => $wire:literal;)*) => {
        $(
            $(#[$meta])*
            pub fn $fn(mut self, date: ::time::OffsetDateTime) -> Self {
                self.draft = self.draft.set_date($wire, date);
                self
            }
        )*
    };
}

pub(crate) use {attributes_setter, builder, date_setters, text_setters, webhook_header_setter};
