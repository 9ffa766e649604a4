//! Generated content and the review it must pass before anyone sees it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::generation::request::{ContentKind, GenerateRequest};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Section {
    #[schema(min_length = 1, max_length = 200)]
    pub heading: String,
    #[schema(min_length = 1, max_length = 20000)]
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Question {
    #[schema(min_length = 1, max_length = 20000)]
    pub question: String,
    /// 2 to 6 distinct options.
    #[schema(min_items = 2, max_items = 6)]
    pub options: Vec<String>,
    /// The index in `options` of the one right answer.
    #[schema(maximum = 5)]
    pub answer_index: usize,
    #[schema(min_length = 1)]
    pub explanation: String,
}

/// A lesson (sections and a quiz) or a quiz (questions only). The default is
/// the empty draft the pipeline starts from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GeneratedContent {
    pub title: String,
    pub summary: String,
    pub objectives: Vec<String>,
    #[serde(default)]
    pub sections: Vec<Section>,
    #[serde(default)]
    pub quiz: Vec<Question>,
}

const MAX_TITLE: usize = 200;
const MAX_SUMMARY: usize = 2_000;
const MAX_HEADING: usize = 200;
const MAX_BODY: usize = 20_000;
const MAX_SECTIONS: usize = 30;
const MAX_TOTAL: usize = 300_000;
const MAX_OBJECTIVES: usize = 20;
const MAX_QUESTIONS: usize = 50;
const OPTIONS: std::ops::RangeInclusive<usize> = 2..=6;

fn chars(text: &str) -> usize {
    text.chars().count()
}

fn blank(text: &str) -> bool {
    text.trim().is_empty()
}

impl GeneratedContent {
    /// Everything wrong with the content for this request, in words a
    /// provider can be asked to repair; empty when it passes.
    pub fn review(&self, request: &GenerateRequest) -> Vec<String> {
        let expected = Expected { kind: request.kind, questions: Some(request.questions()) };
        let mut problems: Vec<String> = self.inspect(expected).into_iter().map(|(_, problem)| problem).collect();
        for wanted in request.objectives() {
            let covered = self.objectives.iter().any(|o| o.to_lowercase().contains(&wanted.as_str().to_lowercase()));
            if !covered {
                problems.push(format!("the objective \"{wanted}\" is not among the objectives"));
            }
        }
        problems
    }

    /// What is wrong with an edited body of `kind`, by field: the review's
    /// rules of shape, without those of the request it was generated for.
    pub fn check_edit(&self, kind: ContentKind) -> Vec<FieldError> {
        self.inspect(Expected { kind, questions: None })
            .into_iter()
            .map(|(field, problem)| FieldError::new(field, problem))
            .collect()
    }

    fn inspect(&self, expected: Expected) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut need = |ok: bool, field: String, problem: String| {
            if !ok {
                problems.push((field, problem));
            }
        };
        need(
            !blank(&self.title) && chars(&self.title) <= MAX_TITLE,
            "title".into(),
            format!("the title must be 1 to {MAX_TITLE} characters"),
        );
        need(
            !blank(&self.summary) && chars(&self.summary) <= MAX_SUMMARY,
            "summary".into(),
            format!("the summary must be 1 to {MAX_SUMMARY} characters"),
        );
        need(
            (1..=MAX_OBJECTIVES).contains(&self.objectives.len()),
            "objectives".into(),
            format!("there must be 1 to {MAX_OBJECTIVES} objectives"),
        );
        for (i, objective) in self.objectives.iter().enumerate() {
            need(
                !blank(objective) && chars(objective) <= MAX_HEADING,
                format!("objectives[{i}]"),
                format!("objective {} must be 1 to {MAX_HEADING} characters", i + 1),
            );
        }
        let questions_field = match expected.kind {
            ContentKind::Lesson => {
                need(
                    (1..=MAX_SECTIONS).contains(&self.sections.len()),
                    "sections".into(),
                    format!("a lesson needs 1 to {MAX_SECTIONS} sections"),
                );
                "quiz"
            }
            ContentKind::Quiz => {
                need(self.sections.is_empty(), "sections".into(), "a quiz has no sections".into());
                "questions"
            }
        };
        for (i, section) in self.sections.iter().enumerate() {
            need(
                !blank(&section.heading) && chars(&section.heading) <= MAX_HEADING,
                format!("sections[{i}].heading"),
                format!("section {} needs a heading of 1 to {MAX_HEADING} characters", i + 1),
            );
            need(
                !blank(&section.body) && chars(&section.body) <= MAX_BODY,
                format!("sections[{i}].body"),
                format!("section {} needs a body of 1 to {MAX_BODY} characters", i + 1),
            );
        }
        match expected.questions {
            Some(wanted) => need(
                self.quiz.len() == wanted,
                questions_field.into(),
                format!("the quiz needs exactly {wanted} questions, not {}", self.quiz.len()),
            ),
            None => {
                let least = usize::from(expected.kind == ContentKind::Quiz);
                need(
                    (least..=MAX_QUESTIONS).contains(&self.quiz.len()),
                    questions_field.into(),
                    format!("{least} to {MAX_QUESTIONS} questions"),
                );
            }
        }
        for (i, q) in self.quiz.iter().enumerate() {
            let n = i + 1;
            let at = |part: &str| format!("{questions_field}[{i}]{part}");
            need(
                !blank(&q.question) && chars(&q.question) <= MAX_BODY,
                at(".question"),
                format!("question {n} has no text"),
            );
            need(OPTIONS.contains(&q.options.len()), at(".options"), format!("question {n} needs 2 to 6 options"));
            need(
                q.options.iter().all(|o| !blank(o) && chars(o) <= MAX_HEADING),
                at(".options"),
                format!("question {n} has a blank or overlong option"),
            );
            let mut distinct: Vec<String> = q.options.iter().map(|o| o.trim().to_lowercase()).collect();
            distinct.sort();
            distinct.dedup();
            // Distinct options make the one `answer_index` the only right answer.
            need(distinct.len() == q.options.len(), at(".options"), format!("question {n} repeats an option"));
            need(
                q.answer_index < q.options.len(),
                at(".answer_index"),
                format!("question {n} has no option at answer_index {}", q.answer_index),
            );
            need(!blank(&q.explanation), at(".explanation"), format!("question {n} has no explanation"));
        }
        let total = serde_json::to_string(self).map_or(usize::MAX, |text| text.len());
        need(total <= MAX_TOTAL, "content".into(), format!("the content is over {MAX_TOTAL} bytes"));
        problems
    }
}

/// What a body must look like: its kind, and how many questions were asked for.
#[derive(Clone, Copy)]
struct Expected {
    kind: ContentKind,
    questions: Option<usize>,
}
