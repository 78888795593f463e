//! Background workers of this process: the e-mail outbox and the job runner with its
//! scheduler. Both coordinate with other instances through the database.

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::AppState;

pub fn spawn_all(state: AppState, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(super::mail::worker::run(state.clone(), stop.clone())),
        tokio::spawn(super::jobs::worker::run(state, stop)),
    ]
}
