//! TOSCA service templates of a package: imports, the type namespace, `derived_from`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::VnfdError;
use super::yaml::{self, Node, Value};
use crate::csar::Csar;

/// One loaded service template.
#[derive(Debug, Clone)]
pub struct Template {
    /// Its path in the package.
    pub path: String,
    /// Its content (shared with the parse cache).
    pub root: Arc<Node>,
}

/// A type definition (node, data, policy, capability, … type): a place in a template.
#[derive(Debug, Clone)]
pub struct TypeDef {
    /// The template that defines it.
    pub file: String,
    root: Arc<Node>,
    section: &'static str,
    index: usize,
}

impl TypeDef {
    /// The definition.
    pub fn node(&self) -> &Node {
        static EMPTY: Node = Node {
            value: Value::Null,
            line: 0,
            column: 0,
        };
        self.root
            .get(self.section)
            .and_then(|types| types.entry_at(self.index))
            .map_or(&EMPTY, |(_, definition)| definition)
    }

    /// `derived_from`.
    pub fn derived_from(&self) -> Option<&str> {
        self.node().get("derived_from").and_then(Node::as_str)
    }
}

/// Every template reached from the Entry-Definitions and the types they define.
#[derive(Debug, Clone, Default)]
pub struct ToscaModel {
    /// Templates in visit order (the Entry-Definitions first).
    pub templates: Vec<Template>,
    /// Type name → definition. All type sections share one namespace.
    pub types: HashMap<String, TypeDef>,
    /// URL imports (not fetched).
    pub remote_imports: Vec<String>,
}

const TYPE_SECTIONS: &[&str] = &[
    "node_types",
    "data_types",
    "policy_types",
    "capability_types",
    "relationship_types",
    "interface_types",
    "artifact_types",
    "group_types",
];

/// Resolves `relative` against the directory of `from`, refusing to leave the package.
pub fn resolve_path(from: &str, relative: &str) -> Option<String> {
    let mut parts: Vec<&str> = if relative.starts_with('/') {
        Vec::new()
    } else {
        from.rsplit_once('/')
            .map_or(Vec::new(), |(dir, _)| dir.split('/').collect())
    };
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

fn is_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The import targets of a template: `- file.yaml`, `- file: file.yaml`, or
/// `- name: {file: file.yaml}`.
fn imports_of(template: &Node) -> Vec<&Node> {
    let mut out = Vec::new();
    for item in template.get("imports").map(Node::items).unwrap_or_default() {
        if item.as_str().is_some() {
            out.push(item);
        } else if let Some(file) = item.get("file") {
            out.push(file);
        } else {
            for (_, value) in item.entries() {
                if value.as_str().is_some() {
                    out.push(value);
                } else if let Some(file) = value.get("file") {
                    out.push(file);
                }
            }
        }
    }
    out
}

impl ToscaModel {
    /// Loads the Entry-Definitions and everything it imports, transitively.
    pub fn load(csar: &Csar, missing_ok: &BTreeSet<String>) -> Result<Self, VnfdError> {
        let mut model = ToscaModel::default();
        let mut pending = vec![csar.entry_definitions.clone()];
        let mut seen = BTreeSet::new();
        seen.insert(csar.entry_definitions.clone());
        while let Some(path) = pending.pop() {
            if missing_ok.contains(&path) && !csar.contains(&path) {
                continue;
            }
            let text = csar
                .read_text(&path)
                .map_err(|e| VnfdError::new(&path, 0, 0, e.to_string()))?;
            let root = yaml::parse_shared(&text).map_err(|e| {
                VnfdError::new(
                    &path,
                    e.line,
                    e.column,
                    format!("invalid YAML: {}", e.message),
                )
            })?;
            if !root.is_map() {
                return Err(VnfdError::at(
                    &path,
                    &root,
                    "a service template must be a YAML mapping",
                ));
            }
            let mut next = Vec::new();
            for import in imports_of(&root) {
                let Some(target) = import.as_str() else {
                    return Err(VnfdError::at(&path, import, "an import must name a file"));
                };
                if is_url(target) {
                    model.remote_imports.push(target.to_owned());
                    continue;
                }
                let Some(resolved) = resolve_path(&path, target) else {
                    return Err(VnfdError::at(
                        &path,
                        import,
                        format!("import '{target}' leaves the package"),
                    ));
                };
                if !csar.contains(&resolved) && !missing_ok.contains(&resolved) {
                    return Err(VnfdError::at(
                        &path,
                        import,
                        format!("import '{target}' is not in the package (looked for {resolved})"),
                    ));
                }
                if seen.insert(resolved.clone()) {
                    next.push(resolved);
                }
            }
            // Depth-first in document order, like the import statements read.
            pending.extend(next.into_iter().rev());
            model.add_types(&path, &root)?;
            model.templates.push(Template { path, root });
        }
        Ok(model)
    }

    fn add_types(&mut self, path: &str, root: &Arc<Node>) -> Result<(), VnfdError> {
        for section in TYPE_SECTIONS {
            let Some(types) = root.get(section) else {
                continue;
            };
            for (index, (name, _)) in types.entries().enumerate() {
                let Some(name) = name.as_str() else {
                    return Err(VnfdError::at(path, name, "a type name must be a string"));
                };
                // The ETSI type files are imported by several templates; the first
                // definition of a name wins, as in the TOSCA namespace.
                self.types
                    .entry(name.to_owned())
                    .or_insert_with(|| TypeDef {
                        file: path.to_owned(),
                        root: root.clone(),
                        section,
                        index,
                    });
            }
        }
        Ok(())
    }

    /// The template at `path`.
    pub fn template(&self, path: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.path == path)
    }

    /// The chain `type_name`, its parent, its grandparent, … (cycle-safe).
    pub fn ancestry<'a>(&'a self, type_name: &'a str) -> Vec<&'a str> {
        let mut chain = vec![type_name];
        let mut current = type_name;
        while let Some(parent) = self.types.get(current).and_then(TypeDef::derived_from) {
            if chain.contains(&parent) || chain.len() > 64 {
                break;
            }
            chain.push(parent);
            current = parent;
        }
        chain
    }

    /// Whether `type_name` is `base` or derives from it.
    pub fn is_a(&self, type_name: &str, base: &str) -> bool {
        self.ancestry(type_name).contains(&base)
    }

    /// A property's `default` in the type chain of `type_name`.
    pub fn property_default(&self, type_name: &str, property: &str) -> Option<&Node> {
        self.ancestry(type_name).into_iter().find_map(|t| {
            self.types
                .get(t)?
                .node()
                .get("properties")?
                .get(property)?
                .get("default")
        })
    }

    /// A property's definition in the type chain of `type_name`.
    pub fn property_definition(&self, type_name: &str, property: &str) -> Option<&Node> {
        self.ancestry(type_name)
            .into_iter()
            .find_map(|t| self.types.get(t)?.node().get("properties")?.get(property))
    }

    /// Whether a type name is known: TOSCA's own (normative and primitive) types are
    /// built in; ETSI NFV types (`tosca.*.nfv.*`) and package types must be defined in a
    /// template reached from the Entry-Definitions, unless the package imports type
    /// files by URL (which are not fetched, so their names are trusted).
    pub fn is_known_type(&self, name: &str) -> bool {
        const PRIMITIVES: &[&str] = &[
            "string",
            "integer",
            "float",
            "boolean",
            "timestamp",
            "null",
            "list",
            "map",
            "range",
            "version",
            "any",
            "scalar-unit.size",
            "scalar-unit.time",
            "scalar-unit.frequency",
            "scalar-unit.bitrate",
        ];
        if PRIMITIVES.contains(&name) || self.types.contains_key(name) {
            return true;
        }
        if name.starts_with("tosca.") && !name.contains(".nfv.") {
            return true;
        }
        name.starts_with("tosca.") && !self.remote_imports.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_against_the_importing_template() {
        assert_eq!(
            resolve_path("Definitions/top.yaml", "types.yaml").as_deref(),
            Some("Definitions/types.yaml")
        );
        assert_eq!(
            resolve_path("Definitions/top.yaml", "../Files/images/a.img").as_deref(),
            Some("Files/images/a.img")
        );
        assert_eq!(
            resolve_path("top.yaml", "./x/y.yaml").as_deref(),
            Some("x/y.yaml")
        );
        assert_eq!(resolve_path("top.yaml", "../../etc/passwd"), None);
    }
}
