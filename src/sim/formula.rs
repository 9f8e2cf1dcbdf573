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

/// What the service answers for a symbol it does not know: the error, and the defaults as results.
fn undefined(line: usize, column: usize, symbol: &str) -> Evaluation {
    Evaluation {
        results: Some(format!(
            "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption={}",
            NodeDeallocationOption::Requeue
        )),
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

pub fn evaluate(formula: &str) -> Evaluation {
    let mut dedicated = 0u32;
    let mut low = 0u32;
    let mut deallocation = None;
    for (line_no, column, text) in statements(formula) {
        let Some((name, value)) = text.split_once('=') else { return undefined(line_no, column, text) };
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
                return undefined(line_no, column, symbol);
            }
        }
    }
    let option = deallocation.clone().unwrap_or(NodeDeallocationOption::Requeue);
    Evaluation {
        results: Some(format!(
            "$TargetDedicatedNodes={dedicated};$TargetLowPriorityNodes={low};$NodeDeallocationOption={option}"
        )),
        error: None,
        targets: Some((dedicated, low)),
        deallocation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_set_targets() {
        let e = evaluate(
            "$TargetDedicatedNodes = 3;\n$TargetLowPriorityNodes=1; $NodeDeallocationOption = taskcompletion;",
        );
        assert_eq!(e.targets, Some((3, 1)));
        assert_eq!(
            e.results.unwrap(),
            "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=1;$NodeDeallocationOption=taskcompletion"
        );
    }

    #[test]
    fn unknown_symbols_are_evaluation_errors() {
        let e = evaluate("$TargetDedicatedNodes = $something_useless;");
        let error = e.error.unwrap();
        assert_eq!(error.code, "AutoScalingFormulaEvaluationError");
        assert_eq!(error.values.unwrap()[0].value, "Line 1, Col 1: Undefined symbol: $something_useless");
        assert!(syntax_error("$TargetDedicatedNodes 3").is_some());
        assert!(syntax_error("$TargetDedicatedNodes = (3;").is_some());
        assert!(syntax_error("$something_useless").is_none(), "a bare symbol parses");
        let bare = evaluate("$something_useless");
        assert_eq!(bare.error.unwrap().values.unwrap()[0].value, "Line 1, Col 1: Undefined symbol: $something_useless");
        assert!(bare.results.unwrap().starts_with("$TargetDedicatedNodes=0"), "the defaults as results");
        assert!(syntax_error("$TargetDedicatedNodes=3;").is_none());
    }
}
