//! Stateful inference: a sequence model run one time step at a time, its state carried
//! between calls (Keras's `stateful=True`, PyTorch's `(h, c)` passed from call to call), so
//! that generating or streaming costs the same per step however long the history. A layer
//! that can do this implements [`Stepped`]: one row of its input sequence in, one row of its
//! output out, its state (a recurrence's h and c, a positional table's position) updated.
//! `network!` writes `Stepped` for a network over sequences whose every layer is stepped,
//! with a generated `State`.

#[allow(unused_imports)]
use crate::core_prelude::*;

use super::{
    Act, ActivationFn, CausalMask, Cell, DenseSeq, Dropout, Embedding, FusedActivation, Identity,
    LastDimension, Layer, MultiHeadAttention, Norm, PositionalEmbedding, Positions, Recurrent,
    RecurrentSeq, Residual, RmsNorm, Sum, SwiGlu,
};
use crate::error::{Error, Result};
use crate::kernels::attention::{attention_step, KvCache};
use crate::tensor::{Sample, Tensor1, Tensor2, Tokens};

/// A layer over sequences that can run one step at a time.
pub trait Stepped {
    /// One step of the input (`[F]` of a `[T, F]` sequence, one token of `tokens[T]`).
    type StepIn: Sample;
    /// One step of the output.
    type StepOut: Sample;
    /// What is carried from one step to the next; `Default` is the state before the first
    /// step.
    type State: Default + Clone + Send + core::fmt::Debug;

    /// One step: `y` from `x` and the state, which moves on to the next step.
    fn step(&self, x: &Self::StepIn, y: &mut Self::StepOut, state: &mut Self::State) -> Result<()>;
}

impl<const T: usize, const N: usize, F: ActivationFn> Stepped for Act<F, Tensor2<T, N>> {
    type StepIn = Tensor1<N>;
    type StepOut = Tensor1<N>;
    type State = ();
    fn step(&self, x: &Tensor1<N>, y: &mut Tensor1<N>, _: &mut ()) -> Result<()> {
        self.function.forward(&x.data, &mut y.data, N);
        Ok(())
    }
}

/// The identity at inference.
impl<const T: usize, const N: usize> Stepped for Dropout<Tensor2<T, N>> {
    type StepIn = Tensor1<N>;
    type StepOut = Tensor1<N>;
    type State = ();
    fn step(&self, x: &Tensor1<N>, y: &mut Tensor1<N>, _: &mut ()) -> Result<()> {
        *y = *x;
        Ok(())
    }
}

impl<const T: usize, const N: usize> Stepped for Norm<Tensor2<T, N>, LastDimension> {
    type StepIn = Tensor1<N>;
    type StepOut = Tensor1<N>;
    type State = ();
    fn step(&self, x: &Tensor1<N>, y: &mut Tensor1<N>, _: &mut ()) -> Result<()> {
        self.run(&x.data, &mut y.data, None);
        Ok(())
    }
}

impl<const T: usize, const N: usize> Stepped for RmsNorm<Tensor2<T, N>> {
    type StepIn = Tensor1<N>;
    type StepOut = Tensor1<N>;
    type State = ();
    fn step(&self, x: &Tensor1<N>, y: &mut Tensor1<N>, _: &mut ()) -> Result<()> {
        self.run(&x.data, &mut y.data, None);
        Ok(())
    }
}

/// The block's hidden values are its scratch, kept in the state so that a step allocates
/// nothing after the first.
impl<const T: usize, const N: usize, const H: usize> Stepped for SwiGlu<Tensor2<T, N>, H> {
    type StepIn = Tensor1<N>;
    type StepOut = Tensor1<N>;
    type State = SwiGluState;
    fn step(&self, x: &Tensor1<N>, y: &mut Tensor1<N>, s: &mut SwiGluState) -> Result<()> {
        self.run(&x.data, &mut y.data, 1, &mut s.0);
        Ok(())
    }
}

/// A [`SwiGlu`]'s scratch as step state (cloned empty: it holds nothing between steps).
#[derive(Debug, Default)]
pub struct SwiGluState(super::SwiGluScratch);

impl Clone for SwiGluState {
    fn clone(&self) -> Self {
        SwiGluState::default()
    }
}

impl<const T: usize, const IN: usize, const OUT: usize, F: FusedActivation, const BIAS: bool>
    Stepped for DenseSeq<T, IN, OUT, F, BIAS>
{
    type StepIn = Tensor1<IN>;
    type StepOut = Tensor1<OUT>;
    type State = ();
    fn step(&self, x: &Tensor1<IN>, y: &mut Tensor1<OUT>, _: &mut ()) -> Result<()> {
        self.dense.forward_rows(&x.data, &mut y.data, 1, true);
        Ok(())
    }
}

/// The position of the next step.
impl<const T: usize, const F: usize> Stepped for PositionalEmbedding<T, F> {
    type StepIn = Tensor1<F>;
    type StepOut = Tensor1<F>;
    type State = usize;
    fn step(&self, x: &Tensor1<F>, y: &mut Tensor1<F>, position: &mut usize) -> Result<()> {
        if *position >= T {
            return Err(Error::SequenceLength {
                row: 0,
                length: *position + 1,
                steps: T,
            });
        }
        let row = &self.weight[*position * F..(*position + 1) * F];
        for ((o, &a), &e) in y.data.iter_mut().zip(&x.data).zip(row) {
            *o = a + e;
        }
        *position += 1;
        Ok(())
    }
}

/// One token in, its vector out; an id that is not below the vocabulary is an error.
impl<const T: usize, const V: usize, const D: usize> Stepped for Embedding<T, V, D> {
    type StepIn = Tokens<1>;
    type StepOut = Tensor1<D>;
    type State = ();
    fn step(&self, x: &Tokens<1>, y: &mut Tensor1<D>, _: &mut ()) -> Result<()> {
        self.check_ids(&x.data, 1)?;
        self.lookup(&x.data, &mut y.data);
        Ok(())
    }
}

/// A recurrence's state between steps: the hidden state and, for an LSTM, the cell state
/// (zero before the first step), and the step's scratch.
#[derive(Clone, Debug, Default)]
pub struct RecurrentState {
    pub h: Vec<f32>,
    pub c: Vec<f32>,
    gates: Vec<f32>,
}

macro_rules! stepped_recurrence {
    ($name:ident) => {
        /// One step of the recurrence, the same cell as the sequence pass.
        impl<C: Cell, const T: usize, const F: usize, const H: usize> Stepped
            for $name<C, T, F, H>
        {
            type StepIn = Tensor1<F>;
            type StepOut = Tensor1<H>;
            type State = RecurrentState;
            fn step(
                &self,
                x: &Tensor1<F>,
                y: &mut Tensor1<H>,
                state: &mut RecurrentState,
            ) -> Result<()> {
                super::rnn::rnn_step(
                    &Self::GEOMETRY,
                    &self.params,
                    &x.data,
                    &mut state.h,
                    &mut state.c,
                    &mut state.gates,
                );
                y.data.copy_from_slice(&state.h);
                Ok(())
            }
        }
    };
}
stepped_recurrence!(Recurrent);
stepped_recurrence!(RecurrentSeq);

/// Causal attention one token at a time: the state is the key-value cache of the steps so
/// far, at most `T` (the layer's window); one step more is [`Error::CacheFull`], not a
/// silent wrap. A step costs O(steps so far), the same result as the sequence pass at that
/// position.
impl<const T: usize, const F: usize, const H: usize, P: Positions> Stepped
    for MultiHeadAttention<T, F, H, CausalMask, P>
{
    type StepIn = Tensor1<F>;
    type StepOut = Tensor1<F>;
    type State = KvCache;
    fn step(&self, x: &Tensor1<F>, y: &mut Tensor1<F>, cache: &mut KvCache) -> Result<()> {
        if cache.len() >= T {
            return Err(Error::CacheFull { capacity: T });
        }
        attention_step(&Self::GEOMETRY, &self.params(), &x.data, &mut y.data, cache);
        Ok(())
    }
}

/// The shortcut of a residual block over a sequence, one step at a time.
impl<const T: usize, const N: usize> Stepped for Identity<Tensor2<T, N>> {
    type StepIn = Tensor1<N>;
    type StepOut = Tensor1<N>;
    type State = ();
    fn step(&self, x: &Tensor1<N>, y: &mut Tensor1<N>, _: &mut ()) -> Result<()> {
        *y = *x;
        Ok(())
    }
}

/// Both paths of a summed join step on the same input and their outputs add, as in the
/// sequence pass (a transformer block's `x + attention(norm(x))`).
macro_rules! stepped_sum {
    ($join:ident, $a:ident, $b:ident) => {
        impl<A, B> Stepped for $join<A, B>
        where
            A: Layer + Stepped,
            B: Layer<In = A::In, Out = A::Out>
                + Stepped<StepIn = <A as Stepped>::StepIn, StepOut = <A as Stepped>::StepOut>,
        {
            type StepIn = <A as Stepped>::StepIn;
            type StepOut = <A as Stepped>::StepOut;
            type State = (<A as Stepped>::State, <B as Stepped>::State);
            fn step(
                &self,
                x: &Self::StepIn,
                y: &mut Self::StepOut,
                state: &mut Self::State,
            ) -> Result<()> {
                self.$a.step(x, y, &mut state.0)?;
                let mut other = <Self::StepOut as Sample>::zeros();
                self.$b.step(x, &mut other, &mut state.1)?;
                for (o, &v) in y.as_mut_slice().iter_mut().zip(other.as_slice()) {
                    *o += v;
                }
                Ok(())
            }
        }
    };
}
stepped_sum!(Residual, body, shortcut);
stepped_sum!(Sum, a, b);

/// Checks that a token id sequence fits the vocabulary: what a stepped embedding and a
/// network reading tokens check before they compute.
pub(crate) fn check_token_ids(ids: &[f32], per_sample: usize, vocabulary: usize) -> Result<()> {
    for (i, &id) in ids.iter().enumerate() {
        if !(id >= 0.0 && id.fract() == 0.0 && (id as usize) < vocabulary) {
            return Err(Error::TokenOutOfVocabulary {
                sample: i / per_sample.max(1),
                position: i % per_sample.max(1),
                id,
                vocabulary,
            });
        }
    }
    Ok(())
}
