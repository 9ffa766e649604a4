//! What building a game costs, for the largest lesson the platform holds
//! (30 sections of 20,000 characters, 50 questions with six options):
//! `make bench` runs it and docs/performance.md shows its numbers.

use std::time::Instant;

use serde_json::json;

use super::{game_tree, place, rojo};

#[test]
#[ignore = "a benchmark: make bench runs it"]
fn building_the_largest_lesson() {
    let sections: Vec<_> = (0..30)
        .map(|i| json!({"heading": format!("Part {i}"), "body": "Leaves catch light and \"store\" it. ".repeat(570)}))
        .collect();
    let questions: Vec<_> = (0..50)
        .map(|i| {
            json!({"kind": "multiple_choice", "prompt": format!("{i}. {}", "Which gas? ".repeat(180)),
                        "options": (0..6).map(|o| format!("Option {o} ]] --")).collect::<Vec<_>>()})
        })
        .collect();
    let lesson = json!({"title": "Photosynthesis", "summary": "S.", "objectives": ["O"], "theme": "forest",
                        "sections": sections, "questions": questions});
    let config =
        json!({"api_url": "https://api.example.com", "environment_id": "E", "key_id": "O.E", "signing_secret": ""});
    let runs = 20;
    let (mut zip_bytes, mut place_bytes) = (0, 0);
    let started = Instant::now();
    for _ in 0..runs {
        let tree = game_tree(lesson.clone(), config.clone());
        zip_bytes = rojo::zipped(&rojo::files(&tree, "bench")).unwrap().len();
        place_bytes = place::rbxlx(&place::dom(&tree)).unwrap().len();
    }
    let per_build = started.elapsed() / runs;
    let lesson_bytes = serde_json::to_vec(&lesson).unwrap().len();
    println!("| lesson JSON | project zip | place (.rbxlx) | build (tree + zip + place), this build profile |");
    println!("|---|---|---|---|");
    println!("| {lesson_bytes} B | {zip_bytes} B | {place_bytes} B | {per_build:.1?} |");
}
