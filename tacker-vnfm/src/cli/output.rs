//! What the CLI prints: aligned tables for people, the raw resources as JSON or YAML
//! for programs.

use serde_json::Value;

use super::Error;

/// The output format (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns (lists) or one attribute per line (single resources).
    #[default]
    Table,
    /// The resource or array as the server returned it, pretty-printed JSON.
    Json,
    /// The same as YAML.
    Yaml,
}

/// The kinds of resources, each with its table columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `VnfPkgInfo`.
    Package,
    /// `VnfInstance`.
    Vnf,
    /// `VnfLcmOpOcc`.
    Op,
    /// `VimInfo`.
    Vim,
    /// `LccnSubscription` or `PkgmSubscription`.
    Subscription,
}

/// A table column: its header and the JSON pointer of its value.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The header.
    pub header: &'static str,
    /// The JSON pointer (RFC 6901) of the value in the resource.
    pub pointer: &'static str,
}

impl Kind {
    /// The columns of this kind's list table.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Kind::Package => &[
                Column {
                    header: "ID",
                    pointer: "/id",
                },
                Column {
                    header: "ONBOARDING",
                    pointer: "/onboardingState",
                },
                Column {
                    header: "OPERATIONAL",
                    pointer: "/operationalState",
                },
                Column {
                    header: "USAGE",
                    pointer: "/usageState",
                },
                Column {
                    header: "PROVIDER",
                    pointer: "/vnfProvider",
                },
                Column {
                    header: "PRODUCT",
                    pointer: "/vnfProductName",
                },
                Column {
                    header: "VERSION",
                    pointer: "/vnfSoftwareVersion",
                },
                Column {
                    header: "VNFD ID",
                    pointer: "/vnfdId",
                },
            ],
            Kind::Vnf => &[
                Column {
                    header: "ID",
                    pointer: "/id",
                },
                Column {
                    header: "NAME",
                    pointer: "/vnfInstanceName",
                },
                Column {
                    header: "STATE",
                    pointer: "/instantiationState",
                },
                Column {
                    header: "FLAVOUR",
                    pointer: "/instantiatedVnfInfo/flavourId",
                },
                Column {
                    header: "VNF STATE",
                    pointer: "/instantiatedVnfInfo/vnfState",
                },
                Column {
                    header: "PRODUCT",
                    pointer: "/vnfProductName",
                },
                Column {
                    header: "VNFD ID",
                    pointer: "/vnfdId",
                },
            ],
            Kind::Op => &[
                Column {
                    header: "ID",
                    pointer: "/id",
                },
                Column {
                    header: "OPERATION",
                    pointer: "/operation",
                },
                Column {
                    header: "STATE",
                    pointer: "/operationState",
                },
                Column {
                    header: "VNF INSTANCE",
                    pointer: "/vnfInstanceId",
                },
                Column {
                    header: "STARTED",
                    pointer: "/startTime",
                },
                Column {
                    header: "STATE ENTERED",
                    pointer: "/stateEnteredTime",
                },
            ],
            Kind::Vim => &[
                Column {
                    header: "ID",
                    pointer: "/id",
                },
                Column {
                    header: "NAME",
                    pointer: "/name",
                },
                Column {
                    header: "TYPE",
                    pointer: "/vimType",
                },
                Column {
                    header: "DEFAULT",
                    pointer: "/isDefault",
                },
                Column {
                    header: "ENDPOINT",
                    pointer: "/interfaceInfo/endpoint",
                },
            ],
            Kind::Subscription => &[
                Column {
                    header: "ID",
                    pointer: "/id",
                },
                Column {
                    header: "CALLBACK URI",
                    pointer: "/callbackUri",
                },
                Column {
                    header: "VERBOSITY",
                    pointer: "/verbosity",
                },
                Column {
                    header: "NOTIFICATION TYPES",
                    pointer: "/filter/notificationTypes",
                },
            ],
        }
    }
}

/// A value as one table cell: strings bare, arrays of scalars comma-separated, other
/// structures as compact JSON, missing values as `-`.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => one_line(s),
        Some(Value::Array(items)) if items.iter().all(is_scalar) => {
            if items.is_empty() {
                "-".to_owned()
            } else {
                items
                    .iter()
                    .map(|v| cell(Some(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            }
        }
        Some(other) => other.to_string(),
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

/// Control characters (newlines, escapes) never reach the terminal from a cell.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Renders rows under headers in aligned columns separated by two spaces, with no
/// trailing blanks.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, value) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(value.chars().count());
            } else {
                widths.push(value.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(value);
            let pad = widths[i].saturating_sub(value.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The table of a list of resources of `kind`.
pub fn list_table(kind: Kind, items: &[Value]) -> String {
    let columns = kind.columns();
    let headers: Vec<&str> = columns.iter().map(|c| c.header).collect();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|c| cell(item.pointer(c.pointer)))
                .collect()
        })
        .collect();
    render_table(&headers, &rows)
}

/// One resource as `attribute  value` lines: nested attributes flattened into dotted
/// paths (`instantiatedVnfInfo.scaleStatus[0].aspectId`), the kind's key attributes
/// first.
pub fn detail_table(kind: Kind, item: &Value) -> String {
    let mut lines = Vec::new();
    let Value::Object(map) = item else {
        return format!("{}\n", cell(Some(item)));
    };
    let first: Vec<&str> = kind
        .columns()
        .iter()
        .filter_map(|c| c.pointer.strip_prefix('/'))
        .filter(|p| !p.contains('/'))
        .collect();
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by_key(|k| first.iter().position(|f| f == k).unwrap_or(usize::MAX));
    for key in keys {
        flatten(key, &map[key], &mut lines);
    }
    let rows: Vec<Vec<String>> = lines.into_iter().map(|(k, v)| vec![k, v]).collect();
    render_table(&["ATTRIBUTE", "VALUE"], &rows)
}

fn flatten(path: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                flatten(&format!("{path}.{key}"), value, out);
            }
        }
        Value::Array(items) if !items.is_empty() && !items.iter().all(is_scalar) => {
            for (i, value) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), value, out);
            }
        }
        Value::Object(_) => out.push((path.to_owned(), "{}".to_owned())),
        Value::Array(items) if items.is_empty() => out.push((path.to_owned(), "[]".to_owned())),
        other => out.push((path.to_owned(), cell(Some(other)))),
    }
}

/// A value as JSON or YAML text, ending with a newline.
pub fn machine(format: Format, value: &Value) -> Result<String, Error> {
    match format {
        Format::Yaml => {
            let mut text = serde_saphyr::to_string(value)
                .map_err(|e| Error::Other(format!("YAML output: {e}")))?;
            if !text.ends_with('\n') {
                text.push('\n');
            }
            Ok(text)
        }
        Format::Json | Format::Table => {
            let mut text = serde_json::to_string_pretty(value)
                .map_err(|e| Error::Other(format!("JSON output: {e}")))?;
            text.push('\n');
            Ok(text)
        }
    }
}

/// A list of resources in `format`.
pub fn render_list(format: Format, kind: Kind, items: Vec<Value>) -> Result<String, Error> {
    match format {
        Format::Table => Ok(list_table(kind, &items)),
        _ => machine(format, &Value::Array(items)),
    }
}

/// One resource in `format` (tables: one attribute per line).
pub fn render_one(format: Format, kind: Kind, item: &Value) -> Result<String, Error> {
    match format {
        Format::Table => Ok(detail_table(kind, item)),
        _ => machine(format, item),
    }
}

/// One resource in `format`, as a one-row list table for people.
pub fn render_row(format: Format, kind: Kind, item: &Value) -> Result<String, Error> {
    match format {
        Format::Table => Ok(list_table(kind, std::slice::from_ref(item))),
        _ => machine(format, item),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_columns_without_trailing_blanks() {
        let text = render_table(
            &["ID", "NAME", "STATE"],
            &[
                vec!["1".into(), "a-long-name".into(), "X".into()],
                vec!["22222".into(), "b".into(), "".into()],
            ],
        );
        assert_eq!(
            text,
            "ID     NAME         STATE\n\
             1      a-long-name  X\n\
             22222  b\n"
        );
    }

    #[test]
    fn list_tables_pick_the_kind_s_columns() {
        let vnfs = vec![
            json!({"id": "v1", "vnfInstanceName": "web", "instantiationState": "INSTANTIATED",
                   "vnfdId": "d1", "vnfProductName": "Sample",
                   "instantiatedVnfInfo": {"flavourId": "simple", "vnfState": "STARTED"}}),
            json!({"id": "v2", "instantiationState": "NOT_INSTANTIATED", "vnfdId": "d1"}),
        ];
        let text = list_table(Kind::Vnf, &vnfs);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "ID  NAME  STATE             FLAVOUR  VNF STATE  PRODUCT  VNFD ID",
                "v1  web   INSTANTIATED      simple   STARTED    Sample   d1",
                "v2  -     NOT_INSTANTIATED  -        -          -        d1",
            ]
        );
        let empty = list_table(Kind::Op, &[]);
        assert_eq!(
            empty,
            "ID  OPERATION  STATE  VNF INSTANCE  STARTED  STATE ENTERED\n"
        );
    }

    #[test]
    fn cells_flatten_values_onto_one_line() {
        assert_eq!(cell(Some(&json!("a\nb"))), "a b");
        assert_eq!(cell(Some(&json!(true))), "true");
        assert_eq!(cell(Some(&json!(["A", "B"]))), "A,B");
        assert_eq!(cell(Some(&json!([]))), "-");
        assert_eq!(cell(Some(&json!({"a": 1}))), "{\"a\":1}");
        assert_eq!(cell(None), "-");
    }

    #[test]
    fn detail_tables_flatten_nested_attributes_key_columns_first() {
        let vnf = json!({
            "vnfdId": "d1",
            "id": "v1",
            "instantiatedVnfInfo": {"flavourId": "simple",
                "scaleStatus": [{"aspectId": "A", "scaleLevel": 1}], "extCpInfo": []},
            "metadata": {},
            "instantiationState": "INSTANTIATED"
        });
        let text = detail_table(Kind::Vnf, &vnf);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["ATTRIBUTE", "VALUE"]
        );
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["id", "v1"]
        );
        assert_eq!(
            lines[2].split_whitespace().collect::<Vec<_>>(),
            ["instantiationState", "INSTANTIATED"]
        );
        assert_eq!(
            lines[3].split_whitespace().collect::<Vec<_>>(),
            ["vnfdId", "d1"]
        );
        let rest: Vec<Vec<&str>> = lines[4..]
            .iter()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rest,
            [
                vec!["instantiatedVnfInfo.extCpInfo", "[]"],
                vec!["instantiatedVnfInfo.flavourId", "simple"],
                vec!["instantiatedVnfInfo.scaleStatus[0].aspectId", "A"],
                vec!["instantiatedVnfInfo.scaleStatus[0].scaleLevel", "1"],
                vec!["metadata", "{}"],
            ]
        );
        let value_column = lines[0].find("VALUE").expect("header");
        assert!(lines.iter().skip(1).all(|l| l.len() > value_column
            && l.as_bytes()[value_column - 1] == b' '
            && l.as_bytes()[value_column] != b' '));
    }

    #[test]
    fn machine_output_is_json_or_yaml() {
        let value = json!({"id": "p1", "userDefinedData": {"k": "v"}, "n": null});
        let json_text = machine(Format::Json, &value).expect("json");
        assert_eq!(
            serde_json::from_str::<Value>(&json_text).expect("parse"),
            value
        );
        let yaml = machine(Format::Yaml, &value).expect("yaml");
        let back: Value = serde_saphyr::from_str(&yaml).expect("parse yaml");
        assert_eq!(back, value);
        assert!(yaml.contains("id: p1"), "{yaml}");
    }
}
