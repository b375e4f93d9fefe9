//! The object store of the API-server double: objects by resource, namespace and name,
//! one global `resourceVersion`, the event history that watches replay, and the
//! helpers (selectors, patches) the HTTP layer and the controller share.

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::resources::ResourceType;

/// Where an object lives: API group, plural resource, namespace (`""` for
/// cluster-scoped objects) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// API group.
    pub group: String,
    /// Plural resource name.
    pub plural: String,
    /// Namespace, empty when cluster-scoped.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl Key {
    /// The key of an object of type `t`.
    pub fn new(t: &ResourceType, namespace: &str, name: &str) -> Self {
        Self {
            group: t.group.to_owned(),
            plural: t.plural.to_owned(),
            namespace: if t.namespaced {
                namespace.to_owned()
            } else {
                String::new()
            },
            name: name.to_owned(),
        }
    }

    /// The key of a namespaced object of the named resource.
    pub fn of(group: &str, plural: &str, namespace: &str, name: &str) -> Self {
        Self {
            group: group.to_owned(),
            plural: plural.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

/// A change, as watches report it.
#[derive(Debug, Clone)]
pub struct Event {
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    /// Where the object lives.
    pub key: Key,
    /// The object after the change (for `DELETED`, its last state).
    pub object: Value,
    /// The `resourceVersion` of the change.
    pub rv: u64,
}

/// How a pod misbehaves when its image matches a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodFault {
    /// The image cannot be pulled: the pod stays Pending with `ErrImagePull`.
    ImagePull,
    /// The pod runs but its readiness probe never succeeds.
    NeverReady,
}

const HISTORY: usize = 20_000;

/// The double's state, behind one mutex held only for short, synchronous sections.
#[derive(Debug)]
pub struct Store {
    /// Every object.
    pub objects: BTreeMap<Key, Value>,
    /// The last `resourceVersion` given out.
    pub rv: u64,
    history: VecDeque<Arc<Event>>,
    events: broadcast::Sender<Arc<Event>>,
    /// Creation order of objects, by uid (scale-in removes the newest pods).
    pub created: HashMap<String, u64>,
    next_seq: u64,
    /// When each pod (by uid) becomes ready.
    pub ready_at: HashMap<String, Instant>,
    /// Image substrings that make pods misbehave.
    pub faults: Vec<(String, PodFault)>,
    /// The last pod IP handed out.
    pub next_ip: u32,
}

impl Store {
    /// An empty store whose events go to `events`.
    pub fn new(events: broadcast::Sender<Arc<Event>>) -> Self {
        Self {
            objects: BTreeMap::new(),
            rv: 0,
            history: VecDeque::new(),
            events,
            created: HashMap::new(),
            next_seq: 0,
            ready_at: HashMap::new(),
            faults: Vec::new(),
            next_ip: 0,
        }
    }

    /// The creation sequence number of the object with `uid`.
    pub fn seq_of(&self, uid: &str) -> u64 {
        self.created.get(uid).copied().unwrap_or(0)
    }

    fn record(&mut self, kind: &'static str, key: Key, object: Value) {
        let event = Arc::new(Event {
            kind,
            key,
            object,
            rv: self.rv,
        });
        self.history.push_back(event.clone());
        while self.history.len() > HISTORY {
            self.history.pop_front();
        }
        // Nobody watching is fine.
        let _ = self.events.send(event);
    }

    /// Stores a new object: sets uid, creationTimestamp, generation and
    /// resourceVersion. The caller checked that it does not exist.
    pub fn insert(&mut self, key: Key, mut object: Value) -> Value {
        self.rv += 1;
        let uid = uuid::Uuid::new_v4().to_string();
        self.next_seq += 1;
        self.created.insert(uid.clone(), self.next_seq);
        let meta = meta_mut(&mut object);
        meta.insert("uid".into(), json!(uid));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        meta.insert("resourceVersion".into(), json!(self.rv.to_string()));
        if has_generation(&key) {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        if !key.namespace.is_empty() {
            meta.insert("namespace".into(), json!(key.namespace));
        }
        meta.insert("name".into(), json!(key.name));
        self.objects.insert(key.clone(), object.clone());
        self.record("ADDED", key, object.clone());
        object
    }

    /// Replaces a stored object, keeping its identity; bumps `generation` when
    /// anything but metadata and status changed. Returns the stored object.
    pub fn update(&mut self, key: &Key, mut object: Value) -> Option<Value> {
        let old = self.objects.get(key)?;
        if strip_volatile(old) == strip_volatile(&object)
            && old.get("metadata") == object.get("metadata")
        {
            return Some(old.clone());
        }
        let spec_changed = spec_part(old) != spec_part(&object);
        let old_meta = old.get("metadata").cloned().unwrap_or_default();
        let generation = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        self.rv += 1;
        let meta = meta_mut(&mut object);
        for field in ["uid", "creationTimestamp", "name", "namespace"] {
            if let Some(v) = old_meta.get(field) {
                meta.insert(field.into(), v.clone());
            }
        }
        if let Some(ts) = old_meta.get("deletionTimestamp") {
            meta.insert("deletionTimestamp".into(), ts.clone());
        }
        if has_generation(key) {
            meta.insert(
                "generation".into(),
                json!(if spec_changed {
                    generation + 1
                } else {
                    generation
                }),
            );
        } else {
            meta.remove("generation");
        }
        meta.insert("resourceVersion".into(), json!(self.rv.to_string()));
        // An object being deleted goes once its last finalizer is removed (namespaces
        // wait for their contents instead).
        let finalized = meta.contains_key("deletionTimestamp")
            && meta
                .get("finalizers")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
            && !(key.group.is_empty() && key.plural == "namespaces");
        self.objects.insert(key.clone(), object.clone());
        self.record("MODIFIED", key.clone(), object.clone());
        if finalized {
            return self.remove(key);
        }
        Some(object)
    }

    /// Removes an object for good.
    pub fn remove(&mut self, key: &Key) -> Option<Value> {
        let mut object = self.objects.remove(key)?;
        self.rv += 1;
        meta_mut(&mut object).insert("resourceVersion".into(), json!(self.rv.to_string()));
        if let Some(uid) = uid_of(&object) {
            self.ready_at.remove(&uid);
        }
        self.record("DELETED", key.clone(), object.clone());
        Some(object)
    }

    /// The events after `rv`, or `None` when the history no longer reaches back that
    /// far (the watch must answer 410 Gone).
    pub fn events_since(&self, rv: u64) -> Option<Vec<Arc<Event>>> {
        if let Some(first) = self.history.front()
            && first.rv > rv + 1
            && rv < self.rv
        {
            return None;
        }
        Some(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    /// Objects of a resource (in a namespace when given), by key order.
    pub fn of_type<'a>(
        &'a self,
        group: &'a str,
        plural: &'a str,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
        self.objects.iter().filter(move |(k, _)| {
            k.group == group && k.plural == plural && namespace.is_none_or(|ns| k.namespace == ns)
        })
    }

    /// Whether an object with this uid exists.
    pub fn uid_exists(&self, uid: &str) -> bool {
        self.objects
            .values()
            .any(|o| uid_of(o).as_deref() == Some(uid))
    }
}

/// `metadata` of an object, created when missing.
pub fn meta_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = json!({});
    }
    let map = object.as_object_mut().expect("just made an object");
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut().expect("just made an object")
}

/// `metadata.uid`.
pub fn uid_of(object: &Value) -> Option<String> {
    object["metadata"]["uid"].as_str().map(str::to_owned)
}

/// `metadata.name`.
pub fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

/// The current time as Kubernetes writes it.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn strip_volatile(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        meta.remove("generation");
        meta.remove("managedFields");
    }
    copy
}

fn spec_part(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
        map.remove("kind");
        map.remove("apiVersion");
    }
    copy
}

// ---------------------------------------------------------------------------------------
// Selectors
// ---------------------------------------------------------------------------------------

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector (`a=b,c!=d,e in (f,g),!h`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// Parses the query-string form. Errors name the requirement that did not parse.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let requirement = if let Some(key) = part.strip_prefix('!') {
                Requirement::NotExists(key.trim().to_owned())
            } else if let Some((key, values)) = part.split_once(" notin ") {
                Requirement::NotIn(key.trim().to_owned(), set_values(values)?)
            } else if let Some((key, values)) = part.split_once(" in ") {
                Requirement::In(key.trim().to_owned(), set_values(values)?)
            } else if let Some((key, value)) = part.split_once("!=") {
                Requirement::NotEquals(key.trim().to_owned(), value.trim().to_owned())
            } else if let Some((key, value)) = part.split_once("==") {
                Requirement::Equals(key.trim().to_owned(), value.trim().to_owned())
            } else if let Some((key, value)) = part.split_once('=') {
                Requirement::Equals(key.trim().to_owned(), value.trim().to_owned())
            } else if part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
            {
                Requirement::Exists(part.to_owned())
            } else {
                return Err(format!("unable to parse requirement: {part:?}"));
            };
            out.push(requirement);
        }
        Ok(Self(out))
    }

    /// The selector of a `matchLabels` map.
    pub fn from_match_labels(labels: &Map<String, Value>) -> Self {
        Self(
            labels
                .iter()
                .map(|(k, v)| Requirement::Equals(k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect(),
        )
    }

    /// Whether an object's labels match.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object["metadata"]["labels"].as_object();
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => !get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        })
    }
}

fn split_top_level(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
}

fn set_values(text: &str) -> Result<Vec<String>, String> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesized set of values, found {text:?}"))?;
    Ok(inner.split(',').map(|v| v.trim().to_owned()).collect())
}

/// A parsed field selector; the double knows `metadata.name`, `metadata.namespace`
/// and `status.phase`.
#[derive(Debug, Clone, Default)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses `a=b,c!=d`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!("invalid field selector: {part:?}"));
            };
            if ![
                "metadata.name",
                "metadata.namespace",
                "status.phase",
                "spec.nodeName",
            ]
            .contains(&field.trim())
            {
                return Err(format!("field label not supported: {}", field.trim()));
            }
            out.push((field.trim().to_owned(), equal, value.trim().to_owned()));
        }
        Ok(Self(out))
    }

    /// Whether an object matches.
    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let actual = field
                .split('.')
                .try_fold(object, |o, k| o.get(k))
                .and_then(Value::as_str)
                .unwrap_or("");
            (actual == value) == *equal
        })
    }
}

// ---------------------------------------------------------------------------------------
// Patches
// ---------------------------------------------------------------------------------------

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(patch_map) => {
            if !target.is_object() {
                *target = json!({});
            }
            let map = target.as_object_mut().expect("just made an object");
            for (key, value) in patch_map {
                if value.is_null() {
                    map.remove(key);
                } else {
                    merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Whether the API server keeps `metadata.generation` for objects of this resource
/// (those with a spec it tracks: workloads, pods, pod templates, network policies,
/// priority classes…), not for ConfigMaps, Secrets, Services and the like.
fn has_generation(key: &Key) -> bool {
    matches!(
        (key.group.as_str(), key.plural.as_str()),
        ("", "pods" | "podtemplates")
            | (
                "apps",
                "deployments" | "replicasets" | "statefulsets" | "daemonsets"
            )
            | ("batch", "jobs" | "cronjobs")
            | ("networking.k8s.io", "networkpolicies" | "ingresses")
            | ("scheduling.k8s.io", "priorityclasses")
            | ("policy", "poddisruptionbudgets")
    )
}

/// A strategic merge patch, as far as the double knows the merge keys: lists of
/// objects with a `name` (containers, ports, volumes, env) merge by name; other lists
/// are replaced; `$patch`-style directives are honoured for `replace` and `delete`.
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch) {
        (Some(map), Value::Object(patch_map)) => {
            for (key, value) in patch_map {
                if key.starts_with("$setElementOrder/") || key == "$retainKeys" {
                    continue;
                }
                if value.is_null() {
                    map.remove(key);
                    continue;
                }
                match (map.get_mut(key), value) {
                    (Some(Value::Array(current)), Value::Array(items))
                        if items.iter().all(|i| i.get("name").is_some())
                            && current.iter().all(|i| i.get("name").is_some()) =>
                    {
                        for item in items {
                            let directive = item.get("$patch").and_then(Value::as_str);
                            let position = current.iter().position(|c| c["name"] == item["name"]);
                            match (directive, position) {
                                (Some("delete"), Some(i)) => {
                                    current.remove(i);
                                }
                                (Some("delete"), None) => {}
                                (_, Some(i)) => strategic_merge_patch(&mut current[i], item),
                                (_, None) => current.push(item.clone()),
                            }
                        }
                    }
                    (Some(existing), _) if existing.is_object() && value.is_object() => {
                        if value.get("$patch").and_then(Value::as_str) == Some("replace") {
                            let mut replacement = value.clone();
                            if let Some(r) = replacement.as_object_mut() {
                                r.remove("$patch");
                            }
                            *existing = replacement;
                        } else {
                            strategic_merge_patch(existing, value);
                        }
                    }
                    _ => {
                        map.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (_, other) => *target = other.clone(),
    }
}

/// RFC 6902 JSON patch (add, remove, replace, test, copy, move).
pub fn json_patch(target: &mut Value, operations: &Value) -> Result<(), String> {
    let ops = operations
        .as_array()
        .ok_or("a JSON patch must be an array of operations")?;
    for op in ops {
        let kind = op["op"]
            .as_str()
            .ok_or("a JSON patch operation lacks 'op'")?;
        let path = op["path"]
            .as_str()
            .ok_or("a JSON patch operation lacks 'path'")?;
        match kind {
            "add" | "replace" => set_pointer(target, path, op["value"].clone(), kind == "add")?,
            "remove" => {
                remove_pointer(target, path)?;
            }
            "test" => {
                if target.pointer(path) != Some(&op["value"]) {
                    return Err(format!("test operation failed at {path}"));
                }
            }
            "copy" | "move" => {
                let from = op["from"].as_str().ok_or("copy/move lacks 'from'")?;
                let value = if kind == "move" {
                    remove_pointer(target, from)?
                } else {
                    target
                        .pointer(from)
                        .cloned()
                        .ok_or_else(|| format!("no value at {from}"))?
                };
                set_pointer(target, path, value, true)?;
            }
            other => return Err(format!("unknown JSON patch operation {other:?}")),
        }
    }
    Ok(())
}

fn split_pointer(path: &str) -> Result<(String, String), String> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| format!("invalid JSON pointer {path:?}"))?;
    Ok((
        parent.to_owned(),
        last.replace("~1", "/").replace("~0", "~"),
    ))
}

fn set_pointer(target: &mut Value, path: &str, value: Value, add: bool) -> Result<(), String> {
    if path.is_empty() {
        *target = value;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    let container = target
        .pointer_mut(&parent)
        .ok_or_else(|| format!("no value at {parent:?}"))?;
    match container {
        Value::Object(map) => {
            if !add && !map.contains_key(&last) {
                return Err(format!("no value at {path:?} to replace"));
            }
            map.insert(last, value);
        }
        Value::Array(items) => {
            if last == "-" {
                items.push(value);
            } else {
                let index: usize = last
                    .parse()
                    .map_err(|_| format!("invalid array index in {path:?}"))?;
                if add && index <= items.len() {
                    items.insert(index, value);
                } else if !add && index < items.len() {
                    items[index] = value;
                } else {
                    return Err(format!("array index out of range in {path:?}"));
                }
            }
        }
        _ => return Err(format!("{parent:?} is neither an object nor an array")),
    }
    Ok(())
}

fn remove_pointer(target: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split_pointer(path)?;
    let container = target
        .pointer_mut(&parent)
        .ok_or_else(|| format!("no value at {parent:?}"))?;
    match container {
        Value::Object(map) => map
            .remove(&last)
            .ok_or_else(|| format!("no value at {path:?}")),
        Value::Array(items) => {
            let index: usize = last
                .parse()
                .map_err(|_| format!("invalid array index in {path:?}"))?;
            if index < items.len() {
                Ok(items.remove(index))
            } else {
                Err(format!("array index out of range in {path:?}"))
            }
        }
        _ => Err(format!("{parent:?} is neither an object nor an array")),
    }
}
