//! Reads that a parent's link to a child must hold for.

use domain::error::{Error, Result};
use domain::tenancy::Key;

use crate::db::{Db, Item};

/// Reads `keys` in one round trip (the result follows them); `link`, when
/// given, must exist too, or the whole answer is a 404 (a parent asking
/// about a child who is not theirs learns nothing).
pub async fn read_with_link(db: &Db, link: Option<Key>, keys: Vec<Key>) -> Result<Vec<Option<Item>>> {
    let mut wanted: Vec<Key> = link.iter().cloned().collect();
    wanted.extend(keys);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = db.batch_get(&wanted).await?.into_iter();
    if link.is_some() && found.next().flatten().is_none() {
        return Err(Error::not_found("student"));
    }
    Ok(found.collect())
}
