//! What counts as a well-formed question, and how an answer is graded.
//!
//! Short-text patterns use `regex-lite`: matching takes time linear in the
//! text, whatever the pattern, so a teacher's pattern cannot stall grading.

use crate::assessment::{Graded, Question};
use crate::error::FieldError;
use serde_json::Value;

/// Problems with a question's own rules, each under `questions[i]…`.
pub fn check(index: usize, question: &Question) -> Vec<FieldError> {
    let at = |field: &str| format!("questions[{index}].{field}");
    let mut problems = Vec::new();
    let mut need = |ok: bool, field: &str, message: &str| {
        if !ok {
            problems.push(FieldError::new(at(field), message));
        }
    };
    let prompt_ok = |prompt: &str| !prompt.trim().is_empty() && prompt.chars().count() <= 2000;
    let options_ok = |options: &[String]| {
        (2..=10).contains(&options.len())
            && options.iter().all(|o| !o.trim().is_empty() && o.chars().count() <= 500)
            && options.iter().enumerate().all(|(i, o)| !options[..i].contains(o))
    };
    let points_ok = |points: u32| (1..=100).contains(&points);
    let options_rule = "2 to 10 distinct, non-empty options of at most 500 characters";
    match question {
        Question::MultipleChoice { prompt, options, answer, points } => {
            need(prompt_ok(prompt), "prompt", "1 to 2000 characters");
            need(options_ok(options), "options", options_rule);
            need(*answer < options.len(), "answer", "must be the index of an option");
            need(points_ok(*points), "points", "from 1 to 100");
        }
        Question::MultipleSelect { prompt, options, answers, points } => {
            need(prompt_ok(prompt), "prompt", "1 to 2000 characters");
            need(options_ok(options), "options", options_rule);
            let distinct = answers.iter().enumerate().all(|(i, a)| !answers[..i].contains(a));
            need(
                !answers.is_empty() && distinct && answers.iter().all(|a| *a < options.len()),
                "answers",
                "one or more distinct indexes of options",
            );
            need(points_ok(*points), "points", "from 1 to 100");
        }
        Question::TrueFalse { prompt, points, .. } => {
            need(prompt_ok(prompt), "prompt", "1 to 2000 characters");
            need(points_ok(*points), "points", "from 1 to 100");
        }
        Question::Numeric { prompt, answer, tolerance, points } => {
            need(prompt_ok(prompt), "prompt", "1 to 2000 characters");
            need(storable(*answer), "answer", RANGE);
            need(storable(*tolerance) && *tolerance >= 0.0, "tolerance", RANGE);
            need(points_ok(*points), "points", "from 1 to 100");
        }
        Question::ShortText { prompt, answers, pattern, points } => {
            need(prompt_ok(prompt), "prompt", "1 to 2000 characters");
            need(
                answers.len() <= 20 && answers.iter().all(|a| !normalized(a).is_empty() && a.chars().count() <= 200),
                "answers",
                "at most 20 non-empty answers of at most 200 characters",
            );
            need(!answers.is_empty() || pattern.is_some(), "answers", "give accepted answers, a pattern, or both");
            if let Some(pattern) = pattern {
                need(
                    !pattern.is_empty() && pattern.chars().count() <= 200 && compiled(pattern).is_some(),
                    "pattern",
                    "a regular expression of 1 to 200 characters",
                );
            }
            need(points_ok(*points), "points", "from 1 to 100");
        }
    }
    problems
}

const RANGE: &str = "0, or a number from 1e-15 to 1e15 in size (0 or more for a tolerance)";

/// A number DynamoDB stores as given (it keeps 38 digits).
fn storable(number: f64) -> bool {
    number == 0.0 || (number.is_finite() && (1e-15..=1e15).contains(&number.abs()))
}

/// A pattern that must match the whole answer.
fn compiled(pattern: &str) -> Option<regex_lite::Regex> {
    regex_lite::RegexBuilder::new(&format!("^(?:{pattern})$")).case_insensitive(true).size_limit(1 << 20).build().ok()
}

/// Lower case, spaces trimmed and collapsed: "  Paris " and "paris" are one answer.
fn normalized(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// An option's index: `1`, or `1.0` as JSON Schema also counts integers.
fn index(value: &Value) -> Option<usize> {
    value
        .as_u64()
        .or_else(|| value.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e9).map(|f| f as u64))
        .map(|i| i as usize)
}

/// Whether an answer has the shape its question takes; the message says which.
pub fn shape_problem(question: &Question, answer: &Value) -> Option<&'static str> {
    let ok = match question {
        Question::MultipleChoice { options, .. } => answer.as_u64().is_some_and(|i| (i as usize) < options.len()),
        Question::MultipleSelect { options, .. } => answer.as_array().is_some_and(|picked| {
            picked.len() <= options.len()
                && picked.iter().all(|i| i.as_u64().is_some_and(|i| (i as usize) < options.len()))
        }),
        Question::TrueFalse { .. } => answer.is_boolean(),
        Question::Numeric { .. } => answer.as_f64().is_some_and(storable),
        Question::ShortText { .. } => answer.as_str().is_some_and(|text| text.chars().count() <= 1000),
    };
    (!ok).then_some(match question {
        Question::MultipleChoice { .. } => "must be the index of an option",
        Question::MultipleSelect { .. } => "must be a list of indexes of options",
        Question::TrueFalse { .. } => "must be true or false",
        Question::Numeric { .. } => "must be a number, 0 or from 1e-15 to 1e15 in size",
        Question::ShortText { .. } => "must be text of at most 1000 characters",
    })
}

/// Grades one answer of the right shape (see [`shape_problem`]): all or nothing.
pub fn grade(question: &Question, answer: &Value) -> Graded {
    let correct = match question {
        Question::MultipleChoice { answer: right, .. } => index(answer) == Some(*right),
        Question::MultipleSelect { answers: right, .. } => {
            let mut picked: Vec<usize> = answer.as_array().into_iter().flatten().filter_map(index).collect();
            picked.sort_unstable();
            picked.dedup();
            let mut right = right.clone();
            right.sort_unstable();
            picked == right
        }
        Question::TrueFalse { answer: right, .. } => answer.as_bool() == Some(*right),
        Question::Numeric { answer: right, tolerance, .. } => {
            answer.as_f64().is_some_and(|given| (given - right).abs() <= *tolerance)
        }
        Question::ShortText { answers, pattern, .. } => answer.as_str().is_some_and(|given| {
            let given_normalized = normalized(given);
            answers.iter().any(|a| normalized(a) == given_normalized)
                || pattern.as_deref().and_then(compiled).is_some_and(|re| re.is_match(given.trim()))
        }),
    };
    let possible = question.points();
    Graded { correct, points_awarded: if correct { possible } else { 0 }, points_possible: possible }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn q(value: Value) -> Question {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn every_kind_is_graded_all_or_nothing() {
        let choice =
            q(json!({"kind": "multiple_choice", "prompt": "2+2?", "options": ["3", "4"], "answer": 1, "points": 2}));
        assert_eq!(grade(&choice, &json!(1)), Graded { correct: true, points_awarded: 2, points_possible: 2 });
        assert!(!grade(&choice, &json!(0)).correct);

        let select =
            q(json!({"kind": "multiple_select", "prompt": "Primes?", "options": ["2", "4", "5"], "answers": [0, 2]}));
        assert!(grade(&select, &json!([2, 0])).correct);
        assert!(grade(&select, &json!([2.0, 0])).correct, "2.0 is an integer to JSON Schema");
        assert!(!grade(&select, &json!([0])).correct);
        assert!(!grade(&select, &json!([0, 1, 2])).correct);

        let tf = q(json!({"kind": "true_false", "prompt": "Ice floats.", "answer": true}));
        assert!(grade(&tf, &json!(true)).correct && !grade(&tf, &json!(false)).correct);

        let numeric = q(json!({"kind": "numeric", "prompt": "Half of five?", "answer": 2.5, "tolerance": 0.01}));
        assert!(grade(&numeric, &json!(2.505)).correct);
        assert!(!grade(&numeric, &json!(2.6)).correct);
        let exact = q(json!({"kind": "numeric", "prompt": "7*6?", "answer": 42}));
        assert!(grade(&exact, &json!(42)).correct && !grade(&exact, &json!(42.5)).correct);

        let text = q(json!({"kind": "short_text", "prompt": "Capital of France?", "answers": ["Paris"]}));
        assert!(grade(&text, &json!("  paris ")).correct);
        assert!(!grade(&text, &json!("Lyon")).correct);
        let pattern = q(json!({"kind": "short_text", "prompt": "A colour?", "pattern": "gr[ae]y"}));
        assert!(grade(&pattern, &json!("Grey")).correct);
        // The pattern must match the whole answer.
        assert!(!grade(&pattern, &json!("greyhound")).correct);
    }

    #[test]
    fn badly_made_questions_are_named_by_field() {
        let fields = |value: Value| check(3, &q(value)).into_iter().map(|p| p.field).collect::<Vec<_>>();
        assert_eq!(
            fields(json!({"kind": "multiple_choice", "prompt": "?", "options": ["a", "a"], "answer": 2})),
            ["questions[3].options", "questions[3].answer"]
        );
        assert_eq!(
            fields(json!({"kind": "multiple_select", "prompt": "?", "options": ["a", "b"], "answers": [1, 1]})),
            ["questions[3].answers"]
        );
        assert_eq!(
            fields(json!({"kind": "short_text", "prompt": "?", "pattern": "(unclosed"})),
            ["questions[3].pattern"]
        );
        assert_eq!(fields(json!({"kind": "short_text", "prompt": "?"})), ["questions[3].answers"]);
        assert_eq!(
            fields(json!({"kind": "numeric", "prompt": " ", "answer": 1, "tolerance": -1, "points": 0})),
            ["questions[3].prompt", "questions[3].tolerance", "questions[3].points"]
        );
    }

    #[test]
    fn answers_of_the_wrong_shape_are_named() {
        let tf = q(json!({"kind": "true_false", "prompt": "?", "answer": true}));
        assert_eq!(shape_problem(&tf, &json!("yes")), Some("must be true or false"));
        let choice = q(json!({"kind": "multiple_choice", "prompt": "?", "options": ["a", "b"], "answer": 0}));
        assert!(shape_problem(&choice, &json!(2)).is_some());
        assert!(shape_problem(&choice, &json!(1)).is_none());
    }
}
