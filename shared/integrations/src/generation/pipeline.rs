//! outline → content → quiz → review, and one repair when the review fails.
//! Each stage's answer is parsed into its own shape; an answer that does not
//! parse is the provider's error, not ours.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::generation::provider::{Provider, ProviderError, Stage, Task};
use domain::generation::content::{GeneratedContent, Question, Section};
use domain::generation::request::{ContentKind, GenerateRequest};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    #[error("{stage}: {source}", stage = .stage.as_str())]
    Provider { stage: Stage, source: ProviderError },
    /// The content failed review, and again after its repair.
    #[error("the content failed review: {}", .0.join("; "))]
    Review(Vec<String>),
}

#[derive(Deserialize)]
struct Heading {
    heading: String,
}

#[derive(Deserialize)]
struct Outline {
    title: String,
    summary: String,
    objectives: Vec<String>,
    #[serde(default)]
    sections: Vec<Heading>,
}

#[derive(Deserialize)]
struct Sections {
    sections: Vec<Section>,
}

#[derive(Deserialize)]
struct Questions {
    questions: Vec<Question>,
}

async fn ask<T: DeserializeOwned>(
    provider: &dyn Provider,
    stage: Stage,
    request: &GenerateRequest,
    draft: &GeneratedContent,
    problems: &[String],
) -> Result<T, PipelineError> {
    let asked = std::time::Instant::now();
    let answer = provider.complete(Task { stage, request, draft, problems }).await;
    crate::generation::meter::stage_took(stage, asked.elapsed());
    let answer = answer.map_err(|source| PipelineError::Provider { stage, source })?;
    serde_json::from_value(answer)
        .map_err(|err| PipelineError::Provider { stage, source: ProviderError::Malformed(err.to_string()) })
}

/// The stages a request of `kind` runs when its first draft passes review.
pub fn stages(kind: ContentKind) -> &'static [Stage] {
    match kind {
        ContentKind::Lesson => &[Stage::Outline, Stage::Content, Stage::Quiz],
        ContentKind::Quiz => &[Stage::Outline, Stage::Quiz],
    }
}

/// Runs the stages, telling `progress` as each one starts.
pub async fn run(
    provider: &dyn Provider,
    request: &GenerateRequest,
    mut progress: impl FnMut(Stage),
) -> Result<GeneratedContent, PipelineError> {
    progress(Stage::Outline);
    let outline: Outline = ask(provider, Stage::Outline, request, &GeneratedContent::default(), &[]).await?;
    let mut draft = GeneratedContent {
        title: outline.title,
        summary: outline.summary,
        objectives: outline.objectives,
        sections: outline.sections.into_iter().map(|h| Section { heading: h.heading, body: String::new() }).collect(),
        quiz: Vec::new(),
    };
    if request.kind == ContentKind::Lesson {
        progress(Stage::Content);
        let written: Sections = ask(provider, Stage::Content, request, &draft, &[]).await?;
        draft.sections = written.sections;
    }
    progress(Stage::Quiz);
    let quiz: Questions = ask(provider, Stage::Quiz, request, &draft, &[]).await?;
    draft.quiz = quiz.questions;

    let problems = draft.review(request);
    if problems.is_empty() {
        return Ok(draft);
    }
    progress(Stage::Repair);
    let repaired: GeneratedContent = ask(provider, Stage::Repair, request, &draft, &problems).await?;
    let problems = repaired.review(request);
    if problems.is_empty() { Ok(repaired) } else { Err(PipelineError::Review(problems)) }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::{Value, json};

    use super::*;
    use crate::generation::provider::ProviderFuture;
    use crate::generation::template::TemplateProvider;
    use domain::json::parse;

    fn request(body: &str) -> GenerateRequest {
        parse(body.as_bytes()).unwrap()
    }

    fn lesson() -> GenerateRequest {
        request(
            r#"{"type": "lesson", "subject": "Biology", "grade_level": 7, "topic": "Photosynthesis",
                "learning_objectives": ["Explain what chlorophyll does"], "num_questions": 6}"#,
        )
    }

    #[tokio::test]
    async fn the_template_provider_writes_a_lesson_that_passes_review() {
        let mut stages = Vec::new();
        let content = run(&TemplateProvider, &lesson(), |stage| stages.push(stage)).await.unwrap();
        assert_eq!(stages, [Stage::Outline, Stage::Content, Stage::Quiz]);
        assert!(content.review(&lesson()).is_empty());
        assert_eq!(content.quiz.len(), 6);
        assert!(content.objectives.iter().any(|o| o == "Explain what chlorophyll does"));
        assert!(content.sections.iter().all(|s| s.body.contains("Photosynthesis")));
    }

    #[tokio::test]
    async fn a_quiz_has_questions_and_no_sections() {
        let quiz = request(r#"{"type": "quiz", "subject": "Maths", "grade_level": 3, "topic": "Fractions"}"#);
        let mut stages = Vec::new();
        let content = run(&TemplateProvider, &quiz, |stage| stages.push(stage)).await.unwrap();
        assert_eq!(stages, [Stage::Outline, Stage::Quiz]);
        assert!(content.sections.is_empty());
        assert_eq!(content.quiz.len(), 5);
    }

    /// Answers each stage from a script; records the tasks it was given.
    struct Scripted {
        answers: Mutex<Vec<Result<Value, ProviderError>>>,
        seen: Mutex<Vec<(Stage, Vec<String>)>>,
    }

    impl Scripted {
        fn new(answers: Vec<Result<Value, ProviderError>>) -> Self {
            Self { answers: Mutex::new(answers.into_iter().rev().collect()), seen: Mutex::new(Vec::new()) }
        }
    }

    impl Provider for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }

        fn complete<'a>(&'a self, task: Task<'a>) -> ProviderFuture<'a> {
            self.seen.lock().unwrap().push((task.stage, task.problems.to_vec()));
            let answer = self.answers.lock().unwrap().pop().expect("a scripted answer");
            Box::pin(async move { answer })
        }
    }

    fn template_answer(stage: Stage, request: &GenerateRequest) -> Value {
        let empty = GeneratedContent::default();
        let task = Task { stage, request, draft: &empty, problems: &[] };
        block_on(TemplateProvider.complete(task)).unwrap()
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)
    }

    #[test]
    fn a_failed_review_gets_one_repair_with_the_problems() {
        let req = lesson();
        let mut bad_quiz = template_answer(Stage::Quiz, &req);
        bad_quiz["questions"][0]["answer_index"] = json!(9);
        bad_quiz["questions"][1]["options"] = json!(["same", "Same"]);
        let provider = Scripted::new(vec![
            Ok(template_answer(Stage::Outline, &req)),
            Ok(template_answer(Stage::Content, &req)),
            Ok(bad_quiz),
            Ok(template_answer(Stage::Repair, &req)),
        ]);
        let content = block_on(run(&provider, &req, |_| {})).unwrap();
        assert!(content.review(&req).is_empty());
        let seen = provider.seen.lock().unwrap();
        let (stage, problems) = seen.last().unwrap();
        assert_eq!(*stage, Stage::Repair);
        assert!(problems.iter().any(|p| p.contains("question 1") && p.contains("answer_index")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("question 2 repeats an option")), "{problems:?}");
    }

    #[test]
    fn content_that_fails_review_twice_fails_with_the_reasons() {
        let req = lesson();
        let mut uncovered = serde_json::to_value(block_on(run(&TemplateProvider, &req, |_| {})).unwrap()).unwrap();
        uncovered["objectives"] = json!(["Something else"]);
        uncovered["sections"] = json!([]);
        let mut outline = template_answer(Stage::Outline, &req);
        outline["objectives"] = json!(["Something else"]);
        let provider = Scripted::new(vec![
            Ok(outline),
            Ok(template_answer(Stage::Content, &req)),
            Ok(template_answer(Stage::Quiz, &req)),
            Ok(uncovered),
        ]);
        match block_on(run(&provider, &req, |_| {})) {
            Err(PipelineError::Review(problems)) => {
                assert!(problems.iter().any(|p| p.contains("Explain what chlorophyll does")), "{problems:?}");
                assert!(problems.iter().any(|p| p.contains("sections")), "{problems:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_malformed_or_failed_answer_is_the_providers_error_at_its_stage() {
        let req = lesson();
        let provider = Scripted::new(vec![Ok(json!({"title": 3}))]);
        assert!(matches!(
            block_on(run(&provider, &req, |_| {})),
            Err(PipelineError::Provider { stage: Stage::Outline, source: ProviderError::Malformed(_) })
        ));
        let provider = Scripted::new(vec![Ok(template_answer(Stage::Outline, &req)), Err(ProviderError::Server(502))]);
        let err = block_on(run(&provider, &req, |_| {})).unwrap_err();
        assert_eq!(err, PipelineError::Provider { stage: Stage::Content, source: ProviderError::Server(502) });
        assert!(matches!(err, PipelineError::Provider { ref source, .. } if source.is_transient()));
    }
}
