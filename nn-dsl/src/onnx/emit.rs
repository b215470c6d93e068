//! The layers an import found, as steps, and their writing as `network!` text: a data
//! value's computation is the chain of steps from the input; a join of two values becomes
//! a join block over the chains after their common start, so that a graph of forks that
//! meet again (residual blocks, Inception-style concatenations) is a chain of blocks.

use proc_macro2::TokenStream;
use quote::quote;

pub type StepId = usize;

/// A tensor of a layer, read from the file.
#[derive(Clone, Debug)]
pub struct WeightRef {
    /// The tensor's name in the layer (`weight`, `running_mean`).
    pub suffix: &'static str,
    /// Its PyTorch shape.
    pub shape: Vec<usize>,
    /// Where its values are in the file (nowhere for zeros and counts).
    pub source: super::values::Source,
    pub layout: Layout,
}

pub use nn_onnx::TensorLayout as Layout;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Add,
    Concat,
}

#[derive(Clone, Debug)]
pub enum Step {
    /// One layer: its name and its text (`Conv2d(64, (7, 7), …)`).
    Layer {
        name: String,
        text: String,
        weights: Vec<WeightRef>,
    },
    /// A join of chains that start from the same value.
    Join {
        name: String,
        kind: JoinKind,
        branches: Vec<Vec<StepId>>,
    },
}

/// Every step made so far, and the layer names taken.
#[derive(Default)]
pub struct Steps {
    pub steps: Vec<Step>,
    names: std::collections::HashSet<String>,
}

impl Steps {
    /// A layer name from an ONNX node's name (`/layer1/layer1.0/conv1/Conv` gives
    /// `layer1_0_conv1`), unique in the network.
    pub fn name(&mut self, node_name: &str, op: &str) -> String {
        let mut base: String = node_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        // Exporters write `/block/sub/Op`: the operator is already in the kind.
        let op = op.to_ascii_lowercase();
        if let Some(stripped) = base.strip_suffix(&op) {
            base = stripped.to_string();
        }
        // The dynamo exporter prefixes every node with `node_`.
        let base = base.strip_prefix("node_").unwrap_or(&base).to_string();
        let mut parts: Vec<&str> = base.split('_').filter(|p| !p.is_empty()).collect();
        parts.dedup();
        // `/layer1/layer1.0/conv1` repeats its block's name; keep its tail.
        let mut base = parts.join("_");
        if base.is_empty() {
            base = op;
        }
        if base.len() > 48 {
            base = base[base.len() - 48..].trim_start_matches('_').to_string();
        }
        if !base.starts_with(|c: char| c.is_ascii_alphabetic())
            || syn::parse_str::<syn::Ident>(&base).is_err()
        {
            base = format!("n_{base}");
        }
        let mut name = base.clone();
        let mut k = 1;
        while !self.names.insert(name.clone()) {
            k += 1;
            name = format!("{base}_{k}");
        }
        name
    }

    pub fn push(&mut self, step: Step) -> StepId {
        self.steps.push(step);
        self.steps.len() - 1
    }

    /// The layer step `id`, for a later node that completes it (a bias after `MatMul`).
    pub fn layer_mut(&mut self, id: StepId) -> Option<(&mut String, &mut Vec<WeightRef>)> {
        match self.steps.get_mut(id) {
            Some(Step::Layer { text, weights, .. }) => Some((text, weights)),
            _ => None,
        }
    }
}

/// A join of `paths` (the values' chains from the input): the chain to the common start,
/// then the join over what follows it in each.
pub fn join(steps: &mut Steps, name: String, kind: JoinKind, paths: &[&[StepId]]) -> Vec<StepId> {
    let common = (0..)
        .take_while(|&k| {
            paths
                .iter()
                .all(|p| p.get(k).is_some() && p[k] == paths[0][k])
        })
        .count();
    let branches = paths.iter().map(|p| p[common..].to_vec()).collect();
    let id = steps.push(Step::Join {
        name,
        kind,
        branches,
    });
    let mut path = paths[0][..common].to_vec();
    path.push(id);
    path
}

/// The network's layers as text, and its tensors by their names in the network.
pub struct Written {
    pub body: String,
    pub weights: Vec<(String, WeightRef)>,
}

/// Writes the chain `path`; `Err(step)` when a step would be written twice (a graph whose
/// forks do not meet again in blocks).
pub fn write(steps: &Steps, path: &[StepId]) -> Result<Written, StepId> {
    let mut out = Written {
        body: String::new(),
        weights: Vec::new(),
    };
    let mut seen = vec![false; steps.steps.len()];
    chain(steps, path, "", &mut out, &mut seen)?;
    Ok(out)
}

fn chain(
    steps: &Steps,
    path: &[StepId],
    prefix: &str,
    out: &mut Written,
    seen: &mut [bool],
) -> Result<(), StepId> {
    for &id in path {
        if std::mem::replace(&mut seen[id], true) {
            return Err(id);
        }
        match &steps.steps[id] {
            Step::Layer {
                name,
                text,
                weights,
            } => {
                out.body.push_str(&format!("{name}: {text}, "));
                for w in weights {
                    out.weights
                        .push((format!("{prefix}{name}.{}", w.suffix), w.clone()));
                }
            }
            Step::Join {
                name,
                kind,
                branches,
            } => {
                let empty = branches.iter().filter(|b| b.is_empty()).count();
                if *kind == JoinKind::Add && branches.len() == 2 && empty == 1 {
                    let body = branches
                        .iter()
                        .find(|b| !b.is_empty())
                        .into_iter()
                        .flatten();
                    let body: Vec<StepId> = body.copied().collect();
                    out.body.push_str(&format!("{name}: Residual {{ "));
                    chain(steps, &body, &format!("{prefix}{name}.body."), out, seen)?;
                    out.body.push_str("}, ");
                    continue;
                }
                let word = match kind {
                    JoinKind::Add => "Add",
                    JoinKind::Concat => "Concat",
                };
                out.body.push_str(&format!("{name}: {word} {{ "));
                for (k, branch) in branches.iter().enumerate() {
                    out.body.push_str("{ ");
                    if branch.is_empty() {
                        out.body.push_str("Identity ");
                    }
                    chain(steps, branch, &format!("{prefix}{name}.{k}."), out, seen)?;
                    out.body.push_str("}, ");
                }
                out.body.push_str("}, ");
            }
        }
    }
    Ok(())
}

/// The runtime's description of the network's tensors.
pub fn weight_table(weights: &[(String, WeightRef)], rt: &TokenStream) -> TokenStream {
    let entries = weights.iter().map(|(name, w)| {
        let (shape, source) = (&w.shape, &w.source.name);
        let source_dims = &w.source.dims;
        let chunks = w.source.chunks.iter().map(|(a, b)| quote!((#a, #b)));
        let layout = match &w.layout {
            Layout::Same => quote!(Same),
            Layout::Transpose => quote!(Transpose),
            Layout::Zeros => quote!(Zeros),
            Layout::Ones => quote!(Ones),
            Layout::Count => quote!(Count),
            Layout::Gates {
                direction,
                half,
                order,
            } => quote!(Gates { direction: #direction, half: #half, order: &[#(#order),*] }),
        };
        quote! {
            #rt::io::onnx_import::OnnxWeight {
                name: #name,
                shape: &[#(#shape),*],
                source: #source,
                source_shape: &[#(#source_dims),*],
                chunks: &[#(#chunks),*],
                layout: #rt::io::onnx_import::OnnxLayout::#layout,
            }
        }
    });
    quote!(&[#(#entries),*])
}
