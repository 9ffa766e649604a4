//! `GET /content/search?q=`: the tenant's content ranked by the words it
//! matches, read from the search index with Query (see `store::search`).

use std::collections::{HashMap, HashSet};

use axum::extract::{Query, State};
use axum::http::Uri;
use domain::content::ContentItem;
use domain::ids::ContentId;
use domain::tenancy::Tenant;
use serde::Deserialize;
use store::AppState;
use store::cursor;
use store::db::{Db, Range};
use store::search;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::PageRequest;
use web::extract::Staff;
use web::openapi::*;

use crate::view::{ContentSummary, SearchHit};

const MAX_QUERY_CHARS: usize = 200;
const MAX_WORDS: usize = 8;
/// Index entries read per word: a word in more items than this is too
/// common to rank by, and the results say so by being the first this many.
const ENTRIES_PER_WORD: usize = 500;
/// Items ranked per search, the ones matching the most words.
const CANDIDATES: usize = 100;

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

/// The words of `?q=`, or a 400 that says what is wrong.
fn query_words(uri: &Uri) -> AppResult<Vec<String>> {
    let Query(query) = Query::<SearchQuery>::try_from_uri(uri)
        .map_err(|_| AppError::BadRequest("the query string is malformed".into()))?;
    let q = query.q.unwrap_or_default();
    if q.trim().is_empty() || q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::BadRequest(format!("q must be 1 to {MAX_QUERY_CHARS} characters")));
    }
    let mut words: Vec<String> = Vec::new();
    for word in search::words(&q) {
        if !words.contains(&word) {
            words.push(word);
        }
    }
    if words.is_empty() {
        return Err(AppError::BadRequest("q has no words to search for (only short or common words)".into()));
    }
    if words.len() > MAX_WORDS {
        return Err(AppError::BadRequest(format!("q may have at most {MAX_WORDS} words")));
    }
    Ok(words)
}

/// Searches titles, objectives and text of the organization's content. Items
/// matching more words come first, then those where the words weigh more
/// (title over objectives over text); the last word also matches longer
/// words it begins.
#[utoipa::path(
    get,
    path = "/api/v1/content/search",
    operation_id = "search_content",
    tag = "content",
    params(
        ("q" = String, Query, min_length = 1, max_length = 200, description = "Words to look for"),
        PageRequest,
    ),
    responses(
        (status = 200, description = "The matching content, best first", body = Success<Vec<SearchHit>>),
        ReadList,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn search(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    uri: Uri,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<SearchHit>>> {
    let words = query_words(&uri)?;
    let keys = state.key_set().await?;
    let list = format!("search?q={}", words.join(" "));
    let offset: usize = match page.cursor.as_deref() {
        Some(c) => cursor::decode(&keys, &tenant, &list, c)?
            .get("offset")
            .and_then(|o| o.parse().ok())
            .ok_or_else(|| AppError::BadRequest("the cursor is not valid for this list".into()))?,
        None => 0,
    };
    let mut hits = ranked(&state, &tenant, &words).await?;
    let limit = page.limit as usize;
    let next = (hits.len() > offset + limit).then(|| {
        let last = HashMap::from([
            ("pk".to_owned(), tenant.search_partition()),
            ("offset".to_owned(), (offset + limit).to_string()),
        ]);
        cursor::encode(&keys, &tenant, &list, &last)
    });
    let page: Vec<SearchHit> = hits.drain(..).skip(offset).take(limit).collect();
    Ok(ApiResponse::page(page, next))
}

/// Every match among the candidates, best first.
async fn ranked(state: &AppState, tenant: &Tenant, words: &[String]) -> AppResult<Vec<SearchHit>> {
    let partition = tenant.search_partition();
    let mut found: HashMap<ContentId, usize> = HashMap::new();
    for (i, word) in words.iter().enumerate() {
        let as_prefix = i + 1 == words.len() && word.chars().count() >= search::MIN_PREFIX_CHARS;
        let prefix =
            if as_prefix { format!("{}{word}", Tenant::SEARCH_TERM_PREFIX) } else { Tenant::search_term_prefix(word) };
        // Newest first: when a word is in more items than are read, the
        // newest of them are the candidates.
        let range = Range::of(&partition, &prefix).newest_first();
        let (entries, _) = state.db.keys(&range, ENTRIES_PER_WORD).await?;
        let items: HashSet<ContentId> = entries.iter().filter_map(|key| search::content_of_entry(&key.sk)).collect();
        for item in items {
            *found.entry(item).or_default() += 1;
        }
    }
    let mut candidates: Vec<(ContentId, usize)> = found.into_iter().collect();
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    candidates.truncate(CANDIDATES);
    let keys: Vec<_> = candidates.iter().map(|(id, _)| tenant.content(id)).collect();
    let mut hits = Vec::new();
    for item in state.db.batch_get(&keys).await?.into_iter().flatten() {
        let Some(item) = Db::decode_live::<ContentItem>(Some(item))? else { continue };
        let (matched, score) = search::score(&item.search_terms, words);
        if matched > 0 {
            hits.push((
                item.audit.updated_at.clone(),
                SearchHit { content: ContentSummary::from(&item), matched, score },
            ));
        }
    }
    hits.sort_by(|(a_at, a), (b_at, b)| b.matched.cmp(&a.matched).then(b.score.cmp(&a.score)).then(b_at.cmp(a_at)));
    Ok(hits.into_iter().map(|(_, hit)| hit).collect())
}
