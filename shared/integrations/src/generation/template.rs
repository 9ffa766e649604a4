//! The offline `template` provider: deterministic content built from the
//! request alone, so the whole flow runs without a network or an API key.
//! It is named as such in logs and in the content's metadata; nobody should
//! mistake its text for a model's.

use serde_json::{Value, json};

use crate::generation::provider::{Provider, ProviderFuture, Stage, Task};
use domain::generation::content::{GeneratedContent, Question, Section};
use domain::generation::request::{ContentKind, Difficulty, GenerateRequest};

#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateProvider;

fn level(difficulty: Difficulty) -> &'static str {
    match difficulty {
        Difficulty::Easy => "introductory",
        Difficulty::Medium => "core",
        Difficulty::Hard => "advanced",
    }
}

fn objectives(request: &GenerateRequest) -> Vec<String> {
    let topic = request.topic.as_str();
    if request.objectives().is_empty() {
        vec![
            format!("Describe {topic} in your own words"),
            format!("Explain how {topic} connects to {}", request.subject),
            format!("Apply {topic} to an everyday example"),
        ]
    } else {
        request.objectives().iter().map(ToString::to_string).collect()
    }
}

fn headings(request: &GenerateRequest) -> Vec<String> {
    match request.kind {
        ContentKind::Quiz => Vec::new(),
        ContentKind::Lesson => {
            let topic = request.topic.as_str();
            vec![format!("What is {topic}?"), format!("How {topic} works"), format!("{topic} in practice")]
        }
    }
}

fn sections(request: &GenerateRequest) -> Vec<Section> {
    let goals = objectives(request).join("; ");
    headings(request)
        .into_iter()
        .enumerate()
        .map(|(i, heading)| Section {
            body: format!(
                "Part {} of a {} {} lesson on {} for grade {}. By the end you can: {goals}.",
                i + 1,
                level(request.difficulty()),
                request.subject,
                request.topic,
                request.grade_level.get(),
            ),
            heading,
        })
        .collect()
}

fn questions(request: &GenerateRequest) -> Vec<Question> {
    let topic = request.topic.as_str();
    (0..request.questions())
        .map(|i| {
            let answer_index = i % 4;
            let options = (0..4)
                .map(|o| {
                    if o == answer_index {
                        format!("A true statement about {topic} (question {})", i + 1)
                    } else {
                        format!("A common misconception {} about {topic}", o + 1)
                    }
                })
                .collect();
            Question {
                question: format!("Question {}: which statement about {topic} is true?", i + 1),
                options,
                answer_index,
                explanation: format!("Only option {} states {topic} correctly.", answer_index + 1),
            }
        })
        .collect()
}

fn whole(request: &GenerateRequest) -> GeneratedContent {
    GeneratedContent {
        title: format!(
            "{}: {} {} for grade {}",
            request.topic,
            level(request.difficulty()),
            request.subject,
            request.grade_level.get()
        ),
        summary: format!(
            "A {} {} on {} for grade {}.",
            level(request.difficulty()),
            match request.kind {
                ContentKind::Lesson => "lesson",
                ContentKind::Quiz => "quiz",
            },
            request.topic,
            request.grade_level.get()
        ),
        objectives: objectives(request),
        sections: sections(request),
        quiz: questions(request),
    }
}

fn answer(task: Task<'_>) -> Value {
    let content = whole(task.request);
    match task.stage {
        Stage::Outline => json!({
            "title": content.title,
            "summary": content.summary,
            "objectives": content.objectives,
            "sections": headings(task.request).into_iter().map(|heading| json!({"heading": heading})).collect::<Vec<_>>(),
        }),
        Stage::Content => json!({"sections": content.sections}),
        Stage::Quiz => json!({"questions": content.quiz}),
        Stage::Repair => serde_json::to_value(content).unwrap_or_default(),
    }
}

impl Provider for TemplateProvider {
    fn name(&self) -> &'static str {
        "template"
    }

    fn complete<'a>(&'a self, task: Task<'a>) -> ProviderFuture<'a> {
        Box::pin(async move { Ok(answer(task)) })
    }
}
