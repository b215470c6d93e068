//! Mixed-precision training (`#[mixed_precision(bf16)]`): the training passes' products in
//! bf16, parameters, gradients and sums in f32. Gradients are checked against the f32
//! network's and against central differences of the f32 objective, within tolerances set
//! by bf16's 8-bit significand: each operand is rounded with a relative error of at most
//! 2⁻⁹ ≈ 0.2 %, so each term of a product carries up to 0.4 %. Over the whole gradient that
//! averages out: the bf16 gradients lie within 1 % of the f32 ones (in norm; measured
//! 0.2–0.4 %). One element, a sum of terms of both signs, can lose more of its own size to
//! cancellation, but not more than the terms' size, which the largest gradients bound: each
//! element is within 2 % of the largest gradient plus 3 % of its own size of the central
//! difference, which a wrong gradient (a wrong sign or factor, off by ≥ 30 %) is not.

use typed_nn::io::safetensors::{load_bytes, to_bytes};
use typed_nn::layers::{Layer, Layout, ParamVisitor, Path};
use typed_nn::prelude::*;

network! {
    pub struct Mlp: [20] {
        fc1: Dense(32), Tanh,
        fc2: Dense(16), Relu,
        out: Dense(4),
    }
}

network! {
    #[mixed_precision(bf16)]
    pub struct MlpBf16: [20] {
        fc1: Dense(32), Tanh,
        fc2: Dense(16), Relu,
        out: Dense(4),
    }
}

network! {
    pub struct Cnn: [2, 10, 10] {
        conv: Conv2d(6, 3), Relu,
        conv2: Conv2d(4, 3, padding = 1),
        Flatten,
        out: Dense(3),
    }
}

network! {
    #[mixed_precision(bf16)]
    pub struct CnnBf16: [2, 10, 10] {
        conv: Conv2d(6, 3), Relu,
        conv2: Conv2d(4, 3, padding = 1),
        Flatten,
        out: Dense(3),
    }
}

network! {
    pub struct Seq: [7, 5] {
        lstm: LSTM(8),
        out: Dense(3),
    }
}

network! {
    #[mixed_precision(bf16)]
    pub struct SeqBf16: [7, 5] {
        lstm: LSTM(8),
        out: Dense(3),
    }
}

struct Grads(Vec<f32>);

impl ParamVisitor for Grads {
    fn visit(&mut self, _: &Path<'_>, _: &[usize], _: Layout, _: &mut [f32], grad: &mut [f32]) {
        self.0.extend_from_slice(grad);
    }
}

/// Nudges parameter scalar `index` by `delta`.
struct Nudge {
    index: usize,
    delta: f32,
    seen: usize,
}

impl ParamVisitor for Nudge {
    fn visit(&mut self, _: &Path<'_>, _: &[usize], _: Layout, value: &mut [f32], _: &mut [f32]) {
        if self.index >= self.seen && self.index < self.seen + value.len() {
            value[self.index - self.seen] += self.delta;
        }
        self.seen += value.len();
    }
}

fn random<S: Sample>(rows: usize, rng: &mut Rng) -> Batch<S> {
    let mut x = Batch::<S>::zeros(rows);
    rng.fill_uniform(x.as_mut_slice(), 1.0);
    x
}

/// ∂(Σ w ⊙ net(x))/∂θ through the training passes.
fn gradients<L: Layer>(net: &mut L, x: &Batch<L::In>, w: &Batch<L::Out>) -> Vec<f32> {
    let (mut y, mut cache) = (Batch::default(), L::Cache::default());
    net.forward_train(x, &mut y, &mut cache, &mut Rng::seed(1));
    net.backward(x, &y, &mut cache, w, None);
    let mut g = Grads(Vec::new());
    net.visit_params(&Path::ROOT, &mut g);
    g.0
}

/// Σ w ⊙ net(x) in f64, by the f32 network's training pass.
fn objective<L: Layer>(net: &L, x: &Batch<L::In>, w: &Batch<L::Out>) -> f64 {
    let mut y = Batch::default();
    net.forward_train(x, &mut y, &mut L::Cache::default(), &mut Rng::seed(1));
    y.as_slice()
        .iter()
        .zip(w.as_slice())
        .map(|(&a, &b)| a as f64 * b as f64)
        .sum()
}

/// The mixed network `M`'s gradients against the f32 network `F`'s (same weights) and
/// against central differences of `F`'s objective, on every `stride`-th parameter.
fn check<F: Layer, M: Layer<In = F::In, Out = F::Out>>(name: &str, rows: usize, stride: usize) {
    let mut rng = Rng::seed(7);
    let mut f32_net = F::init(&mut rng);
    let mut mixed = M::init(&mut Rng::seed(99));
    load_bytes(&mut mixed, &to_bytes(&f32_net).unwrap()).unwrap();
    let x = random::<F::In>(rows, &mut rng);
    let w = random::<F::Out>(rows, &mut rng);
    let exact = gradients(&mut f32_net, &x, &w);
    let bf16 = gradients(&mut mixed, &x, &w);
    assert_eq!(exact.len(), bf16.len());
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let diff: Vec<f32> = exact.iter().zip(&bf16).map(|(a, b)| a - b).collect();
    let relative = norm(&diff) / norm(&exact);
    println!("{name}: ‖g_bf16 − g_f32‖ / ‖g_f32‖ = {relative:.2e}");
    // The products did run in bf16 (the gradients differ), and closely.
    assert!(
        relative > 0.0 && relative < 1e-2,
        "{name}: relative difference {relative}"
    );
    let h = 1e-2f32;
    let scale = exact.iter().fold(0.0f32, |m, g| m.max(g.abs())) as f64;
    for k in (0..exact.len()).step_by(stride) {
        let nudged = |net: &mut F, delta| {
            net.visit_params(
                &Path::ROOT,
                &mut Nudge {
                    index: k,
                    delta,
                    seen: 0,
                },
            );
        };
        nudged(&mut f32_net, h);
        let plus = objective(&f32_net, &x, &w);
        nudged(&mut f32_net, -2.0 * h);
        let minus = objective(&f32_net, &x, &w);
        nudged(&mut f32_net, h);
        let numeric = (plus - minus) / (2.0 * h as f64);
        let analytic = bf16[k] as f64;
        let tol = 2e-2 * scale + 3e-2 * numeric.abs().max(analytic.abs());
        assert!(
            (numeric - analytic).abs() <= tol,
            "{name} dθ[{k}]: numeric {numeric:.6} vs bf16 analytic {analytic:.6}"
        );
    }
}

#[test]
fn dense_gradients_in_bf16_products() {
    check::<Mlp, MlpBf16>("MLP", 8, 7);
}

#[test]
fn convolution_gradients_in_bf16_products() {
    check::<Cnn, CnnBf16>("CNN", 3, 5);
}

#[test]
fn recurrent_gradients_in_bf16_products() {
    check::<Seq, SeqBf16>("LSTM", 4, 5);
}

#[test]
fn inference_and_other_networks_stay_f32() {
    // The scope is the training passes': inference of the mixed network is the f32 one's.
    let f32_net = Mlp::init(&mut Rng::seed(3));
    let mut mixed = MlpBf16::init(&mut Rng::seed(4));
    load_bytes(&mut mixed, &to_bytes(&f32_net).unwrap()).unwrap();
    let x = random::<Tensor1<20>>(5, &mut Rng::seed(5));
    assert_eq!(mixed.predict(&x).as_slice(), f32_net.predict(&x).as_slice());
    assert!(!typed_nn::kernels::lowp::mixed::bf16_products());
}

#[test]
fn a_mixed_network_trains() {
    // A regression target the MLP can fit: the loss falls as far as the f32 network's.
    let mut rng = Rng::seed(11);
    let x = random::<Tensor1<20>>(256, &mut rng);
    let targets: Vec<Tensor1<4>> = (0..256)
        .map(|r| {
            let v = x.row(r);
            Tensor1::from([v[0] + v[1], v[2] * v[3], v[4].tanh(), -v[5]])
        })
        .collect();
    let data = Dataset::new(x.as_slice().to_vec(), targets).unwrap();
    let last_loss = |history: History| *history.get("loss").unwrap().last().unwrap() as f32;
    let fit = |mixed: bool| -> f32 {
        macro_rules! trained {
            ($net:ty) => {{
                let mut net = <$net>::init(&mut Rng::seed(12));
                let mut trainer = Trainer::new(Mse, Adam::new(1e-2))
                    .batch_size(32)
                    .epochs(30)
                    .verbosity(Verbosity::Silent);
                last_loss(trainer.fit(&mut net, &data).unwrap())
            }};
        }
        if mixed {
            trained!(MlpBf16)
        } else {
            trained!(Mlp)
        }
    };
    let (exact, bf16) = (fit(false), fit(true));
    println!("final training loss: f32 {exact:.4}, bf16 products {bf16:.4}");
    assert!(
        bf16 < 0.05 && bf16 < 2.0 * exact + 0.01,
        "f32 {exact}, bf16 {bf16}"
    );
}
