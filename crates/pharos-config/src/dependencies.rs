//! Checks components' `depends_on`: every id known, no component depending on itself, no
//! cycle. Each problem is reported where it is written.

use crate::model::Component;
use crate::reader::Context;
use pharos_core::ComponentId;
use std::collections::HashMap;
use std::ops::Range;

/// Fills each component's `depends_on` from what was written (`written[i]` belongs to
/// `components[i]`), reporting unknown ids, self-references and cycles.
pub(crate) fn check(
    cx: &mut Context<'_, '_>,
    components: &mut [Component],
    written: Vec<Vec<(String, Range<usize>)>>,
) {
    let index: HashMap<ComponentId, usize> = components
        .iter()
        .enumerate()
        .map(|(position, component)| (component.id.clone(), position))
        .collect();
    // Edges kept for the cycle search: (dependency index, where it is written).
    let mut edges: Vec<Vec<(usize, Range<usize>)>> = vec![Vec::new(); components.len()];
    for (position, entries) in written.into_iter().enumerate() {
        let own = components[position].id.clone();
        for (text, span) in entries {
            let id = ComponentId::new(text);
            if id == own {
                cx.problems
                    .report(span, format!("component `{own}` cannot depend on itself"));
                continue;
            }
            let Some(&target) = index.get(&id) else {
                cx.problems.report(
                    span,
                    format!("`depends_on` of component `{own}` refers to unknown component `{id}`"),
                );
                continue;
            };
            if components[position].depends_on.contains(&id) {
                cx.problems.report(
                    span,
                    format!("component `{own}` lists `{id}` twice in `depends_on`"),
                );
                continue;
            }
            components[position].depends_on.push(id);
            edges[position].push((target, span));
        }
    }
    for (span, path) in cycles(&edges) {
        let names: Vec<&str> = path
            .iter()
            .map(|&position| components[position].id.as_str())
            .collect();
        cx.problems.report(
            span,
            format!("`depends_on` makes a cycle: {}", names.join(" → ")),
        );
        // Leave the configuration acyclic: drop the edge that closes the cycle.
        let (from, to) = (path[path.len() - 2], path[path.len() - 1]);
        let to_id = components[to].id.clone();
        components[from].depends_on.retain(|id| *id != to_id);
    }
}

/// Each cycle once, as the span of the edge that closes it and the path around it (first and
/// last the same component).
fn cycles(edges: &[Vec<(usize, Range<usize>)>]) -> Vec<(Range<usize>, Vec<usize>)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(
        node: usize,
        edges: &[Vec<(usize, Range<usize>)>],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        found: &mut Vec<(Range<usize>, Vec<usize>)>,
    ) {
        marks[node] = Mark::OnPath;
        path.push(node);
        for (next, span) in &edges[node] {
            match marks[*next] {
                Mark::New => visit(*next, edges, marks, path, found),
                Mark::OnPath => {
                    let start = path.iter().position(|&n| n == *next).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(*next);
                    found.push((span.clone(), cycle));
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[node] = Mark::Done;
    }
    let mut marks = vec![Mark::New; edges.len()];
    let mut found = Vec::new();
    for node in 0..edges.len() {
        if marks[node] == Mark::New {
            visit(node, edges, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}
