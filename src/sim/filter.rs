//! The OData `$filter` subset Batch documents for pools: `eq`, `ne`, `and`, `or`, parentheses
//! and `startswith(prop,'text')`, over top-level properties.

use serde_json::{Map, Value};

#[derive(Debug, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Compare { property: String, equal: bool, literal: Value },
    StartsWith { property: String, prefix: String },
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
            let equal = match next(pos)? {
                Token::Word(op) if op.eq_ignore_ascii_case("eq") => true,
                Token::Word(op) if op.eq_ignore_ascii_case("ne") => false,
                other => return Err(format!("expected eq or ne after '{property}', found {other:?}")),
            };
            let literal = match next(pos)? {
                Token::Text(s) => Value::String(s),
                Token::Word(w) if w == "true" || w == "false" => Value::Bool(w == "true"),
                Token::Word(w) => {
                    w.parse::<i64>().map(Value::from).map_err(|_| format!("'{w}' is not a value; quote strings"))?
                }
                other => return Err(format!("expected a value, found {other:?}")),
            };
            Ok(Expr::Compare { property, equal, literal })
        }
        other => Err(format!("unexpected {other:?}")),
    }
}

pub fn matches(expr: &Expr, object: &Map<String, Value>) -> bool {
    match expr {
        Expr::Or(a, b) => matches(a, object) || matches(b, object),
        Expr::And(a, b) => matches(a, object) && matches(b, object),
        Expr::Compare { property, equal, literal } => {
            let value = object.get(property).unwrap_or(&Value::Null);
            let same = match (value, literal) {
                (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
                (a, b) => a == b,
            };
            same == *equal
        }
        Expr::StartsWith { property, prefix } => {
            object.get(property).and_then(Value::as_str).is_some_and(|v| v.starts_with(prefix.as_str()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(filter: &str, pool: Value) -> bool {
        matches(&parse(filter).unwrap(), pool.as_object().unwrap())
    }

    #[test]
    fn evaluates_the_documented_forms() {
        let pool =
            json!({"id": "batch_app_1", "state": "active", "enableAutoScale": false, "vmSize": "standard_d2_v2"});
        assert!(check("state eq 'active'", pool.clone()));
        assert!(check("startswith(id,'batch_app_') and enableAutoScale eq false", pool.clone()));
        assert!(!check("state ne 'active' or (vmSize eq 'x')", pool.clone()));
        assert!(check("(state eq 'deleting') or id eq 'batch_app_1'", pool));
        for bad in ["state eq", "state gt 'a'", "startswith(id)", "(state eq 'a'", "state eq 'a"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
