//! Attack scenarios: records injected into the feed, each incident with its users, window and
//! record Ids as ground truth.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use crate::catalog;
use crate::config::{Scenario, SimConfig};
use crate::feed::Feed;
use crate::feed::ids::BlobKey;
use crate::records::{self, RecordCtx, agents};
use crate::rng::{Rng, guid, hash, hash_str};
use crate::tenant::geo::{self, ANONYMOUS_BLOCKS, COUNTRIES, HOSTING_BLOCKS};
use crate::tenant::{Tenant, User, UserKind};

/// One injected incident.
#[derive(Debug, Clone)]
pub struct Incident {
    /// Scenario name.
    pub scenario: Scenario,
    /// UPNs of the users involved (victims or actors).
    pub users: Vec<String>,
    /// First record's time.
    pub start: DateTime<Utc>,
    /// Last record's time.
    pub end: DateTime<Utc>,
    /// The records that make it: where each lives and its Id.
    pub records: Vec<(BlobKey, String)>,
}

struct Injector<'a> {
    seed: u64,
    tenant: &'a Tenant,
    feed: &'a mut Feed,
    incident: Incident,
    n: u64,
}

impl Injector<'_> {
    // Who, what, when, from where and how: each record of a scenario needs all of it.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        rt: i32,
        op: &str,
        user: &User,
        time: DateTime<Utc>,
        ip: [u8; 4],
        ua: &str,
        patch: impl FnOnce(&mut Map<String, Value>),
    ) {
        let Some(info) = catalog::record_type(rt) else {
            return;
        };
        self.n += 1;
        let p = [
            self.seed,
            hash_str("incident"),
            self.incident.scenario as u64,
            self.n,
        ];
        let id = guid(hash(&p), hash(&[hash(&p), 2]));
        let ctx = RecordCtx {
            tenant: self.tenant,
            user,
            info,
            operation: op,
            id: id.clone(),
            time,
            ip,
            user_agent: ua,
        };
        let mut r = Rng::new(&[hash(&p), 3]);
        let mut rec = records::build(&ctx, &mut r);
        patch(&mut rec);
        let json = serde_json::to_vec(&rec).unwrap_or_default();
        let key = self
            .feed
            .inject(info.content_type, user.index, time, id.clone(), json);
        self.incident.start = self.incident.start.min(time);
        self.incident.end = self.incident.end.max(time);
        self.incident.records.push((key, id));
    }
}

fn ip_in(block: (u8, u8, u8), r: &mut Rng) -> [u8; 4] {
    [
        block.0,
        block.1.wrapping_add(r.below(u64::from(block.2)) as u8),
        r.below(256) as u8,
        1 + r.below(254) as u8,
    ]
}

fn ip_near(b: (u8, u8, u8, u8), r: &mut Rng) -> [u8; 4] {
    [
        b.0,
        b.1,
        b.2.wrapping_add(r.below(u64::from(b.3)) as u8),
        1 + r.below(254) as u8,
    ]
}

fn nv(pairs: &[(&str, &str)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(n, v)| json!({"Name": n, "Value": v}))
            .collect(),
    )
}

/// Plans every configured scenario into the feed and returns the incidents.
pub fn plan(
    cfg: &SimConfig,
    tenant: &Tenant,
    feed: &mut Feed,
    start: DateTime<Utc>,
) -> Vec<Incident> {
    let history = Duration::days(i64::from(cfg.days.max(1)));
    // Ordinary members who can be victims, in a seed-dependent order.
    let mut pool: Vec<&User> = tenant
        .users
        .iter()
        .filter(|u| u.kind == UserKind::Member && u.account_enabled)
        .collect();
    pool.sort_by_key(|u| hash(&[cfg.seed, hash_str("victim"), u.index as u64]));
    let mut incidents = Vec::new();
    for (i, scenario) in cfg.scenarios.0.iter().enumerate() {
        if pool.is_empty() {
            break;
        }
        let mut r = Rng::new(&[cfg.seed, hash_str("scenario"), *scenario as u64]);
        // Spread incidents over the history, at least 14 h before start-up so they are published.
        let span = (history - Duration::hours(16)).num_minutes().max(60);
        let t0 = start
            - Duration::hours(14)
            - Duration::minutes(((i as i64 * 9_973) + r.range(0, 600)) % span);
        let victim = pool[i % pool.len()];
        let admin = tenant
            .admins
            .first()
            .map(|a| &tenant.users[*a])
            .unwrap_or(victim);
        let mut inj = Injector {
            seed: cfg.seed,
            tenant,
            feed: &mut *feed,
            incident: Incident {
                scenario: *scenario,
                users: vec![victim.upn.clone()],
                start: t0,
                end: t0,
                records: Vec::new(),
            },
            n: 0,
        };
        let ua = agents::DESKTOP[victim.desktop_agent % agents::DESKTOP.len()];
        let attacker_ip = ip_near(*r.pick(HOSTING_BLOCKS), &mut r);
        match scenario {
            Scenario::ImpossibleTravel => {
                let far = COUNTRIES
                    .iter()
                    .max_by_key(|c| {
                        geo::distance_km(
                            (victim.country.city.1, victim.country.city.2),
                            (c.city.1, c.city.2),
                        ) as i64
                    })
                    .unwrap_or(&COUNTRIES[0]);
                let far_ip = ip_in(*r.pick(far.blocks), &mut r);
                inj.add(15, "UserLoggedIn", victim, t0, victim.home_ip, ua, |_| {});
                let t1 = t0 + Duration::minutes(r.range(25, 55));
                inj.add(
                    15,
                    "UserLoggedIn",
                    victim,
                    t1,
                    far_ip,
                    agents::DESKTOP[1],
                    |_| {},
                );
                inj.add(
                    6,
                    "FileAccessed",
                    victim,
                    t1 + Duration::minutes(3),
                    far_ip,
                    agents::DESKTOP[1],
                    |_| {},
                );
                inj.add(
                    6,
                    "FileDownloaded",
                    victim,
                    t1 + Duration::minutes(5),
                    far_ip,
                    agents::DESKTOP[1],
                    |_| {},
                );
            }
            Scenario::AnonymousIp => {
                let tor = ip_near(*r.pick(ANONYMOUS_BLOCKS), &mut r);
                inj.add(
                    15,
                    "UserLoggedIn",
                    victim,
                    t0,
                    tor,
                    agents::DESKTOP[4],
                    |_| {},
                );
                inj.add(
                    50,
                    "MailItemsAccessed",
                    victim,
                    t0 + Duration::minutes(4),
                    tor,
                    agents::DESKTOP[4],
                    |_| {},
                );
            }
            Scenario::BruteForce => {
                for k in 0..30 {
                    inj.add(
                        15,
                        "UserLoginFailed",
                        victim,
                        t0 + Duration::seconds(k * 17),
                        attacker_ip,
                        agents::SCRIPTED[0],
                        login_failed("50126", "InvalidUserNameOrPassword"),
                    );
                }
                inj.add(
                    15,
                    "UserLoggedIn",
                    victim,
                    t0 + Duration::seconds(30 * 17 + 5),
                    attacker_ip,
                    agents::SCRIPTED[0],
                    |_| {},
                );
            }
            Scenario::PasswordSpray => {
                let targets: Vec<&User> = pool.iter().skip(20).take(25).copied().collect();
                inj.incident.users = targets.iter().map(|u| u.upn.clone()).collect();
                for (k, u) in targets.iter().enumerate() {
                    inj.add(
                        15,
                        "UserLoginFailed",
                        u,
                        t0 + Duration::seconds(k as i64 * 41),
                        attacker_ip,
                        agents::SCRIPTED[2],
                        login_failed("50126", "InvalidUserNameOrPassword"),
                    );
                }
            }
            Scenario::MassDownload => {
                for k in 0..150 {
                    inj.add(
                        6,
                        "FileDownloaded",
                        victim,
                        t0 + Duration::seconds(k * 5),
                        victim.home_ip,
                        ua,
                        |_| {},
                    );
                }
            }
            Scenario::MassDelete => {
                for k in 0..120 {
                    inj.add(
                        6,
                        "FileDeleted",
                        victim,
                        t0 + Duration::seconds(k * 4),
                        victim.home_ip,
                        ua,
                        |_| {},
                    );
                }
            }
            Scenario::MassShare => {
                for k in 0..40 {
                    let guest = format!(
                        "drop{}@{}",
                        k % 5,
                        ["protonmail.com", "gmail.com", "yandex.ru"][k as usize % 3]
                    );
                    inj.add(
                        14,
                        "SharingSet",
                        victim,
                        t0 + Duration::seconds(k * 40),
                        victim.home_ip,
                        ua,
                        move |rec| {
                            rec.insert("TargetUserOrGroupName".into(), json!(guest));
                            rec.insert("TargetUserOrGroupType".into(), json!("Guest"));
                            rec.insert(
                                "EventData".into(),
                                json!("<Permissions granted>Read</Permissions granted>"),
                            );
                        },
                    );
                }
            }
            Scenario::Ransomware => {
                for k in 0..80 {
                    let t = t0 + Duration::seconds(k * 6);
                    inj.add(
                        6,
                        "FileModified",
                        victim,
                        t,
                        victim.home_ip,
                        agents::ONEDRIVE_SYNC,
                        |_| {},
                    );
                    inj.add(
                        6,
                        "FileRenamed",
                        victim,
                        t + Duration::seconds(2),
                        victim.home_ip,
                        agents::ONEDRIVE_SYNC,
                        |rec| {
                            let src = rec
                                .get("SourceFileName")
                                .and_then(Value::as_str)
                                .unwrap_or("file.docx")
                                .to_string();
                            rec.insert("DestinationFileName".into(), json!(format!("{src}.locky")));
                            rec.insert("DestinationFileExtension".into(), json!("locky"));
                            let rel = rec.get("SourceRelativeUrl").cloned().unwrap_or(json!(""));
                            rec.insert("DestinationRelativeUrl".into(), rel);
                        },
                    );
                }
                inj.add(
                    6,
                    "FileUploaded",
                    victim,
                    t0 + Duration::seconds(490),
                    victim.home_ip,
                    agents::ONEDRIVE_SYNC,
                    |rec| {
                        rec.insert("SourceFileName".into(), json!("README_DECRYPT_FILES.txt"));
                        rec.insert("SourceFileExtension".into(), json!("txt"));
                    },
                );
            }
            Scenario::InboxForwardRule => {
                let foreign = ip_near(*r.pick(HOSTING_BLOCKS), &mut r);
                inj.add(
                    15,
                    "UserLoggedIn",
                    victim,
                    t0,
                    foreign,
                    agents::DESKTOP[4],
                    |_| {},
                );
                inj.add(
                    1,
                    "New-InboxRule",
                    victim,
                    t0 + Duration::minutes(6),
                    foreign,
                    agents::DESKTOP[4],
                    |rec| {
                        rec.insert(
                            "Parameters".into(),
                            nv(&[
                                ("Force", "False"),
                                ("Name", "."),
                                ("SubjectOrBodyContainsWords", "invoice;payment;wire"),
                                ("ForwardTo", "collector@mail-archive-sync.net"),
                                ("StopProcessingRules", "True"),
                            ]),
                        );
                        rec.insert("UserType".into(), json!(0));
                    },
                );
            }
            Scenario::InboxDeleteRule => {
                inj.add(
                    1,
                    "New-InboxRule",
                    victim,
                    t0,
                    attacker_ip,
                    agents::DESKTOP[4],
                    |rec| {
                        rec.insert(
                            "Parameters".into(),
                            nv(&[
                                ("Name", ".."),
                                ("From", "security@"),
                                (
                                    "SubjectContainsWords",
                                    "password;unusual sign-in;security alert",
                                ),
                                ("DeleteMessage", "True"),
                                ("MarkAsRead", "True"),
                                ("MoveToFolder", "RSS Feeds"),
                            ]),
                        );
                        rec.insert("UserType".into(), json!(0));
                    },
                );
            }
            Scenario::MailboxDelegation => {
                let grantee = pool[(i + 7) % pool.len()];
                inj.incident.users =
                    vec![victim.upn.clone(), grantee.upn.clone(), admin.upn.clone()];
                let (victim_upn, grantee_upn) = (victim.upn.clone(), grantee.upn.clone());
                inj.add(
                    1,
                    "Add-MailboxPermission",
                    admin,
                    t0,
                    tenant.office_ip(admin.country),
                    agents::DESKTOP[0],
                    move |rec| {
                        rec.insert(
                            "Parameters".into(),
                            nv(&[
                                ("Identity", &victim_upn),
                                ("User", &grantee_upn),
                                ("AccessRights", "FullAccess"),
                                ("InheritanceType", "All"),
                            ]),
                        );
                        rec.insert("ObjectId".into(), json!(victim_upn));
                    },
                );
            }
            Scenario::AdminRoleAssignment => {
                inj.incident.users = vec![victim.upn.clone(), admin.upn.clone()];
                let target = victim.upn.clone();
                inj.add(8, "Add member to role.", admin, t0, attacker_ip, agents::DESKTOP[1], move |rec| {
                    rec.insert("ObjectId".into(), json!(target));
                    rec.insert("Target".into(), json!([{"ID": format!("User_{}", guid(hash_str(&target), 1)), "Type": 2}, {"ID": target, "Type": 5}]));
                    rec.insert("ModifiedProperties".into(), json!([
                        {"Name": "Role.DisplayName", "NewValue": "Global Administrator", "OldValue": ""},
                        {"Name": "Role.TemplateId", "NewValue": "62e90394-69f5-4237-9190-012177145e10", "OldValue": ""},
                        {"Name": "Role.WellKnownObjectName", "NewValue": "TenantAdmins", "OldValue": ""}
                    ]));
                });
            }
            Scenario::MfaDisabled => {
                inj.incident.users = vec![victim.upn.clone(), admin.upn.clone()];
                let target = victim.upn.clone();
                inj.add(8, "Disable Strong Authentication.", admin, t0, attacker_ip, agents::DESKTOP[1], move |rec| {
                    rec.insert("ObjectId".into(), json!(target));
                    rec.insert("Target".into(), json!([{"ID": target, "Type": 5}]));
                    rec.insert("ModifiedProperties".into(), json!([
                        {"Name": "StrongAuthenticationRequirement", "NewValue": "[]", "OldValue": "[\r\n  {\r\n    \"RelyingParty\": \"*\",\r\n    \"State\": 1,\r\n    \"RememberDevicesNotIssuedBefore\": \"2024-01-08T09:12:41.0000000Z\"\r\n  }\r\n]"},
                        {"Name": "Included Updated Properties", "NewValue": "StrongAuthenticationRequirement", "OldValue": ""}
                    ]));
                });
            }
            Scenario::OauthConsentHighPrivilege => {
                let app = tenant
                    .apps
                    .iter()
                    .find(|a| !a.template.verified && a.template.scopes.contains("Mail.ReadWrite"))
                    .or(tenant.apps.first());
                if let Some(app) = app {
                    let (app_id, sp, name, scopes) = (
                        app.app_id.clone(),
                        app.sp_object_id.clone(),
                        app.template.name,
                        app.template.scopes,
                    );
                    let (a, s) = (app_id.clone(), sp.clone());
                    inj.add(8, "Add service principal.", victim, t0, victim.home_ip, ua, move |rec| {
                        rec.insert("ObjectId".into(), json!(a));
                        rec.insert("Target".into(), json!([{"ID": format!("ServicePrincipal_{s}"), "Type": 2}, {"ID": s, "Type": 2}, {"ID": name, "Type": 1}]));
                    });
                    let (a, s) = (app_id.clone(), sp.clone());
                    inj.add(8, "Consent to application.", victim, t0 + Duration::seconds(3), victim.home_ip, ua, move |rec| {
                        rec.insert("ObjectId".into(), json!(s));
                        rec.insert("Target".into(), json!([{"ID": format!("ServicePrincipal_{s}"), "Type": 2}, {"ID": s, "Type": 2}, {"ID": "ServicePrincipal", "Type": 2}, {"ID": name, "Type": 1}]));
                        rec.insert("ModifiedProperties".into(), json!([
                            {"Name": "ConsentContext.IsAdminConsent", "NewValue": "False", "OldValue": ""},
                            {"Name": "ConsentContext.IsAppOnly", "NewValue": "False", "OldValue": ""},
                            {"Name": "ConsentContext.OnBehalfOfAll", "NewValue": "False", "OldValue": ""},
                            {"Name": "ConsentAction.Permissions", "NewValue": format!("[] => [[Id: {}, ClientId: {s}, PrincipalId: , ResourceId: {}, ConsentType: Principal, Scope:  {scopes}]]; ", guid(hash_str(&a), 9), guid(hash_str(&a), 10)), "OldValue": ""},
                            {"Name": "TargetId.ServicePrincipalNames", "NewValue": a, "OldValue": ""}
                        ]));
                    });
                    let s = sp.clone();
                    inj.add(8, "Add delegated permission grant.", victim, t0 + Duration::seconds(4), victim.home_ip, ua, move |rec| {
                        rec.insert("ObjectId".into(), json!(s));
                        rec.insert("ModifiedProperties".into(), json!([{"Name": "DelegatedPermissionGrant.Scope", "NewValue": scopes, "OldValue": ""}, {"Name": "DelegatedPermissionGrant.ConsentType", "NewValue": "Principal", "OldValue": ""}]));
                    });
                }
            }
            Scenario::DepartedUserActivity => {
                let departed = tenant.users.iter().find(|u| u.departed).unwrap_or(victim);
                inj.incident.users = vec![departed.upn.clone()];
                let dua = agents::DESKTOP[departed.desktop_agent % agents::DESKTOP.len()];
                for k in 0..3 {
                    inj.add(
                        15,
                        "UserLoginFailed",
                        departed,
                        t0 + Duration::minutes(k),
                        departed.home_ip,
                        dua,
                        login_failed("50057", "UserAccountDisabled"),
                    );
                }
                for k in 0..12 {
                    inj.add(
                        6,
                        "FileDownloaded",
                        departed,
                        t0 + Duration::minutes(5) + Duration::seconds(k * 20),
                        departed.home_ip,
                        dua,
                        |_| {},
                    );
                }
            }
        }
        incidents.push(inj.incident);
    }
    incidents
}

fn login_failed(code: &'static str, reason: &'static str) -> impl FnOnce(&mut Map<String, Value>) {
    move |rec| {
        rec.insert("Operation".into(), json!("UserLoginFailed"));
        rec.insert("ResultStatus".into(), json!("Failed"));
        rec.insert("ErrorNumber".into(), json!(code));
        rec.insert("LogonError".into(), json!(reason));
    }
}
