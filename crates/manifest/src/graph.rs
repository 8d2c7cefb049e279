//! The workflow as a petgraph graph: the data plane executes it, the validator checks it for cycles.

use std::collections::{HashMap, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::model::Workflow;

/// A directed graph whose node weights index `workflow.nodes` and edge weights index `workflow.edges`.
pub type WorkflowGraph = DiGraph<usize, usize>;

/// A cycle: node indexes in order (the first repeated at the end), and the edge that closes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    pub nodes: Vec<usize>,
    pub closing_edge: usize,
}

impl Workflow {
    /// The workflow's graph. Edges naming a node that does not exist are left out (validation reports
    /// them); of nodes sharing an id, the first one counts.
    #[must_use]
    pub fn graph(&self) -> WorkflowGraph {
        let mut graph = WorkflowGraph::with_capacity(self.nodes.len(), self.edges.len());
        let mut by_id: HashMap<&str, NodeIndex> = HashMap::with_capacity(self.nodes.len());
        for (index, node) in self.nodes.iter().enumerate() {
            let handle = graph.add_node(index);
            by_id.entry(node.id.as_str()).or_insert(handle);
        }
        for (index, edge) in self.edges.iter().enumerate() {
            if let (Some(from), Some(to)) = (by_id.get(edge.from.as_str()), by_id.get(edge.to.as_str())) {
                graph.add_edge(*from, *to, index);
            }
        }
        graph
    }

    /// Every independent cycle, one per strongly connected component, each starting from its
    /// earliest-declared node.
    #[must_use]
    pub fn cycles(&self) -> Vec<Cycle> {
        let graph = self.graph();
        let mut cycles: Vec<Cycle> = tarjan_scc(&graph)
            .into_iter()
            .filter_map(|component| shortest_cycle(&graph, &component))
            .collect();
        cycles.sort_by_key(|cycle| cycle.closing_edge);
        cycles
    }
}

/// The shortest cycle through the component's earliest node, by breadth-first search inside the component.
fn shortest_cycle(graph: &WorkflowGraph, component: &[NodeIndex]) -> Option<Cycle> {
    let start = *component.iter().min_by_key(|handle| graph[**handle])?;
    let mut came_from: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(current) = queue.pop_front() {
        for edge in graph.edges(current) {
            let next = edge.target();
            if next == start {
                let mut backwards = vec![graph[start]];
                let mut at = current;
                while at != start {
                    backwards.push(graph[at]);
                    at = *came_from.get(&at)?;
                }
                backwards.push(graph[start]);
                backwards.reverse();
                return Some(Cycle {
                    nodes: backwards,
                    closing_edge: *edge.weight(),
                });
            }
            if component.contains(&next) && !came_from.contains_key(&next) {
                came_from.insert(next, current);
                queue.push_back(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn workflow(edges: &[(&str, &str)]) -> Workflow {
        let mut ids: Vec<&str> = edges.iter().flat_map(|(from, to)| [*from, *to]).collect();
        ids.dedup();
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(*id));
        serde_json::from_value(json!({
            "nodes": ids.iter().map(|id| json!({"id": id, "kind": "transform"})).collect::<Vec<_>>(),
            "edges": edges.iter().map(|(from, to)| json!({"from": from, "to": to})).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    fn cycles(edges: &[(&str, &str)]) -> Vec<Vec<String>> {
        let workflow = workflow(edges);
        workflow
            .cycles()
            .iter()
            .map(|cycle| {
                cycle
                    .nodes
                    .iter()
                    .map(|index| workflow.nodes[*index].id.clone())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn detects_cycles() {
        assert_eq!(
            cycles(&[("a", "b"), ("b", "c"), ("c", "a")]),
            [["a", "b", "c", "a"]]
        );
        assert_eq!(cycles(&[("a", "a")]), [["a", "a"]]);
        assert_eq!(
            cycles(&[("a", "b"), ("b", "a"), ("c", "d"), ("d", "c"), ("b", "c")]),
            [vec!["a", "b", "a"], vec!["c", "d", "c"]]
        );
        let closing = workflow(&[("a", "b"), ("b", "c"), ("c", "a")]).cycles()[0].closing_edge;
        assert_eq!(closing, 2);
    }

    #[test]
    fn accepts_dags() {
        assert!(
            cycles(&[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]).is_empty(),
            "a diamond is not a cycle"
        );
        assert!(cycles(&[("a", "b"), ("b", "c"), ("a", "c")]).is_empty());
        assert!(cycles(&[]).is_empty());
    }
}
