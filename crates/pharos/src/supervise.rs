//! Supervision of `serve`'s long-running tasks: one that ends before shutdown (a panic, most
//! likely) stops the whole process with a non-zero exit, rather than leave a page that
//! serves while nothing is monitored.

use pharos_engine::TaskEnd;
use std::future::Future;
use tokio::sync::watch;
use tokio::task::JoinSet;

#[derive(Default)]
pub(crate) struct Supervisor {
    tasks: JoinSet<&'static str>,
}

impl Supervisor {
    pub(crate) fn spawn(
        &mut self,
        name: &'static str,
        task: impl Future<Output = ()> + Send + 'static,
    ) {
        self.tasks.spawn(async move {
            task.await;
            name
        });
    }

    /// Waits for the next task to end; pending while all run.
    pub(crate) async fn next_end(&mut self) -> TaskEnd {
        match self.tasks.join_next().await {
            Some(Ok(name)) => TaskEnd::Returned(name),
            Some(Err(error)) => TaskEnd::Failed(error.to_string()),
            None => std::future::pending().await,
        }
    }

    /// Waits for every task to end.
    pub(crate) async fn join(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Whether a task's end is a fault: any panic, or any end before shutdown was asked for.
pub(crate) fn fault(end: TaskEnd, shutdown: &watch::Receiver<bool>) -> Option<String> {
    match end {
        TaskEnd::Failed(how) => Some(format!("a task failed: {how}")),
        TaskEnd::Returned(name) if !*shutdown.borrow() => {
            Some(format!("the {name} stopped unexpectedly"))
        }
        TaskEnd::Returned(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_is_a_fault_even_during_shutdown() {
        let (stop, shutdown) = watch::channel(false);
        let mut supervisor = Supervisor::default();
        supervisor.spawn("renderer", async { panic!("boom") });
        let end = supervisor.next_end().await;
        let fault = fault(end, &shutdown).expect("a fault");
        assert!(fault.contains("panicked"), "{fault}");

        supervisor.spawn("outbox worker", async {});
        let end = supervisor.next_end().await;
        assert_eq!(
            super::fault(end, &shutdown).as_deref(),
            Some("the outbox worker stopped unexpectedly")
        );

        stop.send_replace(true);
        supervisor.spawn("outbox worker", async {});
        let end = supervisor.next_end().await;
        assert_eq!(
            super::fault(end, &shutdown),
            None,
            "ending at shutdown is no fault"
        );
    }
}
