//! Case notes: bodies sealed, never edited or deleted; a correction is a new note that points at
//! the note it amends.

use chrono::{DateTime, Utc};
use domain::UserId;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::note;

/// A note, decrypted.
#[derive(Clone)]
pub struct Note {
    /// Id.
    pub id: Uuid,
    /// The case.
    pub case_id: Uuid,
    /// The text.
    pub body: String,
    /// Who wrote it.
    pub author_id: UserId,
    /// The note this one corrects, if an amendment.
    pub amends_note_id: Option<Uuid>,
    /// When written.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Note").field("id", &self.id).field("case_id", &self.case_id).finish_non_exhaustive()
    }
}

const BODY: &str = "notes.body";

fn open(cipher: &TenantCipher, m: note::Model) -> Result<Note, StoreError> {
    Ok(Note {
        body: cipher.open(BODY, m.id, &m.body_sealed)?,
        id: m.id,
        case_id: m.case_id,
        author_id: UserId::from_uuid(m.author_id),
        amends_note_id: m.amends_note_id,
        created_at: m.created_at,
    })
}

/// Adds a note (or, with `amends`, an amendment of a note of the same case).
///
/// # Errors
/// [`StoreError::NotFound`] when `amends` is not a note of this case.
pub async fn insert(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    body: &str,
    author: UserId,
    amends: Option<Uuid>,
) -> Result<Note, StoreError> {
    if let Some(original) = amends {
        let found = note::Entity::find_by_id((tx.tenant_id().as_uuid(), original)).one(tx.raw()).await.store()?;
        if found.is_none_or(|n| n.case_id != case_id) {
            return Err(StoreError::NotFound);
        }
    }
    let id = Uuid::now_v7();
    let model = note::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(id),
        case_id: Set(case_id),
        body_sealed: Set(cipher.seal(BODY, id, body)?),
        author_id: Set(author.as_uuid()),
        amends_note_id: Set(amends),
        created_at: Set(crate::db::now()),
    }
    .insert(tx.raw())
    .await
    .store()?;
    open(cipher, model)
}

/// A page of a case's notes and amendments, oldest first.
///
/// # Errors
/// [`StoreError`] on database or decryption failure.
pub async fn list(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Note>, StoreError> {
    let mut query = note::Entity::find()
        .filter(note::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(note::Column::CaseId.eq(case_id))
        .order_by_asc(note::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(note::Column::Id.gt(after));
    }
    query.all(tx.raw()).await.store()?.into_iter().map(|m| open(cipher, m)).collect()
}
