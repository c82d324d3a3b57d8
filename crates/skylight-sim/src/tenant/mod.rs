//! The generated tenant's directory: organisation, users, groups, sites and drives, OAuth apps and
//! the app registration clients sign in with. All of it derives from the seed.

pub mod apps;
pub mod geo;
pub mod names;

use chrono::{DateTime, Duration, Utc};

use crate::rng::{Rng, hash_str};
use geo::{COUNTRIES, Country};

/// What kind of account a user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    /// An ordinary employee.
    Member,
    /// An administrator holding the named Entra role.
    Admin(&'static str),
    /// A B2B guest from another organisation.
    Guest,
    /// A service account used by automation (active around the clock).
    Service,
}

/// Entra roles admins hold.
pub static ADMIN_ROLES: &[&str] = &[
    "Global Administrator",
    "Exchange Administrator",
    "SharePoint Administrator",
    "Security Administrator",
    "User Administrator",
    "Teams Administrator",
    "Compliance Administrator",
];

/// A user of the tenant.
#[derive(Debug, Clone)]
pub struct User {
    /// Position in the directory (also the shard key).
    pub index: usize,
    /// Entra object id.
    pub object_id: String,
    /// User principal name.
    pub upn: String,
    /// Primary SMTP address.
    pub mail: String,
    /// Display name.
    pub display_name: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub surname: String,
    /// Account kind.
    pub kind: UserKind,
    /// Where the user works.
    pub country: &'static Country,
    /// Department.
    pub department: &'static str,
    /// Job title.
    pub job_title: &'static str,
    /// Synced from on-premises Active Directory.
    pub on_premises_synced: bool,
    /// Sign-in allowed.
    pub account_enabled: bool,
    /// Left the company (account disabled, yet some activity may still appear: a scenario).
    pub departed: bool,
    /// Passport-style unique id (16 uppercase hex digits), used in `UserKey`.
    pub puid: String,
    /// On-premises-style SID used in mailbox records.
    pub sid: String,
    /// Exchange mailbox GUID.
    pub mailbox_guid: String,
    /// Licensed for Audit (Premium) / E5 (MailItemsAccessed and Send are audited).
    pub e5: bool,
    /// The user's usual desktop user agent (index into `crate::records::agents`).
    pub desktop_agent: usize,
    /// The user's usual mobile user agent.
    pub mobile_agent: usize,
    /// The user's home internet address.
    pub home_ip: [u8; 4],
    /// When the account was created.
    pub created: DateTime<Utc>,
    /// Relative activity level (1.0 = typical).
    pub activity: f64,
}

impl User {
    /// True for admins.
    pub fn is_admin(&self) -> bool {
        matches!(self.kind, UserKind::Admin(_))
    }

    /// The OneDrive personal-site path segment (`adele_vance_contoso_com`).
    pub fn onedrive_segment(&self) -> String {
        self.upn
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect()
    }
}

/// A group in the directory.
#[derive(Debug, Clone)]
pub struct Group {
    /// Object id.
    pub object_id: String,
    /// Display name.
    pub display_name: String,
    /// Microsoft 365 group (`groupTypes` contains `Unified`), with a team and a site.
    pub unified: bool,
    /// Security-enabled.
    pub security_enabled: bool,
    /// Synced from on-premises.
    pub on_premises_synced: bool,
    /// Member user indexes.
    pub members: Vec<usize>,
    /// Member group indexes (nested groups: transitive membership differs from direct).
    pub member_groups: Vec<usize>,
    /// Owner user indexes.
    pub owners: Vec<usize>,
    /// Site index for unified groups.
    pub site: Option<usize>,
}

/// A SharePoint site or a OneDrive personal site.
#[derive(Debug, Clone)]
pub struct Site {
    /// Site collection GUID.
    pub site_id: String,
    /// Root web GUID.
    pub web_id: String,
    /// Document library (list) GUID.
    pub list_id: String,
    /// Absolute URL without trailing slash.
    pub url: String,
    /// Display name.
    pub title: String,
    /// OneDrive of this user, for personal sites.
    pub owner: Option<usize>,
    /// Library folder path: `Shared Documents` for sites, `Documents` for OneDrive, and a
    /// localised path (`Documents partages`, `Freigegebene Dokumente`) for sites created in
    /// another language, which user quarantine must refuse.
    pub library: &'static str,
    /// Number of files in the library.
    pub files: u32,
}

/// An OAuth application with a service principal in the tenant.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    /// Application (client) id.
    pub app_id: String,
    /// Service principal object id.
    pub sp_object_id: String,
    /// Template it was made from.
    pub template: &'static apps::AppTemplate,
}

/// A client credential of an app registration clients sign in with.
#[derive(Debug, Clone)]
pub struct AppRegistration {
    /// Display name of the registration.
    pub name: String,
    /// Application (client) id.
    pub client_id: String,
    /// The client secret value.
    pub client_secret: String,
    /// When the secret expires.
    pub secret_expires: DateTime<Utc>,
    /// Application permissions admin-consented, per resource (`roles` claim).
    pub roles: Vec<&'static str>,
    /// The registration is disabled.
    pub disabled: bool,
    /// Why this registration exists (shown in `/_sim/tenant`).
    pub purpose: &'static str,
}

/// The whole generated directory.
#[derive(Debug)]
pub struct Tenant {
    /// Seed everything derives from.
    pub seed: u64,
    /// Tenant (directory) GUID.
    pub tenant_id: String,
    /// Organisation display name.
    pub org_name: String,
    /// Verified primary domain (`contoso.com`).
    pub domain: String,
    /// Initial domain (`contoso.onmicrosoft.com`).
    pub initial_domain: String,
    /// SharePoint host stem (`contoso`).
    pub stem: String,
    /// Users.
    pub users: Vec<User>,
    /// Groups.
    pub groups: Vec<Group>,
    /// Per user, the groups that list them as a direct member, in group order (records pick a
    /// user's team or site from these; scanning every group's members per record was the
    /// most expensive function of the simulator's own). Derived from `groups` when the tenant is generated; nothing
    /// changes the groups afterwards (the Graph API's changes live in its own model).
    memberships: Vec<Vec<usize>>,
    /// Sites: team/communication sites first, then OneDrive personal sites.
    pub sites: Vec<Site>,
    /// OAuth apps.
    pub apps: Vec<OAuthApp>,
    /// App registrations clients can use (the first one is fully consented).
    pub registrations: Vec<AppRegistration>,
    /// Indexes of admins.
    pub admins: Vec<usize>,
    /// Corporate office egress address per country (index into `geo::COUNTRIES`).
    pub office_ips: Vec<[u8; 4]>,
}

/// Permissions the fully consented registration holds.
pub static FULL_ROLES: &[&str] = &[
    "ActivityFeed.Read",
    "ActivityFeed.ReadDlp",
    "ServiceHealth.Read",
    "User.Read.All",
    "User.ReadWrite.All",
    "Group.Read.All",
    "GroupMember.Read.All",
    "Directory.Read.All",
    "RoleManagement.Read.Directory",
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "DelegatedPermissionGrant.ReadWrite.All",
    "Sites.Read.All",
    "Sites.ReadWrite.All",
    "Files.Read.All",
    "Files.ReadWrite.All",
    "IdentityRiskyUser.ReadWrite.All",
    "AuditLog.Read.All",
    "Mail.Send",
];

impl Tenant {
    /// Generates the directory for `users` users from `seed`; `now` anchors creation dates.
    pub fn generate(seed: u64, user_count: usize, now: DateTime<Utc>) -> Tenant {
        let mut r = Rng::new(&[seed, hash_str("tenant")]);
        let tenant_id = r.guid();
        let (stem, org) = *r.pick(names::ORGANISATIONS);
        let domain = format!("{stem}.com");
        let initial_domain = format!("{stem}.onmicrosoft.com");
        let total_weight: u32 = COUNTRIES.iter().map(|c| c.weight).sum();
        let office_ips = COUNTRIES
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut cr = Rng::new(&[seed, hash_str("office"), i as u64]);
                let b = *cr.pick(c.blocks);
                [
                    b.0,
                    b.1.wrapping_add(cr.below(u64::from(b.2)) as u8),
                    cr.below(250) as u8 + 1,
                    10,
                ]
            })
            .collect();

        let mut users = Vec::with_capacity(user_count);
        let mut seen = std::collections::HashSet::new();
        for index in 0..user_count {
            let mut u = Rng::new(&[seed, hash_str("user"), index as u64]);
            let mut pick = u.below(u64::from(total_weight)) as u32;
            let country = COUNTRIES
                .iter()
                .find(|c| {
                    if pick < c.weight {
                        true
                    } else {
                        pick -= c.weight;
                        false
                    }
                })
                .unwrap_or(&COUNTRIES[0]);
            let given = *u.pick(names::GIVEN);
            let family = *u.pick(names::FAMILY);
            let roll = u.f64();
            let kind = if index == 0 {
                UserKind::Admin("Global Administrator")
            } else if roll < 0.02 {
                UserKind::Admin(ADMIN_ROLES[u.below(ADMIN_ROLES.len() as u64) as usize])
            } else if roll < 0.07 {
                UserKind::Guest
            } else if roll < 0.08 {
                UserKind::Service
            } else {
                UserKind::Member
            };
            let ascii_family: String = family
                .chars()
                .map(|c| match c {
                    'ü' => 'u',
                    c if c.is_ascii_alphabetic() => c.to_ascii_lowercase(),
                    _ => 'x',
                })
                .filter(|c| *c != 'x')
                .collect();
            let base = match kind {
                UserKind::Service => format!(
                    "svc-{}",
                    ["backup", "sync", "scanner", "reporting", "printer", "crm"][index % 6]
                ),
                _ => format!("{}.{}", given.to_ascii_lowercase(), ascii_family),
            };
            let mut local = base.clone();
            let mut n = 1;
            while !seen.insert(local.clone()) {
                n += 1;
                local = format!("{base}{n}");
            }
            let (upn, mail, display_name) = match kind {
                UserKind::Guest => {
                    let partner = *u.pick(names::PARTNER_DOMAINS);
                    let mail = format!("{local}@{partner}");
                    (
                        format!("{}#EXT#@{initial_domain}", mail.replace('@', "_")),
                        mail,
                        format!(
                            "{given} {family} ({})",
                            partner.split('.').next().unwrap_or(partner)
                        ),
                    )
                }
                UserKind::Service => (
                    format!("{local}@{domain}"),
                    format!("{local}@{domain}"),
                    format!("Service {local}"),
                ),
                _ => (
                    format!("{local}@{domain}"),
                    format!("{local}@{domain}"),
                    format!("{given} {family}"),
                ),
            };
            let (department, titles) = *u.pick(names::DEPARTMENTS);
            let (department, job_title) = if matches!(kind, UserKind::Admin(_)) {
                ("IT", "Systems Administrator")
            } else {
                (department, *u.pick(titles))
            };
            let block = *u.pick(country.blocks);
            let departed = !matches!(kind, UserKind::Admin(_)) && index > 0 && u.chance(0.01);
            users.push(User {
                index,
                object_id: u.guid(),
                upn,
                mail,
                display_name,
                given_name: given.to_string(),
                surname: family.to_string(),
                kind,
                country,
                department,
                job_title,
                on_premises_synced: matches!(kind, UserKind::Member | UserKind::Service)
                    && u.chance(0.35),
                account_enabled: !departed,
                departed,
                puid: format!("10032{}", u.hex_upper(11)),
                sid: format!(
                    "S-1-5-21-{}-{}-{}-{}",
                    1_000_000_000 + u.below(999_999_999),
                    1_000_000_000 + u.below(999_999_999),
                    1_000_000_000 + u.below(999_999_999),
                    10_000 + index
                ),
                mailbox_guid: u.guid(),
                e5: u.chance(0.6),
                desktop_agent: u.below(8) as usize,
                mobile_agent: u.below(4) as usize,
                home_ip: [
                    block.0,
                    block.1.wrapping_add(u.below(u64::from(block.2)) as u8),
                    u.below(256) as u8,
                    1 + u.below(254) as u8,
                ],
                created: now - Duration::days(30 + u.below(2000) as i64),
                activity: match kind {
                    UserKind::Service => 2.0,
                    UserKind::Guest => 0.2,
                    _ => 0.5 + u.f64(),
                },
            });
        }
        // Every real tenant keeps a few disabled accounts of people who left, and the
        // departed-user scenario needs one: a tenant that drew none gets its last member's.
        if !users.iter().any(|u| u.departed)
            && let Some(u) = users
                .iter_mut()
                .rev()
                .find(|u| u.kind == UserKind::Member && u.index > 0)
        {
            u.departed = true;
            u.account_enabled = false;
        }
        let admins: Vec<usize> = users
            .iter()
            .filter(|u| u.is_admin())
            .map(|u| u.index)
            .collect();

        let mut sites = Vec::new();
        let mut groups = Vec::new();
        let member_pool: Vec<usize> = users
            .iter()
            .filter(|u| !matches!(u.kind, UserKind::Guest | UserKind::Service))
            .map(|u| u.index)
            .collect();
        for (i, (dept, _)) in names::DEPARTMENTS.iter().enumerate() {
            let mut g = Rng::new(&[seed, hash_str("dept-group"), i as u64]);
            let members: Vec<usize> = users
                .iter()
                .filter(|u| u.department == *dept)
                .map(|u| u.index)
                .collect();
            groups.push(Group {
                object_id: g.guid(),
                display_name: format!("SG-{}", dept.replace(' ', "")),
                unified: false,
                security_enabled: true,
                on_premises_synced: true,
                owners: members.iter().take(1).copied().collect(),
                members,
                member_groups: Vec::new(),
                site: None,
            });
        }
        let team_count = (user_count / 25).clamp(3, 400);
        for i in 0..team_count {
            let mut g = Rng::new(&[seed, hash_str("team"), i as u64]);
            let name = format!(
                "{} {}",
                g.pick(names::FILE_WORDS),
                ["Team", "Project", "Squad", "Council", "Hub"][i % 5]
            );
            let size = 3 + g.below(20) as usize;
            let mut members: Vec<usize> = (0..size)
                .filter_map(|_| {
                    member_pool
                        .get(g.below(member_pool.len() as u64) as usize)
                        .copied()
                })
                .collect();
            if g.chance(0.4)
                && let Some(guest) = users
                    .iter()
                    .filter(|u| u.kind == UserKind::Guest)
                    .nth(g.below(8) as usize)
            {
                members.push(guest.index);
            }
            members.sort_unstable();
            members.dedup();
            let slug: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            let slug = format!("{slug}{i}");
            sites.push(Site {
                site_id: g.guid(),
                web_id: g.guid(),
                list_id: g.guid(),
                url: format!("https://{stem}.sharepoint.com/sites/{slug}"),
                title: name.clone(),
                owner: None,
                library: "Shared Documents",
                files: 20 + g.below(200) as u32,
            });
            groups.push(Group {
                object_id: g.guid(),
                display_name: name,
                unified: true,
                security_enabled: false,
                on_premises_synced: false,
                owners: members.iter().take(2).copied().collect(),
                members,
                member_groups: Vec::new(),
                site: Some(sites.len() - 1),
            });
        }
        for (i, title) in names::COMMUNICATION_SITES.iter().enumerate() {
            let mut g = Rng::new(&[seed, hash_str("comm-site"), i as u64]);
            sites.push(Site {
                site_id: g.guid(),
                web_id: g.guid(),
                list_id: g.guid(),
                url: format!("https://{stem}.sharepoint.com/sites/{title}"),
                title: title.to_string(),
                owner: None,
                library: "Shared Documents",
                files: 50 + g.below(400) as u32,
            });
        }
        for (i, (slug, title, library)) in names::LOCALISED_SITES.iter().enumerate() {
            let mut g = Rng::new(&[seed, hash_str("localised-site"), i as u64]);
            sites.push(Site {
                site_id: g.guid(),
                web_id: g.guid(),
                list_id: g.guid(),
                url: format!("https://{stem}.sharepoint.com/sites/{slug}"),
                title: title.to_string(),
                owner: None,
                library,
                files: 15 + g.below(60) as u32,
            });
        }
        for u in users
            .iter()
            .filter(|u| matches!(u.kind, UserKind::Member | UserKind::Admin(_)))
        {
            let mut g = Rng::new(&[seed, hash_str("onedrive"), u.index as u64]);
            sites.push(Site {
                site_id: g.guid(),
                web_id: g.guid(),
                list_id: g.guid(),
                url: format!(
                    "https://{stem}-my.sharepoint.com/personal/{}",
                    u.onedrive_segment()
                ),
                title: u.display_name.clone(),
                owner: Some(u.index),
                library: "Documents",
                files: 5 + g.below(120) as u32,
            });
        }

        // Nested groups: "All Staff" holds the department groups, "Company Wide" holds "All Staff"
        // (three levels), "Privileged Access" mixes admins with the IT department group.
        let departments = names::DEPARTMENTS.len();
        let mut nest = Rng::new(&[seed, hash_str("nested-groups")]);
        let all_staff = groups.len();
        groups.push(Group {
            object_id: nest.guid(),
            display_name: "All Staff".into(),
            unified: false,
            security_enabled: true,
            on_premises_synced: false,
            members: Vec::new(),
            member_groups: (0..departments).collect(),
            owners: admins.iter().take(1).copied().collect(),
            site: None,
        });
        groups.push(Group {
            object_id: nest.guid(),
            display_name: "Company Wide".into(),
            unified: false,
            security_enabled: true,
            on_premises_synced: false,
            members: users
                .iter()
                .filter(|u| u.kind == UserKind::Service)
                .map(|u| u.index)
                .collect(),
            member_groups: vec![all_staff],
            owners: admins.iter().take(1).copied().collect(),
            site: None,
        });
        let it: Vec<usize> = names::DEPARTMENTS
            .iter()
            .position(|(d, _)| *d == "IT")
            .into_iter()
            .collect();
        groups.push(Group {
            object_id: nest.guid(),
            display_name: "Privileged Access".into(),
            unified: false,
            security_enabled: true,
            on_premises_synced: false,
            members: admins.clone(),
            member_groups: it,
            owners: admins.iter().take(1).copied().collect(),
            site: None,
        });

        let apps = apps::APPS
            .iter()
            .enumerate()
            .map(|(i, template)| {
                let mut g = Rng::new(&[seed, hash_str("app"), i as u64]);
                OAuthApp {
                    app_id: g.guid(),
                    sp_object_id: g.guid(),
                    template,
                }
            })
            .collect();

        let mut reg = Rng::new(&[seed, hash_str("registration")]);
        let secret = |r: &mut Rng| {
            // The shape of a real client secret value: 40 characters with a `~` after the prefix.
            let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
            let body: String = (0..37)
                .map(|_| alphabet[r.below(alphabet.len() as u64) as usize] as char)
                .collect();
            format!("{}~{}", &body[..3], &body[3..])
        };
        let registrations = vec![
            AppRegistration {
                name: "Skylight".into(),
                client_id: reg.guid(),
                client_secret: secret(&mut reg),
                secret_expires: now + Duration::days(365),
                roles: FULL_ROLES.to_vec(),
                disabled: false,
                purpose: "fully consented: every permission Skylight needs",
            },
            AppRegistration {
                name: "Skylight (no admin consent)".into(),
                client_id: reg.guid(),
                client_secret: secret(&mut reg),
                secret_expires: now + Duration::days(365),
                roles: Vec::new(),
                disabled: false,
                purpose: "registered but never admin-consented: tokens carry no roles, APIs answer AF10001 / Authorization_RequestDenied",
            },
            AppRegistration {
                name: "Skylight (no DLP permission)".into(),
                client_id: reg.guid(),
                client_secret: secret(&mut reg),
                secret_expires: now + Duration::days(365),
                roles: vec!["ActivityFeed.Read", "User.Read.All"],
                disabled: false,
                purpose: "consented without ActivityFeed.ReadDlp: DLP.All answers AF10001",
            },
            AppRegistration {
                name: "Skylight (expired secret)".into(),
                client_id: reg.guid(),
                client_secret: secret(&mut reg),
                secret_expires: now - Duration::days(3),
                roles: FULL_ROLES.to_vec(),
                disabled: false,
                purpose: "its only secret expired: AADSTS7000222",
            },
            AppRegistration {
                name: "Skylight (disabled)".into(),
                client_id: reg.guid(),
                client_secret: secret(&mut reg),
                secret_expires: now + Duration::days(365),
                roles: FULL_ROLES.to_vec(),
                disabled: true,
                purpose: "disabled by an admin: AADSTS7000112",
            },
        ];

        let mut memberships = vec![Vec::new(); users.len()];
        for (g, group) in groups.iter().enumerate() {
            for &u in &group.members {
                if let Some(of) = memberships.get_mut(u)
                    && of.last() != Some(&g)
                {
                    of.push(g);
                }
            }
        }
        Tenant {
            seed,
            tenant_id,
            org_name: org.to_string(),
            domain,
            initial_domain,
            stem: stem.to_string(),
            users,
            groups,
            memberships,
            sites,
            apps,
            registrations,
            admins,
            office_ips,
        }
    }

    /// The groups a user is a direct member of, in group order.
    pub fn groups_of<'t>(&'t self, user: &User) -> impl Iterator<Item = &'t Group> + 't {
        self.memberships
            .get(user.index)
            .into_iter()
            .flatten()
            .filter_map(|&g| self.groups.get(g))
    }

    /// Finds a user by UPN (case-insensitive).
    pub fn user_by_upn(&self, upn: &str) -> Option<&User> {
        self.users.iter().find(|u| u.upn.eq_ignore_ascii_case(upn))
    }

    /// Total files across all libraries.
    pub fn file_count(&self) -> u64 {
        self.sites.iter().map(|s| u64::from(s.files)).sum()
    }

    /// The office egress IP of a country entry.
    pub fn office_ip(&self, country: &Country) -> [u8; 4] {
        let i = COUNTRIES
            .iter()
            .position(|c| std::ptr::eq(c, country))
            .unwrap_or(0);
        self.office_ips[i]
    }

    /// The size in bytes of file `k` of a site's library (stable for the seed), by extension.
    pub fn file_size(&self, site: usize, k: u32, ext: &str) -> u64 {
        let h = crate::rng::hash(&[self.seed, hash_str("sp-size"), site as u64, u64::from(k)]);
        match ext {
            "mp4" => 5_000_000 + h % 400_000_000,
            "zip" => 200_000 + h % 90_000_000,
            "png" | "jpg" => 20_000 + h % 4_000_000,
            "txt" | "csv" => 200 + h % 2_000_000,
            _ => 12_000 + h % 8_000_000,
        }
    }

    /// The name of file `k` of a site's library (stable for the seed), with its folder.
    pub fn file_name(&self, site: usize, k: u32) -> (String, String) {
        let mut r = Rng::new(&[self.seed, hash_str("file"), site as u64, u64::from(k)]);
        let ext = *r.pick(names::FILE_EXTENSIONS);
        let name = format!(
            "{} {} {}.{}",
            r.pick(names::FILE_WORDS),
            r.pick(names::FILE_WORDS),
            2020 + r.below(7),
            ext
        );
        let folder = match r.below(4) {
            0 => String::new(),
            _ => format!("/{}", r.pick(names::FILE_WORDS)),
        };
        (folder, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::fixed_now as now;

    #[test]
    fn same_seed_same_directory_and_other_seed_differs() {
        let a = Tenant::generate(1, 300, now());
        let b = Tenant::generate(1, 300, now());
        let c = Tenant::generate(2, 300, now());
        assert_eq!(a.tenant_id, b.tenant_id);
        assert_eq!(
            a.users.iter().map(|u| &u.upn).collect::<Vec<_>>(),
            b.users.iter().map(|u| &u.upn).collect::<Vec<_>>()
        );
        assert_ne!(a.tenant_id, c.tenant_id);
    }

    #[test]
    fn the_workforce_is_mixed() {
        let t = Tenant::generate(7, 2000, now());
        let countries: std::collections::HashSet<_> =
            t.users.iter().map(|u| u.country.code).collect();
        assert!(countries.len() >= 12, "{countries:?}");
        assert!(
            t.users
                .iter()
                .any(|u| u.kind == UserKind::Guest && u.upn.contains("#EXT#"))
        );
        assert!(t.users.iter().any(|u| u.kind == UserKind::Service));
        assert!(t.users.iter().any(|u| u.on_premises_synced));
        assert!(t.users.iter().any(|u| !u.account_enabled));
        assert!(t.admins.len() >= 10);
        let upns: std::collections::HashSet<_> =
            t.users.iter().map(|u| u.upn.to_lowercase()).collect();
        assert_eq!(upns.len(), t.users.len(), "UPNs are unique");
        assert!(
            t.sites
                .iter()
                .any(|s| s.url.contains("-my.sharepoint.com/personal/"))
        );
        assert!(t.groups.iter().any(|g| g.unified) && t.groups.iter().any(|g| !g.unified));
    }
}
