//! Embedding: token ids to learned vectors, PyTorch's `nn.Embedding` (`weight [V, D]`).

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{Layer, Layout, Path, Walk};
use crate::io::onnx::{attr, LayerState, OnnxGraph, INPUT};
use crate::tensor::{Batch, Sample, Tensor2, Tokens};
use crate::Rng;
use nn_onnx::data_type;

/// `T` token ids below `V` to `[T, D]` vectors. An id that is not an integer below `V`
/// (data a user fed in) is the typed `TokenOutOfVocabulary` error, naming the sample and
/// position, wherever a network checks its input (training, evaluation, the `try_` and
/// token networks' inference methods); a pass that is not checked embeds it as NaN rather
/// than panicking.
#[derive(Clone, Debug)]
pub struct Embedding<const T: usize, const V: usize, const D: usize> {
    /// `[V, D]`.
    pub weight: Vec<f32>,
    pub weight_grad: Vec<f32>,
}

impl<const T: usize, const V: usize, const D: usize> Embedding<T, V, D> {
    /// The vectors of `ids` into `out`.
    pub(super) fn lookup(&self, ids: &[f32], out: &mut [f32]) {
        embed(&self.weight, V, D, ids, out);
    }

    /// An error naming the first id, in sequences of `per_sample` ids, that is not below the
    /// vocabulary.
    pub(super) fn check_ids(&self, ids: &[f32], per_sample: usize) -> crate::error::Result<()> {
        super::stepped::check_token_ids(ids, per_sample, V)
    }
}

/// The row of `id` in a table of `vocab` rows, if it is one.
fn row_of(id: f32, vocab: usize) -> Option<usize> {
    (id >= 0.0 && id.fract() == 0.0 && (id as usize) < vocab).then_some(id as usize)
}

/// Looks up `ids` (one sequence after another) in `weight` `[vocab, dim]`. An id that is no
/// row (out of range, negative, fractional, NaN) embeds as NaN: a layer pass cannot return
/// an error, and NaN makes the training step's loss the typed `NonFiniteLoss` error and
/// shows in inference's output, where a row of zeros would train on it silently.
fn embed(weight: &[f32], vocab: usize, dim: usize, ids: &[f32], out: &mut [f32]) {
    for (&id, o) in ids.iter().zip(out.chunks_exact_mut(dim)) {
        match row_of(id, vocab) {
            Some(r) => o.copy_from_slice(&weight[r * dim..(r + 1) * dim]),
            None => o.fill(f32::NAN),
        }
    }
}

impl<const T: usize, const V: usize, const D: usize> Layer for Embedding<T, V, D> {
    type In = Tokens<T>;
    type Out = Tensor2<T, D>;
    type Cache = ();
    type Workspace = ();
    /// A vector for every token: the steps are the tokens'.
    const KEEPS_STEPS: bool = true;
    const PARAMS: usize = V * D;
    /// A lookup: one copy per value produced.
    const FLOPS: usize = T * D;
    const KIND: &'static str = "Embedding";

    /// `Gather` of the table's rows: the network's input is then int64 token ids; ids
    /// computed inside the graph are cast to them.
    fn to_onnx(&self, g: &mut OnnxGraph, path: &Path<'_>, input: &str) -> crate::Result<String> {
        let scope = path.to_string();
        let weight = LayerState::of(self, path).initializer(g, "weight")?;
        let ids = if input == INPUT {
            g.mark_token_input();
            input.to_string()
        } else {
            g.op(
                "Cast",
                &scope,
                &[input],
                vec![attr::int("to", data_type::INT64 as i64)],
            )
        };
        Ok(g.op("Gather", &scope, &[&weight, &ids], vec![]))
    }

    /// N(0, 1) entries, as PyTorch.
    fn init(rng: &mut Rng) -> Self {
        let weight = (0..V * D).map(|_| rng.normal()).collect();
        Embedding {
            weight,
            weight_grad: vec![0.0; V * D],
        }
    }

    fn check_input(&self, x: &[f32]) -> crate::error::Result<()> {
        self.check_ids(x, T)
    }

    fn forward_into(&self, x: &Tokens<T>, y: &mut Tensor2<T, D>, _ws: &mut ()) {
        embed(&self.weight, V, D, x.as_slice(), y.as_mut_slice());
    }

    fn forward_batch_into(&self, x: &Batch<Tokens<T>>, y: &mut Batch<Tensor2<T, D>>, _ws: &mut ()) {
        y.set_rows(x.rows());
        embed(&self.weight, V, D, x.as_slice(), y.as_mut_slice());
    }

    fn forward_train(
        &self,
        x: &Batch<Tokens<T>>,
        y: &mut Batch<Tensor2<T, D>>,
        _cache: &mut (),
        _rng: &mut Rng,
    ) {
        self.forward_batch_into(x, y, &mut ());
    }

    /// `∂weight[id] += ∂y` at each position holding `id`; ids have no gradient (dx is zero).
    fn backward(
        &mut self,
        x: &Batch<Tokens<T>>,
        _y: &Batch<Tensor2<T, D>>,
        _cache: &mut (),
        dy: &Batch<Tensor2<T, D>>,
        dx: Option<&mut Batch<Tokens<T>>>,
    ) {
        self.weight_grad.fill(0.0);
        for (&id, g) in x.as_slice().iter().zip(dy.as_slice().chunks_exact(D)) {
            if let Some(r) = row_of(id, V) {
                for (w, &v) in self.weight_grad[r * D..(r + 1) * D].iter_mut().zip(g) {
                    *w += v;
                }
            }
        }
        if let Some(dx) = dx {
            dx.set_rows(x.rows());
            dx.as_mut_slice().fill(0.0);
        }
    }

    fn walk<W: Walk<Self>>(walk: &mut W) {
        walk.param(
            "weight",
            &[V, D],
            Layout::RowMajor,
            |l| (&l.weight, &l.weight_grad),
            |l| (&mut l.weight, &mut l.weight_grad),
        );
    }
}
