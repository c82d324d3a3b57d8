//! Records of the other workloads (Audit.General and DLP.All).
use super::RecordCtx;
use crate::rng::Rng;
use serde_json::{Map, Value};
pub(super) fn teams(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn power_bi(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn crm(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn dlp(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn compliance_alert(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn forms(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn stream(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn yammer(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn threat_intelligence(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn quarantine(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn generic(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
