//! The Batch data-plane client: wire types, auth, calls. No UI, no workflow.

pub mod api_version;
pub mod auth;
pub mod case;
pub mod cert;
pub mod client;
pub mod defaults;
pub mod duration;
pub mod error;
pub mod http;
pub mod models;
pub mod retirements;
pub mod shared_key;

pub use api_version::ApiVersion;
pub use auth::{AuthMethod, AuthSettings, Credential};
pub use client::{ApiEvent, BatchClient, ListedPage, RetryPolicy};
pub use duration::BatchDuration;
pub use error::{BatchError, ServiceError};
pub use models::*;
