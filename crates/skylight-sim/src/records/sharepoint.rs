//! SharePoint Online and OneDrive records.
use super::RecordCtx;
use crate::rng::Rng;
use serde_json::{Map, Value};
pub(super) fn base(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn file(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn sharing(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn list(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
