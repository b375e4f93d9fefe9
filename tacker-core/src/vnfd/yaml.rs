//! YAML with positions: every node of a TOSCA file keeps the line and column it came
//! from, so VNFD errors can point at the offending text.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The content.
    pub value: Value,
    /// 1-based line (0 when unknown).
    pub line: u64,
    /// 1-based column (0 when unknown).
    pub column: u64,
}

/// The content of a YAML node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` or `false` (strict YAML 1.2 booleans only).
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A node without position (for values made by code).
    pub fn synthetic(value: Value) -> Self {
        Self {
            value,
            line: 0,
            column: 0,
        }
    }

    /// The value under `key` when this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The entries when this is a mapping (empty otherwise).
    pub fn entries(&self) -> impl Iterator<Item = (&Node, &Node)> {
        let entries: &[(Node, Node)] = match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        };
        entries.iter().map(|(k, v)| (k, v))
    }

    /// The `index`-th entry when this is a mapping.
    pub fn entry_at(&self, index: usize) -> Option<(&Node, &Node)> {
        match &self.value {
            Value::Map(entries) => entries.get(index).map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The items when this is a sequence (empty otherwise).
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar as text: strings as they are, numbers and booleans written out.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The integer, when this is a non-negative one.
    pub fn as_u64(&self) -> Option<u64> {
        match &self.value {
            Value::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    }

    /// Whether this is a mapping.
    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    /// Whether this is null.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The node as JSON (positions dropped).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node {
            value: spanned.value,
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
        })
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<Node, Node>()? {
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Why a YAML file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    /// What the parser said.
    pub message: String,
}

/// The VNFM's YAML settings: strict YAML 1.2 booleans, and budgets on alias expansion.
pub fn safe_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.alias_limits.max_total_replayed_events = 200_000;
    options.alias_limits.max_alias_expansions_per_anchor = 1_000;
    options.alias_limits.max_replay_stack_depth = 32;
    options.with_snippet = false;
    options
}

/// Deserializes any YAML document (a configuration file, a request body) with
/// [`safe_options`]; errors carry the line and column.
pub fn from_str<T: de::DeserializeOwned>(text: &str) -> Result<T, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, safe_options())
}

/// Parses one YAML document with the VNFM's safety settings: strict YAML 1.2
/// booleans (`yes`/`no`/`on`/`off` stay strings), duplicate keys refused, and budgets on
/// events, depth, aliases and alias expansion so an alias bomb fails fast.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    serde_saphyr::from_str_with_options::<Node>(text, safe_options()).map_err(|error| {
        let location = error.location();
        YamlError {
            line: location.map_or(0, |l| l.line()),
            column: location.map_or(0, |l| l.column()),
            message: error.to_string(),
        }
    })
}

/// Parses like [`parse`], sharing the result of identical texts: packages carry the
/// same ETSI SOL001 type files again and again, and parsing them dominates reading a
/// VNFD. The cache holds a bounded number of large documents, keyed by their SHA-256.
pub fn parse_shared(text: &str) -> Result<std::sync::Arc<Node>, YamlError> {
    use sha2::Digest;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};

    const MIN_CACHED_LEN: usize = 8 * 1024;
    const MAX_ENTRIES: usize = 32;
    static CACHE: OnceLock<Mutex<HashMap<[u8; 32], Arc<Node>>>> = OnceLock::new();

    if text.len() < MIN_CACHED_LEN {
        return parse(text).map(Arc::new);
    }
    let key: [u8; 32] = sha2::Sha256::digest(text.as_bytes()).into();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(node) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(node);
    }
    let node = Arc::new(parse(text)?);
    if let Ok(mut cache) = cache.lock() {
        if cache.len() >= MAX_ENTRIES {
            cache.clear();
        }
        cache.insert(key, node.clone());
    }
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_keep_their_positions_keys_included() {
        let doc = parse("a: 1\nb:\n  c: [x, 'y']\n  d: yes\n").expect("parse");
        let (key, value) = doc.entries().nth(1).expect("b");
        assert_eq!((key.as_str(), key.line), (Some("b"), 2));
        let c = value.get("c").expect("c");
        assert_eq!(c.line, 3);
        assert_eq!(c.items()[1].as_str(), Some("y"));
        let d = value.get("d").expect("d");
        assert_eq!(
            d.as_str(),
            Some("yes"),
            "strict booleans keep 'yes' a string"
        );
        assert_eq!((d.line, d.column), (4, 6));
        assert_eq!(doc.get("a").and_then(Node::as_u64), Some(1));
    }

    #[test]
    fn duplicate_keys_and_alias_bombs_are_refused() {
        let error = parse("a: 1\na: 2\n").expect_err("duplicate");
        assert!(error.line >= 1, "{error:?}");
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..10 {
            let prev = (b'a' + level - 1) as char;
            let name = (b'a' + level) as char;
            bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert!(
            parse(&bomb).is_err(),
            "a billion-laughs document is refused"
        );
    }
}
