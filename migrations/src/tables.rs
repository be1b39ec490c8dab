//! Helpers for declaring tenant tables the same way in every migration.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::uuid;

/// A table or column name.
pub fn a(name: &str) -> Alias {
    Alias::new(name)
}

/// A tenant table with `(tenant_id, id)` as its key and the given further columns.
pub fn tenant_table(name: &str, columns: Vec<ColumnDef>) -> TableCreateStatement {
    let mut table = Table::create();
    table.table(a(name)).col(uuid(a("tenant_id"))).col(uuid(a("id")));
    for mut column in columns {
        table.col(&mut column);
    }
    table.primary_key(Index::create().col(a("tenant_id")).col(a("id")));
    table.to_owned()
}

/// A composite foreign key `(tenant_id, column)` → `target (tenant_id, id)`.
pub fn tenant_fk(table: &str, column: &str, target: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(a(table), (a("tenant_id"), a(column)))
        .to(a(target), (a("tenant_id"), a("id")))
        .to_owned()
}

/// An index named `ix_<table>_<name>` (or `ux_` when unique) on `columns`.
pub fn index(table: &str, name: &str, columns: &[&str], unique: bool) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(format!("{}_{table}_{name}", if unique { "ux" } else { "ix" })).table(a(table));
    for column in columns {
        index.col(a(column));
    }
    if unique {
        index.unique();
    }
    index.to_owned()
}
