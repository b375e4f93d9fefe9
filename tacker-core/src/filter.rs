//! SOL013 attribute-based filtering: `(eq,instantiationState,INSTANTIATED);(in,vnfProvider,a,b)`.
//!
//! A filter is a conjunction of terms `(op,attribute,value[,value…])`. Attributes are
//! paths of names separated by `/` (SOL013 v3) or `.` (older clients). A path that
//! crosses an array matches when any element matches; the negated operators (`neq`,
//! `nin`, `ncont`) match when no element matches the positive one. Values holding `,`,
//! `(`, `)` or `'` are written in single quotes, with `''` for a quote.

use serde_json::Value;

use crate::{Error, Result};

/// The most terms one filter may have.
pub const MAX_FILTER_TERMS: usize = 64;

/// The most values all terms of one filter may have together.
pub const MAX_FILTER_VALUES: usize = 512;

/// A SOL013 comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterOp {
    /// Equal to the (single) value.
    Eq,
    /// Not equal to the value.
    Neq,
    /// Equal to one of the values.
    In,
    /// Equal to none of the values.
    Nin,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Contains one of the values as a substring.
    Cont,
    /// Contains none of the values as a substring.
    Ncont,
}

impl FilterOp {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "eq" => Self::Eq,
            "neq" => Self::Neq,
            "in" => Self::In,
            "nin" => Self::Nin,
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "cont" => Self::Cont,
            "ncont" => Self::Ncont,
            _ => return None,
        })
    }

    /// The SOL013 spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Neq => "neq",
            Self::In => "in",
            Self::Nin => "nin",
            Self::Gt => "gt",
            Self::Gte => "gte",
            Self::Lt => "lt",
            Self::Lte => "lte",
            Self::Cont => "cont",
            Self::Ncont => "ncont",
        }
    }

    fn is_negated(self) -> bool {
        matches!(self, Self::Neq | Self::Nin | Self::Ncont)
    }

    fn positive(self) -> Self {
        match self {
            Self::Neq => Self::Eq,
            Self::Nin => Self::In,
            Self::Ncont => Self::Cont,
            other => other,
        }
    }
}

/// One `(op,attribute,values…)` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterTerm {
    /// The operator.
    pub op: FilterOp,
    /// The attribute path, one name per element.
    pub path: Vec<String>,
    /// The values (one for `eq`, `neq` and the orderings).
    pub values: Vec<String>,
}

/// A conjunction of terms. The empty filter matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// The terms, all of which must match.
    pub terms: Vec<FilterTerm>,
}

impl Filter {
    /// A filter with one `eq` term; `path` uses `/` between names.
    pub fn eq(path: &str, value: impl Into<String>) -> Self {
        Self::default().and(FilterOp::Eq, path, [value.into()])
    }

    /// Adds a term; `path` uses `/` between names.
    pub fn and<I>(mut self, op: FilterOp, path: &str, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.terms.push(FilterTerm {
            op,
            path: path.split('/').map(str::to_owned).collect(),
            values: values.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Parses a SOL013 `filter` expression. Errors name the offending position and term.
    /// A filter has at most [`MAX_FILTER_TERMS`] terms and [`MAX_FILTER_VALUES`] values
    /// in all; values may not hold the NUL character.
    pub fn parse(expression: &str) -> Result<Self> {
        let mut parser = Parser {
            text: expression,
            pos: 0,
        };
        let mut terms: Vec<FilterTerm> = Vec::new();
        let mut values = 0usize;
        loop {
            if terms.len() == MAX_FILTER_TERMS {
                return Err(parser.error(&format!(
                    "more than {MAX_FILTER_TERMS} terms (a filter may have at most {MAX_FILTER_TERMS})"
                )));
            }
            let term = parser.term()?;
            values += term.values.len();
            if values > MAX_FILTER_VALUES {
                return Err(parser.error(&format!(
                    "more than {MAX_FILTER_VALUES} values (a filter may have at most {MAX_FILTER_VALUES} in all its terms)"
                )));
            }
            if term.values.iter().any(|v| v.contains('\0')) {
                return Err(parser.error(&format!(
                    "a value of '{}' holds the NUL character",
                    term.path.join("/")
                )));
            }
            terms.push(term);
            parser.skip_spaces();
            match parser.peek() {
                None => break,
                Some(';') => parser.pos += 1,
                Some(other) => {
                    return Err(
                        parser.error(&format!("expected ';' between terms, found '{other}'"))
                    );
                }
            }
        }
        Ok(Self { terms })
    }

    /// Whether a JSON document (an ETSI resource) matches every term.
    pub fn matches(&self, document: &Value) -> bool {
        self.terms.iter().all(|term| term.matches(document))
    }

    /// Whether the filter has no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

impl FilterTerm {
    /// Whether a JSON document matches this term.
    pub fn matches(&self, document: &Value) -> bool {
        let mut leaves = Vec::new();
        collect_leaves(document, &self.path, &mut leaves);
        let positive = self.op.positive();
        let any = leaves
            .iter()
            .any(|leaf| compare(positive, leaf, &self.values));
        if self.op.is_negated() { !any } else { any }
    }

    /// The attribute path joined with `/`.
    pub fn path_string(&self) -> String {
        self.path.join("/")
    }
}

fn collect_leaves<'a>(value: &'a Value, path: &[String], out: &mut Vec<&'a Value>) {
    match (value, path.split_first()) {
        (Value::Array(items), _) => {
            for item in items {
                collect_leaves(item, path, out);
            }
        }
        (_, None) => out.push(value),
        (Value::Object(map), Some((name, rest))) => {
            if let Some(child) = map.get(name) {
                collect_leaves(child, rest, out);
            }
        }
        _ => {}
    }
}

fn compare(op: FilterOp, leaf: &Value, values: &[String]) -> bool {
    match op {
        FilterOp::Eq | FilterOp::In => values.iter().any(|v| equals(leaf, v)),
        FilterOp::Cont => match leaf {
            Value::String(s) => values.iter().any(|v| s.contains(v.as_str())),
            _ => false,
        },
        FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte => {
            let Some(value) = values.first() else {
                return false;
            };
            let Some(ordering) = order(leaf, value) else {
                return false;
            };
            match op {
                FilterOp::Gt => ordering.is_gt(),
                FilterOp::Gte => ordering.is_ge(),
                FilterOp::Lt => ordering.is_lt(),
                _ => ordering.is_le(),
            }
        }
        FilterOp::Neq | FilterOp::Nin | FilterOp::Ncont => false,
    }
}

fn equals(leaf: &Value, value: &str) -> bool {
    match leaf {
        Value::String(s) => s == value,
        Value::Bool(b) => value == if *b { "true" } else { "false" },
        Value::Number(n) => match (n.as_f64(), value.parse::<f64>()) {
            (Some(a), Ok(b)) => a == b,
            _ => n.to_string() == value,
        },
        Value::Null => value == "null",
        _ => false,
    }
}

fn order(leaf: &Value, value: &str) -> Option<std::cmp::Ordering> {
    match leaf {
        Value::Number(n) => n.as_f64()?.partial_cmp(&value.parse::<f64>().ok()?),
        Value::String(s) => Some(s.as_str().cmp(value)),
        _ => None,
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn skip_spaces(&mut self) {
        // Unicode whitespace spans several bytes (U+0085 is two, U+3000 three).
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
    }

    fn error(&self, message: &str) -> Error {
        let at = self
            .text
            .get(..self.pos)
            .map_or(0, |done| done.chars().count());
        Error::InvalidRequest(format!(
            "filter: {message} at character {} of '{}'",
            at + 1,
            self.text
        ))
    }

    fn expect(&mut self, wanted: char) -> Result<()> {
        self.skip_spaces();
        match self.peek() {
            Some(c) if c == wanted => {
                self.pos += c.len_utf8();
                Ok(())
            }
            Some(c) => Err(self.error(&format!("expected '{wanted}', found '{c}'"))),
            None => Err(self.error(&format!("expected '{wanted}', found the end"))),
        }
    }

    fn term(&mut self) -> Result<FilterTerm> {
        self.expect('(')?;
        let start = self.pos;
        let op_name = self.bare_word();
        let op = FilterOp::parse(op_name.trim()).ok_or_else(|| {
            self.pos = start;
            self.error(&format!(
                "unknown operator '{}' (expected eq, neq, in, nin, gt, gte, lt, lte, cont or ncont)",
                op_name.trim()
            ))
        })?;
        self.expect(',')?;
        let attr = self.bare_word();
        let path: Vec<String> = attr.trim().split(['/', '.']).map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(self.error(&format!("malformed attribute name '{}'", attr.trim())));
        }
        let mut values = Vec::new();
        loop {
            self.skip_spaces();
            match self.peek() {
                Some(')') => {
                    self.pos += 1;
                    break;
                }
                Some(',') => {
                    self.pos += 1;
                    values.push(self.value()?);
                }
                Some(c) => return Err(self.error(&format!("expected ',' or ')', found '{c}'"))),
                None => return Err(self.error("unterminated term, expected ')'")),
            }
        }
        if values.is_empty() {
            return Err(self.error(&format!(
                "'{}' on '{}' needs a value",
                op.as_str(),
                path.join("/")
            )));
        }
        let single = matches!(
            op,
            FilterOp::Eq
                | FilterOp::Neq
                | FilterOp::Gt
                | FilterOp::Gte
                | FilterOp::Lt
                | FilterOp::Lte
        );
        if single && values.len() > 1 {
            return Err(self.error(&format!(
                "'{}' on '{}' takes one value, got {}",
                op.as_str(),
                path.join("/"),
                values.len()
            )));
        }
        Ok(FilterTerm { op, path, values })
    }

    fn bare_word(&mut self) -> String {
        let rest = &self.text[self.pos..];
        let end = rest.find([',', ')', '(', ';']).unwrap_or(rest.len());
        self.pos += end;
        rest[..end].to_owned()
    }

    fn value(&mut self) -> Result<String> {
        if self.peek() != Some('\'') {
            return Ok(self.bare_word());
        }
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated quoted value"));
            };
            self.pos += c.len_utf8();
            if c == '\'' {
                if self.peek() == Some('\'') {
                    self.pos += 1;
                    out.push('\'');
                } else {
                    return Ok(out);
                }
            } else {
                out.push(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn instance() -> Value {
        json!({
            "id": "i-1",
            "vnfProvider": "Company",
            "instantiationState": "INSTANTIATED",
            "instantiatedVnfInfo": {
                "flavourId": "simple",
                "scaleStatus": [{"aspectId": "worker", "scaleLevel": 2}],
                "vnfcResourceInfo": [{"vduId": "VDU1"}, {"vduId": "VDU2"}]
            },
            "metadata": {"note": "a,b (c)", "count": 3, "enabled": true}
        })
    }

    #[test]
    fn eq_and_in_match_simple_and_nested_attributes() {
        let doc = instance();
        let f =
            Filter::parse("(eq,instantiationState,INSTANTIATED);(in,vnfProvider,Other,Company)")
                .expect("parse");
        assert!(f.matches(&doc));
        assert!(
            Filter::parse("(eq,instantiatedVnfInfo/flavourId,simple)")
                .expect("parse")
                .matches(&doc)
        );
        assert!(
            Filter::parse("(eq,instantiatedVnfInfo.flavourId,simple)")
                .expect("parse")
                .matches(&doc)
        );
        assert!(
            !Filter::parse("(eq,instantiatedVnfInfo/flavourId,big)")
                .expect("parse")
                .matches(&doc)
        );
    }

    #[test]
    fn arrays_match_any_element_and_negations_match_none() {
        let doc = instance();
        let any =
            Filter::parse("(eq,instantiatedVnfInfo/vnfcResourceInfo/vduId,VDU2)").expect("parse");
        assert!(any.matches(&doc));
        let none =
            Filter::parse("(neq,instantiatedVnfInfo/vnfcResourceInfo/vduId,VDU2)").expect("parse");
        assert!(!none.matches(&doc));
        let nin = Filter::parse("(nin,instantiatedVnfInfo/vnfcResourceInfo/vduId,VDU3,VDU4)")
            .expect("parse");
        assert!(nin.matches(&doc));
    }

    #[test]
    fn orderings_compare_numbers_numerically() {
        let doc = instance();
        assert!(
            Filter::parse("(gt,instantiatedVnfInfo/scaleStatus/scaleLevel,1)")
                .expect("parse")
                .matches(&doc)
        );
        assert!(
            Filter::parse("(lte,metadata/count,3)")
                .expect("parse")
                .matches(&doc)
        );
        assert!(
            !Filter::parse("(lt,metadata/count,3)")
                .expect("parse")
                .matches(&doc)
        );
        assert!(
            !Filter::parse("(gte,metadata/count,10)")
                .expect("parse")
                .matches(&doc)
        );
    }

    #[test]
    fn quoted_values_and_booleans() {
        let doc = instance();
        assert!(
            Filter::parse("(eq,metadata/note,'a,b (c)')")
                .expect("parse")
                .matches(&doc)
        );
        assert!(
            Filter::parse("(cont,metadata/note,'(c')")
                .expect("parse")
                .matches(&doc)
        );
        assert!(
            Filter::parse("(ncont,vnfProvider,xyz)")
                .expect("parse")
                .matches(&doc)
        );
        assert!(
            Filter::parse("(eq,metadata/enabled,true)")
                .expect("parse")
                .matches(&doc)
        );
        let quote = Filter::parse("(eq,name,'it''s')").expect("parse");
        assert_eq!(quote.terms[0].values, vec!["it's".to_string()]);
    }

    #[test]
    fn missing_attribute_matches_only_negations() {
        let doc = instance();
        assert!(
            !Filter::parse("(eq,vnfInstanceName,x)")
                .expect("parse")
                .matches(&doc)
        );
        assert!(
            Filter::parse("(neq,vnfInstanceName,x)")
                .expect("parse")
                .matches(&doc)
        );
    }

    #[test]
    fn filters_are_bounded() {
        let many = vec!["(eq,a,b)"; MAX_FILTER_TERMS + 1].join(";");
        let error = Filter::parse(&many)
            .expect_err("too many terms")
            .to_string();
        assert!(error.contains("at most 64"), "{error}");
        let within = vec!["(eq,a,b)"; MAX_FILTER_TERMS].join(";");
        assert_eq!(Filter::parse(&within).expect("parse").terms.len(), 64);
        let values = vec!["v"; MAX_FILTER_VALUES + 1].join(",");
        let error = Filter::parse(&format!("(in,a,{values})"))
            .expect_err("too many values")
            .to_string();
        assert!(error.contains("at most 512"), "{error}");
        let error = Filter::parse("(eq,vnfInstanceName,a\u{0}b)")
            .expect_err("NUL")
            .to_string();
        assert!(error.contains("NUL"), "{error}");
    }

    #[test]
    fn multibyte_whitespace_and_text_never_split_a_character() {
        for text in [
            "\u{85}(eq,a,b)",
            "(\u{85}eq,a,b)\u{3000}",
            "(eq,a,b)\u{85};\u{2028}(eq,c,d)",
            "(eq,a,b)\u{85}x",
            "\u{85}",
            "(eq,\u{85}",
            "(eq,é,'ü\u{85}')\u{a0}\u{85}",
        ] {
            let _ = Filter::parse(text);
        }
        let error = Filter::parse("\u{85}\u{85}x").expect_err("no term");
        assert!(
            error.to_string().contains("at character 3"),
            "positions count characters: {error}"
        );
        let filter = Filter::parse("\u{3000}(eq,a,b)\u{85};(eq,c,d)").expect("parse");
        assert_eq!(filter.terms.len(), 2);
    }

    #[test]
    fn malformed_filters_are_refused_with_position() {
        for (text, needle) in [
            ("(foo,a,b)", "unknown operator 'foo'"),
            ("(eq,a)", "needs a value"),
            ("(eq,a,b,c)", "takes one value"),
            ("(eq,a,b", "expected ')'"),
            ("(eq,a,b)(eq,c,d)", "expected ';'"),
            ("eq,a,b", "expected '('"),
            ("(eq,a//b,c)", "malformed attribute"),
            ("(eq,a,'open)", "unterminated quoted value"),
        ] {
            let error = Filter::parse(text).expect_err(text).to_string();
            assert!(error.contains(needle), "{text}: {error}");
            assert!(error.contains("at character"), "{text}: {error}");
        }
    }
}
