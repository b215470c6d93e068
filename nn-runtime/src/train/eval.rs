//! Evaluation over a data set: mean loss and accuracy, batch by batch, by inference passes
//! (no training state is touched, so it takes the network by shared reference).

use super::network::Network;
use crate::data::{Dataset, Target, TargetBatch};
use crate::error::{Error, Result};
use crate::kernels::FlushDenormals;
use crate::layers::Layer;
use crate::loss::Loss;
use crate::tensor::Batch;

/// Mean loss and accuracy over a data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    pub loss: f32,
    pub accuracy: f32,
}

/// Rows per forward pass when evaluating.
const EVAL_BATCH: usize = 256;

/// Fraction of `data`'s targets predicted right (see [`TargetBatch::count_correct`]: one
/// per sample, or one per step of per-step classes); an inference pass. NaN for the targets
/// of several outputs, which have no one accuracy (`fit` reports one per output).
pub fn accuracy<N: Layer, Y: Target>(net: &N, data: &Dataset<N::In, Y>) -> Result<f32> {
    let _flush = FlushDenormals::new();
    let (mut correct, mut count) = (0, 0);
    for_each_batch(net, data, |_, output, targets| {
        correct += targets.count_correct(output);
        count += targets.count(output);
    })?;
    if !<Y::Batch as TargetBatch>::ONE_OUTPUT {
        return Ok(f32::NAN);
    }
    Ok(correct as f32 / count.max(1) as f32)
}

/// Mean loss (each batch's mean weighted by its targets: rows, or steps not ignored) and
/// accuracy over `data`; an inference pass.
pub fn evaluate<N, Y, L>(net: &N, data: &Dataset<N::In, Y>, loss: &L) -> Result<Evaluation>
where
    N: Network,
    Y: Target,
    L: Loss<N::Head, N::Out, Y::Batch>,
{
    let _flush = FlushDenormals::new();
    let (mut total, mut correct, mut count) = (0.0f64, 0, 0);
    for_each_batch(net, data, |ws, output, targets| {
        let n = targets.count(output);
        total += loss.loss(N::infer_logits(ws, output), output, targets) as f64 * n as f64;
        correct += targets.count_correct(output);
        count += n;
    })?;
    let count = count.max(1) as f64;
    let accuracy = if <Y::Batch as TargetBatch>::ONE_OUTPUT {
        (correct as f64 / count) as f32
    } else {
        f32::NAN
    };
    Ok(Evaluation {
        loss: (total / count) as f32,
        accuracy,
    })
}

fn for_each_batch<N: Layer, Y: Target>(
    net: &N,
    data: &Dataset<N::In, Y>,
    mut f: impl FnMut(&N::Workspace, &Batch<N::Out>, &Y::Batch),
) -> Result<()> {
    if data.is_empty() {
        return Err(Error::EmptyDataset);
    }
    let mut batches = data.in_order().batches(EVAL_BATCH)?;
    let (mut x, mut y) = (Batch::with_capacity(EVAL_BATCH), Y::Batch::default());
    let (mut ws, mut output) = (N::Workspace::default(), Batch::default());
    let mut first = 0;
    while batches.next_into(&mut x, &mut y) {
        // In order: a bad sample is named by its index in the data set.
        net.check_input(x.as_slice())
            .map_err(|e| e.offset_sample(first))?;
        first += x.rows();
        net.forward_batch_into(&x, &mut output, &mut ws);
        f(&ws, &output, &y);
    }
    Ok(())
}
