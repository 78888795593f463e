use tokio::sync::watch;

use crate::app::AppState;

pub async fn run(_state: AppState, mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|v| *v).await;
}
