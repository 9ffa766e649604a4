//! Parent–child links (`ORG#<org> / GUARDIAN#<parent>#<child>`): an admin
//! links a parent to a student, and the parent may then read that student's
//! classes (and, later, progress).

use serde::{Deserialize, Serialize};

use crate::domain::fields::PersonName;
use crate::ids::UserId;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GuardianLink {
    pub parent_id: UserId,
    pub child_id: UserId,
    /// The child's name when linked, so the parent's list needs no more reads.
    pub child_first_name: PersonName,
    pub child_last_name: PersonName,
    pub created_at: String,
    pub created_by: UserId,
}
