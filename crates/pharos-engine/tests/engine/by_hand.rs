//! Operators' steps through the evaluator: an incident opened by hand holds its component at
//! the declared impact whatever the checks say and resolves only by hand; an automatic one
//! resolves by hand only once its checks pass; a component let go while its checks fail
//! opens its own incident; a reopened one is the operators'; an
//! operator's title stays; the promised next update drives the reminder. All across restarts.

use crate::detection::{at, down, events, up, Harness};
use pharos_core::{
    ComponentId, ComponentStatus, Declaration, EventKind, IncidentPhase, OperatorUpdate,
    TimelineKind,
};
use pharos_engine::{Amendment, CommandError};
use pharos_store::Batch;

fn words(phase: IncidentPhase, message: &str) -> OperatorUpdate {
    OperatorUpdate {
        phase,
        message: message.into(),
        expected_by: None,
        next_update_by: None,
    }
}

fn declaration(component: &str) -> Declaration {
    Declaration {
        also: Vec::new(),
        component: ComponentId::new(component),
        title: "Some users see slow inbox loads".into(),
        impact: ComponentStatus::DegradedPerformance,
        update: OperatorUpdate {
            expected_by: Some(at(3_600)),
            next_update_by: Some(at(1_800)),
            ..words(IncidentPhase::Investigating, "We are looking into reports.")
        },
        by: "ada".into(),
    }
}

#[tokio::test]
async fn an_incident_opened_by_hand_holds_its_component_until_an_operator_resolves_it() {
    let mut harness = Harness::new().await;
    let mut batch = Batch::default();
    let incident = harness
        .evaluator
        .declare(declaration("web"), at(10), &mut batch)
        .unwrap();
    assert_eq!(events(&batch), [EventKind::IncidentOpened]);
    assert_eq!(
        batch.component_status[0].1,
        ComponentStatus::DegradedPerformance
    );
    harness.store.commit(&batch).await.unwrap();
    let refused = harness
        .evaluator
        .declare(declaration("web"), at(11), &mut Batch::default());
    assert!(
        matches!(&refused, Err(CommandError::Refused(why)) if why.contains(&format!("#{}", incident.id))),
        "{refused:?}"
    );
    assert!(matches!(
        harness
            .evaluator
            .declare(declaration("nowhere"), at(11), &mut Batch::default()),
        Err(CommandError::Invalid(_))
    ));

    // The checks fail and recover: the operator's incident and words stay, the component
    // shows the worse of the two.
    let mut harness = harness.restart().await;
    harness.feed("web", 20, down()).await;
    let failing = harness.feed("web", 25, down()).await;
    assert!(failing.new_incidents.is_empty(), "no second incident");
    assert!(!events(&failing).contains(&EventKind::IncidentUpdated));
    assert_eq!(
        harness.evaluator.component_status(1).0,
        ComponentStatus::MajorOutage
    );
    harness.feed("web", 30, up()).await;
    let recovered = harness.feed("web", 35, up()).await;
    assert!(!events(&recovered).contains(&EventKind::IncidentResolved));
    assert_eq!(
        harness.evaluator.component_status(1).0,
        ComponentStatus::DegradedPerformance,
        "back to the declared impact"
    );

    // The operator's update with a new impact and title, then the resolution.
    let mut batch = Batch::default();
    harness
        .evaluator
        .amend(
            incident.id,
            Amendment {
                affected: Vec::new(),
                update: words(IncidentPhase::Identified, "A slow disk on one server."),
                title: Some("Slow inbox loads on one server".into()),
                impact: Some(ComponentStatus::PartialOutage),
                by: "bob".into(),
            },
            at(40),
            &mut batch,
        )
        .unwrap();
    harness.store.commit(&batch).await.unwrap();
    let mut batch = Batch::default();
    let resolved = harness
        .evaluator
        .resolve_by_hand(
            incident.id,
            "Disk replaced.".into(),
            "bob",
            at(50),
            &mut batch,
        )
        .unwrap();
    assert_eq!(events(&batch), [EventKind::IncidentResolved]);
    assert_eq!(batch.component_status[0].1, ComponentStatus::Operational);
    harness.store.commit(&batch).await.unwrap();
    assert_eq!(resolved.resolved_at, Some(at(50)));
    let stored = harness.store.incident(incident.id).await.unwrap().unwrap();
    assert_eq!(stored.title, "Slow inbox loads on one server");
    assert_eq!(stored.worst_impact, ComponentStatus::PartialOutage);
    let kinds: Vec<_> = stored.timeline.iter().map(|entry| entry.kind).collect();
    assert!(kinds.starts_with(&[TimelineKind::Declared, TimelineKind::Update]));
    assert!(kinds.ends_with(&[TimelineKind::Closed, TimelineKind::Update]));
    assert_eq!(stored.updates[0].expected_by, Some(at(3_600)));
    assert_eq!(
        harness.evaluator.component_status(1).0,
        ComponentStatus::Operational
    );
}

#[tokio::test]
async fn an_automatic_incident_resolves_by_hand_only_once_its_checks_pass_and_a_reopened_one_stays_open(
) {
    let mut harness = Harness::new().await;
    harness.feed("web", 0, down()).await;
    let id = harness.feed("web", 5, down()).await.new_incidents[0].id;
    let early =
        harness
            .evaluator
            .resolve_by_hand(id, "Fixed?".into(), "ada", at(6), &mut Batch::default());
    assert!(
        matches!(&early, Err(CommandError::Refused(why)) if why.contains("still fail")),
        "{early:?}"
    );

    // An operator's title survives a worse impact that would rename the incident.
    let mut batch = Batch::default();
    harness
        .evaluator
        .amend(
            id,
            Amendment {
                affected: Vec::new(),
                update: words(IncidentPhase::Identified, "Our load balancer."),
                title: Some("Webmail unreachable: load balancer".into()),
                impact: None,
                by: "ada".into(),
            },
            at(7),
            &mut batch,
        )
        .unwrap();
    harness.store.commit(&batch).await.unwrap();
    let impact = harness.evaluator.amend(
        id,
        Amendment {
            affected: Vec::new(),
            update: words(IncidentPhase::Identified, "x"),
            title: None,
            impact: Some(ComponentStatus::MajorOutage),
            by: "ada".into(),
        },
        at(8),
        &mut Batch::default(),
    );
    assert!(
        matches!(impact, Err(CommandError::Invalid(_))),
        "the checks set its impact"
    );

    harness.feed("web", 60, up()).await;
    let resolved = harness.feed("web", 65, up()).await;
    assert_eq!(events(&resolved), [EventKind::IncidentResolved]);
    let stored = harness.store.incident(id).await.unwrap().unwrap();
    assert_eq!(stored.title, "Webmail unreachable: load balancer");

    // Reopened: the operators' now; passing checks do not resolve it.
    let mut batch = Batch::default();
    harness
        .evaluator
        .reopen(
            stored,
            words(IncidentPhase::Investigating, "It is back for some users."),
            "ada",
            at(100),
            &mut batch,
        )
        .unwrap();
    assert_eq!(events(&batch), [EventKind::IncidentUpdated]);
    harness.store.commit(&batch).await.unwrap();
    let mut harness = harness.restart().await;
    harness.feed("web", 110, up()).await;
    let still = harness.feed("web", 115, up()).await;
    assert!(!events(&still).contains(&EventKind::IncidentResolved));
    assert!(harness.store.incident(id).await.unwrap().unwrap().is_open());
    assert!(harness
        .evaluator
        .open_incidents()
        .any(|incident| incident.id == id));
}

#[tokio::test]
async fn the_promised_next_update_time_drives_the_reminder() {
    let mut harness = Harness::new().await;
    let mut batch = Batch::default();
    let mut declared = declaration("web");
    declared.update.next_update_by = Some(at(600));
    harness
        .evaluator
        .declare(declared, at(0), &mut batch)
        .unwrap();
    harness.store.commit(&batch).await.unwrap();
    let mut early = Batch::default();
    harness.evaluator.remind_overdue(at(599), &mut early);
    assert!(early.is_empty());
    let mut due = Batch::default();
    harness.evaluator.remind_overdue(at(600), &mut due);
    assert_eq!(
        events(&due),
        [EventKind::IncidentUpdateOverdue],
        "at the promised time, not after 30 min"
    );
}

#[tokio::test]
async fn a_false_alarm_closes_what_is_open_but_not_while_its_checks_fail() {
    let mut harness = Harness::new().await;
    harness.feed("web", 0, down()).await;
    let automatic = harness.feed("web", 5, down()).await.new_incidents[0].clone();
    let failing = harness.evaluator.false_alarm(
        automatic.clone(),
        "probe misconfigured",
        "ada",
        at(6),
        &mut Batch::default(),
    );
    assert!(
        matches!(&failing, Err(CommandError::Refused(why)) if why.contains("open again")),
        "{failing:?}"
    );
    harness.feed("web", 10, up()).await;
    harness.feed("web", 15, up()).await;
    let resolved = harness.store.incident(automatic.id).await.unwrap().unwrap();
    let mut batch = Batch::default();
    let marked = harness
        .evaluator
        .false_alarm(resolved, "probe misconfigured", "ada", at(20), &mut batch)
        .unwrap();
    assert!(marked.is_false_alarm());
    assert!(
        events(&batch).is_empty(),
        "a resolved one was already announced resolved"
    );
    harness.store.commit(&batch).await.unwrap();
    assert!(harness
        .store
        .incident(automatic.id)
        .await
        .unwrap()
        .unwrap()
        .is_false_alarm());

    let mut batch = Batch::default();
    let declared = harness
        .evaluator
        .declare(declaration("submission"), at(30), &mut batch)
        .unwrap();
    harness.store.commit(&batch).await.unwrap();
    let mut batch = Batch::default();
    let closed = harness
        .evaluator
        .false_alarm(
            declared.clone(),
            "a mistaken report",
            "ada",
            at(40),
            &mut batch,
        )
        .unwrap();
    assert_eq!(closed.resolved_at, Some(at(40)));
    assert_eq!(
        events(&batch),
        [EventKind::IncidentResolved],
        "channels close their alerts"
    );
    assert_eq!(batch.component_status[0].1, ComponentStatus::Operational);
    harness.store.commit(&batch).await.unwrap();
    assert!(harness
        .evaluator
        .false_alarm(closed, "again", "ada", at(41), &mut Batch::default())
        .is_err());
}

#[tokio::test]
async fn each_maintenance_occurrence_is_announced_ahead_at_start_and_at_end_once() {
    use pharos_core::maintenance::MaintenanceWindow;
    let mut harness = Harness::new().await;
    let stages = |batch: &Batch| -> Vec<String> {
        batch
            .maintenance_notices
            .iter()
            .map(|notice| notice.stage.clone())
            .collect()
    };
    let window = MaintenanceWindow {
        id: "relay".into(),
        title: "Relay swap".into(),
        components: vec![ComponentId::new("web")],
        start: at(2 * 3_600),
        length: chrono::Duration::minutes(30),
        every: Some(chrono::Duration::days(7)),
        message: Some("Brief pauses.".into()),
    };
    let mut batch = Batch::default();
    harness
        .evaluator
        .schedule_maintenance(window, "ada", at(0), &mut batch)
        .unwrap();
    assert_eq!(
        stages(&batch),
        ["scheduled"],
        "announced when scheduled within a day"
    );
    harness.store.commit(&batch).await.unwrap();
    let tick = |harness: &mut Harness, second: i64| {
        let mut batch = Batch::default();
        harness
            .evaluator
            .announce_maintenance(at(second), &mut batch);
        batch
    };
    assert!(
        tick(&mut harness, 60).maintenance_notices.is_empty(),
        "once"
    );
    let started = tick(&mut harness, 2 * 3_600 + 5);
    assert_eq!(stages(&started), ["started"]);
    harness.store.commit(&started).await.unwrap();

    // A restart repeats nothing; the end is told once.
    let mut harness = harness.restart().await;
    assert!(tick(&mut harness, 2 * 3_600 + 60)
        .maintenance_notices
        .is_empty());
    let ended = tick(&mut harness, 2 * 3_600 + 31 * 60);
    assert_eq!(stages(&ended), ["ended"]);
    harness.store.commit(&ended).await.unwrap();
    assert!(tick(&mut harness, 3 * 3_600).maintenance_notices.is_empty());
    // The next week's occurrence is announced a day ahead, not sooner.
    let week = 7 * 86_400 + 2 * 3_600;
    assert!(tick(&mut harness, week - 25 * 3_600)
        .maintenance_notices
        .is_empty());
    assert_eq!(
        stages(&tick(&mut harness, week - 23 * 3_600)),
        ["scheduled"]
    );
}

/// Down results of a false alarm and of a maintenance window leave the day's uptime once
/// the alarm is withdrawn and as the window goes on; every other result still counts.
#[tokio::test]
async fn false_alarms_and_maintenance_windows_leave_uptime() {
    use pharos_core::maintenance::MaintenanceWindow;
    let mut harness = Harness::new().await;
    let web_day = |days: &[pharos_store::DailyCounts]| {
        days.iter()
            .find(|day| day.monitor.as_str() == "web")
            .map(|day| (day.counts.total, day.counts.down))
    };
    // Rolled up a minute after `second`, as the engine does every minute.
    let day_after = |harness: &Harness, second: i64| {
        let store = harness.store.clone();
        async move {
            store.roll_up(at(second + 60)).await.unwrap();
            web_day(&store.daily_counts(at(-86_400)).await.unwrap())
        }
    };
    harness.feed("web", 0, up()).await;
    harness.feed("web", 100, down()).await;
    let incident = harness.feed("web", 105, down()).await.new_incidents[0].clone();
    harness.feed("web", 110, up()).await;
    harness.feed("web", 115, up()).await;
    assert_eq!(day_after(&harness, 115).await, Some((5, 2)));
    let resolved = harness.store.incident(incident.id).await.unwrap().unwrap();
    let mut batch = Batch::default();
    harness
        .evaluator
        .false_alarm(
            resolved.clone(),
            "probe misconfigured",
            "ada",
            at(200),
            &mut batch,
        )
        .unwrap();
    let period = batch.uptime_exclusions[0].clone();
    assert_eq!(
        (period.start, Some(period.end)),
        (at(100), resolved.resolved_at),
        "from the first failed check to the recovery"
    );
    assert_eq!(period.monitors, [pharos_core::MonitorId::new("web")]);
    harness.store.commit(&batch).await.unwrap();
    let outside = [0, 100, 105, 110, 115]
        .into_iter()
        .filter(|second| !(period.start..period.end).contains(&at(*second)))
        .count() as u64;
    assert!(outside >= 2);
    let (total, down_count) = day_after(&harness, 200).await.unwrap();
    assert_eq!(down_count, 0, "the alarm's failures no longer count");
    assert_eq!(total, outside, "results outside it still do");

    // A window on web from 300 s to 1,300 s: its failures leave uptime every few minutes
    // while it goes on, and all of them once it is over.
    let mut batch = Batch::default();
    harness
        .evaluator
        .schedule_maintenance(
            MaintenanceWindow {
                id: "swap".into(),
                title: "Disk swap".into(),
                components: vec![ComponentId::new("web")],
                start: at(300),
                length: chrono::Duration::seconds(1_000),
                every: None,
                message: None,
            },
            "ada",
            at(250),
            &mut batch,
        )
        .unwrap();
    harness.store.commit(&batch).await.unwrap();
    let tick = |harness: &mut Harness, second: i64| {
        let mut batch = Batch::default();
        harness.evaluator.follow_maintenance(at(second), &mut batch);
        harness
            .evaluator
            .announce_maintenance(at(second), &mut batch);
        batch
    };
    let started = tick(&mut harness, 301);
    assert!(started.uptime_exclusions.is_empty(), "nothing to leave yet");
    harness.store.commit(&started).await.unwrap();
    harness.feed("web", 310, down()).await;
    harness.feed("web", 320, down()).await;
    assert_eq!(day_after(&harness, 320).await, Some((total + 2, 2)));
    let early = tick(&mut harness, 500);
    assert!(early.uptime_exclusions.is_empty(), "not every tick");
    let so_far = tick(&mut harness, 700);
    assert_eq!(
        (
            so_far.uptime_exclusions[0].start,
            so_far.uptime_exclusions[0].end
        ),
        (at(300), at(700))
    );
    harness.store.commit(&so_far).await.unwrap();
    assert_eq!(
        day_after(&harness, 700).await,
        Some((total, 0)),
        "the window's failures so far are left out while it goes on"
    );
    // A restart forgets how far it went: the next period starts over, and the store counts
    // nothing twice.
    let mut harness = harness.restart().await;
    harness.feed("web", 800, down()).await;
    let again = tick(&mut harness, 1_000);
    assert_eq!(again.uptime_exclusions[0].start, at(300));
    harness.store.commit(&again).await.unwrap();
    assert_eq!(day_after(&harness, 1_000).await, Some((total, 0)));
    harness.feed("web", 1_100, down()).await;
    let ended = tick(&mut harness, 1_305);
    assert_eq!(ended.uptime_exclusions[0].start, at(300));
    assert_eq!(ended.uptime_exclusions[0].end, at(1_300));
    harness.store.commit(&ended).await.unwrap();
    harness.feed("web", 1_400, up()).await;
    assert_eq!(
        day_after(&harness, 1_400).await,
        Some((total + 1, 0)),
        "the window's results are left out; the one after it counts"
    );
}

/// The status `component` has in the store.
async fn stored_status(harness: &Harness, component: &str) -> ComponentStatus {
    harness
        .store
        .load_engine_state()
        .await
        .unwrap()
        .component_status
        .get(&ComponentId::new(component))
        .map(|(status, _)| *status)
        .unwrap_or(ComponentStatus::Operational)
}

/// An incident opened by hand on several components holds each at its own impact, through a
/// restart; updates change, add and release them; resolving releases them all.
#[tokio::test]
async fn an_incident_opened_by_hand_takes_other_components_each_at_its_impact() {
    let mut harness = Harness::new().await;
    harness.feed("smtp-a", 0, up()).await;
    harness.feed("smtp-b", 0, up()).await;
    let mut several = declaration("web");
    several.also = vec![(
        ComponentId::new("submission"),
        ComponentStatus::PartialOutage,
    )];
    // Refused: the incident's own component, one not configured, one named twice.
    for also in [
        vec![(ComponentId::new("web"), ComponentStatus::PartialOutage)],
        vec![(ComponentId::new("nowhere"), ComponentStatus::PartialOutage)],
        vec![
            (
                ComponentId::new("submission"),
                ComponentStatus::PartialOutage,
            ),
            (ComponentId::new("submission"), ComponentStatus::MajorOutage),
        ],
    ] {
        let refused = harness.evaluator.declare(
            Declaration {
                also,
                ..declaration("web")
            },
            at(5),
            &mut Batch::default(),
        );
        assert!(
            matches!(refused, Err(CommandError::Invalid(_))),
            "{refused:?}"
        );
    }
    let mut batch = Batch::default();
    let incident = harness
        .evaluator
        .declare(several, at(10), &mut batch)
        .unwrap();
    assert_eq!(incident.dependents.len(), 1);
    assert!(incident.dependents[0].by_hand);
    harness.store.commit(&batch).await.unwrap();
    assert_eq!(
        stored_status(&harness, "submission").await,
        ComponentStatus::PartialOutage
    );
    // Its checks pass: it stays where the operator put it, and opens nothing of its own.
    let fed = harness.feed("smtp-a", 20, up()).await;
    assert!(fed.new_incidents.is_empty());
    let refused =
        harness
            .evaluator
            .declare(declaration("submission"), at(21), &mut Batch::default());
    assert!(
        matches!(&refused, Err(CommandError::Refused(why)) if why.contains("part of incident")),
        "{refused:?}"
    );

    let mut harness = harness.restart().await;
    harness.feed("smtp-b", 30, up()).await;
    assert_eq!(
        stored_status(&harness, "submission").await,
        ComponentStatus::PartialOutage,
        "held across a restart"
    );
    let amend = |affected: ComponentStatus| Amendment {
        affected: vec![(ComponentId::new("submission"), affected)],
        update: words(IncidentPhase::Identified, "Narrowed down."),
        title: None,
        impact: None,
        by: "ada".into(),
    };
    let mut batch = Batch::default();
    harness
        .evaluator
        .amend(
            incident.id,
            amend(ComponentStatus::DegradedPerformance),
            at(40),
            &mut batch,
        )
        .unwrap();
    harness.store.commit(&batch).await.unwrap();
    assert_eq!(
        stored_status(&harness, "submission").await,
        ComponentStatus::DegradedPerformance
    );
    let mut batch = Batch::default();
    harness
        .evaluator
        .amend(
            incident.id,
            amend(ComponentStatus::Operational),
            at(50),
            &mut batch,
        )
        .unwrap();
    harness.store.commit(&batch).await.unwrap();
    assert_eq!(
        stored_status(&harness, "submission").await,
        ComponentStatus::Operational,
        "released to its checks"
    );
    let stored = harness.store.incident(incident.id).await.unwrap().unwrap();
    assert_eq!(stored.affected_dependents().count(), 0);
    assert!(stored
        .timeline
        .iter()
        .any(|entry| entry.kind == TimelineKind::DependentRecovered));
    let mut batch = Batch::default();
    harness
        .evaluator
        .amend(
            incident.id,
            amend(ComponentStatus::MajorOutage),
            at(60),
            &mut batch,
        )
        .unwrap();
    harness.store.commit(&batch).await.unwrap();
    assert_eq!(
        stored_status(&harness, "submission").await,
        ComponentStatus::MajorOutage,
        "named again"
    );

    let mut batch = Batch::default();
    harness
        .evaluator
        .resolve_by_hand(incident.id, "All fixed.".into(), "ada", at(70), &mut batch)
        .unwrap();
    harness.store.commit(&batch).await.unwrap();
    for component in ["web", "submission"] {
        assert_eq!(
            stored_status(&harness, component).await,
            ComponentStatus::Operational,
            "{component}"
        );
    }
    let resolved = harness.store.incident(incident.id).await.unwrap().unwrap();
    assert!(resolved
        .dependents
        .iter()
        .all(|dependent| dependent.recovered_at.is_some()));

    // Only an incident opened by hand takes other components' impacts.
    harness.feed("web", 80, down()).await;
    let automatic = harness.feed("web", 85, down()).await.new_incidents[0].clone();
    let refused = harness.evaluator.amend(
        automatic.id,
        amend(ComponentStatus::PartialOutage),
        at(90),
        &mut Batch::default(),
    );
    assert!(
        matches!(refused, Err(CommandError::Invalid(_))),
        "{refused:?}"
    );
}

/// Asserts that the batch announces `first`, and `then` after it.
fn assert_told_in_order(batch: &Batch, first: EventKind, then: EventKind) {
    let kinds = events(batch);
    let at = |wanted: EventKind| kinds.iter().position(|kind| *kind == wanted);
    assert!(at(first).is_some() && at(first) < at(then), "{kinds:?}");
}

#[tokio::test]
async fn a_failure_that_goes_on_when_an_operator_lets_go_opens_its_own_incident() {
    let mut harness = Harness::new().await;
    for monitor in ["smtp-a", "smtp-b", "web"] {
        harness.feed(monitor, 0, up()).await;
    }
    let mut opened = declaration("submission");
    opened.also = vec![(
        ComponentId::new("web"),
        ComponentStatus::DegradedPerformance,
    )];
    let mut batch = Batch::default();
    let incident = harness
        .evaluator
        .declare(opened, at(10), &mut batch)
        .unwrap();
    harness.store.commit(&batch).await.unwrap();
    // Checks of both fail while the operator holds them: nothing opens of its own.
    for second in [20, 25] {
        for monitor in ["smtp-a", "web"] {
            let fed = harness.feed(monitor, second, down()).await;
            assert!(fed.new_incidents.is_empty(), "{monitor} at {second}");
        }
    }

    // Webmail is taken out of the incident while its check still fails: its own incident
    // opens, from when the failure began, after the operator's update.
    let mut harness = harness.restart().await;
    let mut batch = Batch::default();
    harness
        .evaluator
        .amend(
            incident.id,
            Amendment {
                affected: vec![(ComponentId::new("web"), ComponentStatus::Operational)],
                update: words(IncidentPhase::Identified, "Webmail is not part of this."),
                title: None,
                impact: None,
                by: "ada".into(),
            },
            at(30),
            &mut batch,
        )
        .unwrap();
    assert_told_in_order(
        &batch,
        EventKind::IncidentUpdated,
        EventKind::IncidentOpened,
    );
    assert_eq!(batch.new_incidents.len(), 1);
    assert_eq!(batch.new_incidents[0].component.as_str(), "web");
    assert_eq!(batch.new_incidents[0].started_at, at(20));
    harness.store.commit(&batch).await.unwrap();

    // The operator resolves their incident while a check of submission still fails: the
    // checks speak again and open one, after the resolution.
    let mut batch = Batch::default();
    harness
        .evaluator
        .resolve_by_hand(
            incident.id,
            "Fixed, we think.".into(),
            "ada",
            at(40),
            &mut batch,
        )
        .unwrap();
    assert_told_in_order(
        &batch,
        EventKind::IncidentResolved,
        EventKind::IncidentOpened,
    );
    assert_eq!(batch.new_incidents.len(), 1);
    let own = &batch.new_incidents[0];
    assert_eq!(own.component.as_str(), "submission");
    assert_eq!(own.started_at, at(20));
    assert_eq!(
        own.impact,
        ComponentStatus::PartialOutage,
        "one of its two checks fails"
    );
    harness.store.commit(&batch).await.unwrap();

    // A component let go whose checks pass opens nothing.
    let mut harness = harness.restart().await;
    let mut batch = Batch::default();
    let calm = harness
        .evaluator
        .declare(declaration("submission"), at(50), &mut batch);
    assert!(
        matches!(&calm, Err(CommandError::Refused(_))),
        "submission has its own incident now: {calm:?}"
    );
    harness.feed("smtp-a", 60, up()).await;
    harness.feed("smtp-a", 65, up()).await;
    harness.feed("web", 60, up()).await;
    harness.feed("web", 65, up()).await;
    let mut batch = Batch::default();
    let quiet = harness
        .evaluator
        .declare(declaration("web"), at(70), &mut batch);
    assert!(quiet.is_ok(), "{quiet:?}");
    harness.store.commit(&batch).await.unwrap();
    let mut batch = Batch::default();
    harness
        .evaluator
        .resolve_by_hand(quiet.unwrap().id, "Done.".into(), "ada", at(80), &mut batch)
        .unwrap();
    assert!(batch.new_incidents.is_empty());
    assert_eq!(events(&batch), [EventKind::IncidentResolved]);
}
