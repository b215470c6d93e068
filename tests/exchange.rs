//! The hook a distributed run (the `mpi` feature) plugs into: `train_step_exchanging` and
//! `Trainer::fit_distributed` with in-process exchanges, so the default build tests what
//! every worker does around the all-reduce.

use typed_nn::prelude::*;
use typed_nn::train::{
    parameters, train_step, train_step_exchanging, BackwardPass, GradientExchange,
};

network! {
    pub struct Small: [4] {
        hidden: Dense(8), Relu,
        out: Dense(3), Softmax,
    }
}

network! {
    pub struct Cnn: [1, 8, 8] {
        Conv2d(3, 3, padding = 1), BatchNorm2d, Relu,
        Residual { Conv2d(3, 3, padding = 1), Relu },
        MaxPool2d(2),
        Flatten,
        Dense(3), Softmax,
    }
}

/// One worker alone: the mean over one worker is its own gradient.
struct Alone {
    digests: Vec<u64>,
}

impl GradientExchange for Alone {
    fn worker(&self) -> usize {
        0
    }
    fn workers(&self) -> usize {
        1
    }
    fn exchange(&mut self, _: &mut [f32], _: &mut [f32], _: &mut f32) -> typed_nn::Result<()> {
        Ok(())
    }
    fn check_in_sync(&mut self, digest: u64) -> typed_nn::Result<()> {
        self.digests.push(digest);
        Ok(())
    }
}

/// Plays worker 0 of two whose partner's gradients, statistics and loss are `partner`'s
/// (recorded from a run on the other half of the batch).
struct Pair {
    partner: Vec<(Vec<f32>, Vec<f32>, f32)>,
    step: usize,
}

impl GradientExchange for Pair {
    fn worker(&self) -> usize {
        0
    }
    fn workers(&self) -> usize {
        2
    }
    fn exchange(&mut self, g: &mut [f32], b: &mut [f32], loss: &mut f32) -> typed_nn::Result<()> {
        let (pg, pb, pl) = &self.partner[self.step];
        self.step += 1;
        g.iter_mut().zip(pg).for_each(|(d, s)| *d = (*d + s) / 2.0);
        b.iter_mut().zip(pb).for_each(|(d, s)| *d = (*d + s) / 2.0);
        *loss = (*loss + pl) / 2.0;
        Ok(())
    }
    fn check_in_sync(&mut self, _: u64) -> typed_nn::Result<()> {
        Ok(())
    }
}

/// Records what it is given, as the partner worker would send it.
struct Recorder(Vec<(Vec<f32>, Vec<f32>, f32)>);

impl GradientExchange for Recorder {
    fn worker(&self) -> usize {
        1
    }
    fn workers(&self) -> usize {
        2
    }
    fn exchange(&mut self, g: &mut [f32], b: &mut [f32], loss: &mut f32) -> typed_nn::Result<()> {
        self.0.push((g.to_vec(), b.to_vec(), *loss));
        Err(Error::Distributed("recording only".into()))
    }
    fn check_in_sync(&mut self, _: u64) -> typed_nn::Result<()> {
        Ok(())
    }
}

/// A failing exchange.
struct Lost;

impl GradientExchange for Lost {
    fn worker(&self) -> usize {
        0
    }
    fn workers(&self) -> usize {
        2
    }
    fn exchange(&mut self, _: &mut [f32], _: &mut [f32], loss: &mut f32) -> typed_nn::Result<()> {
        *loss = f32::NAN;
        Err(Error::Distributed("rank 1 is gone".into()))
    }
    fn check_in_sync(&mut self, _: u64) -> typed_nn::Result<()> {
        Ok(())
    }
}

fn flat(rows: usize) -> Vec<f32> {
    let mut rng = Rng::seed(3);
    (0..rows * 4).map(|_| rng.normal()).collect()
}

fn data(rows: usize) -> (Batch<Tensor1<4>>, Labels<3>) {
    let x = Batch::from_vec(flat(rows)).unwrap();
    let y = Labels::new((0..rows as u32).map(|i| i % 3).collect()).unwrap();
    (x, y)
}

#[test]
fn one_worker_exchanging_is_a_plain_step() {
    let (x, y) = data(16);
    let (mut a, mut b) = (
        Small::init(&mut Rng::seed(1)),
        Small::init(&mut Rng::seed(1)),
    );
    let (mut oa, mut ob) = (Adam::new(1e-2), Adam::new(1e-2));
    let mut alone = Alone { digests: vec![] };
    for _ in 0..5 {
        let la = train_step(&mut a, &x, &y, &CrossEntropy, &mut oa).unwrap();
        let lb = train_step_exchanging(&mut b, &x, &y, &CrossEntropy, &mut ob, Some(&mut alone))
            .unwrap();
        assert_eq!(la, lb);
    }
    assert_eq!(parameters(&mut a), parameters(&mut b));
}

#[test]
fn two_halves_averaged_give_the_whole_batch_step() {
    let (x, y) = data(16);
    let half = |r: std::ops::Range<usize>| {
        let mut xs = Batch::default();
        xs.copy_rows_from(&x, r.clone());
        let mut ys = Labels::default();
        typed_nn::data::TargetBatch::copy_rows_into(&y, r, &mut ys);
        (xs, ys)
    };
    let ((x0, y0), (x1, y1)) = (half(0..8), half(8..16));
    // The partner's gradients at the same weights: a copy that records them and fails its
    // step, so that it stays at the same weights as worker 0 (one step recorded at a time).
    let mut whole = Small::init(&mut Rng::seed(1));
    let mut worker = Small::init(&mut Rng::seed(1));
    let (mut ow, mut o0) = (Sgd::new(0.1), Sgd::new(0.1));
    for _ in 0..3 {
        let mut partner = Small::init(&mut Rng::seed(1));
        typed_nn::train::set_parameters(&mut partner, &parameters(&mut worker));
        let mut rec = Recorder(vec![]);
        let failed = train_step_exchanging(
            &mut partner,
            &x1,
            &y1,
            &CrossEntropy,
            &mut Sgd::new(0.1),
            Some(&mut rec),
        );
        assert!(matches!(failed, Err(Error::Distributed(_))));
        let mut pair = Pair {
            partner: rec.0,
            step: 0,
        };
        let l0 = train_step_exchanging(
            &mut worker,
            &x0,
            &y0,
            &CrossEntropy,
            &mut o0,
            Some(&mut pair),
        )
        .unwrap();
        let lw = train_step(&mut whole, &x, &y, &CrossEntropy, &mut ow).unwrap();
        assert!((l0 - lw).abs() < 1e-5, "{l0} vs {lw}");
    }
    for (p, q) in parameters(&mut worker).iter().zip(parameters(&mut whole)) {
        assert!((p - q).abs() < 1e-5, "{p} vs {q}");
    }
}

#[test]
fn a_failed_exchange_changes_nothing() {
    let (x, y) = data(8);
    let mut net = Small::init(&mut Rng::seed(1));
    let mut opt = Adam::new(1e-2);
    let before = parameters(&mut net);
    let err = train_step_exchanging(&mut net, &x, &y, &CrossEntropy, &mut opt, Some(&mut Lost));
    assert!(matches!(err, Err(Error::Distributed(m)) if m.contains("gone")));
    assert_eq!(before, parameters(&mut net));
}

#[test]
fn fit_distributed_checks_the_weights_at_each_epoch_end_and_refuses_tiny_batches() {
    let classes = (0..64).map(|i| Class::<3>::new(i % 3).unwrap()).collect();
    let set: Dataset<Tensor1<4>, Class<3>> = Dataset::new(flat(64), classes).unwrap();
    let mut net = Small::init(&mut Rng::seed(1));
    let mut alone = Alone { digests: vec![] };
    let mut trainer = Trainer::new(CrossEntropy, Adam::new(1e-2))
        .epochs(3)
        .batch_size(16)
        .verbosity(Verbosity::Silent);
    trainer.fit_distributed(&mut net, &set, &mut alone).unwrap();
    assert_eq!(alone.digests.len(), 3);
    assert_eq!(alone.digests[2], typed_nn::train::weights_digest(&mut net));
    let mut pair = Pair {
        partner: vec![],
        step: 0,
    };
    let mut tiny = Trainer::new(CrossEntropy, Adam::new(1e-2))
        .batch_size(1)
        .verbosity(Verbosity::Silent);
    let err = tiny.fit_distributed(&mut net, &set, &mut pair);
    assert!(matches!(err, Err(Error::Distributed(_))), "{err:?}");
}

/// Records the order and sizes in which the backward pass hands over finished gradients.
struct Watcher {
    ready: Vec<(usize, usize)>,
}

impl GradientExchange for Watcher {
    fn worker(&self) -> usize {
        0
    }
    fn workers(&self) -> usize {
        1
    }
    fn exchange(&mut self, _: &mut [f32], _: &mut [f32], _: &mut f32) -> typed_nn::Result<()> {
        Ok(())
    }
    fn check_in_sync(&mut self, _: u64) -> typed_nn::Result<()> {
        Ok(())
    }
    fn exchange_during(
        &mut self,
        grads: usize,
        backward: &mut BackwardPass<'_>,
        means: &mut Vec<f32>,
    ) -> typed_nn::Result<()> {
        means.clear();
        means.resize(grads, 0.0);
        let mut tail = Vec::new();
        backward(
            &mut |end, values| {
                self.ready.push((end, values.len()));
                means[end - values.len()..end].copy_from_slice(values);
            },
            &mut tail,
        );
        means.extend_from_slice(&tail);
        Ok(())
    }
}

#[test]
fn the_backward_pass_hands_over_each_layers_gradients_last_layer_first() {
    let (x, y) = data(16);
    let (mut a, mut b) = (
        Small::init(&mut Rng::seed(1)),
        Small::init(&mut Rng::seed(1)),
    );
    let (mut oa, mut ob) = (Sgd::new(0.1), Sgd::new(0.1));
    let mut watcher = Watcher { ready: vec![] };
    let lb =
        train_step_exchanging(&mut b, &x, &y, &CrossEntropy, &mut ob, Some(&mut watcher)).unwrap();
    let la = train_step(&mut a, &x, &y, &CrossEntropy, &mut oa).unwrap();
    // hidden: 4·8 + 8 = 40 values, out: 8·3 + 3 = 27; `out` is finished first.
    assert_eq!(watcher.ready, vec![(67, 27), (40, 40)]);
    assert_eq!(Small::LAYER_PARAMS, &[40, 27, 0]);
    assert_eq!(la, lb);
    assert_eq!(parameters(&mut a), parameters(&mut b));
}

#[test]
fn a_reported_backward_pass_with_joins_and_statistics_is_the_plain_one() {
    let mut rng = Rng::seed(5);
    let x: Batch<Tensor3<1, 8, 8>> =
        Batch::from_vec((0..4 * 64).map(|_| rng.normal()).collect()).unwrap();
    // Four rows: one share (a step split across threads merges its shares' gradients
    // before exchanging them, so it cannot report layers as they finish).
    let y = Labels::<3>::new((0..4).map(|i| i % 3).collect()).unwrap();
    let (mut a, mut b) = (Cnn::init(&mut Rng::seed(1)), Cnn::init(&mut Rng::seed(1)));
    let (mut oa, mut ob) = (Adam::new(1e-2), Adam::new(1e-2));
    let mut watcher = Watcher { ready: vec![] };
    for _ in 0..3 {
        let la = train_step(&mut a, &x, &y, &CrossEntropy, &mut oa).unwrap();
        let lb = train_step_exchanging(&mut b, &x, &y, &CrossEntropy, &mut ob, Some(&mut watcher))
            .unwrap();
        assert_eq!(la, lb);
    }
    assert_eq!(parameters(&mut a), parameters(&mut b));
    let stats = |n: &mut Cnn| typed_nn::train::gather_buffers(n);
    assert_eq!(stats(&mut a), stats(&mut b));
    // Every layer with parameters reported once a step, last first, covering them all.
    let step: Vec<_> = watcher.ready[..watcher.ready.len() / 3].to_vec();
    assert_eq!(step.first().map(|r| r.0), Some(Cnn::PARAMS));
    assert_eq!(step.iter().map(|r| r.1).sum::<usize>(), Cnn::PARAMS);
}

#[test]
fn a_step_split_across_threads_exchanges_its_merged_gradients() {
    // Sixteen rows of the CNN: enough arithmetic for the step to be split across the
    // threads (where there are two), whose merged gradients are exchanged at once.
    let mut rng = Rng::seed(6);
    let x: Batch<Tensor3<1, 8, 8>> =
        Batch::from_vec((0..16 * 64).map(|_| rng.normal()).collect()).unwrap();
    let y = Labels::<3>::new((0..16).map(|i| i % 3).collect()).unwrap();
    let (mut a, mut b) = (Cnn::init(&mut Rng::seed(1)), Cnn::init(&mut Rng::seed(1)));
    let (mut oa, mut ob) = (Adam::new(1e-2), Adam::new(1e-2));
    let mut alone = Alone { digests: vec![] };
    for _ in 0..3 {
        let la = train_step(&mut a, &x, &y, &CrossEntropy, &mut oa).unwrap();
        let lb = train_step_exchanging(&mut b, &x, &y, &CrossEntropy, &mut ob, Some(&mut alone))
            .unwrap();
        assert_eq!(la, lb);
    }
    assert_eq!(parameters(&mut a), parameters(&mut b));
    let stats = |n: &mut Cnn| typed_nn::train::gather_buffers(n);
    assert_eq!(stats(&mut a), stats(&mut b));
}
