//! Parent–child links (`ORG#<org>#USER#<parent> / CHILD#<child>`): an admin
//! links a parent to a student, and the parent may then read that student's
//! classes and progress. [`Whose`] says whose data a read is about, from the
//! caller's role and `?student_id=`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fields::PersonName;
use crate::ids::UserId;
use crate::principal::{Principal, Role};
use crate::tenancy::{Key, Tenant};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GuardianLink {
    pub parent_id: UserId,
    pub child_id: UserId,
    /// The child's name when linked, so the parent's list needs no more reads.
    #[serde(with = "crate::sealed")]
    pub child_first_name: PersonName,
    #[serde(with = "crate::sealed")]
    pub child_last_name: PersonName,
    pub created_at: String,
    pub created_by: UserId,
}

/// Whose data a read is about.
pub enum Whose {
    /// Everyone's (staff asking for no one in particular).
    All,
    /// One student's: a student's own, a child of the asking parent (whose
    /// link is read with the data), or any student for staff.
    Student { id: UserId, link: Option<Key> },
}

impl Whose {
    /// Reads `?student_id=` (`asked`, as sent) against the caller's role.
    pub fn asked(principal: &Principal, tenant: &Tenant, asked: Option<&str>) -> Result<Whose> {
        let bad = || Error::BadRequest("student_id must be a user id".into());
        let asked = asked.map(|raw| raw.parse::<UserId>().map_err(|_| bad())).transpose()?;
        match (principal.role, asked) {
            (Role::Admin | Role::Teacher, None) => Ok(Whose::All),
            (Role::Admin | Role::Teacher, Some(id)) => Ok(Whose::Student { id, link: None }),
            (Role::Student, None) => Ok(Whose::Student { id: principal.user_id.clone(), link: None }),
            (Role::Student, Some(id)) if id == principal.user_id => Ok(Whose::Student { id, link: None }),
            (Role::Student, Some(_)) => Err(Error::Forbidden("a student sees only their own".into())),
            (Role::Parent, Some(id)) => {
                let link = Some(tenant.guardian_link(&principal.user_id, &id));
                Ok(Whose::Student { id, link })
            }
            (Role::Parent, None) => Err(Error::BadRequest("a parent names the child: ?student_id=".into())),
        }
    }

    /// One student's, as [`Whose::asked`], where "everyone" is no answer.
    pub fn one_student(principal: &Principal, tenant: &Tenant, asked: Option<&str>) -> Result<(UserId, Option<Key>)> {
        match Self::asked(principal, tenant, asked)? {
            Whose::Student { id, link } => Ok((id, link)),
            Whose::All => Err(Error::BadRequest("name the student: ?student_id=".into())),
        }
    }
}

/// A link as stored: `gsi1` also files it under the child, so a child's
/// links are found when the child leaves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredLink {
    #[serde(flatten)]
    pub link: GuardianLink,
    pub gsi1pk: String,
    pub gsi1sk: String,
}

impl StoredLink {
    pub fn of(tenant: &Tenant, link: GuardianLink) -> Self {
        Self { gsi1pk: tenant.guardians_of(&link.child_id), gsi1sk: tenant.user(&link.parent_id).sk, link }
    }
}
