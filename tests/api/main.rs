//! Black-box tests of the API on the local stack. Run them with `make test`.

mod helpers;

mod activity;
mod api_keys;
mod assessments;
mod auth;
mod authorizer;
mod bad_input;
mod calls;
mod classes;
mod cohorts;
mod content;
mod custom_query;
mod dashboard;
mod dashboard_events;
mod drift;
mod events;
mod health;
mod iam;
mod invites;
mod isolation;
mod lessons;
mod limits;
mod local_stack;
mod matrix;
mod members;
mod messages;
mod no_store;
mod organizations;
mod overview;
mod progress;
mod realtime;
mod round_trips;
mod scale;
mod sessions;
mod worker;
