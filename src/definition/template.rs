//! `*.j2` definitions: Jinja2 (minijinja) rendered to JSON before parsing.
//!
//! Strings are printed JSON-escaped without quotes, so the usual `"password": "{{ env("REG_PW") }}"`
//! survives quotes and backslashes; `{{ x|tojson }}` prints a whole JSON value. Undefined
//! variables are errors, not empty strings. An `env()` variable that is not set renders as its
//! placeholder `${env:VAR}` and is listed, so every unset one is named at once and only the pools
//! whose bodies need one are held back (`Definition::require_env`).

use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The work one render may do (minijinja's fuel: about one per instruction and per 64 bytes made).
/// A thousand pools written with loops and macros need well under a tenth of it.
const FUEL: u64 = 5_000_000;
/// How deep macros, loops and includes may nest (minijinja's own default is 500).
const RECURSION_LIMIT: usize = 100;

/// The rendered text and the values that came from `env()` (treated as secrets).
pub struct Rendered {
    pub text: String,
    pub secrets: Vec<EnvSecret>,
    /// The same template rendered with every `env("VAR")` as `${env:VAR}`: exactly where the
    /// secrets are. None when that rendering fails (env() used other than inside a string).
    pub sealed: Option<String>,
    /// Variables `env()` read that are not set, in order of first use; `text` holds their placeholders.
    pub unset: Vec<String>,
    /// With `unset` variables, the template rendered with each as "" (None when that fails): a
    /// pool whose body differs from `text` other than at the placeholders depends on an unset
    /// value in a way no placeholder shows (a condition, a filter).
    pub blank: Option<String>,
}

/// A value a template read with `env(var)`: shown nowhere, recorded as a reference to `var`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvSecret {
    pub var: String,
    pub value: String,
}

/// A rendering failure at `line` of the template.
pub struct TemplateError {
    pub line: Option<usize>,
    pub message: String,
}

/// Where an unset (or sealed) `env("VAR")` stands in rendered text.
pub fn placeholder(var: &str) -> String {
    format!("${{env:{var}}}")
}

/// What `env()` gives in one rendering.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EnvMode {
    /// The value; an unset variable's placeholder.
    Values,
    /// Every variable's placeholder (the sealed rendering).
    References,
    /// The value; "" for an unset variable.
    Blank,
}

/// One rendering's text, the env() values it read and the variables that were not set.
struct Pass {
    text: String,
    secrets: Vec<EnvSecret>,
    unset: Vec<String>,
}

pub fn render(name: &str, source: &str, vars: &BTreeMap<String, String>) -> Result<Rendered, TemplateError> {
    let Pass { text, secrets, unset } = render_with(name, source, vars, EnvMode::Values)?;
    let sealed = render_with(name, source, vars, EnvMode::References).ok().map(|p| p.text);
    let blank =
        if unset.is_empty() { None } else { render_with(name, source, vars, EnvMode::Blank).ok().map(|p| p.text) };
    Ok(Rendered { text, secrets, sealed, unset, blank })
}

/// One rendering, `env()` as `mode` says.
fn render_with(
    name: &str,
    source: &str,
    vars: &BTreeMap<String, String>,
    mode: EnvMode,
) -> Result<Pass, TemplateError> {
    let secrets = Arc::new(Mutex::new(Vec::new()));
    let unset = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // A bounded render: nested loops or a macro that calls itself twice would otherwise run for ever.
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_formatter(|out, _state, value| {
        match value.as_str() {
            Some(text) if !value.is_safe() => {
                let quoted = serde_json::to_string(text).expect("strings serialise");
                out.write_str(&quoted[1..quoted.len() - 1])?;
            }
            _ => write!(out, "{value}")?,
        }
        Ok(())
    });
    let (seen, not_set) = (secrets.clone(), unset.clone());
    env.add_function("env", move |name: String| -> Value {
        let Ok(value) = std::env::var(&name) else {
            let mut not_set = not_set.lock().expect("unset list");
            if !not_set.contains(&name) {
                not_set.push(name.clone());
            }
            return Value::from(if mode == EnvMode::Blank { String::new() } else { placeholder(&name) });
        };
        let mut seen = seen.lock().expect("secret list");
        if !value.is_empty() && !seen.iter().any(|s: &EnvSecret| s.var == name) {
            seen.push(EnvSecret { var: name.clone(), value: value.clone() });
        }
        Value::from(if mode == EnvMode::References { placeholder(&name) } else { value })
    });
    // `missing`: variables the template uses that nobody set, named in an undefined-variable error.
    let failure = |e: Error, missing: &[String]| {
        let line = e.line();
        let text = line.and_then(|l| source.lines().nth(l.saturating_sub(1)));
        let mut message = match e.kind() {
            ErrorKind::UndefinedError => {
                // The names on the failing line, else every name nobody set.
                let on_line: Vec<&String> =
                    missing.iter().filter(|m| text.is_some_and(|t| t.contains(m.as_str()))).collect();
                let named: Vec<&String> = if on_line.is_empty() { missing.iter().collect() } else { on_line };
                let names = named.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
                let first = named.first().map(|n| n.as_str()).unwrap_or("NAME");
                format!(
                    "undefined variable {names}{}; set it with --var {first}=VALUE or under [vars] in config.toml",
                    detail(&e)
                )
            }
            ErrorKind::OutOfFuel => format!(
                "{name} does too much work to render (over {FUEL} steps): a loop nested in a loop or a macro \
                 calling itself more than once? make it simpler"
            ),
            _ => format!("{}{}", e.kind(), detail(&e)),
        };
        // An unset env() value (its placeholder) may be what broke the rendering: name them all.
        let not_set = unset.lock().expect("unset list");
        if !not_set.is_empty() {
            message = format!(
                "environment variable(s) {} not set; export them before running repool (rendering without them failed: {message})",
                not_set.join(", ")
            );
        }
        if let Some(text) = text {
            message.push_str(&format!("\n    {}", text.trim()));
        }
        TemplateError { line, message }
    };
    env.add_template(name, source).map_err(|e| failure(e, &[]))?;
    let template = env.get_template(name).map_err(|e| failure(e, &[]))?;
    let mut missing: Vec<String> =
        template.undeclared_variables(false).into_iter().filter(|v| !vars.contains_key(v) && v != "env").collect();
    missing.sort();
    let text = template.render(vars).map_err(|e| failure(e, &missing))?;
    let secrets = secrets.lock().expect("secret list").clone();
    let unset = unset.lock().expect("unset list").clone();
    Ok(Pass { text, secrets, unset })
}

fn detail(e: &Error) -> String {
    e.detail().map(|d| format!(": {d}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn strings_stay_valid_json_whatever_they_hold() {
        let out = render("t.json.j2", r#"{"p": "{{ pw }}", "n": {{ n }}}"#, &vars(&[("pw", r#"a"b\c"#), ("n", "3")]))
            .ok()
            .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&out.text).unwrap();
        assert_eq!(parsed["p"], r#"a"b\c"#);
        assert_eq!(parsed["n"], 3);
    }

    #[test]
    fn loops_and_env_secrets() {
        // SAFETY: the variable name is unique to this test.
        unsafe { std::env::set_var("REPOOL_TEST_TEMPLATE_SECRET", "s3\"cret") };
        let source = r#"{ {% for i in range(2) %}"p-{{ i }}": {"pw": "{{ env("REPOOL_TEST_TEMPLATE_SECRET") }}"}{% if not loop.last %},{% endif %}{% endfor %} }"#;
        let out = render("t.j2", source, &BTreeMap::new()).ok().unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&out.text).unwrap();
        assert_eq!(parsed["p-1"]["pw"], "s3\"cret");
        let expected = EnvSecret { var: "REPOOL_TEST_TEMPLATE_SECRET".into(), value: "s3\"cret".into() };
        assert_eq!(out.secrets, [expected]);
        let sealed: serde_json::Value = serde_json::from_str(out.sealed.as_deref().unwrap()).unwrap();
        assert_eq!(sealed["p-1"]["pw"], "${env:REPOOL_TEST_TEMPLATE_SECRET}");
    }

    #[test]
    fn runaway_templates_stop_with_a_clear_error() {
        let nested = "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}";
        let err = render("big.j2", nested, &BTreeMap::new()).err().unwrap();
        assert!(err.message.contains("big.j2 does too much work"), "{}", err.message);
        let exponential = "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(12) }}";
        let err = render("exp.j2", exponential, &BTreeMap::new()).err().unwrap();
        assert!(err.message.contains("exp.j2 does too much work"), "{}", err.message);
        let deep = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}";
        let err = render("deep.j2", deep, &BTreeMap::new()).err().unwrap();
        assert!(err.message.contains("recursion limit"), "{}", err.message);
    }

    #[test]
    fn undefined_variables_and_missing_env_name_the_line() {
        let err = render("t.j2", "{\n\"a\": \"{{ nope }}\"\n}", &BTreeMap::new()).err().unwrap();
        assert_eq!(err.line, Some(2));
        assert!(
            err.message.contains("undefined variable 'nope'") && err.message.contains("{{ nope }}"),
            "{}",
            err.message
        );
        assert!(err.message.contains("--var nope=VALUE"), "{}", err.message);
    }

    #[test]
    fn every_unset_env_variable_is_listed_and_rendered_as_its_placeholder() {
        let source =
            r#"{"a": "{{ env("REPOOL_UNSET_A") }}", "b": "{{ env("REPOOL_UNSET_B") }}-{{ env("REPOOL_UNSET_A") }}"}"#;
        let out = render("t.j2", source, &BTreeMap::new()).ok().unwrap();
        assert_eq!(out.unset, ["REPOOL_UNSET_A", "REPOOL_UNSET_B"]);
        assert_eq!(out.text, r#"{"a": "${env:REPOOL_UNSET_A}", "b": "${env:REPOOL_UNSET_B}-${env:REPOOL_UNSET_A}"}"#);
        assert_eq!(out.blank.as_deref(), Some(r#"{"a": "", "b": "-"}"#));
        assert!(out.secrets.is_empty());
    }
}
