//! Request bodies: `--body FILE` (JSON or YAML, `-` for stdin) and the `KEY=VALUE`
//! arguments of the convenience flags.

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};

use super::Error;

/// Parses a request body given as JSON or YAML text; `name` names it in errors. The
/// body must be a mapping. A file named `*.json` must be JSON; anything else is read
/// as JSON when it is JSON and as YAML otherwise.
pub fn parse_body(bytes: &[u8], name: &str) -> Result<Map<String, Value>, Error> {
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(json_error) => {
            if Path::new(name)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            {
                return Err(Error::Usage(format!("{name}: invalid JSON: {json_error}")));
            }
            let text = std::str::from_utf8(bytes)
                .map_err(|e| Error::Usage(format!("{name}: not UTF-8 text: {e}")))?;
            tacker_core::vnfd::yaml::from_str(text)
                .map_err(|e| Error::Usage(format!("{name}: invalid JSON or YAML: {e}")))?
        }
    };
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(Error::Usage(format!(
            "{name}: the body must be a mapping, not {}",
            super::client::kind(&other)
        ))),
    }
}

/// Reads a body from the file `arg`, or from `stdin` when `arg` is `-`.
pub fn load_body(arg: &Path, stdin: impl Read) -> Result<Map<String, Value>, Error> {
    let (bytes, name) = if arg == Path::new("-") {
        let mut bytes = Vec::new();
        let mut limited = stdin.take(MAX_BODY + 1);
        limited
            .read_to_end(&mut bytes)
            .map_err(|e| Error::Usage(format!("stdin: {e}")))?;
        (bytes, "stdin".to_owned())
    } else {
        let name = arg.display().to_string();
        let file = std::fs::File::open(arg).map_err(|e| Error::Usage(format!("{name}: {e}")))?;
        let mut bytes = Vec::new();
        file.take(MAX_BODY + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::Usage(format!("{name}: {e}")))?;
        (bytes, name)
    };
    if bytes.len() as u64 > MAX_BODY {
        return Err(Error::Usage(format!(
            "{name}: larger than {} MiB",
            MAX_BODY >> 20
        )));
    }
    parse_body(&bytes, &name)
}

/// The largest body file accepted.
pub const MAX_BODY: u64 = 16 << 20;

/// Parses `KEY=VALUE` (the value a string) or `KEY:=JSON` (the value raw JSON, e.g.
/// `replicas:=3` or `tags:='["a","b"]'`).
pub fn parse_pair(arg: &str) -> Result<(String, Value), String> {
    let eq = arg
        .find('=')
        .ok_or_else(|| format!("expected KEY=VALUE or KEY:=JSON, got {arg:?}"))?;
    let (key, value) = (&arg[..eq], &arg[eq + 1..]);
    if let Some(key) = key.strip_suffix(':') {
        if key.is_empty() {
            return Err(format!("empty key in {arg:?}"));
        }
        let value = serde_json::from_str(value)
            .map_err(|e| format!("{key}: the value after := must be JSON: {e}"))?;
        return Ok((key.to_owned(), value));
    }
    if key.is_empty() {
        return Err(format!("empty key in {arg:?}"));
    }
    Ok((key.to_owned(), Value::String(value.to_owned())))
}

/// A request body under construction: the `--body` file's mapping, onto which the
/// convenience flags are set (a flag wins over the same key of the file).
#[derive(Debug, Clone, Default)]
pub struct Body(pub Map<String, Value>);

impl Body {
    /// Starts from the `--body` file if given (`-` is stdin), else from `{}`.
    pub fn from_arg(arg: Option<&Path>) -> Result<Self, Error> {
        match arg {
            None => Ok(Self::default()),
            Some(path) => Ok(Self(load_body(path, std::io::stdin().lock())?)),
        }
    }

    /// Sets `key` to `value` when `value` is `Some`.
    pub fn set(&mut self, key: &str, value: Option<impl Into<Value>>) -> &mut Self {
        if let Some(value) = value {
            self.0.insert(key.to_owned(), value.into());
        }
        self
    }

    /// Merges `pairs` into the object at `key` (creating it), when there are any.
    pub fn merge_pairs(
        &mut self,
        key: &str,
        pairs: &[(String, Value)],
    ) -> Result<&mut Self, Error> {
        if pairs.is_empty() {
            return Ok(self);
        }
        let entry = self
            .0
            .entry(key.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(map) = entry else {
            return Err(Error::Usage(format!(
                "{key} in the body is not a mapping; cannot add KEY=VALUE pairs"
            )));
        };
        map.extend(pairs.iter().cloned());
        Ok(self)
    }

    /// Fails unless `key` is present (from the file or a flag); `flag` names the flag.
    pub fn require(&self, key: &str, flag: &str) -> Result<(), Error> {
        if self.0.get(key).is_none_or(Value::is_null) {
            return Err(Error::Usage(format!(
                "{key} is required: give {flag} or put it in --body"
            )));
        }
        Ok(())
    }

    /// The body as a JSON value.
    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_and_yaml_bodies_parse_to_the_same_mapping() {
        let json_text = br#"{"flavourId": "simple", "additionalParams": {"n": 2, "ok": true},
            "extVirtualLinks": [{"id": "ext1", "resourceId": "net0"}]}"#;
        let yaml_text = b"flavourId: simple\nadditionalParams:\n  n: 2\n  ok: true\n\
            extVirtualLinks:\n  - id: ext1\n    resourceId: net0\n";
        let from_json = parse_body(json_text, "req.json").expect("json");
        let from_yaml = parse_body(yaml_text, "req.yaml").expect("yaml");
        assert_eq!(from_json, from_yaml);
        assert_eq!(from_yaml["additionalParams"]["n"], json!(2));
        assert_eq!(from_yaml["extVirtualLinks"][0]["id"], json!("ext1"));
        // no extension: YAML accepted too
        assert_eq!(parse_body(yaml_text, "stdin").expect("yaml"), from_json);
    }

    #[test]
    fn bad_bodies_are_refused_with_their_name() {
        let e = parse_body(b"flavourId: simple\n", "req.json").expect_err("not JSON");
        assert!(e.to_string().contains("req.json"), "{e}");
        let e = parse_body(b"- a\n- b\n", "req.yaml").expect_err("a list");
        assert!(e.to_string().contains("mapping"), "{e}");
        assert!(parse_body(b"a: [unclosed\n", "x.yaml").is_err());
        assert!(parse_body(b"", "empty.yaml").expect("empty").is_empty());
    }

    #[test]
    fn bodies_load_from_files_and_stdin() {
        let path =
            std::env::temp_dir().join(format!("tacker-cli-body-{}.yaml", std::process::id()));
        std::fs::write(&path, "vnfdId: d1\n").expect("write");
        let body = load_body(&path, std::io::empty()).expect("file");
        let _ = std::fs::remove_file(&path);
        assert_eq!(body["vnfdId"], json!("d1"));
        let body = load_body(Path::new("-"), &b"{\"vnfdId\": \"d2\"}"[..]).expect("stdin");
        assert_eq!(body["vnfdId"], json!("d2"));
        assert!(load_body(Path::new("/nonexistent/body.yaml"), std::io::empty()).is_err());
    }

    #[test]
    fn pairs_are_strings_or_raw_json() {
        assert_eq!(
            parse_pair("a=b=c").expect("pair"),
            ("a".into(), json!("b=c"))
        );
        assert_eq!(parse_pair("n:=3").expect("pair"), ("n".into(), json!(3)));
        assert_eq!(
            parse_pair("l:=[1,\"x\"]").expect("pair"),
            ("l".into(), json!([1, "x"]))
        );
        assert_eq!(
            parse_pair("v=1.0").expect("pair"),
            ("v".into(), json!("1.0"))
        );
        assert_eq!(parse_pair("e=").expect("pair"), ("e".into(), json!("")));
        assert!(parse_pair("novalue").is_err());
        assert!(parse_pair("=x").is_err());
        assert!(parse_pair("n:=nope").is_err());
    }

    #[test]
    fn flags_override_the_body_file() {
        let mut body =
            Body(parse_body(b"flavourId: a\nadditionalParams: {x: 1}\n", "b.yaml").expect("b"));
        body.set("flavourId", Some("b"))
            .set("instantiationLevelId", None::<String>)
            .merge_pairs("additionalParams", &[("y".into(), json!("2"))])
            .expect("merge");
        assert_eq!(
            body.clone().into_value(),
            json!({"flavourId": "b", "additionalParams": {"x": 1, "y": "2"}})
        );
        assert!(body.require("flavourId", "--flavour").is_ok());
        assert!(body.require("vnfdId", "--vnfd-id").is_err());
        let mut bad = Body(parse_body(b"additionalParams: 3\n", "b.yaml").expect("b"));
        assert!(
            bad.merge_pairs("additionalParams", &[("y".into(), json!(1))])
                .is_err()
        );
    }
}
