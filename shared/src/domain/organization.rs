//! The organisation (tenant) item: `ORG#<id> / ORG`.

use serde::{Deserialize, Serialize};

use crate::domain::audit::Audit;
use crate::domain::fields::{Locale, OrgName, TimeZone};
use crate::ids::OrgId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrgStatus {
    Active,
    /// Every credential of a suspended organisation is refused.
    Suspended,
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
    pub tier: String,
    #[serde(default)]
    pub settings: OrgSettings,
    /// Kept exact by the transactions that change roles, so the last admin can
    /// be neither demoted nor removed even under concurrent requests.
    pub admin_count: u64,
    #[serde(flatten)]
    pub audit: Audit,
}

/// The organisation as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrganizationView {
    pub id: OrgId,
    pub name: OrgName,
    pub status: OrgStatus,
    pub tier: String,
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
            settings: org.settings,
            created_at: org.audit.created_at,
            updated_at: org.audit.updated_at,
            version: org.audit.version,
        }
    }
}
