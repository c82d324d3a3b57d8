//! Connecting a Microsoft 365 tenant, in the steps Defender for Cloud Apps uses: credentials and
//! cloud → components → connect (a connection test against Microsoft) → result; then editing,
//! testing again, pausing, resuming and disconnecting. Changes are for administrators; everyone
//! signed in may look.
//!
//! A credential goes from the form straight into the sealer: it is never rendered back (the edit
//! form leaves it blank, meaning "keep"), never logged and never in an audit entry.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use skylight_m365::config::{Credential, Secret, TenantConfig};
use skylight_m365::connect::ConnectionTest;
use skylight_m365::health::{self, JudgedStatus};
use skylight_model::{ConnectorState, ContentType, DirectorySyncStatus};
use skylight_store::{ConnectorPhase, CredentialKind, StoredConnector};

use super::{Chrome, ConsoleError, enc, render, see_other, when};
use crate::AppState;
use crate::alerts::{Refusal, blocking};
use crate::auth::{Principal, audit};
use crate::connect::{ConnectKit, valid_name};

/// The clouds, as the form offers them: (value, label).
const CLOUDS: &[(&str, &str)] = &[
    ("commercial", "Commercial"),
    ("gcc", "GCC"),
    ("gcc-high", "GCC High"),
    ("dod", "DoD"),
    ("china", "Operated by 21Vianet"),
];

fn kit(state: &AppState) -> Result<Arc<ConnectKit>, Refusal> {
    state.connect.clone().ok_or_else(|| {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server cannot connect tenants: start it with `skylight serve` (it keeps the key that seals connector credentials)",
        )
    })
}

fn not_found(name: &str) -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        format!("no connector {name}: see Connected apps"),
    )
}

async fn stored(state: &AppState, name: &str) -> Result<StoredConnector, Refusal> {
    let wanted = name.to_owned();
    blocking(state, move |s| {
        Ok(s.connectors()?.into_iter().find(|c| c.name == wanted))
    })
    .await?
    .ok_or_else(|| not_found(name))
}

async fn save(state: &AppState, c: StoredConnector) -> Result<(), Refusal> {
    blocking(state, move |s| s.put_connector(&c)).await
}

/// The credentials step's fields, as posted (and shown again, credential fields excepted).
#[derive(Deserialize, Default)]
pub(super) struct CredentialsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    cloud: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    certificate_pem: String,
    #[serde(default)]
    private_key_pem: String,
    #[serde(default)]
    login_url: String,
    #[serde(default)]
    manage_url: String,
    #[serde(default)]
    graph_url: String,
}

impl CredentialsForm {
    fn of(c: &StoredConnector) -> CredentialsForm {
        CredentialsForm {
            name: c.name.clone(),
            tenant_id: c.tenant_id.clone(),
            client_id: c.client_id.clone(),
            cloud: c.cloud.clone(),
            kind: c.credential_kind.as_str().to_owned(),
            certificate_pem: c.certificate_pem.clone().unwrap_or_default(),
            login_url: c.login_url.clone().unwrap_or_default(),
            manage_url: c.manage_url.clone().unwrap_or_default(),
            graph_url: c.graph_url.clone().unwrap_or_default(),
            ..CredentialsForm::default()
        }
    }

    /// The credential typed into the form, if one was.
    fn credential(&self) -> Result<Option<(CredentialKind, Credential, String)>, String> {
        match self.kind.as_str() {
            "certificate" => {
                let (cert, key) = (self.certificate_pem.trim(), self.private_key_pem.trim());
                if key.is_empty() {
                    return Ok(None);
                }
                if cert.is_empty() {
                    return Err(
                        "Certificate: paste the certificate (PEM) that goes with the private key"
                            .into(),
                    );
                }
                Ok(Some((
                    CredentialKind::Certificate,
                    Credential::Certificate {
                        certificate_pem: cert.to_owned(),
                        private_key: Secret::new(key),
                    },
                    key.to_owned(),
                )))
            }
            "secret" | "" => {
                let secret = self.secret.trim();
                if secret.is_empty() {
                    return Ok(None);
                }
                Ok(Some((
                    CredentialKind::Secret,
                    Credential::Secret(Secret::new(secret)),
                    secret.to_owned(),
                )))
            }
            other => Err(format!(
                "Credential: `{other}` is neither secret nor certificate"
            )),
        }
    }
}

fn optional(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

#[derive(Template)]
#[template(path = "connect_credentials.html")]
struct CredentialsPage {
    chrome: Chrome,
    form: CredentialsForm,
    /// The connector's name when editing one (the name cannot change).
    editing: Option<String>,
    /// Whether a credential is stored already (blank fields keep it).
    has_credential: bool,
    clouds: &'static [(&'static str, &'static str)],
    problems: Vec<String>,
}

fn credentials_page(
    state: &AppState,
    who: &Principal,
    form: CredentialsForm,
    editing: Option<&StoredConnector>,
    problems: Vec<String>,
) -> Response {
    let title = match editing {
        Some(c) => format!("Credentials of {}", c.name),
        None => "Connect Microsoft 365".to_owned(),
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = CredentialsPage {
        chrome: Chrome::new(state, who, "connectors", title, false),
        form,
        editing: editing.map(|c| c.name.clone()),
        has_credential: editing.is_some_and(|c| !c.sealed_credential.is_empty()),
        clouds: CLOUDS,
        problems,
    };
    (status, render(&page)).into_response()
}

/// Step 1: the app registration's identifiers, its credential and the cloud.
pub(super) async fn new_form(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ConsoleError> {
    kit(&state)?;
    let form = CredentialsForm {
        cloud: "commercial".into(),
        kind: "secret".into(),
        ..CredentialsForm::default()
    };
    Ok(credentials_page(&state, &who, form, None, Vec::new()))
}

/// Checks a connector the way the collectors will read it; the problems, one per line.
fn check(c: &StoredConnector, credential: Credential) -> Vec<String> {
    match TenantConfig::from_spec(skylight_m365::stored::spec(c, credential)) {
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    }
}

/// Saves step 1 of a new connector as a draft, then asks for its components.
pub(super) async fn create(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Form(mut form): Form<CredentialsForm>,
) -> Result<Response, ConsoleError> {
    let kit = kit(&state)?;
    form.name = form.name.trim().to_ascii_lowercase();
    let name = form.name.clone();
    let mut problems = Vec::new();
    if !valid_name(&name) {
        problems.push(
            "Name: 1 to 32 lowercase letters, digits and hyphens (e.g. contoso or contoso-eu)"
                .to_owned(),
        );
    }
    let taken = {
        let wanted = name.clone();
        blocking(&state, move |s| {
            Ok(s.connectors()?.iter().any(|c| c.name == wanted))
        })
        .await?
    };
    if taken
        || kit
            .file_tenants
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&name))
    {
        problems.push(format!(
            "Name: a connector named {name} exists already; choose another name"
        ));
    }
    let credential = match form.credential() {
        Ok(Some(c)) => Some(c),
        Ok(None) => {
            problems.push(if form.kind == "certificate" {
                "Private key: paste the certificate's private key (PEM)".to_owned()
            } else {
                "Client secret: enter the app registration's client secret value".to_owned()
            });
            None
        }
        Err(p) => {
            problems.push(p);
            None
        }
    };
    let now = Utc::now();
    let mut connector = StoredConnector {
        name: name.clone(),
        tenant_id: form.tenant_id.trim().to_owned(),
        client_id: form.client_id.trim().to_owned(),
        cloud: form.cloud.trim().to_owned(),
        credential_kind: CredentialKind::Secret,
        certificate_pem: None,
        sealed_credential: Vec::new(),
        login_url: optional(&form.login_url),
        manage_url: optional(&form.manage_url),
        graph_url: optional(&form.graph_url),
        activities: true,
        files: false,
        content_types: ContentType::ALL.to_vec(),
        phase: ConnectorPhase::Draft,
        last_test: None,
        created_at: now,
        updated_at: now,
        updated_by: who.actor.clone(),
    };
    if let Some((kind, credential, _)) = &credential {
        connector.credential_kind = *kind;
        if let Credential::Certificate {
            certificate_pem, ..
        } = credential
        {
            connector.certificate_pem = Some(certificate_pem.clone());
        }
        if problems.is_empty() {
            problems.extend(check(&connector, credential.clone()));
        }
    }
    let Some((_, _, secret)) = credential.filter(|_| problems.is_empty()) else {
        return Ok(credentials_page(&state, &who, form, None, problems));
    };
    connector.sealed_credential = kit
        .sealer
        .seal(&name, secret.as_bytes())
        .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let detail = format!(
        "tenant {}, client {}, {} credential, cloud {}",
        connector.tenant_id,
        connector.client_id,
        connector.credential_kind.as_str(),
        connector.cloud
    );
    save(&state, connector).await?;
    audit(
        &state,
        &who,
        "connector.create",
        Some(name.clone()),
        Some(detail),
    )
    .await;
    Ok(see_other(&format!("/connectors/{}/components", enc(&name))))
}

/// Step 1 again for a connector: its identifiers, cloud and (blank: kept) credential.
pub(super) async fn credentials_form(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, ConsoleError> {
    kit(&state)?;
    let c = stored(&state, &name).await?;
    Ok(credentials_page(
        &state,
        &who,
        CredentialsForm::of(&c),
        Some(&c),
        Vec::new(),
    ))
}

/// Saves a connector's changed identifiers, cloud or credential. A changed connector must pass
/// a connection test again before the result page calls it connected.
pub(super) async fn update_credentials(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    Form(mut form): Form<CredentialsForm>,
) -> Result<Response, ConsoleError> {
    let kit = kit(&state)?;
    let old = stored(&state, &name).await?;
    form.name = old.name.clone();
    let mut c = old.clone();
    c.tenant_id = form.tenant_id.trim().to_owned();
    c.client_id = form.client_id.trim().to_owned();
    c.cloud = form.cloud.trim().to_owned();
    c.login_url = optional(&form.login_url);
    c.manage_url = optional(&form.manage_url);
    c.graph_url = optional(&form.graph_url);
    let mut problems = Vec::new();
    let typed = form.credential().unwrap_or_else(|p| {
        problems.push(p);
        None
    });
    let credential = match typed {
        Some((kind, credential, secret)) => {
            c.credential_kind = kind;
            c.certificate_pem = match &credential {
                Credential::Certificate {
                    certificate_pem, ..
                } => Some(certificate_pem.clone()),
                Credential::Secret(_) => None,
            };
            c.sealed_credential = kit
                .sealer
                .seal(&c.name, secret.as_bytes())
                .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            Some(credential)
        }
        None if form.kind != old.credential_kind.as_str() => {
            problems.push("Credential: enter the new credential to change its kind".to_owned());
            None
        }
        None => match skylight_m365::stored::credential(&old, &kit.sealer) {
            Ok(credential) => {
                if let Credential::Certificate { private_key, .. } = credential {
                    // A new certificate may come with the old key (a renewed certificate).
                    let pem = form.certificate_pem.trim().to_owned();
                    c.certificate_pem = Some(pem.clone());
                    Some(Credential::Certificate {
                        certificate_pem: pem,
                        private_key,
                    })
                } else {
                    Some(credential)
                }
            }
            Err(why) => {
                problems.push(format!("Credential: {why}"));
                None
            }
        },
    };
    if let Some(credential) = credential {
        problems.extend(check(&c, credential));
    }
    if !problems.is_empty() {
        return Ok(credentials_page(&state, &who, form, Some(&old), problems));
    }
    c.last_test = None;
    c.updated_at = Utc::now();
    c.updated_by = who.actor.clone();
    let draft = c.phase == ConnectorPhase::Draft;
    let detail = format!(
        "tenant {}, client {}, {} credential{}, cloud {}",
        c.tenant_id,
        c.client_id,
        c.credential_kind.as_str(),
        if c.sealed_credential != old.sealed_credential {
            " (replaced)"
        } else {
            ""
        },
        c.cloud
    );
    save(&state, c).await?;
    audit(
        &state,
        &who,
        "connector.update",
        Some(name.clone()),
        Some(detail),
    )
    .await;
    Ok(see_other(&if draft {
        format!("/connectors/{}/components", enc(&name))
    } else {
        format!("/connectors/{}?changed=1", enc(&name))
    }))
}

/// One content type's checkbox.
struct TypeChoice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "connect_components.html")]
struct ComponentsPage {
    chrome: Chrome,
    name: String,
    draft: bool,
    activities: bool,
    files: bool,
    types: Vec<TypeChoice>,
    problems: Vec<String>,
}

fn type_label(ct: ContentType) -> &'static str {
    match ct {
        ContentType::AzureActiveDirectory => "Entra ID sign-ins and directory changes",
        ContentType::Exchange => "Exchange admin and mailbox activity",
        ContentType::SharePoint => "SharePoint and OneDrive activity",
        ContentType::General => {
            "Everything else: Teams, Power BI, Dynamics 365, Power Automate, Forms, Stream, Viva Engage, Copilot…"
        }
        ContentType::Dlp => "Data loss prevention events",
    }
}

fn components_page(
    state: &AppState,
    who: &Principal,
    c: &StoredConnector,
    problems: Vec<String>,
) -> Response {
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = ComponentsPage {
        chrome: Chrome::new(
            state,
            who,
            "connectors",
            format!("Components of {}", c.name),
            false,
        ),
        name: c.name.clone(),
        draft: c.phase == ConnectorPhase::Draft,
        activities: c.activities,
        files: c.files,
        types: ContentType::ALL
            .iter()
            .map(|ct| TypeChoice {
                value: ct.as_str(),
                label: type_label(*ct),
                checked: c.content_types.contains(ct),
            })
            .collect(),
        problems,
    };
    (status, render(&page)).into_response()
}

/// Step 2: what is collected.
pub(super) async fn components_form(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, ConsoleError> {
    let c = stored(&state, &name).await?;
    Ok(components_page(&state, &who, &c, Vec::new()))
}

/// Saves the components; a draft goes on to the connect step.
pub(super) async fn save_components(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let kit = kit(&state)?;
    let mut c = stored(&state, &name).await?;
    let mut problems = Vec::new();
    let (mut activities, mut files, mut types) = (false, false, Vec::new());
    for (k, v) in form_urlencoded::parse(&body) {
        match &*k {
            "activities" => activities = true,
            "files" => files = true,
            "ct" => match ContentType::parse(&v) {
                Some(ct) if !types.contains(&ct) => types.push(ct),
                Some(_) => {}
                None => problems.push(format!("Content types: unknown content type {v}")),
            },
            _ => {}
        }
    }
    if !activities {
        problems.push("Activities: Skylight needs the activities component (the files component builds on it)".to_owned());
    }
    if activities && types.is_empty() {
        problems.push("Content types: choose at least one".to_owned());
    }
    // Keep the order of the API's list, whatever order the form sent.
    types.sort_by_key(|t| ContentType::ALL.iter().position(|a| a == t));
    c.activities = activities;
    c.files = files;
    c.content_types = types;
    if problems.is_empty() {
        match skylight_m365::stored::credential(&c, &kit.sealer) {
            Ok(credential) => problems.extend(check(&c, credential)),
            Err(why) => problems.push(format!("Credential: {why}")),
        }
    }
    if !problems.is_empty() {
        return Ok(components_page(&state, &who, &c, problems));
    }
    c.updated_at = Utc::now();
    c.updated_by = who.actor.clone();
    let draft = c.phase == ConnectorPhase::Draft;
    let detail = format!(
        "activities{} ({})",
        if c.files { " and files" } else { "" },
        c.content_types
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    save(&state, c).await?;
    audit(
        &state,
        &who,
        "connector.components",
        Some(name.clone()),
        Some(detail),
    )
    .await;
    Ok(see_other(&if draft {
        format!("/connectors/{}/connect", enc(&name))
    } else {
        format!("/connectors/{}", enc(&name))
    }))
}

#[derive(Template)]
#[template(path = "connect_review.html")]
struct ReviewPage {
    chrome: Chrome,
    c: StoredConnector,
    components: String,
}

fn components_text(c: &StoredConnector) -> String {
    let types = c
        .content_types
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if c.files {
        format!("activities ({types}) and files")
    } else {
        format!("activities ({types})")
    }
}

/// Step 3: what will be connected, and the Connect button.
pub(super) async fn review(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, ConsoleError> {
    let c = stored(&state, &name).await?;
    let page = ReviewPage {
        chrome: Chrome::new(
            &state,
            &who,
            "connectors",
            format!("Connect {}", c.name),
            false,
        ),
        components: components_text(&c),
        c,
    };
    Ok(render(&page))
}

/// Tests the connection (sign-in, the Management Activity API, Microsoft Graph); a draft that
/// passes becomes active and is collected from then on. The result page shows each step.
pub(super) async fn connect(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, ConsoleError> {
    let kit = kit(&state)?;
    let mut c = stored(&state, &name).await?;
    let test = match skylight_m365::stored::tenant_config(&c, &kit.sealer) {
        Ok(tenant) => skylight_m365::connect::test_connection(kit.http.clone(), &tenant).await,
        Err(why) => ConnectionTest {
            steps: vec![skylight_m365::connect::TestStep {
                name: "Read the connector's settings and credential".into(),
                ok: false,
                detail: why,
                remediation: Some("Edit the credentials and enter them again.".into()),
            }],
            at: Utc::now(),
        },
    };
    let ok = test.ok();
    c.last_test = serde_json::to_string(&test).ok();
    if ok && c.phase == ConnectorPhase::Draft {
        c.phase = ConnectorPhase::Active;
    }
    c.updated_at = Utc::now();
    c.updated_by = who.actor.clone();
    let outcome = if ok {
        "connection test passed".to_owned()
    } else {
        let step = test
            .steps
            .iter()
            .find(|s| !s.ok)
            .map_or("", |s| s.name.as_str());
        format!("connection test failed: {step}")
    };
    let phase = c.phase;
    save(&state, c).await?;
    audit(
        &state,
        &who,
        "connector.connect",
        Some(name.clone()),
        Some(format!("{outcome}; {}", phase.as_str())),
    )
    .await;
    Ok(see_other(&format!("/connectors/{}", enc(&name))))
}

/// Pauses or resumes collection.
pub(super) async fn set_paused(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path((name, verb)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    let mut c = stored(&state, &name).await?;
    c.phase = match (verb.as_str(), c.phase) {
        ("pause", ConnectorPhase::Active) => ConnectorPhase::Paused,
        ("resume", ConnectorPhase::Paused) => ConnectorPhase::Active,
        ("pause" | "resume", _) => {
            return Err(Refusal::new(
                StatusCode::CONFLICT,
                format!("{name} is {}: only a connected connector pauses, and only a paused one resumes", c.phase.as_str()),
            )
            .into());
        }
        _ => return Err(not_found(&name).into()),
    };
    c.updated_at = Utc::now();
    c.updated_by = who.actor.clone();
    save(&state, c).await?;
    audit(
        &state,
        &who,
        &format!("connector.{verb}"),
        Some(name.clone()),
        None,
    )
    .await;
    Ok(see_other(&format!("/connectors/{}", enc(&name))))
}

#[derive(Template)]
#[template(path = "connect_disconnect.html")]
struct DisconnectPage {
    chrome: Chrome,
    name: String,
    tenant_id: String,
}

/// Asks before disconnecting.
pub(super) async fn disconnect_form(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, ConsoleError> {
    let c = stored(&state, &name).await?;
    let page = DisconnectPage {
        chrome: Chrome::new(
            &state,
            &who,
            "connectors",
            format!("Disconnect {}", c.name),
            false,
        ),
        name: c.name,
        tenant_id: c.tenant_id,
    };
    Ok(render(&page))
}

/// Disconnects: the connector and its sealed credential are deleted; what it collected stays.
pub(super) async fn disconnect(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, ConsoleError> {
    let wanted = name.clone();
    if !blocking(&state, move |s| s.delete_connector(&wanted)).await? {
        return Err(not_found(&name).into());
    }
    audit(
        &state,
        &who,
        "connector.disconnect",
        Some(name.clone()),
        None,
    )
    .await;
    Ok(see_other(&format!(
        "/connectors?disconnected={}",
        enc(&name)
    )))
}

/// A connector's overall state, as the list and its page show it: (label, CSS class).
pub(super) fn overall(
    phase: Option<ConnectorPhase>,
    test: Option<&ConnectionTest>,
    statuses: &[&JudgedStatus],
) -> (&'static str, &'static str) {
    match phase {
        Some(ConnectorPhase::Draft) => ("not connected", ""),
        Some(ConnectorPhase::Paused) => ("paused", ""),
        // Its statuses, errors included, say what was true when a collector last wrote them.
        _ if statuses.iter().any(|j| j.stalled()) => ("stalled", "error"),
        _ if statuses.iter().any(|j| {
            j.expected == health::Expected::Collecting && j.status.state == ConnectorState::Error
        }) =>
        {
            ("error", "error")
        }
        _ if test.is_some_and(|t| !t.ok()) => ("error", "error"),
        _ => ("connected", "ok"),
    }
}

#[derive(Template)]
#[template(path = "connector.html")]
struct ConnectorPage {
    chrome: Chrome,
    /// The stored connector; `None` for one written in the configuration file.
    c: Option<StoredConnector>,
    components: String,
    state: (&'static str, &'static str),
    test: Option<ConnectionTest>,
    tested_at: String,
    rows: Vec<super::connectors::StatusRow>,
    /// What collection did with each day's content.
    ledger: super::ledger::LedgerView,
    directory: Option<DirectorySyncStatus>,
    directory_at: String,
    changed: bool,
}

/// A connector: its settings, its last connection test step by step (the wizard's result), its
/// collection per content type and directory sync, and what can be done with it.
pub(super) async fn page(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, ConsoleError> {
    let wanted = name.clone();
    let now = Utc::now();
    let files = crate::connect::file_tenants(&state);
    let (stored, statuses, directory, ledger) = blocking(&state, move |s| {
        let ledger = health::ledger(s, now, health::LEDGER_DAYS, Some(&wanted))?;
        Ok((
            s.connectors()?.into_iter().find(|c| c.name == wanted),
            health::judge_all(s, now, &files)?,
            s.directory_statuses()?,
            ledger,
        ))
    })
    .await?;
    let in_file = state
        .connect
        .as_ref()
        .is_some_and(|k| k.file_tenants.contains(&name));
    let mine: Vec<&JudgedStatus> = statuses
        .iter()
        .filter(|j| j.status.tenant == name)
        .collect();
    if stored.is_none() && !in_file && mine.is_empty() {
        return Err(not_found(&name).into());
    }
    let test: Option<ConnectionTest> = stored
        .as_ref()
        .and_then(|c| c.last_test.as_deref())
        .and_then(|t| serde_json::from_str(t).ok());
    let state_label = overall(stored.as_ref().map(|c| c.phase), test.as_ref(), &mine);
    let rows = super::connectors::status_rows(mine.into_iter().cloned().collect());
    let directory = directory.into_iter().find(|d| d.tenant == name);
    let ledger = super::ledger::ledger_view(&ledger.0, ledger.1);
    let page = ConnectorPage {
        chrome: Chrome::new(
            &state,
            &who,
            "connectors",
            format!("Connector {name}"),
            false,
        ),
        components: stored.as_ref().map(components_text).unwrap_or_default(),
        state: state_label,
        tested_at: when(test.as_ref().map(|t| t.at)),
        test,
        rows,
        ledger,
        directory_at: when(directory.as_ref().map(|d| d.last_attempt)),
        directory,
        changed: super::param(raw.as_deref().unwrap_or(""), "changed") == "1",
        c: stored,
    };
    Ok(render(&page))
}
