//! Publishing to classes, the part lessons and assessments share: which
//! classes a publication may add, whether a student reaches a published item
//! through one of their classes, and one page of a class's published items.
//!
//! An item published to a class has one entry `<PREFIX><item>` in the class's partition
//! ([`ClassEntry`]), so a class's items are one Query.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::ClassId;
use crate::record::Record;
use crate::tenancy::{Key, Tenant};

/// An item is published to at most this many classes.
pub const MAX_CLASSES: usize = 20;

/// Where to publish an item.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    /// Classes of the organization to publish to (added to those it is in).
    #[schema(min_items = 1, max_items = 20)]
    pub class_ids: Vec<ClassId>,
}

/// An item's place in one class's list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassEntry {
    pub class_id: ClassId,
    /// The lesson's or assessment's id (`lesson_id` in lessons' first entries).
    #[serde(alias = "lesson_id")]
    pub item_id: String,
    pub published_at: String,
}

/// The fields publishing sets, which every publishable record has.
pub mod field {
    use super::Publishable;
    use crate::ids::ClassId;
    use crate::record::Field;

    pub fn status<R: Publishable>() -> Field<R, str> {
        Field::new("status")
    }

    pub fn class_ids<R: Publishable>() -> Field<R, [ClassId]> {
        Field::new("class_ids")
    }

    pub fn published_at<R: Publishable>() -> Field<R, str> {
        Field::new("published_at")
    }
}

/// What a tenant's content is counted by: its library (`/content`), its
/// lessons and its assessments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    Library,
    Lesson,
    Assessment,
}

impl ContentKind {
    pub const ALL: [ContentKind; 3] = [ContentKind::Library, ContentKind::Lesson, ContentKind::Assessment];
}

/// What lessons and assessments share as things published to classes.
pub trait Publishable: Record {
    /// Which of the tenant's content totals it counts in.
    const KIND: ContentKind;
    /// The sort-key prefix of every item of the kind: of the records in
    /// the tenant's list, and of their entries in a class's partition.
    const PREFIX: &'static str;
    /// The list's name, which binds its cursors.
    const LIST: &'static str;
    /// The item's entry in one class's list.
    fn class_entry(tenant: &Tenant, class: &ClassId, id: &Self::Id) -> Key;
    fn published_at(&self) -> Option<&str>;
    /// An item's key from the id a class entry holds.
    fn key_of(tenant: &Tenant, id: &str) -> Result<Key> {
        let id = id.parse().map_err(|_| Error::internal(format!("a class entry names no {} id: {id}", Self::NAME)))?;
        Ok(Self::key(tenant, &id))
    }
    fn is_published(&self) -> bool;
    fn class_ids(&self) -> &[ClassId];
    /// The attribute of a class item that counts the items of the kind
    /// published to it.
    const COUNTED_AS: &'static str;
    /// What a class it is published to keeps of it besides the count: its
    /// due date, for an item that has one.
    fn due(&self) -> Option<Due> {
        None
    }
    /// The small item a kind keeps beside a published item, once it is
    /// published to `class_ids`, for readers that must not read the item
    /// whole on every request; none by default.
    fn summary(&self, _tenant: &Tenant, _class_ids: &[ClassId]) -> Result<Option<Summary>> {
        Ok(None)
    }
}

/// A published item's due date as the classes it is published to keep it
/// (attribute `due_<id>` of each class's dues item, `Tenant::class_dues`),
/// so that an overview of a person's classes is one read of the class
/// items and their dues items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Due {
    pub title: String,
    pub due_at: String,
}

impl Due {
    pub const ATTRIBUTE_PREFIX: &'static str = "due_";

    /// The dues item's attribute that holds the due date of item `id`.
    pub fn attribute(id: &impl std::fmt::Display) -> String {
        format!("{}{id}", Self::ATTRIBUTE_PREFIX)
    }
}

/// A published item's summary, as it is written: where, and what.
pub struct Summary {
    pub key: Key,
    pub item: serde_json::Value,
}

impl Summary {
    pub fn of<T: Serialize>(key: Key, summary: &T) -> Result<Self> {
        let item = serde_json::to_value(summary).map_err(|err| Error::internal(format!("a summary: {err}")))?;
        Ok(Self { key, item })
    }
}
