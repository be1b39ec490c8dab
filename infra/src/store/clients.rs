//! Clients: the people an agency helps. Every personal field is sealed with the tenant's cipher,
//! bound to its column and row; names and date of birth also get blind indexes, so exact search
//! never decrypts rows.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use domain::authz::CaseScope;
use domain::person::{Gender, SafeContact, search_form};
use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::{case, client};

/// A client's details, decrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientFields {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: Option<String>,
    /// Date of birth.
    pub date_of_birth: Option<NaiveDate>,
    /// Gender.
    pub gender: Option<Gender>,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Preferred language.
    pub preferred_language: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// How to contact safely.
    pub safe_contact: Option<SafeContact>,
}

impl std::fmt::Debug for ClientFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientFields(..)")
    }
}

/// A client as stored, decrypted.
#[derive(Clone, Debug)]
pub struct Client {
    /// Id.
    pub id: Uuid,
    /// The details.
    pub fields: ClientFields,
    /// Optimistic-concurrency version.
    pub version: i32,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

const GIVEN: &str = "given_name";
const FAMILY: &str = "family_name";
const BIRTH: &str = "date_of_birth";

fn sealed_columns(cipher: &TenantCipher, id: Uuid, f: &ClientFields) -> Result<client::ActiveModel, StoreError> {
    let seal = |col: &str, v: Option<&str>| cipher.seal_opt(&format!("clients.{col}"), id, v);
    let dob = f.date_of_birth.map(|d| d.format("%Y-%m-%d").to_string());
    let safe = f.safe_contact.as_ref().map(|s| super::encode_json("clients.safe_contact", s)).transpose()?;
    Ok(client::ActiveModel {
        given_name_sealed: Set(cipher.seal(&format!("clients.{GIVEN}"), id, &f.given_name)?),
        family_name_sealed: Set(seal(FAMILY, f.family_name.as_deref())?),
        date_of_birth_sealed: Set(seal(BIRTH, dob.as_deref())?),
        gender: Set(f.gender.map(|g| g.as_str().to_owned())),
        phone_sealed: Set(seal("phone", f.phone.as_deref())?),
        email_sealed: Set(seal("email", f.email.as_deref())?),
        preferred_language_sealed: Set(seal("preferred_language", f.preferred_language.as_deref())?),
        address_sealed: Set(seal("address", f.address.as_deref())?),
        safe_contact_sealed: Set(seal("safe_contact", safe.as_deref())?),
        given_name_index: Set(cipher.blind_index(GIVEN, &search_form(&f.given_name))),
        family_name_index: Set(f.family_name.as_deref().map(|n| cipher.blind_index(FAMILY, &search_form(n)))),
        date_of_birth_index: Set(dob.as_deref().map(|d| cipher.blind_index(BIRTH, d))),
        ..Default::default()
    })
}

/// The client's date of birth, opened.
fn birth_date(cipher: &TenantCipher, m: &client::Model) -> Result<Option<NaiveDate>, StoreError> {
    let text = cipher.open_opt(&format!("clients.{BIRTH}"), m.id, m.date_of_birth_sealed.as_deref())?;
    // The error names the column only: the text is a date of birth.
    text.map(|d| {
        NaiveDate::parse_from_str(&d, "%Y-%m-%d")
            .map_err(|_| StoreError::Corrupt("clients.date_of_birth: not a date".to_owned()))
    })
    .transpose()
}

fn open(cipher: &TenantCipher, m: client::Model) -> Result<Client, StoreError> {
    let id = m.id;
    let open = |col: &str, v: Option<&[u8]>| cipher.open_opt(&format!("clients.{col}"), id, v);
    let dob = birth_date(cipher, &m)?;
    let safe = open("safe_contact", m.safe_contact_sealed.as_deref())?
        .map(|s| super::decode_json("clients.safe_contact", &s))
        .transpose()?;
    Ok(Client {
        id,
        fields: ClientFields {
            given_name: cipher.open(&format!("clients.{GIVEN}"), id, &m.given_name_sealed)?,
            family_name: open(FAMILY, m.family_name_sealed.as_deref())?,
            date_of_birth: dob,
            gender: super::decode_opt("clients.gender", m.gender.as_deref(), Gender::parse)?,
            phone: open("phone", m.phone_sealed.as_deref())?,
            email: open("email", m.email_sealed.as_deref())?,
            preferred_language: open("preferred_language", m.preferred_language_sealed.as_deref())?,
            address: open("address", m.address_sealed.as_deref())?,
            safe_contact: safe,
        },
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// Inserts a client.
///
/// # Errors
/// [`StoreError`] on database or encryption failure.
pub async fn insert(tx: &TenantTx, cipher: &TenantCipher, fields: &ClientFields) -> Result<Client, StoreError> {
    let id = Uuid::now_v7();
    let now = crate::db::now();
    let mut row = sealed_columns(cipher, id, fields)?;
    row.tenant_id = Set(tx.tenant_id().as_uuid());
    row.id = Set(id);
    row.version = Set(1);
    row.created_at = Set(now);
    row.updated_at = Set(now);
    let model = row.insert(tx.raw()).await.store()?;
    open(cipher, model)
}

/// The rule of which clients `scope` may see, on `clients`: a client with no case, or with one
/// case the scope sees (so a client whose every case is restricted to someone else is hidden).
pub(super) fn seen_in(tenant: Uuid, scope: CaseScope) -> Condition {
    if scope == CaseScope::All {
        return Condition::all();
    }
    let cases_of_client = Query::select()
        .expr(Expr::val(1))
        .from(case::Entity)
        .and_where(Expr::col((case::Entity, case::Column::TenantId)).eq(tenant))
        .and_where(Expr::col((case::Entity, case::Column::ClientId)).equals((client::Entity, client::Column::Id)))
        .to_owned();
    let seen_cases = cases_of_client.clone().cond_where(super::cases::visible(scope)).to_owned();
    Condition::any().add(Expr::exists(cases_of_client).not()).add(Expr::exists(seen_cases))
}

/// Clients that `scope` may not see among `ids` (see [`seen_in`]).
async fn hidden(tx: &TenantTx, ids: &[Uuid], scope: CaseScope) -> Result<HashSet<Uuid>, StoreError> {
    if scope == CaseScope::All || ids.is_empty() {
        return Ok(HashSet::new());
    }
    let tenant = tx.tenant_id().as_uuid();
    let rows: Vec<Uuid> = client::Entity::find()
        .select_only()
        .column(client::Column::Id)
        .filter(client::Column::TenantId.eq(tenant))
        .filter(client::Column::Id.is_in(ids.to_vec()))
        .filter(seen_in(tenant, scope).not())
        .into_tuple()
        .all(tx.raw())
        .await
        .store()?;
    Ok(rows.into_iter().collect())
}

/// One client, if visible in `scope`.
///
/// # Errors
/// [`StoreError::NotFound`] when absent, another tenant's, or hidden by a restricted case.
pub async fn get(tx: &TenantTx, cipher: &TenantCipher, id: Uuid, scope: CaseScope) -> Result<Client, StoreError> {
    let model = client::Entity::find_by_id((tx.tenant_id().as_uuid(), id))
        .one(tx.raw())
        .await
        .store()?
        .ok_or(StoreError::NotFound)?;
    if hidden(tx, &[id], scope).await?.contains(&id) {
        return Err(StoreError::NotFound);
    }
    open(cipher, model)
}

/// Exact-match search criteria (each already validated); `None` matches anything.
#[derive(Clone, Default)]
pub struct ClientSearch {
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Date of birth.
    pub date_of_birth: Option<NaiveDate>,
}

impl std::fmt::Debug for ClientSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSearch(..)")
    }
}

/// A page of clients matching `search` exactly (case-insensitively for names), through the blind
/// indexes, of those `scope` may see. Returns them and whether more follow.
///
/// # Errors
/// [`StoreError`] on database or decryption failure.
pub async fn search(
    tx: &TenantTx,
    cipher: &TenantCipher,
    search: &ClientSearch,
    scope: CaseScope,
    after: Option<Uuid>,
    limit: u64,
) -> Result<(Vec<Client>, bool), StoreError> {
    let tenant = tx.tenant_id().as_uuid();
    // Visibility is part of the query, before LIMIT: filtering after it let a hidden client's
    // row end a page and become its cursor, and told the caller more rows existed than they see.
    let mut query = client::Entity::find()
        .filter(client::Column::TenantId.eq(tenant))
        .filter(seen_in(tenant, scope))
        .order_by_asc(client::Column::Id)
        .limit(limit + 1);
    if let Some(name) = &search.given_name {
        query = query.filter(client::Column::GivenNameIndex.eq(cipher.blind_index(GIVEN, &search_form(name))));
    }
    if let Some(name) = &search.family_name {
        query = query.filter(client::Column::FamilyNameIndex.eq(cipher.blind_index(FAMILY, &search_form(name))));
    }
    if let Some(date) = search.date_of_birth {
        query = query.filter(
            client::Column::DateOfBirthIndex.eq(cipher.blind_index(BIRTH, &date.format("%Y-%m-%d").to_string())),
        );
    }
    if let Some(after) = after {
        query = query.filter(client::Column::Id.gt(after));
    }
    let mut rows = query.all(tx.raw()).await.store()?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let clients = rows.into_iter().map(|r| open(cipher, r)).collect::<Result<Vec<_>, _>>()?;
    Ok((clients, more))
}

/// Replaces a client's details if the stored version is still `expected_version`.
///
/// # Errors
/// [`StoreError::NotFound`], [`StoreError::VersionMismatch`].
pub async fn update(
    tx: &TenantTx,
    cipher: &TenantCipher,
    id: Uuid,
    expected_version: i32,
    fields: &ClientFields,
) -> Result<Client, StoreError> {
    let row = sealed_columns(cipher, id, fields)?;
    let mut update = client::Entity::update_many()
        .col_expr(client::Column::Version, Expr::col(client::Column::Version).add(1))
        .col_expr(client::Column::UpdatedAt, Expr::value(crate::db::now()))
        .filter(client::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(client::Column::Id.eq(id))
        .filter(client::Column::Version.eq(expected_version));
    macro_rules! set {
        ($($col:ident => $field:ident),+) => {
            $(if let sea_orm::ActiveValue::Set(v) = row.$field.clone() {
                update = update.col_expr(client::Column::$col, Expr::value(v));
            })+
        };
    }
    set!(
        GivenNameSealed => given_name_sealed, FamilyNameSealed => family_name_sealed,
        DateOfBirthSealed => date_of_birth_sealed, Gender => gender, PhoneSealed => phone_sealed,
        EmailSealed => email_sealed, PreferredLanguageSealed => preferred_language_sealed,
        AddressSealed => address_sealed, SafeContactSealed => safe_contact_sealed,
        GivenNameIndex => given_name_index, FamilyNameIndex => family_name_index,
        DateOfBirthIndex => date_of_birth_index
    );
    // The row as updated comes back from the update itself (`RETURNING`); only a miss reads again,
    // to tell a stale version from a client that is not there.
    let Some(model) = update.exec_with_returning(tx.raw()).await.store()?.into_iter().next() else {
        client::Entity::find_by_id((tx.tenant_id().as_uuid(), id))
            .one(tx.raw())
            .await
            .store()?
            .ok_or(StoreError::NotFound)?;
        return Err(StoreError::VersionMismatch);
    };
    open(cipher, model)
}

/// What a new case takes from its client: the id, and the gender and date of birth its reporting
/// fact is banded by. Debug shows the id only.
#[derive(Clone)]
pub struct CaseClient {
    /// Id.
    pub id: Uuid,
    /// Gender, as stored.
    pub gender: Option<String>,
    /// Date of birth.
    pub date_of_birth: Option<NaiveDate>,
}

impl std::fmt::Debug for CaseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseClient").field("id", &self.id).finish_non_exhaustive()
    }
}

impl From<&Client> for CaseClient {
    fn from(client: &Client) -> Self {
        Self {
            id: client.id,
            gender: client.fields.gender.map(|g| g.as_str().to_owned()),
            date_of_birth: client.fields.date_of_birth,
        }
    }
}

impl CaseClient {
    pub(crate) fn of(cipher: &TenantCipher, m: &client::Model) -> Result<Self, StoreError> {
        Ok(Self { id: m.id, gender: m.gender.clone(), date_of_birth: birth_date(cipher, m)? })
    }
}

/// The client, when it exists in this tenant and `scope` may see it (the rule of `seen_in` in
/// this module), in one statement: a case is opened on it next, and a create's round trips are
/// counted.
///
/// # Errors
/// [`StoreError`] on database or decryption failure.
pub async fn visible(
    tx: &TenantTx,
    cipher: &TenantCipher,
    id: Uuid,
    scope: CaseScope,
) -> Result<Option<CaseClient>, StoreError> {
    let tenant = tx.tenant_id().as_uuid();
    let query = client::Entity::find_by_id((tenant, id)).filter(seen_in(tenant, scope));
    match query.one(tx.raw()).await.store()? {
        Some(model) => Ok(Some(CaseClient::of(cipher, &model)?)),
        None => Ok(None),
    }
}

/// How many clients the tenant has (for checks and operations; never shown per person).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn count(tx: &TenantTx) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait as _;
    client::Entity::find().filter(client::Column::TenantId.eq(tx.tenant_id().as_uuid())).count(tx.raw()).await.store()
}
