//! The OData `$filter` subset Batch documents (learn.microsoft.com "OData filters in Batch"): `eq`,
//! `ne`, `gt`, `ge`, `lt`, `le`, `and`, `or`, parentheses and `startswith(prop,'text')` over
//! properties, nested ones by path (`executionInfo/poolId`); literals are quoted text, numbers, `true`/`false` and `datetime'2026-12-01T00:00:00Z'`.
//! Text compares ignoring case (ids and enums are case-insensitive on the service).

use serde_json::{Map, Value};
use std::cmp::Ordering;

#[derive(Debug, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Compare { property: String, op: Op, literal: Literal },
    StartsWith { property: String, prefix: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn parse(word: &str) -> Option<Op> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            _ => return None,
        })
    }

    /// Whether `ordering` (property against literal; None when they do not compare) satisfies it.
    fn holds(self, ordering: Option<Ordering>) -> bool {
        match (self, ordering) {
            (Op::Ne, None) => true,
            (_, None) => false,
            (Op::Eq, Some(o)) => o.is_eq(),
            (Op::Ne, Some(o)) => o.is_ne(),
            (Op::Gt, Some(o)) => o.is_gt(),
            (Op::Ge, Some(o)) => o.is_ge(),
            (Op::Lt, Some(o)) => o.is_lt(),
            (Op::Le, Some(o)) => o.is_le(),
        }
    }
}

#[derive(Debug, PartialEq)]
pub enum Literal {
    Value(Value),
    Time(jiff::Timestamp),
}

#[derive(Debug, PartialEq, Clone)]
enum Token {
    Word(String),
    Text(String),
    Open,
    Close,
    Comma,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            ',' => {
                chars.next();
                out.push(Token::Comma);
            }
            '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            s.push('\'');
                        }
                        Some('\'') => break,
                        Some(ch) => s.push(ch),
                        None => return Err("a quoted string is not closed".into()),
                    }
                }
                out.push(Token::Text(s));
            }
            _ => {
                let mut w = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_alphanumeric() || matches!(ch, '_' | '.' | '-' | '/') {
                        w.push(ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if w.is_empty() {
                    return Err(format!("unexpected '{c}'"));
                }
                out.push(Token::Word(w));
            }
        }
    }
    Ok(out)
}

pub fn parse(text: &str) -> Result<Expr, String> {
    let tokens = tokens(text)?;
    let mut pos = 0;
    let expr = or(&tokens, &mut pos)?;
    if pos != tokens.len() {
        return Err(format!("unexpected {:?}", tokens[pos]));
    }
    Ok(expr)
}

fn keyword(tokens: &[Token], pos: usize, word: &str) -> bool {
    matches!(tokens.get(pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
}

fn or(t: &[Token], pos: &mut usize) -> Result<Expr, String> {
    let mut left = and(t, pos)?;
    while keyword(t, *pos, "or") {
        *pos += 1;
        left = Expr::Or(Box::new(left), Box::new(and(t, pos)?));
    }
    Ok(left)
}

fn and(t: &[Token], pos: &mut usize) -> Result<Expr, String> {
    let mut left = primary(t, pos)?;
    while keyword(t, *pos, "and") {
        *pos += 1;
        left = Expr::And(Box::new(left), Box::new(primary(t, pos)?));
    }
    Ok(left)
}

fn primary(t: &[Token], pos: &mut usize) -> Result<Expr, String> {
    let next = |pos: &mut usize| {
        let token = t.get(*pos).cloned();
        *pos += 1;
        token.ok_or_else(|| "the filter ends too early".to_string())
    };
    match next(pos)? {
        Token::Open => {
            let inner = or(t, pos)?;
            match next(pos)? {
                Token::Close => Ok(inner),
                other => Err(format!("expected ')', found {other:?}")),
            }
        }
        Token::Word(w) if w.eq_ignore_ascii_case("startswith") => {
            let (Token::Open, Token::Word(property), Token::Comma, Token::Text(prefix), Token::Close) =
                (next(pos)?, next(pos)?, next(pos)?, next(pos)?, next(pos)?)
            else {
                return Err("write startswith(property,'text')".into());
            };
            Ok(Expr::StartsWith { property, prefix })
        }
        Token::Word(property) => {
            let op = match next(pos)? {
                Token::Word(op) => Op::parse(&op),
                _ => None,
            }
            .ok_or_else(|| format!("expected eq, ne, gt, ge, lt or le after '{property}'"))?;
            let literal = match next(pos)? {
                Token::Text(s) => Literal::Value(Value::String(s)),
                Token::Word(w) if w.eq_ignore_ascii_case("datetime") => match next(pos)? {
                    Token::Text(s) => Literal::Time(
                        s.parse().map_err(|_| format!("datetime'{s}' is not a time such as 2026-12-01T00:00:00Z"))?,
                    ),
                    other => return Err(format!("expected datetime'…', found {other:?}")),
                },
                Token::Word(w) if w == "true" || w == "false" => Literal::Value(Value::Bool(w == "true")),
                Token::Word(w) => Literal::Value(
                    w.parse::<i64>().map(Value::from).map_err(|_| format!("'{w}' is not a value; quote strings"))?,
                ),
                other => return Err(format!("expected a value, found {other:?}")),
            };
            Ok(Expr::Compare { property, op, literal })
        }
        other => Err(format!("unexpected {other:?}")),
    }
}

pub fn matches(expr: &Expr, object: &Map<String, Value>) -> bool {
    match expr {
        Expr::Or(a, b) => matches(a, object) || matches(b, object),
        Expr::And(a, b) => matches(a, object) && matches(b, object),
        Expr::Compare { property, op, literal } => {
            let value = lookup(object, property).unwrap_or(&Value::Null);
            let ordering = match (value, literal) {
                (Value::String(a), Literal::Value(Value::String(b))) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
                (Value::String(a), Literal::Time(b)) => a.parse::<jiff::Timestamp>().ok().map(|a| a.cmp(b)),
                (Value::Number(a), Literal::Value(Value::Number(b))) => a.as_f64().partial_cmp(&b.as_f64()),
                (Value::Bool(a), Literal::Value(Value::Bool(b))) => Some(a.cmp(b)),
                _ => None,
            };
            op.holds(ordering)
        }
        Expr::StartsWith { property, prefix } => {
            lookup(object, property).and_then(Value::as_str).is_some_and(|v| v.starts_with(prefix.as_str()))
        }
    }
}

/// The values `property` must equal (lower-cased) for `expr` to hold, when `expr` is nothing but
/// `property eq 'text'` clauses joined by `or`: the look-ups by id clients send ten or twenty at
/// a time, which the simulator answers by key rather than by testing every pool or job. None for
/// any other form.
pub fn only_equal_to(expr: &Expr, property: &str) -> Option<Vec<String>> {
    match expr {
        Expr::Or(a, b) => {
            let mut values = only_equal_to(a, property)?;
            values.extend(only_equal_to(b, property)?);
            Some(values)
        }
        Expr::Compare { property: p, op: Op::Eq, literal: Literal::Value(Value::String(text)) } if p == property => {
            Some(vec![text.to_lowercase()])
        }
        _ => None,
    }
}

/// A property by its path (`executionInfo/poolId`, as the service's filters name nested ones).
fn lookup<'a>(object: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('/');
    let first = object.get(parts.next()?)?;
    parts.try_fold(first, |value, part| value.get(part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(filter: &str, pool: Value) -> bool {
        matches(&parse(filter).unwrap(), pool.as_object().unwrap())
    }

    #[test]
    fn look_ups_by_id_are_told_apart_from_other_filters() {
        let ids = |filter: &str| only_equal_to(&parse(filter).unwrap(), "poolId");
        assert_eq!(ids("poolId eq 'A' or poolId eq 'b'"), Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(ids("(poolId eq 'a') or (poolId eq 'b' or poolId eq 'c')").map(|v| v.len()), Some(3));
        assert_eq!(ids("poolId eq 'a' and poolId eq 'b'"), None, "and: not a plain look-up");
        assert_eq!(ids("poolId eq 'a' or state eq 'active'"), None, "another property");
        assert_eq!(ids("poolId ne 'a'"), None);
        assert_eq!(ids("startswith(poolId,'a')"), None);
    }

    #[test]
    fn evaluates_the_documented_forms() {
        let pool =
            json!({"id": "batch_app_1", "state": "active", "enableAutoScale": false, "vmSize": "standard_d2_v2"});
        assert!(check("state eq 'active'", pool.clone()));
        assert!(check("startswith(id,'batch_app_') and enableAutoScale eq false", pool.clone()));
        assert!(!check("state ne 'active' or (vmSize eq 'x')", pool.clone()));
        assert!(check("(state eq 'deleting') or id eq 'batch_app_1'", pool));
        let job = json!({"id": "j", "executionInfo": {"poolId": "Web-1", "exitCode": 3}});
        assert!(check("executionInfo/poolId eq 'web-1'", job.clone()));
        assert!(check("executionInfo/exitCode gt 0 and startswith(executionInfo/poolId,'Web')", job.clone()));
        assert!(!check("executionInfo/poolId/deeper eq 'x'", job));
    }

    #[test]
    fn comparison_operators_order_text_numbers_and_times() {
        let pool = json!({"id": "web-2", "creationTime": "2026-11-30T10:00:00.1234567Z", "currentDedicatedNodes": 3});
        assert!(check("id gt 'w'", pool.clone()) && check("id GE 'WEB-2'", pool.clone()));
        assert!(!check("id lt 'web-1'", pool.clone()) && check("id le 'x'", pool.clone()));
        assert!(check("creationTime gt datetime'2026-11-30T09:59:59Z'", pool.clone()));
        assert!(!check("creationTime le datetime'2026-11-30T10:00:00Z'", pool.clone()));
        assert!(check("currentDedicatedNodes ge 3 and currentDedicatedNodes lt 4", pool.clone()));
        assert!(check("id ne 'other'", pool.clone()) && !check("missing gt 'a'", pool.clone()));
        assert!(check("missing ne 'a'", pool), "a missing property is unequal to everything");
        for bad in [
            "state eq",
            "state like 'a'",
            "startswith(id)",
            "(state eq 'a'",
            "state eq 'a",
            "creationTime gt datetime'soon'",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
