//! The provider's own word beside our probes: what each provider check last said, written
//! into the incidents it concerns — in the first update when one opens, and as an update when
//! the provider changes its word while one is open. "Microsoft reports Exchange Online as
//! operational, but our own checks fail" is the case that matters most.

use crate::evaluator::{record, Evaluator};
use chrono::{DateTime, Utc};
use pharos_core::lifecycle;
use pharos_core::{Event, Outcome, ProbeStatus};
use pharos_store::Batch;

/// Whether a provider check said something new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Heard {
    Nothing,
    /// The first word since pharos started (an open incident may say it already).
    First,
    Changed,
}

/// What a provider check said last.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ProviderWord {
    pub(crate) status: ProbeStatus,
    /// "Microsoft reports EX123456: Users may be unable to access email via Outlook.", or
    /// "Microsoft reports Exchange Online as operational".
    pub(crate) text: String,
}

impl ProviderWord {
    /// The word as a sentence of an incident that our own checks opened.
    fn sentence(&self) -> String {
        let text = self.text.trim_end_matches('.');
        if self.status == ProbeStatus::Up {
            format!("{text}, but our own checks fail.")
        } else {
            format!("{text}.")
        }
    }
}

impl Evaluator {
    /// Keeps what provider check `monitor` said, and whether it is news (an unread feed says
    /// nothing).
    pub(crate) fn hear_provider(&mut self, monitor: usize, outcome: &Outcome) -> Heard {
        if outcome.status == ProbeStatus::Unknown {
            return Heard::Nothing;
        }
        let Some(text) = outcome.detail.clone().or_else(|| outcome.reason.clone()) else {
            return Heard::Nothing;
        };
        let word = ProviderWord {
            status: outcome.status,
            text,
        };
        let previous = self.provider_word[monitor].replace(word.clone());
        match previous {
            Some(previous) if previous != word => Heard::Changed,
            Some(_) => Heard::Nothing,
            // First heard since the start: news only if the provider admits a problem that
            // the incident does not say yet.
            None if word.status != ProbeStatus::Up => Heard::First,
            None => Heard::Nothing,
        }
    }

    /// The provider checks that speak for `component`: its own and those of everything it
    /// needs.
    fn provider_checks(&self, component: usize) -> impl Iterator<Item = usize> + '_ {
        let topology = &self.topology;
        std::iter::once(component)
            .chain(topology.dependencies.of(component).iter().copied())
            .flat_map(|component| topology.components[component].monitors.iter().copied())
            .filter(|&monitor| topology.monitors[monitor].provider)
    }

    /// What the providers that `component` relies on say, as sentences for an incident's
    /// first update; `None` when none has spoken.
    pub(crate) fn provider_words(&self, component: usize) -> Option<String> {
        let sentences: Vec<String> = self
            .provider_checks(component)
            .filter_map(|monitor| self.provider_word[monitor].as_ref())
            .map(ProviderWord::sentence)
            .collect();
        (!sentences.is_empty()).then(|| sentences.join(" "))
    }

    /// Provider check `monitor` said something new: each open incident it concerns gets an
    /// update with its word, unless the latest update says it already (or any update, for the
    /// first word since a start).
    pub(crate) fn tell_provider_word(
        &mut self,
        monitor: usize,
        heard: Heard,
        at: DateTime<Utc>,
        batch: &mut Batch,
    ) {
        if heard == Heard::Nothing {
            return;
        }
        let Some(word) = self.provider_word[monitor].clone() else {
            return;
        };
        let said = word.text.trim_end_matches('.');
        let message = word.sentence();
        let concerned: Vec<usize> = self
            .open_incidents
            .iter()
            .filter(|(&root, incident)| {
                let affected =
                    std::iter::once(root).chain(incident.affected_dependents().filter_map(
                        |dependent| self.topology.component_index(&dependent.component),
                    ));
                let concerns = affected.into_iter().any(|component| {
                    self.provider_checks(component)
                        .any(|check| check == monitor)
                });
                // The latest update (or, for a first word, any update) may say it already.
                let mut updates = incident.updates.iter().rev();
                let already_said = match heard {
                    Heard::First => updates.any(|update| update.message.contains(said)),
                    _ => updates
                        .next()
                        .is_some_and(|update| update.message.contains(said)),
                };
                concerns && !already_said
            })
            .map(|(&root, _)| root)
            .collect();
        for root in concerned {
            let Some(incident) = self.open_incidents.get_mut(&root) else {
                continue;
            };
            let changed = lifecycle::note_provider(incident, at, message.clone());
            record(incident, changed, batch);
            let incident = incident.clone();
            tracing::info!(
                incident = incident.id,
                "incident.updated: incident #{}: {message}",
                incident.id
            );
            let news = self.incident_news(root, incident);
            self.announce(Event::IncidentUpdated(news), at, batch);
        }
    }
}
