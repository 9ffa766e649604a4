//! What the game is given: the lesson as data (`Lesson.json`), and the
//! server's configuration (`ToolboxConfig.json`).

use domain::assessment::{Assessment, Question};
use domain::generation::content::GeneratedContent;
use domain::roblox::Environment;
use serde::Serialize;
use serde_json::Value;

/// The lesson as the game reads it: its text, and the quiz's questions
/// without their answers (ReplicatedStorage reaches every player's
/// computer; the API grades).
#[derive(Debug, Serialize)]
struct LessonData<'a> {
    environment_id: String,
    title: &'a str,
    summary: &'a str,
    objectives: &'a [String],
    theme: domain::roblox::Theme,
    sections: Vec<SectionData<'a>>,
    questions: Vec<QuestionData<'a>>,
    /// Where the game reports progress, and grades answers; absent, it
    /// only shows the lesson.
    #[serde(skip_serializing_if = "Option::is_none")]
    lesson_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    assessment_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct SectionData<'a> {
    heading: &'a str,
    body: &'a str,
}

#[derive(Debug, Serialize)]
struct QuestionData<'a> {
    kind: &'static str,
    prompt: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    options: &'a [String],
}

impl<'a> QuestionData<'a> {
    fn of(question: &'a Question) -> Self {
        let (kind, prompt, options): (_, _, &[String]) = match question {
            Question::MultipleChoice { prompt, options, .. } => ("multiple_choice", prompt, options),
            Question::MultipleSelect { prompt, options, .. } => ("multiple_select", prompt, options),
            Question::TrueFalse { prompt, .. } => ("true_false", prompt, &[]),
            Question::Numeric { prompt, .. } => ("numeric", prompt, &[]),
            Question::ShortText { prompt, .. } => ("short_text", prompt, &[]),
        };
        Self { kind, prompt, options }
    }
}

/// `Lesson.json`: the content's text, and the questions of the assessment
/// the game reports to (else the content's own quiz, to practise with).
pub fn lesson(environment: &Environment, content: &GeneratedContent, assessment: Option<&Assessment>) -> Value {
    let questions = match assessment {
        Some(assessment) => assessment.questions.iter().map(QuestionData::of).collect(),
        None => content
            .quiz
            .iter()
            .map(|q| QuestionData { kind: "multiple_choice", prompt: &q.question, options: &q.options })
            .collect(),
    };
    let data = LessonData {
        environment_id: environment.id.to_string(),
        title: &content.title,
        summary: &content.summary,
        objectives: &content.objectives,
        theme: environment.theme,
        sections: content.sections.iter().map(|s| SectionData { heading: &s.heading, body: &s.body }).collect(),
        questions,
        lesson_id: environment.lesson_id.as_ref().map(ToString::to_string),
        assessment_id: environment.assessment_id.as_ref().map(ToString::to_string),
    };
    serde_json::to_value(data).expect("plain data serializes")
}

/// `ToolboxConfig.json`, kept in ServerStorage: where the API is, what the
/// game server names itself by, and its signing secret: left empty in
/// every downloadable file (whoever runs the game fills it in; the
/// project's README says where), given only in the place published to
/// Roblox.
pub fn config(environment: &Environment, signing_secret: Option<&str>) -> Value {
    serde_json::json!({
        "api_url": environment.api_url,
        "environment_id": environment.id.to_string(),
        "key_id": environment.key_id(),
        "signing_secret": signing_secret.unwrap_or_default(),
    })
}
