//! Freezing part of a network for fine-tuning: which parameters the optimizer leaves as they
//! are (named by path prefixes, as PyTorch's `requires_grad_(False)` on a sub-module or
//! Keras's `layer.trainable = False`), and how far down the backward pass has to go.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::network::Network;
use crate::error::{Error, Result};
use crate::layers::{under, Layer, ParamReader, ParamVisitor, Path, SummaryRow};

/// The frozen parts of a network: path prefixes (`"0"`, `"body"`, `"body.3.weight"`), and the
/// first top-level layer with a parameter left to train (the backward pass stops there).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frozen {
    prefixes: Vec<String>,
    floor: usize,
    /// The batch normalisations set to running statistics (or back), prefix by prefix in
    /// order: what the copies of a data-parallel step replay.
    norm_modes: Vec<(String, bool)>,
}

impl Frozen {
    /// Whether the parameter (or layer) `name` is frozen.
    pub fn covers(&self, name: &str) -> bool {
        self.prefixes.iter().any(|p| under(name, p))
    }

    /// Whether nothing is frozen.
    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }

    /// The frozen prefixes, in the order they were frozen.
    pub fn prefixes(&self) -> &[String] {
        &self.prefixes
    }

    /// Top-level layers below this one have nothing to train: the backward pass computes
    /// neither their gradients nor the input gradient of this one.
    pub fn backward_floor(&self) -> usize {
        self.floor
    }

    /// The batch-normalisation modes set, in order (see `Layer::set_batch_norm_eval`).
    pub fn norm_modes(&self) -> &[(String, bool)] {
        &self.norm_modes
    }

    /// Records that the batch normalisations under `prefix` were set to `eval`; earlier
    /// settings it overrides entirely are dropped.
    pub(super) fn record_norms(&mut self, prefix: &str, eval: bool) {
        self.norm_modes.retain(|(p, _)| !under(p, prefix));
        self.norm_modes.push((prefix.to_string(), eval));
    }

    /// `net` (a copy of the network) in the same modes.
    pub(super) fn apply_norm_modes<L: Layer>(&self, net: &mut L) {
        for (prefix, eval) in &self.norm_modes {
            net.set_batch_norm_eval(&Path::ROOT, prefix, *eval);
        }
    }

    pub(super) fn add(&mut self, prefix: &str) {
        if !self.covers(prefix) {
            self.prefixes.retain(|p| !under(p, prefix));
            self.prefixes.push(prefix.to_string());
        }
    }

    /// Removes the prefixes at or under `prefix`; `Err` with the frozen prefix that holds
    /// `prefix` when it lies inside one (a part of a frozen block cannot be thawed alone).
    pub(super) fn remove(&mut self, prefix: &str) -> Result<usize, String> {
        if let Some(outer) = self
            .prefixes
            .iter()
            .find(|p| under(prefix, p) && p.as_str() != prefix)
        {
            return Err(outer.clone());
        }
        let before = self.prefixes.len();
        self.prefixes.retain(|p| !under(p, prefix));
        Ok(before - self.prefixes.len())
    }

    /// Recomputes the floor from the parameter names of each top-level layer.
    pub(super) fn set_floor(&mut self, layers: &[Vec<String>]) {
        self.floor = layers
            .iter()
            .position(|names| names.iter().any(|n| !self.covers(n)))
            .unwrap_or(layers.len());
    }

    /// A summary's rows with the frozen layers' parameters counted as non-trainable and
    /// their kind marked `frozen`.
    pub fn mark_rows(&self, rows: &mut [SummaryRow]) {
        for row in rows.iter_mut().filter(|r| self.covers(&r.name)) {
            row.non_trainable += core::mem::take(&mut row.params);
            row.kind.push_str(", frozen");
        }
    }
}

/// The names and sizes of a layer's parameters.
pub(super) struct Names(pub(super) Vec<(String, usize)>);

impl ParamVisitor for Names {
    fn visit(
        &mut self,
        path: &Path<'_>,
        _shape: &[usize],
        _layout: crate::layers::Layout,
        value: &mut [f32],
        _grad: &mut [f32],
    ) {
        self.0.push((path.to_string(), value.len()));
    }
}

impl ParamReader for Names {
    fn read(
        &mut self,
        path: &Path<'_>,
        _shape: &[usize],
        _layout: crate::layers::Layout,
        value: &[f32],
        _grad: &[f32],
    ) {
        self.0.push((path.to_string(), value.len()));
    }
}

/// Every parameter of `net` with its size.
pub(super) fn parameter_names<L: Layer>(net: &L) -> Vec<(String, usize)> {
    let mut names = Names(Vec::new());
    net.read_params(&Path::ROOT, &mut names);
    names.0
}

/// The parameter names of each top-level layer of `net`.
pub(super) fn layer_parameter_names<N: Network>(net: &mut N) -> Vec<Vec<String>> {
    (0..N::LAYER_PARAMS.len())
        .map(|k| {
            let mut names = Names(Vec::new());
            net.visit_layer_params(k, &mut names);
            names.0.into_iter().map(|(n, _)| n).collect()
        })
        .collect()
}

/// `prefix` frozen in `net`: its parameters left alone by the optimizer, its batch
/// normalisations on their running statistics; the number of parameters it covers.
pub(super) fn freeze<N: Network>(net: &mut N, prefix: &str) -> Result<usize> {
    let count: usize = parameter_names(net)
        .iter()
        .filter(|(n, _)| under(n, prefix))
        .map(|(_, len)| len)
        .sum();
    let norms = net.set_batch_norm_eval(&Path::ROOT, prefix, true);
    if count == 0 && norms == 0 {
        return Err(unknown_prefix(
            net,
            prefix,
            "parameter or batch normalisation",
        ));
    }
    let mut frozen = net.buffers_ref().frozen().clone();
    frozen.add(prefix);
    frozen.record_norms(prefix, true);
    frozen.set_floor(&layer_parameter_names(net));
    net.buffers().frozen = frozen;
    Ok(count)
}

/// `prefix` trainable again (its batch normalisations on batch statistics); the number of
/// parameters that were frozen and are not now.
pub(super) fn unfreeze<N: Network>(net: &mut N, prefix: &str) -> Result<usize> {
    let before = trainable_params(net);
    let mut frozen = net.buffers_ref().frozen().clone();
    if let Err(block) = frozen.remove(prefix) {
        return Err(Error::FrozenBlock {
            prefix: prefix.to_string(),
            block,
        });
    }
    frozen.set_floor(&layer_parameter_names(net));
    frozen.record_norms(prefix, false);
    net.buffers().frozen = frozen;
    net.set_batch_norm_eval(&Path::ROOT, prefix, false);
    Ok(trainable_params(net) - before)
}

/// The batch normalisations under `prefix` on running statistics (`eval`) or not; how many.
pub(super) fn batch_norm_eval<N: Network>(net: &mut N, prefix: &str, eval: bool) -> Result<usize> {
    match net.set_batch_norm_eval(&Path::ROOT, prefix, eval) {
        0 => Err(unknown_prefix(net, prefix, "batch normalisation")),
        n => {
            net.buffers().frozen.record_norms(prefix, eval);
            Ok(n)
        }
    }
}

/// The number of parameters the optimizer updates.
pub(super) fn trainable_params<N: Network>(net: &N) -> usize {
    let frozen = net.buffers_ref().frozen();
    parameter_names(net)
        .iter()
        .filter(|(n, _)| !frozen.covers(n))
        .map(|(_, len)| len)
        .sum()
}

/// The error for a prefix under which `net` has no `what`: it lists the top-level names.
pub(super) fn unknown_prefix<N: Network>(net: &N, prefix: &str, what: &'static str) -> Error {
    let mut tops: Vec<String> = Vec::new();
    for (name, _) in parameter_names(net) {
        let top = name.split('.').next().unwrap_or_default().to_string();
        if !tops.contains(&top) {
            tops.push(top);
        }
    }
    Error::UnknownPrefix {
        prefix: prefix.to_string(),
        what,
        known: tops.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_cover_whole_path_components() {
        assert!(under("body.3.weight", "body"));
        assert!(under("body.3.weight", "body.3"));
        assert!(under("body", "body"));
        assert!(!under("body.3.weight", "bod"));
        assert!(!under("10.weight", "1"));
        assert!(under("anything", ""));
        let mut f = Frozen::default();
        f.add("body.3");
        f.add("body");
        assert_eq!(f.prefixes(), ["body"]);
        assert_eq!(f.remove("body.3"), Err("body".to_string()));
        assert_eq!(f.remove("body"), Ok(1));
        assert!(f.is_empty());
        f.add("0");
        let layers = vec![vec!["0.weight".into()], vec![], vec!["2.weight".into()]];
        f.set_floor(&layers);
        // The parameter-free layer 1 feeds only the frozen layer 0: it is skipped too.
        assert_eq!(f.backward_floor(), 2);
    }
}
