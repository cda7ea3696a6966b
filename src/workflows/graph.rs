//! Install order, pure: for every relationship source → target, the
//! target's whole install comes before the source's. Instances are put in
//! layers (each layer's instances are independent and may run in
//! parallel); uninstall runs the layers in reverse.

use std::collections::HashMap;

/// One instance and the instances its relationships target.
#[derive(Debug, Clone, PartialEq)]
pub struct Vertex {
    pub id: String,
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("the relationships of these node instances form a cycle: {0:?}")]
    Cycle(Vec<String>),
}

/// Layers of vertex indices in install order. Targets outside the set
/// (instances not part of this run) impose no order.
pub fn install_layers(vertices: &[Vertex]) -> Result<Vec<Vec<usize>>, GraphError> {
    let index: HashMap<&str, usize> = vertices
        .iter()
        .enumerate()
        .map(|(i, v)| (v.id.as_str(), i))
        .collect();
    // deps[i]: how many targets of i are not placed yet; users[t]: sources of t.
    let mut deps = vec![0usize; vertices.len()];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); vertices.len()];
    for (i, v) in vertices.iter().enumerate() {
        let mut seen = Vec::new();
        for t in &v.targets {
            if let Some(&ti) = index.get(t.as_str())
                && ti != i
                && !seen.contains(&ti)
            {
                seen.push(ti);
                deps[i] += 1;
                users[ti].push(i);
            }
        }
    }
    let mut layers = Vec::new();
    let mut ready: Vec<usize> = (0..vertices.len()).filter(|i| deps[*i] == 0).collect();
    let mut placed = 0;
    while !ready.is_empty() {
        let mut next = Vec::new();
        for &i in &ready {
            for &u in &users[i] {
                deps[u] -= 1;
                if deps[u] == 0 {
                    next.push(u);
                }
            }
        }
        placed += ready.len();
        next.sort_unstable();
        layers.push(std::mem::replace(&mut ready, next));
    }
    if placed < vertices.len() {
        let stuck = (0..vertices.len())
            .filter(|i| deps[*i] > 0)
            .map(|i| vertices[i].id.clone())
            .collect();
        return Err(GraphError::Cycle(stuck));
    }
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(id: &str, targets: &[&str]) -> Vertex {
        Vertex {
            id: id.into(),
            targets: targets.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn hosts_first_and_cycles_refused() {
        let vs = [
            v("app", &["vm", "db"]),
            v("db", &["vm"]),
            v("vm", &[]),
            v("other", &["gone"]),
        ];
        assert_eq!(
            install_layers(&vs).unwrap(),
            vec![vec![2, 3], vec![1], vec![0]]
        );
        let cyc = [v("a", &["b"]), v("b", &["a"]), v("c", &[])];
        assert_eq!(
            install_layers(&cyc),
            Err(GraphError::Cycle(vec!["a".into(), "b".into()]))
        );
    }

    proptest! {
        /// Random DAGs (edges only from higher to lower index, then
        /// shuffled): every edge's target is installed in an earlier layer
        /// than its source, each instance exactly once; uninstall (the
        /// reverse) removes sources before targets.
        #[test]
        fn install_respects_every_edge(
            n in 1usize..40,
            edges in proptest::collection::vec((0usize..40, 0usize..40), 0..120),
            perm_seed in any::<u64>(),
        ) {
            let mut order: Vec<usize> = (0..n).collect();
            let mut s = perm_seed;
            for i in (1..n).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(i, (s >> 33) as usize % (i + 1));
            }
            let edges: Vec<(usize, usize)> = edges
                .into_iter()
                .map(|(a, b)| (a % n, b % n))
                .filter(|(a, b)| a > b)
                .collect();
            let vertices: Vec<Vertex> = order
                .iter()
                .map(|&k| Vertex {
                    id: format!("i{k}"),
                    targets: edges.iter().filter(|(a, _)| *a == k).map(|(_, b)| format!("i{b}")).collect(),
                })
                .collect();
            let layers = install_layers(&vertices).unwrap();
            let mut layer_of = vec![usize::MAX; n];
            let mut count = 0;
            for (l, layer) in layers.iter().enumerate() {
                for &i in layer {
                    let k: usize = vertices[i].id[1..].parse().unwrap();
                    prop_assert_eq!(layer_of[k], usize::MAX, "placed twice");
                    layer_of[k] = l;
                    count += 1;
                }
            }
            prop_assert_eq!(count, n);
            for (a, b) in &edges {
                prop_assert!(layer_of[*b] < layer_of[*a], "target {} after source {}", b, a);
                let (ua, ub) = (layers.len() - 1 - layer_of[*a], layers.len() - 1 - layer_of[*b]);
                prop_assert!(ua < ub, "uninstall removes the source first");
            }
        }
    }
}
