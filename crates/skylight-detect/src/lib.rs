//! Skylight's detection: activity policies (the activity log's filters, single or repeated),
//! built-in anomaly detections with per-user baselines, and alerts that say why.
//!
//! Detection reads activities from the store in the order they were stored and commits its
//! alerts, its state and how far it got in one transaction: after a crash it resumes where the
//! last commit ended, so no activity is evaluated twice and no alert is lost or raised twice.

pub mod anomaly;
pub mod app_policy;
mod engine;
mod event;
pub mod file_policy;
mod geo;
mod incident;
mod matcher;
mod packed;
mod partition;
pub mod policy;
mod rule;
mod runner;
pub mod sigma;
mod state;
mod window;

pub use engine::{DetectConfig, DetectError, Engine};
pub use event::Event;
pub use incident::{Finding, Hit};
pub use matcher::matches;
pub use partition::{Partition, PartitionBy, Partitioning};
pub use policy::{ActivityPolicy, PolicyConfig, PolicyError};
pub use rule::{BUILT_IN_GROUPS, CATEGORIES, GroupMembers, Mode, Rule, Scope};
pub use runner::{
    BATCH, Detector, Progress, backtest, load_app_policies, load_file_policies, load_policies,
    load_sigma, load_stored,
};
