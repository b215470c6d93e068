//! Inference and training are different passes: `forward`, `forward_batch`, `predict`,
//! `accuracy` and `evaluate` run every layer's inference pass and never its training pass;
//! `train_step` runs the training pass. A layer written by hand records which pass ran.

use std::sync::atomic::{AtomicUsize, Ordering};
use typed_nn::layers::{Layer, Walk};
use typed_nn::prelude::*;

static INFERENCE_PASSES: AtomicUsize = AtomicUsize::new(0);
static TRAINING_PASSES: AtomicUsize = AtomicUsize::new(0);

/// The identity on 4 features, counting its passes.
struct Probe;

impl Layer for Probe {
    type In = Tensor1<4>;
    type Out = Tensor1<4>;
    type Cache = ();
    type Workspace = ();
    const PARAMS: usize = 0;
    const KIND: &'static str = "Probe";

    fn init(_rng: &mut Rng) -> Self {
        Probe
    }

    fn forward_into(&self, x: &Tensor1<4>, y: &mut Tensor1<4>, _ws: &mut ()) {
        INFERENCE_PASSES.fetch_add(1, Ordering::SeqCst);
        *y = *x;
    }

    fn forward_batch_into(&self, x: &Batch<Tensor1<4>>, y: &mut Batch<Tensor1<4>>, _ws: &mut ()) {
        INFERENCE_PASSES.fetch_add(1, Ordering::SeqCst);
        y.set_rows(x.rows());
        y.as_mut_slice().copy_from_slice(x.as_slice());
    }

    fn forward_train(
        &self,
        x: &Batch<Tensor1<4>>,
        y: &mut Batch<Tensor1<4>>,
        _cache: &mut (),
        _rng: &mut Rng,
    ) {
        TRAINING_PASSES.fetch_add(1, Ordering::SeqCst);
        y.set_rows(x.rows());
        y.as_mut_slice().copy_from_slice(x.as_slice());
    }

    fn backward(
        &mut self,
        x: &Batch<Tensor1<4>>,
        _y: &Batch<Tensor1<4>>,
        _cache: &mut (),
        dy: &Batch<Tensor1<4>>,
        dx: Option<&mut Batch<Tensor1<4>>>,
    ) {
        if let Some(dx) = dx {
            dx.set_rows(x.rows());
            dx.as_mut_slice().copy_from_slice(dy.as_slice());
        }
    }

    fn walk<W: Walk<Self>>(_: &mut W) {}
}

network! {
    pub struct Classifier: [4] {
        probe: Net(Probe),
        Dense(8), Relu,
        Dense(3), Softmax,
    }
}

fn passes() -> (usize, usize) {
    (
        INFERENCE_PASSES.load(Ordering::SeqCst),
        TRAINING_PASSES.load(Ordering::SeqCst),
    )
}

#[test]
fn inference_calls_never_run_the_training_pass() {
    let mut rng = Rng::seed(3);
    let mut net = Classifier::init(&mut rng);
    let inputs: Vec<Tensor1<4>> = (0..10)
        .map(|i| Tensor1::new([i as f32, 1.0, -1.0, 0.5]))
        .collect();
    let labels = Labels::<3>::new((0..10).map(|i| i % 3).collect()).unwrap();
    let data = Dataset::<Tensor1<4>, Class<3>>::from_samples(
        &inputs
            .iter()
            .zip(labels.as_slice())
            .map(|(x, &c)| (*x, Class::new(c as usize).unwrap()))
            .collect::<Vec<_>>(),
    );
    let batch = Batch::from_samples(&inputs);

    let _ = net.forward(&inputs[0]);
    let from_forward_batch = net.forward_batch(&batch);
    let from_predict = net.predict(&batch).as_slice().to_vec();
    assert_eq!(from_forward_batch.as_slice(), from_predict.as_slice());
    net.accuracy(&data).unwrap();
    net.evaluate(&data, &CrossEntropy).unwrap();
    let (inference, training) = passes();
    assert_eq!(training, 0, "an inference call ran the training pass");
    assert_eq!(inference, 5, "one inference pass per call");

    net.train_step(&batch, &labels, &CrossEntropy, &mut Sgd::new(0.1))
        .unwrap();
    // Once, or once per thread when the step splits the batch over threads.
    let (inference, training) = passes();
    assert_eq!(inference, 5, "a training step runs no inference pass");
    assert!(
        (1..=typed_nn::kernels::threads()).contains(&training),
        "a training step runs the training pass: {training}"
    );
}
