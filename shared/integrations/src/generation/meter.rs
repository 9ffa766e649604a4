//! What a job's provider calls cost: each stage's time inside the provider
//! and the retries the client made, counted as the pipeline goes and read by
//! the worker for its job metric. A task-local, so the `Provider` trait stays
//! one method and a provider that retries nothing knows nothing of it.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::generation::provider::Stage;

/// What one run of the pipeline spent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// Each stage asked, in order, with its time inside the provider.
    pub stages: Vec<(Stage, Duration)>,
    /// Tries beyond the first, over every stage.
    pub retries: u32,
}

impl Reading {
    /// The whole time spent waiting on the provider.
    pub fn provider_time(&self) -> Duration {
        self.stages.iter().map(|(_, took)| *took).sum()
    }
}

tokio::task_local! {
    static CURRENT: Arc<Mutex<Reading>>;
}

/// Runs `future` (a pipeline run) and reads what its provider calls cost.
pub async fn measure<F: Future>(future: F) -> (F::Output, Reading) {
    let reading = Arc::new(Mutex::new(Reading::default()));
    let output = CURRENT.scope(reading.clone(), future).await;
    let reading = reading.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    (output, reading)
}

fn record(change: impl FnOnce(&mut Reading)) {
    let _ = CURRENT.try_with(|reading| change(&mut reading.lock().unwrap_or_else(|poisoned| poisoned.into_inner())));
}

pub(crate) fn stage_took(stage: Stage, took: Duration) {
    record(|reading| reading.stages.push((stage, took)));
}

pub(crate) fn retried() {
    record(|reading| reading.retries += 1);
}
