//! Field ownership, as server-side apply keeps it in `managedFields`: every manager
//! owns a set of field paths (`fieldsV1`, in the API server's own notation: `f:<field>`
//! for a field, `k:{"name":…}` for an item of a list keyed by name, `{}` for a leaf).
//!
//! - An apply by a manager owns exactly the fields of its configuration; the fields it
//!   applied before and leaves out now go from the object unless another manager owns
//!   them; forced, it takes its fields from the other managers.
//! - Any other write (create, update, patch, a subresource) gives its manager the
//!   fields it changed and takes them from the others.
//!
//! Lists of objects that all have a `name` are keyed by it (as the double's strategic
//! merge patch merges them); other lists are owned as a whole.

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

use super::state::{meta_mut, now_rfc3339};

/// A field path: `f:<field>` and `k:{"name":"…"}` segments.
pub type Path = Vec<String>;

/// The metadata fields the API server keeps itself, never owned.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Which part of an object a write changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Everything but `status`.
    Main,
    /// `status` only (the `status` subresource).
    Status,
}

fn keyed(items: &[Value]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|i| i.get("name").is_some_and(Value::is_string))
}

fn item_segment(item: &Value) -> String {
    format!("k:{}", json!({"name": item["name"]}))
}

/// The leaf paths of `object` that a manager can own in `part`.
pub fn paths(object: &Value, part: Part) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    let Some(map) = object.as_object() else {
        return out;
    };
    for (key, value) in map {
        let owned = match (key.as_str(), part) {
            ("apiVersion" | "kind", _) => false,
            ("status", Part::Status) => true,
            (_, Part::Status) => false,
            ("status", Part::Main) => false,
            _ => true,
        };
        if !owned {
            continue;
        }
        if key == "metadata" {
            if let Some(meta) = value.as_object() {
                for (field, v) in meta {
                    if !SERVER_METADATA.contains(&field.as_str()) {
                        collect(
                            v,
                            vec!["f:metadata".to_owned(), format!("f:{field}")],
                            &mut out,
                        );
                    }
                }
            }
            continue;
        }
        collect(value, vec![format!("f:{key}")], &mut out);
    }
    out
}

fn collect(value: &Value, at: Path, out: &mut BTreeSet<Path>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                let mut next = at.clone();
                next.push(format!("f:{key}"));
                collect(v, next, out);
            }
        }
        Value::Array(items) if keyed(items) => {
            for item in items {
                let mut next = at.clone();
                next.push(item_segment(item));
                let before = out.len();
                collect(item, next.clone(), out);
                if out.len() == before {
                    out.insert(next);
                }
            }
        }
        _ => {
            out.insert(at);
        }
    }
}

/// The value at `path` in `object`, if any.
fn get<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut current = object;
    for segment in path {
        current = if let Some(field) = segment.strip_prefix("f:") {
            current.get(field)?
        } else {
            let key: Value = serde_json::from_str(segment.strip_prefix("k:")?).ok()?;
            current
                .as_array()?
                .iter()
                .find(|i| i["name"] == key["name"])?
        };
    }
    Some(current)
}

/// Removes what `path` names from `object`.
fn remove(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = object;
    for segment in parents {
        let next = if let Some(field) = segment.strip_prefix("f:") {
            current.get_mut(field)
        } else {
            let Some(key) = segment
                .strip_prefix("k:")
                .and_then(|k| serde_json::from_str::<Value>(k).ok())
            else {
                return;
            };
            current
                .as_array_mut()
                .and_then(|items| items.iter_mut().find(|i| i["name"] == key["name"]))
        };
        let Some(next) = next else { return };
        current = next;
    }
    if let Some(field) = last.strip_prefix("f:") {
        if let Some(map) = current.as_object_mut() {
            map.remove(field);
        }
    } else if let Some(key) = last
        .strip_prefix("k:")
        .and_then(|k| serde_json::from_str::<Value>(k).ok())
        && let Some(items) = current.as_array_mut()
    {
        items.retain(|i| i["name"] != key["name"]);
    }
}

/// Removes the empty maps and lists that removing fields left at `path`'s parents.
fn prune(object: &mut Value, path: &[String], keep: &BTreeSet<Path>) {
    for depth in (1..path.len()).rev() {
        let parent = &path[..depth];
        if keep.iter().any(|p| p.starts_with(parent)) {
            return;
        }
        let empty = get(object, parent).is_some_and(|v| match v {
            Value::Object(m) => m.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => false,
        });
        if !empty {
            return;
        }
        remove(object, parent);
    }
}

/// A set of paths in the API server's `fieldsV1` notation.
pub fn to_fields_v1(paths: &BTreeSet<Path>) -> Value {
    let mut root = Map::new();
    for path in paths {
        let mut current = &mut root;
        for segment in path {
            let entry = current
                .entry(segment.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(next) = entry else { break };
            current = next;
        }
    }
    Value::Object(root)
}

/// The paths of a `fieldsV1` value.
pub fn from_fields_v1(fields: &Value) -> BTreeSet<Path> {
    fn walk(value: &Value, at: Path, out: &mut BTreeSet<Path>) {
        let children: Vec<(&String, &Value)> = value
            .as_object()
            .map(|m| m.iter().filter(|(k, _)| k.as_str() != ".").collect())
            .unwrap_or_default();
        if children.is_empty() {
            if !at.is_empty() {
                out.insert(at);
            }
            return;
        }
        for (key, child) in children {
            let mut next = at.clone();
            next.push(key.clone());
            walk(child, next, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(fields, Vec::new(), &mut out);
    out
}

/// One entry of `managedFields`.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    subresource: Option<String>,
    time: String,
    fields: BTreeSet<Path>,
}

impl Entry {
    fn parse(value: &Value) -> Self {
        Self {
            manager: value["manager"].as_str().unwrap_or_default().to_owned(),
            operation: value["operation"].as_str().unwrap_or_default().to_owned(),
            api_version: value["apiVersion"].as_str().unwrap_or_default().to_owned(),
            subresource: value["subresource"].as_str().map(str::to_owned),
            time: value["time"].as_str().unwrap_or_default().to_owned(),
            fields: from_fields_v1(&value["fieldsV1"]),
        }
    }

    fn value(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(&self.fields),
        });
        if let Some(subresource) = &self.subresource {
            entry["subresource"] = json!(subresource);
        }
        entry
    }

    fn same(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }
}

fn entries(object: &Value) -> Vec<Entry> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|a| a.iter().map(Entry::parse).collect())
        .unwrap_or_default()
}

/// Stores the entries that own something, in the API server's order: applies before
/// updates, then by time (to the second), manager, subresource and API version.
fn store_entries(object: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.fields.is_empty());
    let second = |time: &str| time.get(..19).unwrap_or(time).to_owned();
    entries.sort_by(|a, b| {
        (
            &a.operation,
            second(&a.time),
            &a.manager,
            &a.subresource,
            &a.api_version,
        )
            .cmp(&(
                &b.operation,
                second(&b.time),
                &b.manager,
                &b.subresource,
                &b.api_version,
            ))
    });
    let kept: Vec<Value> = entries.iter().map(Entry::value).collect();
    let meta = meta_mut(object);
    if kept.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(kept));
    }
}

/// The manager of a write without `fieldManager`: the User-Agent up to its first `/`,
/// else `unknown`, as the API server names it.
pub fn manager_of(field_manager: Option<&str>, user_agent: Option<&str>) -> String {
    if let Some(manager) = field_manager.filter(|m| !m.is_empty()) {
        return manager.to_owned();
    }
    let agent: String = user_agent
        .unwrap_or_default()
        .split('/')
        .next()
        .unwrap_or_default()
        .chars()
        .take(128)
        .collect();
    if agent.is_empty() {
        "unknown".to_owned()
    } else {
        agent
    }
}

/// Records a write other than an apply: `manager` owns the fields of `part` that
/// changed from `old` (all of them on create) to `next`, and no one else owns them;
/// fields that are gone are owned by no one.
pub fn record_update(
    old: Option<&Value>,
    next: &mut Value,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
    part: Part,
) {
    let before = old.map(|o| paths(o, part)).unwrap_or_default();
    let after = paths(next, part);
    let changed: BTreeSet<Path> = after
        .iter()
        .filter(|p| old.is_none_or(|o| get(o, p) != get(next, p)))
        .cloned()
        .collect();
    let gone: BTreeSet<Path> = before.difference(&after).cloned().collect();
    let mut list = old.map(entries).unwrap_or_default();
    for entry in &mut list {
        entry
            .fields
            .retain(|p| !changed.contains(p) && !gone.contains(p));
    }
    if !changed.is_empty() {
        match list
            .iter_mut()
            .find(|e| e.same(manager, "Update", subresource))
        {
            Some(entry) => {
                entry.fields.extend(changed);
                entry.api_version = api_version.to_owned();
                entry.time = now_rfc3339();
            }
            None => list.push(Entry {
                manager: manager.to_owned(),
                operation: "Update".to_owned(),
                api_version: api_version.to_owned(),
                subresource: subresource.map(str::to_owned),
                time: now_rfc3339(),
                fields: changed,
            }),
        }
    }
    store_entries(next, list);
}

/// Server-side apply of `config` by `manager` (forced) to `live` (`None` creates):
/// the object afterwards, with its managed fields. `merge` merges the configuration
/// into the object, as the double's strategic merge patch does.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    api_version: &str,
    part: Part,
    merge: impl Fn(&mut Value, &Value),
) -> Value {
    let subresource = (part == Part::Status).then_some("status");
    let applied = paths(config, part);
    let mut list = live.map(entries).unwrap_or_default();
    let previous = list
        .iter()
        .find(|e| e.same(manager, "Apply", subresource))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    // Forced: the applied fields are ours alone.
    for entry in list
        .iter_mut()
        .filter(|e| !e.same(manager, "Apply", subresource))
    {
        entry.fields.retain(|p| !applied.contains(p));
    }
    let others: BTreeSet<Path> = list
        .iter()
        .filter(|e| !e.same(manager, "Apply", subresource))
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    let mut next = live.cloned().unwrap_or_else(|| json!({}));
    // What we applied before and leave out now goes, unless someone else owns it.
    for path in previous.difference(&applied) {
        if !others.contains(path) && !applied.iter().any(|a| a.starts_with(path)) {
            remove(&mut next, path);
            prune(&mut next, path, &applied);
        }
    }
    merge(&mut next, config);
    match list
        .iter_mut()
        .find(|e| e.same(manager, "Apply", subresource))
    {
        Some(entry) => {
            entry.fields = applied;
            entry.api_version = api_version.to_owned();
            entry.time = now_rfc3339();
        }
        None => list.push(Entry {
            manager: manager.to_owned(),
            operation: "Apply".to_owned(),
            api_version: api_version.to_owned(),
            subresource: subresource.map(str::to_owned),
            time: now_rfc3339(),
            fields: applied,
        }),
    }
    store_entries(&mut next, list);
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merge(target: &mut Value, patch: &Value) {
        super::super::state::strategic_merge_patch(target, patch);
    }

    #[test]
    fn fields_v1_round_trips() {
        let object = json!({"metadata": {"name": "x", "labels": {"a": "1"}},
                            "spec": {"containers": [{"name": "web", "image": "i"}], "replicas": 1}});
        let set = paths(&object, Part::Main);
        assert!(set.contains(&vec![
            "f:spec".to_owned(),
            "f:containers".to_owned(),
            "k:{\"name\":\"web\"}".to_owned(),
            "f:image".to_owned()
        ]));
        assert!(
            !set.iter()
                .any(|p| p.last().is_some_and(|s| s == "f:name" && p.len() == 2))
        );
        assert_eq!(from_fields_v1(&to_fields_v1(&set)), set);
    }

    #[test]
    fn an_apply_drops_what_it_no_longer_applies_unless_another_manager_owns_it() {
        let first = json!({"metadata": {"name": "x", "labels": {"app": "a", "tier": "t"}}, "data": {"k": "v"}});
        let live = apply(None, &first, "m", "v1", Part::Main, merge);
        let mut patched = live.clone();
        patched["metadata"]["labels"]["other"] = json!("o");
        record_update(Some(&live), &mut patched, "someone", "v1", None, Part::Main);
        let second = json!({"metadata": {"name": "x", "labels": {"app": "a"}}});
        let next = apply(Some(&patched), &second, "m", "v1", Part::Main, merge);
        assert_eq!(
            next["metadata"]["labels"],
            json!({"app": "a", "other": "o"})
        );
        assert!(next.get("data").is_none(), "{next}");
        let managers: Vec<&str> = next["metadata"]["managedFields"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["manager"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(managers, ["m", "someone"]);
    }
}
