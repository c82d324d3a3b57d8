//! Detection spread over processes: activities fall into partitions by tenant (or by tenant and
//! user), each partition is evaluated by one process at a time with its own state and progress,
//! and the processes share the partitions out.
//!
//! Whatever the partitioning, all of one user's activities go to one partition, so per-user
//! windows and baselines are the same as with a single detector.

use serde::Deserialize;

/// What decides which partition evaluates an activity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionBy {
    /// The tenant: every detection sees all of its tenant's activities, so tenant-wide facts
    /// (failed sign-ins from one address across users, daily alert limits, an app added then
    /// consented to) are exact. Spreads an MSSP's tenants; one tenant stays on one process.
    #[default]
    Tenant,
    /// The tenant and the acting user: one large tenant's users spread over processes. Per-user
    /// baselines and windows stay exact; tenant-wide facts are kept per partition.
    User,
}

/// How a deployment's detection is partitioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partitioning {
    /// Number of partitions (1: not partitioned).
    pub count: u32,
    /// What decides an activity's partition.
    pub by: PartitionBy,
}

impl Partitioning {
    /// Not partitioned: one detector evaluates everything.
    pub const NONE: Partitioning = Partitioning {
        count: 1,
        by: PartitionBy::Tenant,
    };

    /// The partitions, in order; a single unnamed one (`""`) when not partitioned.
    pub fn partitions(self) -> Vec<Partition> {
        (0..self.count.max(1))
            .map(|index| Partition { index, of: self })
            .collect()
    }

    /// The names of the partitions, as the store keeps them.
    pub fn names(self) -> Vec<String> {
        self.partitions().iter().map(Partition::name).collect()
    }

    /// The partition that evaluates an activity of `tenant` by `user`.
    fn index_of(self, tenant: &str, user: Option<&str>) -> u32 {
        let count = self.count.max(1);
        if count == 1 {
            return 0;
        }
        let mut h = Fnv::default();
        h.write(tenant.as_bytes());
        if self.by == PartitionBy::User {
            h.write(&[0]);
            h.write(user.unwrap_or_default().to_ascii_lowercase().as_bytes());
        }
        u32::try_from(h.0 % u64::from(count)).unwrap_or(0)
    }
}

/// One partition of detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    index: u32,
    of: Partitioning,
}

impl Partition {
    /// Everything: the detection of an unpartitioned deployment.
    pub const ALL: Partition = Partition {
        index: 0,
        of: Partitioning::NONE,
    };

    /// Its name in the store and in leases: `""` when not partitioned, else `INDEX/COUNT`.
    pub fn name(&self) -> String {
        if self.of.count <= 1 {
            String::new()
        } else {
            format!("{}/{}", self.index, self.of.count)
        }
    }

    /// Whether this partition evaluates an activity of `tenant` by `user`.
    pub fn contains(&self, tenant: &str, user: Option<&str>) -> bool {
        self.of.index_of(tenant, user) == self.index
    }
}

/// FNV-1a, 64 bits: fixed by its definition, so every process and every Skylight version puts
/// an activity in the same partition.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv_1a_as_published() {
        // Reference values of FNV-1a 64 (Fowler, Noll, Vo).
        let hash = |s: &str| {
            let mut h = Fnv::default();
            h.write(s.as_bytes());
            h.0
        };
        assert_eq!(hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn every_activity_falls_in_exactly_one_partition() {
        for by in [PartitionBy::Tenant, PartitionBy::User] {
            let p = Partitioning { count: 4, by };
            assert_eq!(p.names(), ["0/4", "1/4", "2/4", "3/4"]);
            let mut used = std::collections::BTreeSet::new();
            for t in 0..20 {
                for u in 0..20 {
                    let (tenant, user) = (format!("t{t}"), format!("User{u}@x.com"));
                    let homes: Vec<u32> = p
                        .partitions()
                        .iter()
                        .filter(|q| q.contains(&tenant, Some(&user)))
                        .map(|q| q.index)
                        .collect();
                    assert_eq!(homes.len(), 1);
                    used.insert(homes[0]);
                    // A user's activities stay together whatever the case of the name.
                    let lower = user.to_ascii_lowercase();
                    assert!(p.partitions()[homes[0] as usize].contains(&tenant, Some(&lower)));
                }
            }
            assert_eq!(used.len(), 4, "{by:?}: every partition gets work");
        }
        assert_eq!(Partitioning::NONE.names(), [""]);
        assert!(Partition::ALL.contains("any", None));
    }

    #[test]
    fn by_tenant_keeps_a_tenant_together() {
        let p = Partitioning {
            count: 8,
            by: PartitionBy::Tenant,
        };
        let home = p.index_of("contoso", Some("alice@contoso.com"));
        for u in ["bob@contoso.com", "eve@evil.example", ""] {
            assert_eq!(p.index_of("contoso", Some(u)), home);
        }
    }
}
