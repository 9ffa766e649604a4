//! `/api/v1/messages*`: messages to members or to a whole class, in
//! threads; each participant's inbox with their own read, starred, archived
//! and deleted state, and an unread count kept exact.
//!
//! Students and parents write to teachers and admins only; staff write to
//! anyone in the organization, and a class's teacher (or an admin) to the
//! whole class. Only a thread's participants read it or reply to it.

mod mailbox;
mod send;
mod thread;
mod view;

use domain::ids::{MessageId, UserId};
use domain::message::InboxEntry;
use domain::tenancy::{Key, Tenant};
use store::AppState;
use store::db::Db;
use utoipa::OpenApi;
use web::error::{AppError, AppResult};
use web::http::{RouteTable, routes};

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi)
        .routes(routes!(send::send, mailbox::list))
        .routes(routes!(mailbox::unread_count))
        .routes(routes!(thread::thread))
        .routes(routes!(mailbox::get, mailbox::delete))
        .routes(routes!(mailbox::read))
        .routes(routes!(mailbox::unread))
        .routes(routes!(mailbox::star))
        .routes(routes!(mailbox::archive))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    components(schemas(mailbox::MessageBox)),
    tags((name = "messages", description = "Messages, threads and inboxes"))
)]
pub struct ApiDoc;

/// The caller's copy of a message (received or sent) and its key; a copy
/// they deleted, or a message that is not theirs, is not found.
async fn own_copy(
    state: &AppState,
    tenant: &Tenant,
    user: &UserId,
    message: &MessageId,
) -> AppResult<(Key, InboxEntry)> {
    let keys = [tenant.inbox_entry(user, message), tenant.sent_entry(user, message)];
    let found = state.db.batch_get(&keys).await?;
    for (key, item) in keys.into_iter().zip(found) {
        if let Some(entry) = item.map(Db::decode::<InboxEntry>).transpose()?.filter(|e| e.deleted_at.is_none()) {
            return Ok((key, entry));
        }
    }
    Err(AppError::not_found("message"))
}
