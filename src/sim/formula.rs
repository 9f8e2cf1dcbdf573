//! Autoscale formulas, as far as the simulator understands them: assignments of whole numbers
//! to `$TargetDedicatedNodes`, `$TargetLowPriorityNodes` and `$NodeDeallocationOption`, plus
//! user variables. Anything else is reported the way the service reports evaluation errors.

use crate::batch::models::{NameValue, NodeDeallocationOption, ResizeError};

pub struct Evaluation {
    /// `$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue`
    pub results: Option<String>,
    pub error: Option<ResizeError>,
    pub targets: Option<(u32, u32)>,
    pub deallocation: Option<NodeDeallocationOption>,
}

/// What a formula starts from: the pool's current targets and deallocation option. The service's
/// variables hold them before the formula runs, and an evaluation that fails answers them as its
/// `results` (as recorded live).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Start {
    pub dedicated: u32,
    pub low: u32,
    pub deallocation: Option<NodeDeallocationOption>,
}

impl Start {
    /// The pool's current values; the deallocation option is the last evaluation's, if any.
    pub fn of(pool: &crate::batch::Pool) -> Start {
        let last = pool.auto_scale_run.as_ref().and_then(|run| run.results.as_deref()).unwrap_or_default();
        let deallocation = last
            .split(';')
            .find_map(|item| item.trim().strip_prefix("$NodeDeallocationOption="))
            .map(NodeDeallocationOption::from);
        Start {
            dedicated: pool.target_dedicated_nodes.unwrap_or(0),
            low: pool.target_low_priority_nodes.unwrap_or(0),
            deallocation,
        }
    }

    fn results(&self, dedicated: u32, low: u32, deallocation: Option<&NodeDeallocationOption>) -> String {
        let option = deallocation.or(self.deallocation.as_ref()).cloned().unwrap_or(NodeDeallocationOption::Requeue);
        format!("$TargetDedicatedNodes={dedicated};$TargetLowPriorityNodes={low};$NodeDeallocationOption={option}")
    }
}

/// The formula's statements: (1-based line, 1-based column, text), comments and blanks skipped.
fn statements(formula: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    formula.lines().enumerate().flat_map(|(line_no, line)| {
        line.split(';')
            .map(str::trim)
            .filter(|text| !text.is_empty() && !text.starts_with("//"))
            .map(move |text| (line_no + 1, line.find(text).unwrap_or(0) + 1, text))
    })
}

/// A syntax error found before evaluation: (line, column, message). A statement that is only a
/// symbol parses (the service evaluates it, and an unknown one is an evaluation error).
pub fn syntax_error(formula: &str) -> Option<(usize, usize, String)> {
    statements(formula).find_map(|(line, column, text)| {
        let depth = text.chars().try_fold(0i32, |depth, c| match c {
            '(' => Some(depth + 1),
            ')' if depth == 0 => None,
            ')' => Some(depth - 1),
            _ => Some(depth),
        });
        if depth != Some(0) {
            return Some((line, column, format!("Syntax error: unbalanced parentheses in '{text}'")));
        }
        match text.split_once('=') {
            Some((name, value)) if is_symbol(name.trim()) && !value.trim().is_empty() => None,
            None if is_symbol(text) => None,
            _ => Some((line, column, format!("Syntax error: expected an assignment, found '{text}'"))),
        }
    })
}

fn is_symbol(text: &str) -> bool {
    text.strip_prefix('$').is_some_and(|name| !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_'))
}

/// What the service answers for a symbol it does not know: the error, and the pool's current
/// values as results.
fn undefined(start: &Start, line: usize, column: usize, symbol: &str) -> Evaluation {
    Evaluation {
        results: Some(start.results(start.dedicated, start.low, None)),
        error: Some(ResizeError {
            code: "AutoScalingFormulaEvaluationError".into(),
            message: "The specified auto-scaling formula has evaluation error".into(),
            values: Some(vec![NameValue {
                name: "Message".into(),
                value: format!("Line {line}, Col {column}: Undefined symbol: {symbol}"),
            }]),
        }),
        targets: None,
        deallocation: None,
    }
}

pub fn evaluate(formula: &str, start: &Start) -> Evaluation {
    let (mut dedicated, mut low) = (start.dedicated, start.low);
    let mut deallocation = None;
    for (line_no, column, text) in statements(formula) {
        let Some((name, value)) = text.split_once('=') else { return undefined(start, line_no, column, text) };
        let (name, value) = (name.trim(), value.trim());
        let number = value.parse::<u32>();
        match (name, number) {
            ("$TargetDedicatedNodes", Ok(n)) => dedicated = n,
            ("$TargetLowPriorityNodes", Ok(n)) => low = n,
            ("$NodeDeallocationOption", _) => deallocation = Some(NodeDeallocationOption::from(value)),
            (_, Ok(_)) if !name.starts_with("$Target") => {}
            _ => {
                let symbol =
                    value.split(|c: char| !(c.is_alphanumeric() || c == '$' || c == '_')).next().unwrap_or(value);
                return undefined(start, line_no, column, symbol);
            }
        }
    }
    Evaluation {
        results: Some(start.results(dedicated, low, deallocation.as_ref())),
        error: None,
        targets: Some((dedicated, low)),
        deallocation: deallocation.or_else(|| start.deallocation.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_set_targets() {
        let e = evaluate(
            "$TargetDedicatedNodes = 3;\n$TargetLowPriorityNodes=1; $NodeDeallocationOption = taskcompletion;",
            &Start::default(),
        );
        assert_eq!(e.targets, Some((3, 1)));
        assert_eq!(
            e.results.unwrap(),
            "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=1;$NodeDeallocationOption=taskcompletion"
        );
    }

    #[test]
    fn what_a_formula_does_not_set_keeps_the_pools_current_value() {
        let current = Start { dedicated: 5, low: 3, deallocation: None };
        let e = evaluate("$TargetDedicatedNodes = 1;", &current);
        assert_eq!(e.targets, Some((1, 3)));
        let mut pool = crate::batch::Pool { target_dedicated_nodes: Some(2), ..Default::default() };
        pool.auto_scale_run = Some(crate::batch::models::AutoScaleRun {
            timestamp: "2026-12-01T00:00:00Z".parse().unwrap(),
            results: Some(
                "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=retaineddata".into(),
            ),
            error: None,
        });
        assert_eq!(Start::of(&pool).deallocation, Some(NodeDeallocationOption::RetainedData));
    }

    #[test]
    fn unknown_symbols_are_evaluation_errors() {
        let e = evaluate("$TargetDedicatedNodes = $something_useless;", &Start::default());
        let error = e.error.unwrap();
        assert_eq!(error.code, "AutoScalingFormulaEvaluationError");
        assert_eq!(error.values.unwrap()[0].value, "Line 1, Col 1: Undefined symbol: $something_useless");
        assert!(syntax_error("$TargetDedicatedNodes 3").is_some());
        assert!(syntax_error("$TargetDedicatedNodes = (3;").is_some());
        assert!(syntax_error("$something_useless").is_none(), "a bare symbol parses");
        let current = Start { dedicated: 4, low: 2, deallocation: Some(NodeDeallocationOption::TaskCompletion) };
        let bare = evaluate("$something_useless", &current);
        assert_eq!(bare.error.unwrap().values.unwrap()[0].value, "Line 1, Col 1: Undefined symbol: $something_useless");
        assert_eq!(
            bare.results.unwrap(),
            "$TargetDedicatedNodes=4;$TargetLowPriorityNodes=2;$NodeDeallocationOption=taskcompletion",
            "a failed evaluation answers the pool's current values"
        );
        assert_eq!(bare.targets, None, "and changes nothing");
        assert!(syntax_error("$TargetDedicatedNodes=3;").is_none());
    }
}
