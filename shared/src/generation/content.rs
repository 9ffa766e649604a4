//! Generated content and the review it must pass before anyone sees it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::generation::request::{ContentKind, GenerateRequest};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Section {
    pub heading: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Question {
    pub question: String,
    pub options: Vec<String>,
    /// The index in `options` of the one right answer.
    pub answer_index: usize,
    pub explanation: String,
}

/// A lesson (sections and a quiz) or a quiz (questions only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
        let mut problems = Vec::new();
        let mut need = |ok: bool, problem: String| {
            if !ok {
                problems.push(problem);
            }
        };
        need(
            !blank(&self.title) && chars(&self.title) <= MAX_TITLE,
            format!("the title must be 1 to {MAX_TITLE} characters"),
        );
        need(
            !blank(&self.summary) && chars(&self.summary) <= MAX_SUMMARY,
            format!("the summary must be 1 to {MAX_SUMMARY} characters"),
        );
        for wanted in request.objectives() {
            let covered = self.objectives.iter().any(|o| o.to_lowercase().contains(&wanted.as_str().to_lowercase()));
            need(covered, format!("the objective \"{wanted}\" is not among the objectives"));
        }
        need(!self.objectives.is_empty(), "there must be at least one objective".into());
        match request.kind {
            ContentKind::Lesson => need(
                (1..=MAX_SECTIONS).contains(&self.sections.len()),
                format!("a lesson needs 1 to {MAX_SECTIONS} sections"),
            ),
            ContentKind::Quiz => need(self.sections.is_empty(), "a quiz has no sections".into()),
        }
        for (i, section) in self.sections.iter().enumerate() {
            need(
                !blank(&section.heading) && chars(&section.heading) <= MAX_HEADING,
                format!("section {} needs a heading of 1 to {MAX_HEADING} characters", i + 1),
            );
            need(
                !blank(&section.body) && chars(&section.body) <= MAX_BODY,
                format!("section {} needs a body of 1 to {MAX_BODY} characters", i + 1),
            );
        }
        need(
            self.quiz.len() == request.questions(),
            format!("the quiz needs exactly {} questions, not {}", request.questions(), self.quiz.len()),
        );
        for (i, q) in self.quiz.iter().enumerate() {
            let n = i + 1;
            need(!blank(&q.question), format!("question {n} has no text"));
            need(OPTIONS.contains(&q.options.len()), format!("question {n} needs 2 to 6 options"));
            need(q.options.iter().all(|o| !blank(o)), format!("question {n} has a blank option"));
            let mut distinct: Vec<String> = q.options.iter().map(|o| o.trim().to_lowercase()).collect();
            distinct.sort();
            distinct.dedup();
            // Distinct options make the one `answer_index` the only right answer.
            need(distinct.len() == q.options.len(), format!("question {n} repeats an option"));
            need(
                q.answer_index < q.options.len(),
                format!("question {n} has no option at answer_index {}", q.answer_index),
            );
            need(!blank(&q.explanation), format!("question {n} has no explanation"));
        }
        let total = serde_json::to_string(self).map_or(usize::MAX, |text| text.len());
        need(total <= MAX_TOTAL, format!("the content is over {MAX_TOTAL} bytes"));
        problems
    }
}
