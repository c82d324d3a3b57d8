//! Activities as CSV, one layout for the CLI (`--format csv`) and the console's export.
//!
//! Audit data carries attacker-chosen text (a failed sign-in's user name, a file name): a cell
//! that a spreadsheet would run as a formula is prefixed with `'` (numbers stay numbers).

use skylight_model::{ActivityRow, Category, Outcome};

/// The header line (without its line break).
pub const CSV_HEADER: &str = "id,time,tenant,app,record_type,workload,operation,category,user,actor_kind,ip,country,isp,ip_tags,result,admin,external_user,impersonated,user_agent,device_type,client_app,os";

/// A CSV cell: quoted when it holds a separator, a quote or a line break; never a formula.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err() {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn result_name(o: Option<Outcome>) -> &'static str {
    match o {
        Some(Outcome::Success) => "success",
        Some(Outcome::Failure) => "failure",
        _ => "unknown",
    }
}

/// One activity as a CSV line (without its line break), in [`CSV_HEADER`]'s order.
pub fn csv_line(r: &ActivityRow) -> String {
    let time = r
        .time
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    let fields = [
        r.id.clone(),
        time,
        r.tenant.clone(),
        r.app.map_or("", |a| a.as_str()).to_owned(),
        r.record_type.map(|n| n.to_string()).unwrap_or_default(),
        r.workload.clone().unwrap_or_default(),
        r.operation.clone().unwrap_or_default(),
        r.category.map_or("", Category::as_str).to_owned(),
        r.user.clone().unwrap_or_default(),
        r.actor_kind
            .map(|k| format!("{k:?}").to_lowercase())
            .unwrap_or_default(),
        r.ip.clone().unwrap_or_default(),
        r.country.clone().unwrap_or_default(),
        r.isp.clone().unwrap_or_default(),
        r.ip_tags.clone().unwrap_or_default(),
        result_name(r.result).to_owned(),
        r.admin.to_string(),
        r.external_user.to_string(),
        r.impersonated.to_string(),
        r.user_agent.clone().unwrap_or_default(),
        r.device_type.clone().unwrap_or_default(),
        r.client_app.clone().unwrap_or_default(),
        r.os.clone().unwrap_or_default(),
    ];
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@SUM(1)"), "'@SUM(1)");
        assert_eq!(csv_field("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
        assert_eq!(csv_field("\tx"), "'\tx");
        assert_eq!(csv_field("-1"), "-1", "a number stays a number");
        assert_eq!(csv_field("-cmd"), "'-cmd");
    }
}
