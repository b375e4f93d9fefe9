//! The attribute index: every scalar of a record's ETSI view (the document SOL013
//! filters test) as a row `(path, value, num)` of `record_attrs`, written by the
//! store's index task shortly after the commit that wrote the record (or in that
//! commit, when the store is so configured), and rewritten only where it changed. A
//! filter's positive terms (`eq`, `in`, the orderings, `cont`)
//! become lookups in it that yield candidate ids; the candidates are then tested against
//! the records with the filter itself, exactly as an unindexed list tests every row. So
//! the index only has to be complete, never exact: what it yields is a superset of what
//! matches.
//!
//! - A path is the attribute names from the root joined with `/`; arrays add no name (a
//!   filter's path reaches into every element), so the elements of an array at a path
//!   are leaves of that path.
//! - A string is kept in `value`; a number in `num`; `true`, `false` and `null` as that
//!   text in `value`. A string longer than [`MAX_TEXT`] bytes or holding the NUL
//!   character is kept as a marker row (`value` and `num` both NULL) that every term on
//!   its path yields: its record is always a candidate for that path.
//! - A record whose index is behind (`attrs_version` is not its `version`: the index
//!   task has not reached it yet, or a process that does not keep the index wrote it)
//!   is a candidate of every filtered list, so lists are exact at every moment.
//! - A record with more than [`MAX_LEAVES`] leaves, or a path over [`MAX_PATH`] bytes, is
//!   not indexed at all; its `attrs_version` is its version negated, which keeps it a
//!   candidate of every filtered list and tells the index task to leave it alone.

use std::collections::BTreeSet;

use sea_orm::{DbBackend, Value};
use serde_json::Value as Json;
use tacker_core::filter::{Filter, FilterOp, FilterTerm};
use tacker_core::store::RecordKind;

use crate::sql::Sql;

/// The longest string kept as it is; longer ones are marker rows.
pub const MAX_TEXT: usize = 256;
/// The most leaves an indexed record may have.
pub const MAX_LEAVES: usize = 4096;
/// The longest path an indexed record may have.
pub const MAX_PATH: usize = 512;
/// The most terms of one filter that become index lookups (the others are still tested
/// on every candidate).
const MAX_LOOKUPS: usize = 4;

/// One row of the index.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub struct Leaf {
    /// The attribute path.
    pub path: String,
    /// A string, `true`, `false` or `null`.
    pub value: Option<String>,
    /// A number.
    pub num: Option<f64>,
}

/// Whether records of `kind` are indexed (every kind a list may filter).
pub fn indexed(kind: RecordKind) -> bool {
    kind != RecordKind::DriverState
}

/// The leaves of an ETSI view, each once, or `None` when the record is not indexed.
pub fn leaves(view: &Json) -> Option<Vec<Leaf>> {
    let mut seen: BTreeSet<(String, Option<String>, Option<u64>)> = BTreeSet::new();
    let mut path = String::new();
    if !walk(view, &mut path, &mut seen) {
        return None;
    }
    Some(
        seen.into_iter()
            .map(|(path, value, num)| Leaf {
                path,
                value,
                num: num.map(f64::from_bits),
            })
            .collect(),
    )
}

fn walk(
    value: &Json,
    path: &mut String,
    out: &mut BTreeSet<(String, Option<String>, Option<u64>)>,
) -> bool {
    let leaf =
        |value: Option<String>, num: Option<f64>| (path.clone(), value, num.map(f64::to_bits));
    let entry = match value {
        Json::Object(map) => {
            for (name, child) in map {
                let before = path.len();
                if before > 0 {
                    path.push('/');
                }
                path.push_str(name);
                let fits = path.len() <= MAX_PATH && !name.contains('\0');
                let kept = fits && walk(child, path, out);
                path.truncate(before);
                if !kept {
                    return false;
                }
            }
            return true;
        }
        Json::Array(items) => return items.iter().all(|item| walk(item, path, out)),
        Json::String(s) if s.len() > MAX_TEXT || s.contains('\0') => leaf(None, None),
        Json::String(s) => leaf(Some(s.clone()), None),
        Json::Bool(b) => leaf(Some(b.to_string()), None),
        Json::Null => leaf(Some("null".to_owned()), None),
        // A number that f64 cannot hold is kept as a marker.
        Json::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() => leaf(None, Some(if f == 0.0 { 0.0 } else { f })),
            _ => leaf(None, None),
        },
    };
    out.insert(entry);
    out.len() <= MAX_LEAVES
}

/// The index rows of a record, as `INSERT` statements of at most 100 rows each.
pub fn inserts(
    backend: DbBackend,
    tenant: &str,
    kind: &str,
    id: &str,
    leaves: &[&Leaf],
) -> Vec<sea_orm::Statement> {
    leaves
        .chunks(100)
        .map(|chunk| {
            let mut sql =
                Sql::new("INSERT INTO record_attrs (tenant, kind, id, path, value, num) VALUES ");
            for (n, leaf) in chunk.iter().enumerate() {
                sql.push(if n == 0 {
                    "(?, ?, ?, ?, ?, ?)"
                } else {
                    ", (?, ?, ?, ?, ?, ?)"
                });
                sql.add(tenant);
                sql.add(kind);
                sql.add(id);
                sql.add(leaf.path.as_str());
                sql.add(leaf.value.clone());
                sql.add(leaf.num);
            }
            sql.build(backend)
        })
        .collect()
}

/// PostgreSQL: one statement that brings a record's index rows to `leaves` (passed as
/// one JSON array, so that the statement's text does not depend on their number and
/// stays prepared). Only the rows that differ are written: a state change touches the
/// few leaves it changed, not every leaf of the record. Both halves of the statement
/// see the rows as they were before it, and the rows it deletes (not among `leaves`)
/// and those it inserts (not yet stored) cannot overlap.
pub fn sync_postgres(
    tenant: &str,
    kind: &str,
    id: &str,
    leaves: &[Leaf],
) -> tacker_core::Result<sea_orm::Statement> {
    let rows: Vec<Json> = leaves
        .iter()
        .map(|leaf| serde_json::json!({"p": leaf.path, "v": leaf.value, "n": leaf.num}))
        .collect();
    let rows = serde_json::to_string(&rows)
        .map_err(|e| tacker_core::Error::Internal(format!("the attribute index rows: {e}")))?;
    Ok(Sql::new(
        "WITH wanted AS (SELECT r.p, r.v, r.n FROM json_to_recordset(CAST(? AS json)) AS r(p text, v text, n float8)), \
         gone AS (DELETE FROM record_attrs a WHERE a.tenant = ? AND a.kind = ? AND a.id = ? \
           AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.p = a.path \
             AND w.v IS NOT DISTINCT FROM a.value AND w.n IS NOT DISTINCT FROM a.num)) \
         INSERT INTO record_attrs (tenant, kind, id, path, value, num) \
         SELECT ?, ?, ?, w.p, w.v, w.n FROM wanted w \
         WHERE NOT EXISTS (SELECT 1 FROM record_attrs a WHERE a.tenant = ? AND a.kind = ? AND a.id = ? \
           AND a.path = w.p AND a.value IS NOT DISTINCT FROM w.v AND a.num IS NOT DISTINCT FROM w.n)",
    )
    .bind(rows)
    .bind(tenant)
    .bind(kind)
    .bind(id)
    .bind(tenant)
    .bind(kind)
    .bind(id)
    .bind(tenant)
    .bind(kind)
    .bind(id)
    .build(DbBackend::Postgres))
}

/// A stored index row: its row id and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLeaf {
    /// The row's `rowid` (SQLite).
    pub rowid: i64,
    /// What the row holds.
    pub leaf: Leaf,
}

/// What brings the stored rows of a record to `leaves`: the row ids to delete (stored
/// rows that are not leaves any more) and the leaves to insert (not stored yet).
pub fn diff(stored: Vec<StoredLeaf>, leaves: &[Leaf]) -> (Vec<i64>, Vec<&Leaf>) {
    type Key = (String, Option<String>, Option<u64>);
    let key = |leaf: &Leaf| -> Key {
        (
            leaf.path.clone(),
            leaf.value.clone(),
            leaf.num.map(f64::to_bits),
        )
    };
    let mut stale: std::collections::HashMap<Key, Vec<i64>> = std::collections::HashMap::new();
    for row in stored {
        stale.entry(key(&row.leaf)).or_default().push(row.rowid);
    }
    // A stored row equal to a leaf is kept (one of them, should there be copies).
    let insert = leaves
        .iter()
        .filter(|leaf| stale.get_mut(&key(leaf)).and_then(Vec::pop).is_none())
        .collect();
    let mut delete: Vec<i64> = stale.into_values().flatten().collect();
    delete.sort_unstable();
    (delete, insert)
}

/// The rows of `kind` whose index is not current: never indexed, written by a process
/// that does not keep the index, or too large to index.
pub const STALE: &str = "(attrs_version IS NULL OR attrs_version <> version)";

/// The rows of [`STALE`] that the index task still has to write: all but those marked too
/// large to index (`attrs_version` is their version negated). It begins with `STALE`
/// itself, so that the partial index `records_unindexed` serves it.
pub const PENDING: &str = "(attrs_version IS NULL OR attrs_version <> version) \
                           AND (attrs_version IS NULL OR attrs_version <> -version)";

/// A query of the ids of `kind` that are candidates for `filter`'s positive terms other
/// than those `elsewhere` answers (a typed column): those the index lookups of every
/// such term yield, and those outside the index. `None` when there are no such terms
/// (the list then tests every row the rest of its query yields).
pub fn candidates(
    backend: DbBackend,
    tenant: &str,
    kind: &str,
    filter: &Filter,
    elsewhere: impl Fn(&FilterTerm) -> bool,
) -> Option<Sql> {
    let lookups: Vec<&FilterTerm> = filter
        .terms
        .iter()
        .filter(|term| answerable(term) && !elsewhere(term))
        .take(MAX_LOOKUPS)
        .collect();
    if lookups.is_empty() {
        return None;
    }
    let mut sql = Sql::new("");
    for (n, term) in lookups.iter().enumerate() {
        if n > 0 {
            sql.push(" INTERSECT ");
        }
        sql.push("SELECT id FROM (");
        lookup(&mut sql, backend, tenant, kind, term);
        sql.push(&format!(") AS t{n}"));
    }
    sql.push(&format!(
        " UNION SELECT id FROM records WHERE tenant = ? AND kind = ? AND {STALE}"
    ));
    sql.add(tenant);
    sql.add(kind);
    Some(sql)
}

fn answerable(term: &FilterTerm) -> bool {
    !term.values.is_empty()
        && !term.path.is_empty()
        && matches!(
            term.op,
            FilterOp::Eq
                | FilterOp::In
                | FilterOp::Gt
                | FilterOp::Gte
                | FilterOp::Lt
                | FilterOp::Lte
                | FilterOp::Cont
        )
}

/// The number a filter value compares as with numbers, if any.
fn number(value: &str) -> Option<f64> {
    value.parse::<f64>().ok().filter(|f| !f.is_nan())
}

/// `SELECT id … UNION ALL SELECT id …`: the ids whose leaves at the term's path may
/// satisfy it.
fn lookup(sql: &mut Sql, backend: DbBackend, tenant: &str, kind: &str, term: &FilterTerm) {
    let path = term.path.join("/");
    let mut first = true;
    let mut select = |sql: &mut Sql, condition: &str, values: Vec<Value>| {
        if !first {
            sql.push(" UNION ALL ");
        }
        first = false;
        sql.push("SELECT id FROM record_attrs WHERE tenant = ? AND kind = ? AND path = ? AND ");
        sql.add(tenant);
        sql.add(kind);
        sql.add(path.as_str());
        sql.push(condition);
        for value in values {
            sql.add(value);
        }
    };
    let marks = |n: usize| vec!["?"; n].join(", ");
    match term.op {
        FilterOp::Eq | FilterOp::In => {
            let texts: Vec<Value> = term
                .values
                .iter()
                .filter(|v| v.len() <= MAX_TEXT)
                .map(|v| Value::from(v.as_str()))
                .collect();
            let numbers: Vec<Value> = term
                .values
                .iter()
                .filter_map(|v| number(v))
                .map(|f| Value::from(if f == 0.0 { 0.0 } else { f }))
                .collect();
            if !texts.is_empty() {
                select(sql, &format!("value IN ({})", marks(texts.len())), texts);
            }
            if !numbers.is_empty() {
                select(sql, &format!("num IN ({})", marks(numbers.len())), numbers);
            }
            if term.values.iter().any(|v| v.len() > MAX_TEXT) {
                select(sql, "value IS NULL AND num IS NULL", Vec::new());
            }
        }
        FilterOp::Cont => {
            let function = match backend {
                DbBackend::Postgres => "strpos",
                _ => "instr",
            };
            let tests = vec![format!("{function}(value, ?) > 0"); term.values.len()].join(" OR ");
            select(
                sql,
                &format!("({tests})"),
                term.values
                    .iter()
                    .map(|v| Value::from(v.as_str()))
                    .collect(),
            );
            select(sql, "value IS NULL AND num IS NULL", Vec::new());
        }
        FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte => {
            let operator = match term.op {
                FilterOp::Gt => ">",
                FilterOp::Gte => ">=",
                FilterOp::Lt => "<",
                _ => "<=",
            };
            let bound = &term.values[0];
            select(
                sql,
                &format!("value {operator} ?"),
                vec![Value::from(bound.as_str())],
            );
            if let Some(f) = number(bound) {
                select(sql, &format!("num {operator} ?"), vec![Value::from(f)]);
            }
            select(sql, "value IS NULL AND num IS NULL", Vec::new());
        }
        FilterOp::Neq | FilterOp::Nin | FilterOp::Ncont => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(view: &Json) -> Vec<(String, Option<String>, Option<f64>)> {
        leaves(view)
            .expect("indexed")
            .into_iter()
            .map(|l| (l.path, l.value, l.num))
            .collect()
    }

    #[test]
    fn arrays_add_no_name_and_duplicates_are_kept_once() {
        let view = json!({
            "id": "a",
            "info": {"cps": [{"id": "cp1", "n": 1}, {"id": "cp1", "n": 2.5}], "on": true},
            "tags": ["x", ["y", null]],
            "empty": {},
        });
        assert_eq!(
            paths(&view),
            vec![
                ("id".into(), Some("a".into()), None),
                ("info/cps/id".into(), Some("cp1".into()), None),
                ("info/cps/n".into(), None, Some(1.0)),
                ("info/cps/n".into(), None, Some(2.5)),
                ("info/on".into(), Some("true".into()), None),
                ("tags".into(), Some("null".into()), None),
                ("tags".into(), Some("x".into()), None),
                ("tags".into(), Some("y".into()), None),
            ]
        );
    }

    #[test]
    fn long_and_nul_strings_are_markers_and_oversized_records_are_not_indexed() {
        let long = "x".repeat(MAX_TEXT + 1);
        assert_eq!(
            paths(&json!({"a": long, "b": "n\0l", "c": "x".repeat(MAX_TEXT)})),
            vec![
                ("a".into(), None, None),
                ("b".into(), None, None),
                ("c".into(), Some("x".repeat(MAX_TEXT)), None),
            ]
        );
        let many: Vec<usize> = (0..=MAX_LEAVES).collect();
        assert!(leaves(&json!({ "many": many })).is_none());
        let deep = "k".repeat(MAX_PATH + 1);
        assert!(leaves(&json!({ deep: 1 })).is_none());
        assert!(leaves(&json!({"a\0b": 1})).is_none());
    }

    #[test]
    fn pending_rows_are_stale_rows() {
        assert!(PENDING.starts_with(STALE));
    }

    #[test]
    fn a_diff_writes_only_the_rows_that_changed() {
        let before = leaves(&json!({"id": "a", "state": "STARTING", "n": [1, 2]})).expect("leaves");
        let after =
            leaves(&json!({"id": "a", "state": "PROCESSING", "n": [2, 3]})).expect("leaves");
        let mut stored: Vec<StoredLeaf> = before
            .into_iter()
            .enumerate()
            .map(|(n, leaf)| StoredLeaf {
                rowid: i64::try_from(n).expect("small") + 10,
                leaf,
            })
            .collect();
        // A copy of a kept row (left by an older writer) goes too.
        let copy = stored
            .iter()
            .find(|row| row.leaf.path == "id")
            .cloned()
            .expect("id");
        stored.push(StoredLeaf { rowid: 99, ..copy });
        let by_id: std::collections::HashMap<i64, Leaf> = stored
            .iter()
            .map(|row| (row.rowid, row.leaf.clone()))
            .collect();
        let (delete, insert) = diff(stored, &after);
        let mut deleted: Vec<(String, Option<String>, Option<f64>)> = delete
            .iter()
            .map(|rowid| {
                let leaf = by_id[rowid].clone();
                (leaf.path, leaf.value, leaf.num)
            })
            .collect();
        deleted.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
        assert_eq!(
            deleted,
            vec![
                ("id".into(), Some("a".into()), None),
                ("n".into(), None, Some(1.0)),
                ("state".into(), Some("STARTING".into()), None),
            ]
        );
        let inserted: Vec<(&str, Option<&str>, Option<f64>)> = insert
            .iter()
            .map(|leaf| (leaf.path.as_str(), leaf.value.as_deref(), leaf.num))
            .collect();
        assert_eq!(
            inserted,
            vec![("n", None, Some(3.0)), ("state", Some("PROCESSING"), None)]
        );
        // Nothing to write when nothing changed.
        let same: Vec<StoredLeaf> = after
            .iter()
            .cloned()
            .enumerate()
            .map(|(n, leaf)| StoredLeaf {
                rowid: i64::try_from(n).expect("small"),
                leaf,
            })
            .collect();
        let (delete, insert) = diff(same, &after);
        assert!(delete.is_empty() && insert.is_empty());
    }

    #[test]
    fn only_positive_terms_become_lookups() {
        let negative = Filter::parse("(neq,a,1);(nin,b,2,3);(ncont,c,x)").expect("filter");
        assert!(candidates(DbBackend::Sqlite, "t", "k", &negative, |_| false).is_none());
        let mixed = Filter::parse("(neq,a,1);(eq,b,2);(cont,c,x,y)").expect("filter");
        let sql = candidates(DbBackend::Postgres, "t", "k", &mixed, |_| false).expect("lookups");
        assert!(
            candidates(DbBackend::Sqlite, "t", "k", &mixed, |t| t.path == ["b"]
                || t.path == ["c"])
            .is_none()
        );
        assert!(sql.text.contains("INTERSECT"), "{}", sql.text);
        assert!(
            sql.text
                .contains("strpos(value, ?) > 0 OR strpos(value, ?) > 0")
        );
        assert!(!sql.text.contains("path = ? AND value <> ?"));
    }
}
