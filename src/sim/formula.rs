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

/// A syntax error found before evaluation: (line, column, message).
pub fn syntax_error(formula: &str) -> Option<(usize, usize, String)> {
    statements(formula).find_map(|(line, column, text)| match text.split_once('=') {
        Some((name, value)) if name.trim().starts_with('$') && !value.trim().is_empty() => None,
        _ => Some((line, column, format!("Syntax error: expected an assignment, found '{text}'"))),
    })
}

pub fn evaluate(formula: &str) -> Evaluation {
    let mut dedicated = 0u32;
    let mut low = 0u32;
    let mut deallocation = None;
    for (line_no, column, text) in statements(formula) {
        let Some((name, value)) = text.split_once('=') else { continue };
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
                return Evaluation {
                    results: None,
                    error: Some(ResizeError {
                        code: "AutoScalingFormulaEvaluationError".into(),
                        message: "The specified auto-scaling formula has evaluation error".into(),
                        values: Some(vec![NameValue {
                            name: "Message".into(),
                            value: format!("Line {line_no}, Col {column}: Undefined symbol: {symbol}"),
                        }]),
                    }),
                    targets: None,
                    deallocation: None,
                };
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
        assert!(syntax_error("$TargetDedicatedNodes=3;").is_none());
    }
}
