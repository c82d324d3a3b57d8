//! Microsoft Entra ID records: directory changes and sign-ins.
use super::RecordCtx;
use crate::rng::Rng;
use serde_json::{Map, Value};
pub(super) fn directory(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn sts_logon(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
pub(super) fn account_logon(_: &RecordCtx<'_>, _: &mut Rng, _: &mut Map<String, Value>) {}
