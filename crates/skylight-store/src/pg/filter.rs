//! The activity log's filter as a PostgreSQL WHERE clause, condition by condition as the SQLite
//! backend builds it (`sqlite/query.rs`), so that both select the same rows.
//!
//! Every value is a bind parameter; the SQL text holds only column names and operators. Text
//! compares ignore ASCII case only, on both sides: the columns are `COLLATE "C"` (whose `lower()`
//! folds A–Z and nothing else) and values are lowered with `to_ascii_lowercase`. Free text
//! (`text~…`) is left to the caller, which checks it on the raw records.

use postgres::types::ToSql;
use skylight_model::filter::{Condition, Field, Test, Value};

use crate::{ActivityQuery, codes};

/// A bind parameter of a clause.
pub(super) type Param = Box<dyn ToSql + Sync + Send>;

/// A WHERE clause under construction: ` AND …` parts and their parameters.
#[derive(Default)]
pub(super) struct Clause {
    /// The conditions, each starting with ` AND `.
    pub sql: String,
    /// Parameters, `$1` first.
    pub params: Vec<Param>,
}

impl Clause {
    /// Adds a parameter; its placeholder.
    pub fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    /// Adds a condition.
    pub fn and(&mut self, sql: &str) {
        self.sql.push_str(" AND ");
        self.sql.push_str(sql);
    }

    /// The parameters, as the client takes them.
    pub fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The column of a field the log keeps as text (`r` is `records`).
pub(super) fn text_column(f: Field) -> Option<&'static str> {
    match f {
        Field::User => Some("r.user_id"),
        Field::Operation => Some("r.operation"),
        Field::Workload => Some("r.workload"),
        Field::UserAgent => Some("r.user_agent"),
        Field::Ip => Some("r.client_ip"),
        Field::Country => Some("r.country"),
        Field::Isp => Some("r.isp"),
        Field::IpTag => Some("r.ip_tags"),
        Field::DeviceType => Some("r.device_type"),
        Field::ClientApp => Some("r.client_app"),
        Field::Os => Some("r.os"),
        _ => None,
    }
}

fn code_of(v: &Value) -> Option<i64> {
    Some(match v {
        Value::App(a) => codes::app(*a),
        Value::Category(c) => codes::category(*c),
        Value::Outcome(o) => codes::outcome(*o),
        Value::ActorKind(k) => codes::actor_kind(*k),
        Value::Number(n) => *n,
        _ => return None,
    })
}

/// The text values of a condition, lowered as stored values are compared.
fn lowered_texts(vs: &[Value]) -> Vec<String> {
    vs.iter()
        .filter_map(|v| match v {
            Value::Text(t) => Some(t.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// The WHERE conditions of a query (` AND …`, after a `WHERE true`), and the free-text words
/// checked on raw records.
pub(super) fn clause(q: &ActivityQuery) -> (Clause, Vec<String>) {
    let mut w = Clause::default();
    if let Some(t) = &q.tenant {
        let p = w.bind(t.clone());
        w.and(&format!(
            "r.tenant_id = (SELECT id FROM tenants WHERE name = {p})"
        ));
    }
    for c in &q.filter.conditions {
        condition(c, &mut w);
    }
    let words = q
        .filter
        .conditions
        .iter()
        .filter_map(|c| match (&c.field, &c.test) {
            (Field::Text, Test::Contains(t)) => Some(t.to_lowercase()),
            _ => None,
        })
        .collect();
    (w, words)
}

/// `positive` when the test is any-of, the rows it leaves out (NULL included) when none-of.
fn any_or_none(negate: bool, col: &str, positive: &str) -> String {
    if negate {
        format!("({col} IS NULL OR NOT ({positive}))")
    } else {
        positive.to_owned()
    }
}

fn condition(c: &Condition, w: &mut Clause) {
    let f = c.field;
    if f == Field::Group {
        if let Test::AnyOf(vs) | Test::NoneOf(vs) = &c.test {
            let names = w.bind(lowered_texts(vs));
            // The users of the named groups and of every group nested in them (any tenant's,
            // as in SQLite), by UPN.
            let members = format!(
                "(WITH RECURSIVE reach(tenant, id) AS ( \
                 SELECT m.tenant, m.member_id FROM group_members m JOIN directory_groups g \
                 ON g.tenant = m.tenant AND g.id = m.group_id \
                 WHERE lower(g.display_name COLLATE \"C\") = ANY({names}::text[]) \
                 OR lower(g.id COLLATE \"C\") = ANY({names}::text[]) \
                 UNION SELECT m.tenant, m.member_id FROM group_members m \
                 JOIN reach ON m.tenant = reach.tenant AND m.group_id = reach.id) \
                 SELECT lower(u.upn COLLATE \"C\") FROM directory_users u JOIN reach \
                 ON u.tenant = reach.tenant AND u.id = reach.id WHERE u.upn IS NOT NULL)"
            );
            let positive = format!("lower(r.user_id) IN {members}");
            w.and(&any_or_none(
                matches!(c.test, Test::NoneOf(_)),
                "r.user_id",
                &positive,
            ));
        }
        return;
    }
    if let Some(col) = text_column(f) {
        match &c.test {
            Test::IsSet => w.and(&format!("{col} IS NOT NULL")),
            Test::NotSet => w.and(&format!("{col} IS NULL")),
            Test::Contains(t) => {
                let p = w.bind(t.to_ascii_lowercase());
                w.and(&format!("strpos(lower({col}), {p}) > 0"));
            }
            Test::AnyOf(vs) | Test::NoneOf(vs) => {
                let negate = matches!(c.test, Test::NoneOf(_));
                let positive = if f == Field::Ip {
                    ip_match(vs, w)
                } else if f == Field::IpTag {
                    // One of the `|`-separated parts of the stored tags.
                    let parts: Vec<String> =
                        lowered_texts(vs).iter().map(|t| format!("|{t}|")).collect();
                    let p = w.bind(parts);
                    format!(
                        "EXISTS (SELECT 1 FROM unnest({p}::text[]) AS t(part) \
                         WHERE strpos('|' || lower({col}) || '|', t.part) > 0)"
                    )
                } else {
                    let p = w.bind(lowered_texts(vs));
                    format!("lower({col}) = ANY({p}::text[])")
                };
                w.and(&any_or_none(negate, col, &positive));
            }
            _ => {}
        }
        return;
    }
    let col = match f {
        Field::App => "r.app",
        Field::Category => "r.category",
        Field::RecordType => "r.record_type",
        Field::Asn => "r.asn",
        Field::Result => "r.outcome",
        Field::ActorKind => "r.actor_kind",
        Field::Time => "r.creation_ms",
        Field::Admin => "((r.flags & 1) <> 0)::int",
        Field::External => "((r.flags & 2) <> 0)::int",
        Field::Impersonated => "((r.flags & 4) <> 0)::int",
        _ => return, // free text: checked on the raw records
    };
    match &c.test {
        Test::IsSet => w.and(&format!("{col} IS NOT NULL")),
        Test::NotSet => w.and(&format!("{col} IS NULL")),
        Test::TimeRange(from, to) => {
            if let Some(t) = from {
                let p = w.bind(t.timestamp_millis());
                w.and(&format!("r.creation_ms >= {p}"));
            }
            if let Some(t) = to {
                let p = w.bind(t.timestamp_millis());
                w.and(&format!("r.creation_ms < {p}"));
            }
        }
        Test::NumberRange(lo, hi) => {
            if let Some(n) = lo {
                let p = w.bind(*n);
                w.and(&format!("{col} >= {p}::int8"));
            }
            if let Some(n) = hi {
                let p = w.bind(*n);
                w.and(&format!("{col} <= {p}::int8"));
            }
        }
        Test::AnyOf(vs) | Test::NoneOf(vs) => {
            let negate = matches!(c.test, Test::NoneOf(_));
            if let [Value::Flag(want)] = vs.as_slice() {
                let yes = *want != negate;
                w.and(&format!("{col} = {}", i32::from(yes)));
                return;
            }
            let values: Vec<i64> = vs.iter().filter_map(code_of).collect();
            let p = w.bind(values);
            w.and(&any_or_none(
                negate,
                col,
                &format!("{col} = ANY({p}::int8[])"),
            ));
        }
        Test::Contains(_) => {}
    }
}

/// The test of an `ip` condition: addresses by their text (the canonical form, as SQLite keeps
/// them, inline or in its dictionary), blocks by the stored address.
fn ip_match(vs: &[Value], w: &mut Clause) -> String {
    let (blocks, addresses) = crate::ip_blocks::ip_blocks(vs);
    if addresses {
        let texts: Vec<String> = blocks
            .iter()
            .map(|(ip, _)| ip.to_canonical().to_string().to_ascii_lowercase())
            .collect();
        let p = w.bind(texts);
        format!("lower(r.client_ip) = ANY({p}::text[])")
    } else {
        let nets: Vec<String> = blocks.iter().map(|(ip, b)| format!("{ip}/{b}")).collect();
        let p = w.bind(nets);
        // `<<=` compares the block's first `bits` bits, of the same family only, as SQLite's
        // `in_block` does; a client_ip that is not an address (ip NULL) is in no block.
        format!("coalesce(r.ip <<= ANY({p}::text[]::inet[]), false)")
    }
}
