//! The running engine against a real TCP target that goes away and comes back.

use pharos_store::IncidentQuery;
use std::time::Duration;
use tokio::net::TcpListener;

#[tokio::test]
async fn stopping_a_target_opens_an_incident_within_threshold_and_confirm_delay() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepting = tokio::spawn(async move {
        loop {
            let _ = listener.accept().await;
        }
    });
    let config = pharos_config::parse(
        "running.toml",
        &format!(
            "[[components]]\nid = \"svc\"\nname = \"Service\"\n\n[[monitors]]\nid = \"svc-tcp\"\ncomponent = \"svc\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = {}\ninterval = \"2s\"\ntimeout = \"1s\"\nconfirm_delay = \"300ms\"\n",
            address.port()
        ),
        &|_| None,
    )
    .unwrap();
    let running = crate::support::Running::start(&config).await;
    let (engine, store) = (&running.engine, running.store.clone());
    let mut version = engine.handle.status_version.clone();

    // Wait for a first good result, then take the target away.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while engine
        .handle
        .metrics
        .probes_finished
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
    {
        assert!(tokio::time::Instant::now() < deadline, "no probe ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    accepting.abort();
    let _ = accepting.await;
    let stopped = tokio::time::Instant::now();

    // Detection must take at most one interval (to the next run) plus the confirm delay.
    tokio::time::timeout(Duration::from_secs(4), version.changed())
        .await
        .expect("no status change")
        .unwrap();
    let detected_after = stopped.elapsed();
    assert!(
        detected_after <= Duration::from_millis(2000 + 300 + 700),
        "took {detected_after:?}"
    );
    let incidents = store.incidents(IncidentQuery::default()).await.unwrap();
    assert_eq!(incidents.len(), 1);
    // First failed probe to confirmation: the confirm delay plus one quick refused connect.
    let time_to_detect = incidents[0].time_to_detect();
    assert!(
        time_to_detect >= Duration::from_millis(300)
            && time_to_detect < Duration::from_millis(1000),
        "{time_to_detect:?}"
    );
    assert!(engine.handle.live.read().unwrap().open_incidents.len() == 1);

    running.stop().await;
}

#[tokio::test]
async fn a_hanging_target_never_piles_up_runs() {
    // Accepts connections and never says a word: every run lasts its whole timeout.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let config = pharos_config::parse(
        "hanging.toml",
        &format!(
            "[[components]]\nid = \"svc\"\nname = \"Service\"\n\n[[monitors]]\nid = \"hangs\"\ncomponent = \"svc\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = {port}\nexpect = \"220\"\ninterval = \"1s\"\ntimeout = \"1s\"\nfailures_to_confirm = 100\n"
        ),
        &|_| None,
    )
    .unwrap();
    let running = crate::support::Running::start(&config).await;
    let engine = &running.engine;
    let metrics = engine.handle.metrics.clone();
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(4500) {
        let running = metrics
            .probes_started
            .load(std::sync::atomic::Ordering::SeqCst)
            - metrics
                .probes_finished
                .load(std::sync::atomic::Ordering::SeqCst);
        assert!(running <= 1, "{running} runs of one monitor at once");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let runs = metrics
        .probes_started
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (2..=4).contains(&runs),
        "{runs} runs in 4.5 s of a monitor whose runs last its 1 s interval"
    );
    assert!(
        metrics
            .slots_skipped
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 1,
        "overrun slots are skipped, not queued"
    );
    running.stop().await;
}
