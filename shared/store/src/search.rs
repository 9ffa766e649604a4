//! Full-text search of a tenant's content without a Scan: each content item
//! is indexed under its terms (`TERM#<term>#<content id>` in the tenant's
//! partition), and a search reads the entries of its terms with Query.
//!
//! A content item keeps its own term weights (`search_terms`). Those are the
//! truth a search ranks by, so an index entry left behind by an update or a
//! delete can only propose a candidate, never rank it.

use std::collections::BTreeMap;

use crate::db::{Db, DbError, Item};
use domain::generation::content::GeneratedContent;
use domain::ids::ContentId;
use domain::tenancy::Tenant;

/// An item is indexed under at most this many terms, its weightiest.
pub const MAX_TERMS: usize = 200;
const MIN_TERM_CHARS: usize = 2;
const MAX_TERM_CHARS: usize = 32;

/// Where a word appears says how much it counts.
const TITLE: u32 = 8;
const OBJECTIVE: u32 = 4;
const HEADING: u32 = 3;
const SUMMARY: u32 = 2;
const TEXT: u32 = 1;
/// The last word of a query also finds longer words it begins, from this length.
pub const MIN_PREFIX_CHARS: usize = 3;
/// One word said many times is not worth more than this in one item.
const MAX_WEIGHT: u32 = 40;

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "how", "in", "is", "it", "its", "of", "on", "or",
    "that", "the", "this", "to", "was", "what", "which", "with",
];

/// The words of `text` as the index keeps them: lower case, letters and
/// digits only, stop words and one-letter words left out.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|word| (MIN_TERM_CHARS..=MAX_TERM_CHARS).contains(&word.chars().count()))
        .filter(|word| !STOP_WORDS.contains(&word.as_str()))
}

/// The terms of a content item and their weights, the weightiest
/// [`MAX_TERMS`] of them.
pub fn terms(content: &GeneratedContent) -> BTreeMap<String, u32> {
    let mut weights: BTreeMap<String, u32> = BTreeMap::new();
    let mut add = |text: &str, weight: u32| {
        for word in words(text) {
            let total = weights.entry(word).or_default();
            *total = (*total + weight).min(MAX_WEIGHT);
        }
    };
    add(&content.title, TITLE);
    add(&content.summary, SUMMARY);
    for objective in &content.objectives {
        add(objective, OBJECTIVE);
    }
    for section in &content.sections {
        add(&section.heading, HEADING);
        add(&section.body, TEXT);
    }
    for question in &content.quiz {
        add(&question.question, TEXT);
        for option in &question.options {
            add(option, TEXT);
        }
    }
    if weights.len() > MAX_TERMS {
        let mut ranked: Vec<(String, u32)> = weights.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        ranked.truncate(MAX_TERMS);
        weights = ranked.into_iter().collect();
    }
    weights
}

/// How well an item's terms answer the query words: how many words it
/// matches, then their weights. The last word may be the start of a longer
/// one (search as you type) and then counts half.
pub fn score(terms: &BTreeMap<String, u32>, query: &[String]) -> (usize, u32) {
    let mut matched = 0;
    let mut weight = 0;
    for (i, word) in query.iter().enumerate() {
        let exact = terms.get(word).copied();
        let prefix = || {
            (i + 1 == query.len() && word.chars().count() >= MIN_PREFIX_CHARS)
                .then(|| {
                    terms
                        .range(word.clone()..)
                        .take_while(|(t, _)| t.starts_with(word.as_str()))
                        .map(|(_, w)| w / 2)
                        .max()
                })
                .flatten()
        };
        if let Some(w) = exact.or_else(prefix) {
            matched += 1;
            weight += w.max(1);
        }
    }
    (matched, weight)
}

/// Puts the index entries of every term of `version` of an item, each
/// stamped with that version. Run it before the item is written: an entry
/// whose item is missing (or lacks the term) is skipped by a search, but an
/// item without its entries could not be found.
pub async fn add(
    db: &Db,
    tenant: &Tenant,
    content: &ContentId,
    version: u64,
    terms: &BTreeMap<String, u32>,
) -> Result<(), DbError> {
    let puts = terms
        .keys()
        .map(|term| Db::item(&tenant.search_term(term, content), &Entry { content_id: content, version }))
        .collect::<Result<Vec<Item>, DbError>>()?;
    db.batch_write(puts, Vec::new()).await
}

/// Deletes the entries of the terms in `old` but not in `current`, once the
/// item no longer has them; only entries written before `current_version`,
/// so a slow prune never removes an entry that a later edit put back.
pub async fn prune(
    db: &Db,
    tenant: &Tenant,
    content: &ContentId,
    old: &BTreeMap<String, u32>,
    current: &BTreeMap<String, u32>,
    current_version: u64,
) -> Result<(), DbError> {
    let mut deletes = tokio::task::JoinSet::new();
    for term in old.keys().filter(|term| !current.contains_key(*term)) {
        let (db, key) = (db.clone(), tenant.search_term(term, content));
        deletes.spawn(async move { db.delete_if_older(&key, current_version).await });
    }
    while let Some(done) = deletes.join_next().await {
        done.map_err(|err| DbError::failed("DeleteItem", err))??;
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct Entry<'a> {
    content_id: &'a ContentId,
    /// The item version that wrote it.
    version: u64,
}

/// The content id an index entry's sort key ends with.
pub fn content_of_entry(sort_key: &str) -> Option<ContentId> {
    sort_key.rsplit('#').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::generation::content::{Question, Section};

    fn lesson() -> GeneratedContent {
        GeneratedContent {
            title: "Photosynthesis for Grade 7".into(),
            summary: "How plants make food from light.".into(),
            objectives: vec!["Explain chlorophyll".into()],
            sections: vec![Section { heading: "Light".into(), body: "Leaves catch the light, the LIGHT!".into() }],
            quiz: vec![Question {
                question: "What do leaves catch?".into(),
                options: vec!["Light".into(), "Sound".into()],
                answer_index: 0,
                explanation: "Leaves catch light.".into(),
            }],
        }
    }

    #[test]
    fn terms_weigh_where_a_word_appears() {
        let terms = terms(&lesson());
        assert_eq!(terms["photosynthesis"], TITLE);
        assert_eq!(terms["chlorophyll"], OBJECTIVE);
        // heading, twice in the body, the question's option
        assert_eq!(terms["light"], HEADING + SUMMARY + 3 * TEXT);
        assert!(!terms.contains_key("the") && !terms.contains_key("7"));
    }

    #[test]
    fn an_item_keeps_only_its_weightiest_terms() {
        let mut content = lesson();
        content.sections[0].body = (0..500).map(|i| format!("word{i}")).collect::<Vec<_>>().join(" ");
        let terms = terms(&content);
        assert_eq!(terms.len(), MAX_TERMS);
        assert!(terms.contains_key("photosynthesis") && terms.contains_key("chlorophyll"));
    }

    #[test]
    fn more_matched_words_rank_first_and_the_last_word_may_be_a_prefix() {
        let terms = terms(&lesson());
        let query = |q: &str| words(q).collect::<Vec<_>>();
        assert_eq!(score(&terms, &query("photosynthesis light")), (2, TITLE + terms["light"]));
        assert_eq!(score(&terms, &query("photo")), (1, TITLE / 2));
        assert_eq!(score(&terms, &query("photo light")).0, 1, "only the last word is a prefix");
        assert_eq!(score(&terms, &query("gravity")), (0, 0));
    }

    #[test]
    fn an_entry_names_its_content() {
        let tenant = Tenant::for_new_organization();
        let id = ContentId::new();
        assert_eq!(content_of_entry(&tenant.search_term("light", &id).sk), Some(id));
    }
}
