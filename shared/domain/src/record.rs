//! What tenant-owned, versioned, soft-deletable items have in common, so
//! the store reads, patches and deletes any of them the same way.

use std::borrow::Cow;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::audit::Audit;
use crate::error::{Error, Result};
use crate::tenancy::{Key, Tenant};

/// An item of one tenant with a version (`ETag`), audit fields and a soft
/// delete.
pub trait Record: Serialize + DeserializeOwned + Send + Sync {
    /// What the API calls it in a refusal: "lesson not found".
    const NAME: &'static str;
    type Id: Send + Sync + std::fmt::Display + std::str::FromStr;

    /// Where it lives: only a [`Tenant`] names a key.
    fn key(tenant: &Tenant, id: &Self::Id) -> Key;
    fn id(&self) -> &Self::Id;
    fn audit(&self) -> &Audit;
    /// When it was deleted, if it was; a deleted item is kept for the audit
    /// trail and is, to every read, not there.
    fn deleted_at(&self) -> Option<&str>;

    fn version(&self) -> u64 {
        self.audit().version
    }

    /// Not deleted: what every read keeps.
    fn is_live(&self) -> bool {
        self.deleted_at().is_none()
    }
}

/// The version a change may be made to: the client's `If-Match` (`asked`)
/// must name the version the item is at, when it names one.
pub fn expect_version<R: Record>(current: &R, asked: Option<u64>) -> Result<()> {
    match asked {
        Some(version) if version != current.version() => {
            Err(Error::PreconditionFailed(format!("the {} is at version {}", R::NAME, current.version())))
        }
        _ => Ok(()),
    }
}

/// An attribute of item `R` that holds a `V`: a change names its fields
/// with these, so a field name and its value's type cannot disagree.
pub struct Field<R, V: ?Sized> {
    name: Cow<'static, str>,
    of: PhantomData<fn(&R) -> &V>,
}

impl<R, V: ?Sized> Field<R, V> {
    pub const fn new(name: &'static str) -> Self {
        Self { name: Cow::Borrowed(name), of: PhantomData }
    }

    /// A field whose name is made at run time: one of a family of
    /// attributes, such as a histogram's buckets.
    pub fn named(name: String) -> Self {
        Self { name: Cow::Owned(name), of: PhantomData }
    }

    pub fn into_name(self) -> Cow<'static, str> {
        self.name
    }
}

/// Implements [`Record`] for an item with `id` and `audit` fields, kept
/// under `tenant.$key(id)`.
#[macro_export]
macro_rules! record {
    ($record:ty, $id:ty, $name:literal, $key:ident) => {
        impl $crate::record::Record for $record {
            const NAME: &'static str = $name;
            type Id = $id;

            fn key(tenant: &$crate::tenancy::Tenant, id: &$id) -> $crate::tenancy::Key {
                tenant.$key(id)
            }

            fn id(&self) -> &$id {
                &self.id
            }

            fn audit(&self) -> &$crate::audit::Audit {
                &self.audit
            }

            fn deleted_at(&self) -> Option<&str> {
                self.audit.deleted_at.as_deref()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::ids::{ClassId, UserId};

    #[derive(Serialize, Deserialize)]
    struct Note {
        id: ClassId,
        audit: Audit,
    }

    record!(Note, ClassId, "note", class);

    #[test]
    fn a_change_is_made_to_the_version_the_client_names_or_to_any() {
        let mut note = Note { id: ClassId::new(), audit: Audit::new(&UserId::new(), time::OffsetDateTime::UNIX_EPOCH) };
        note.audit.version = 4;
        assert!(expect_version(&note, None).is_ok());
        assert!(expect_version(&note, Some(4)).is_ok());
        for stale in [3, 5, u64::MAX] {
            assert!(
                matches!(expect_version(&note, Some(stale)), Err(Error::PreconditionFailed(m)) if m == "the note is at version 4")
            );
        }
    }
}
