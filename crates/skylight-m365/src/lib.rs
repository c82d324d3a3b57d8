//! Skylight's Microsoft 365 connector: configuration, the identity platform (client secret and
//! certificate credentials), the Office 365 Management Activity API collector, and Microsoft
//! Graph: directory and app sync and the governance calls.
//!
//! It is written from Microsoft's published contract and shares nothing with the simulator.

pub mod activity;
pub mod auth;
pub mod cloud;
pub mod collector;
pub mod config;
pub mod graph;
pub mod import;
pub mod remediation;
pub mod split;
