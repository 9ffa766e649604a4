//! The organisation (tenant) item: `ORG#<id>#ORGANIZATION / ORGANIZATION`.

use serde::{Deserialize, Serialize};

use crate::audit::Audit;
use crate::billing::BillingStatus;
use crate::fields::{Locale, OrgName, TimeZone};
use crate::ids::OrgId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrgStatus {
    Active,
    /// Every credential of a suspended organisation is refused.
    Suspended,
}

/// The plan a tenant pays for; API Gateway holds it to its usage plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Free,
    Pro,
    Enterprise,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Self::Free, Self::Pro, Self::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Pro => "pro",
            Self::Enterprise => "enterprise",
        }
    }
}

/// The tenant's own API Gateway API key. The authorizer returns its value as
/// `usageIdentifierKey`, so API Gateway meters and throttles each tenant by
/// the usage plan of its tier. It is not a credential: the API takes its
/// usage keys from the authorizer only, never from a request header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageKey {
    pub id: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<TimeZone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Locale>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Organization {
    pub id: OrgId,
    pub name: OrgName,
    pub status: OrgStatus,
    pub tier: Tier,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_key: Option<UsageKey>,
    #[serde(default)]
    pub settings: OrgSettings,
    /// The subscription's status, moved with the tier by verified billing
    /// events only.
    #[serde(default)]
    pub billing_status: BillingStatus,
    /// Kept exact by the transactions that change roles, so the last admin can
    /// be neither demoted nor removed even under concurrent requests.
    pub admin_count: u64,
    #[serde(flatten)]
    pub audit: Audit,
}

/// The organisation's item is the one `ORG` item of its tenant, whatever id
/// is asked; it is never deleted, only suspended.
impl crate::record::Record for Organization {
    const NAME: &'static str = "organization";
    type Id = OrgId;

    fn key(tenant: &crate::tenancy::Tenant, _: &OrgId) -> crate::tenancy::Key {
        tenant.organization()
    }

    fn id(&self) -> &OrgId {
        &self.id
    }

    fn audit(&self) -> &Audit {
        &self.audit
    }

    fn deleted_at(&self) -> Option<&str> {
        None
    }
}

/// The fields a change to an organization names. `admin_count` is moved
/// only with the role changes that move it, `tier` only with the usage key.
pub mod field {
    use super::{BillingStatus, OrgName, OrgSettings, Organization, Tier, UsageKey};
    use crate::record::Field;

    pub const NAME: Field<Organization, OrgName> = Field::new("name");
    pub const SETTINGS: Field<Organization, OrgSettings> = Field::new("settings");
    pub const ADMIN_COUNT: Field<Organization, u64> = Field::new("admin_count");
    pub const TIER: Field<Organization, Tier> = Field::new("tier");
    pub const USAGE_KEY: Field<Organization, UsageKey> = Field::new("usage_key");
    pub const BILLING_STATUS: Field<Organization, BillingStatus> = Field::new("billing_status");
}

/// The organisation as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrganizationView {
    pub id: OrgId,
    pub name: OrgName,
    pub status: OrgStatus,
    pub tier: Tier,
    /// `none` until a subscription is made; `past_due` while a payment is
    /// late (the tier is kept meanwhile).
    pub billing_status: BillingStatus,
    pub settings: OrgSettings,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl From<Organization> for OrganizationView {
    fn from(org: Organization) -> Self {
        Self {
            id: org.id,
            name: org.name,
            status: org.status,
            tier: org.tier,
            billing_status: org.billing_status,
            settings: org.settings,
            created_at: org.audit.created_at,
            updated_at: org.audit.updated_at,
            version: org.audit.version,
        }
    }
}
