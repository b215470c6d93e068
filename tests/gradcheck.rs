//! Finite-difference gradient checks for every layer, activation and loss, and for the
//! generated backward pass of a whole network.
//!
//! Central differences in f32 with step h = 1e-2 on a scalar objective of order one: the
//! truncation error is O(h²·f‴) ≈ 1e-4 and the rounding error ≈ ε_f32·|f|/h ≈ 1e-5, so a
//! relative tolerance of 2e-3 (with an absolute floor of 2e-4) separates right from wrong
//! gradients by orders of magnitude (a wrong sign or a missing factor is off by ≥ 30%).

use typed_nn::layers::{
    Bilinear, CausalMask, GlobalAvgPool1d, GlobalMaxPool1d, Nearest, Rotary, Unmasked,
};
use typed_nn::layers::{Layer, Layout, ParamVisitor, Path};
use typed_nn::loss::{Head, Loss};
use typed_nn::prelude::*;
use typed_nn::DenseSeq;

const H: f32 = 1e-2;

fn assert_close(what: &str, numeric: f64, analytic: f64) {
    let tol = 2e-4 + 2e-3 * numeric.abs().max(analytic.abs());
    assert!(
        (numeric - analytic).abs() <= tol,
        "{what}: numeric {numeric:.6} vs analytic {analytic:.6}"
    );
}

/// Random values in [-1, 1) kept at least `margin` away from 0 (so kinks are never crossed).
fn random_batch<S: Sample>(rows: usize, margin: f32, rng: &mut Rng) -> Batch<S> {
    let data = (0..rows * S::LEN)
        .map(|_| {
            let v = rng.uniform(-1.0, 1.0);
            if v.abs() < margin {
                v.signum() * margin + v
            } else {
                v
            }
        })
        .collect();
    Batch::from_vec(data).unwrap()
}

/// The generator of every training pass here: each evaluation of the objective draws the
/// same random masks as the pass whose gradients it checks.
fn mask_rng() -> Rng {
    Rng::seed(0x5eed)
}

/// Σ w ⊙ layer(x), in f64, through the training forward pass (the function `backward`
/// differentiates).
fn objective<L: Layer>(layer: &L, x: &Batch<L::In>, w: &Batch<L::Out>) -> f64 {
    let mut y = Batch::default();
    layer.forward_train(x, &mut y, &mut L::Cache::default(), &mut mask_rng());
    y.as_slice()
        .iter()
        .zip(w.as_slice())
        .map(|(&a, &b)| a as f64 * b as f64)
        .sum()
}

/// Visits every parameter scalar: collects gradients, or nudges one scalar.
enum ParamProbe {
    Collect(Vec<f32>),
    Nudge {
        index: usize,
        delta: f32,
        seen: usize,
    },
}

impl ParamVisitor for ParamProbe {
    fn visit(
        &mut self,
        _path: &Path<'_>,
        _shape: &[usize],
        _layout: Layout,
        value: &mut [f32],
        grad: &mut [f32],
    ) {
        match self {
            ParamProbe::Collect(all) => all.extend_from_slice(grad),
            ParamProbe::Nudge { index, delta, seen } => {
                if *index >= *seen && *index < *seen + value.len() {
                    value[*index - *seen] += *delta;
                }
                *seen += value.len();
            }
        }
    }
}

fn nudge<L: Layer>(layer: &mut L, index: usize, delta: f32) {
    layer.visit_params(
        &Path::ROOT,
        &mut ParamProbe::Nudge {
            index,
            delta,
            seen: 0,
        },
    );
}

fn grads<L: Layer>(layer: &mut L) -> Vec<f32> {
    let mut probe = ParamProbe::Collect(Vec::new());
    layer.visit_params(&Path::ROOT, &mut probe);
    match probe {
        ParamProbe::Collect(g) => g,
        _ => unreachable!(),
    }
}

/// Checks ∂/∂x and ∂/∂θ of Σ w ⊙ layer(x) against central differences.
fn check_layer<L: Layer>(name: &str, layer: L, rows: usize, rng: &mut Rng) {
    let x: Batch<L::In> = random_batch(rows, 0.05, rng);
    check_layer_at(name, layer, x, rng);
}

/// Inputs all distinct and at least 0.05 apart, so a perturbation of H never changes which
/// value of a pooling window is the largest.
fn spread_batch<S: Sample>(rows: usize, rng: &mut Rng) -> Batch<S> {
    let n = rows * S::LEN;
    let mut values: Vec<f32> = (0..n).map(|i| (i as f32 - n as f32 / 2.0) * 0.05).collect();
    rng.shuffle(&mut values);
    Batch::from_vec(values).unwrap()
}

/// [`check_layer`] at a given input: the runtime's finite-difference check, which users run
/// on their own layers too.
fn check_layer_at<L: Layer>(name: &str, mut layer: L, x: Batch<L::In>, rng: &mut Rng) {
    if let Err(mismatch) = typed_nn::check::check_gradients(&mut layer, &x, rng) {
        panic!("{name}: {mismatch}");
    }
}

/// Compares each parameter's analytic gradient with a central difference of `f`.
fn check_param_grads<L: Layer>(name: &str, layer: &mut L, analytic: &[f32], f: impl Fn(&L) -> f64) {
    for (k, &grad) in analytic.iter().enumerate() {
        nudge(layer, k, H);
        let plus = f(layer);
        nudge(layer, k, -2.0 * H);
        let minus = f(layer);
        nudge(layer, k, H);
        assert_close(
            &format!("{name} dθ[{k}]"),
            (plus - minus) / (2.0 * H as f64),
            grad as f64,
        );
    }
}

#[test]
fn dense_gradients() {
    let mut rng = Rng::seed(1);
    check_layer("Dense<5,4>", Dense::<5, 4>::init(&mut rng), 3, &mut rng);
    check_layer("Dense<1,1>", Dense::<1, 1>::init(&mut rng), 1, &mut rng);
    check_layer("Dense<17,9>", Dense::<17, 9>::init(&mut rng), 2, &mut rng);
}

#[test]
fn activation_gradients() {
    let mut rng = Rng::seed(2);
    check_layer("Relu", Act::<Relu, Tensor1<7>>::default(), 3, &mut rng);
    check_layer(
        "LeakyRelu",
        Act::<LeakyRelu, Tensor1<7>>::new(LeakyRelu::new(0.2)),
        3,
        &mut rng,
    );
    check_layer("Tanh", Act::<Tanh, Tensor1<7>>::default(), 3, &mut rng);
    check_layer(
        "Sigmoid",
        Act::<Sigmoid, Tensor1<7>>::init(&mut rng),
        3,
        &mut rng,
    );
    check_layer(
        "Softmax",
        Act::<Softmax, Tensor1<7>>::init(&mut rng),
        3,
        &mut rng,
    );
    check_layer("Linear", Act::<Linear, Tensor1<7>>::default(), 2, &mut rng);
}

/// Checks ∂loss/∂logits of a loss fused with head `Hd` against central differences of
/// `loss(logits, head(logits), targets)`.
fn check_loss<Hd: Head, const N: usize, T, L: Loss<Hd, Tensor1<N>, T>>(
    name: &str,
    loss: &L,
    targets: &T,
    rows: usize,
    rng: &mut Rng,
) {
    let logits: Batch<Tensor1<N>> = random_batch(rows, 0.0, rng);
    check_loss_at::<Hd, _, _, _>(name, loss, targets, logits);
}

/// [`check_loss`] at given logits of any sample shape (the head normalises rows of the last
/// dimension; lengths on `logits` mark padded steps).
fn check_loss_at<Hd: Head, S: Sample, T, L: Loss<Hd, S, T>>(
    name: &str,
    loss: &L,
    targets: &T,
    logits: Batch<S>,
) {
    let head = Hd::default();
    let value_at = |z: &Batch<S>| {
        let mut out = z.clone();
        head.forward(z.as_slice(), out.as_mut_slice(), S::ROW);
        loss.loss(z, &out, targets) as f64
    };
    let mut out = logits.clone();
    head.forward(logits.as_slice(), out.as_mut_slice(), S::ROW);
    let mut dz = Batch::default();
    let value = loss.loss_and_grad(&logits, &out, targets, &mut dz);
    assert!(
        (value as f64 - value_at(&logits)).abs() < 1e-6,
        "{name}: loss and loss_and_grad agree"
    );
    for i in 0..logits.as_slice().len() {
        let (mut plus, mut minus) = (logits.clone(), logits.clone());
        plus.as_mut_slice()[i] += H;
        minus.as_mut_slice()[i] -= H;
        let numeric = (value_at(&plus) - value_at(&minus)) / (2.0 * H as f64);
        assert_close(&format!("{name} dz[{i}]"), numeric, dz.as_slice()[i] as f64);
    }
}

#[test]
fn the_losses_of_two_outputs_are_the_weighted_sum() {
    let mut rng = Rng::seed(61);
    let labels = Labels::<5>::new(vec![0, 3, 4]).unwrap();
    let values: Batch<Tensor1<2>> = random_batch(3, 0.0, &mut rng);
    let binary: Batch<Tensor1<2>> = Batch::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
    let logits: Batch<Pair<Tensor1<5>, Tensor1<2>>> = random_batch(3, 0.0, &mut rng);
    check_loss_at::<Linear, _, _, _>(
        "Losses(CE, MSE) weighted 0.7 and 1.3",
        &Losses::new(CrossEntropy, Mse).weighted(0.7, 1.3),
        &(labels.clone(), values),
        logits.clone(),
    );
    check_loss_at::<Linear, _, _, _>(
        "Losses(CE, BCE)",
        &Losses::new(CrossEntropy, BinaryCrossEntropy),
        &(labels, binary),
        logits,
    );
}

#[test]
fn loss_gradients() {
    let mut rng = Rng::seed(3);
    let labels = Labels::<5>::new(vec![0, 3, 4]).unwrap();
    let onehot_like: Batch<Tensor1<5>> = Batch::from_vec(
        (0..15)
            .map(|i| if i % 7 == 0 { 0.7 } else { 0.075 })
            .collect(),
    )
    .unwrap();
    let dense_targets: Batch<Tensor1<5>> = random_batch(3, 0.0, &mut rng);
    let binary: Batch<Tensor1<5>> =
        Batch::from_vec((0..15).map(|i| (i % 2) as f32).collect()).unwrap();

    check_loss::<Softmax, 5, _, _>(
        "CE labels, softmax head",
        &CrossEntropy,
        &labels,
        3,
        &mut rng,
    );
    check_loss::<Linear, 5, _, _>("CE labels, logits", &CrossEntropy, &labels, 3, &mut rng);
    check_loss::<Softmax, 5, _, _>(
        "CE soft targets, softmax head",
        &CrossEntropy,
        &onehot_like,
        3,
        &mut rng,
    );
    check_loss::<Sigmoid, 5, _, _>(
        "BCE, sigmoid head",
        &BinaryCrossEntropy,
        &binary,
        3,
        &mut rng,
    );
    check_loss::<Linear, 5, _, _>("BCE, logits", &BinaryCrossEntropy, &binary, 3, &mut rng);
    check_loss::<Linear, 5, _, _>("MSE, linear head", &Mse, &dense_targets, 3, &mut rng);
    check_loss::<Sigmoid, 5, _, _>("MSE, sigmoid head", &Mse, &dense_targets, 3, &mut rng);
    check_loss::<Softmax, 5, _, _>("MSE, softmax head", &Mse, &dense_targets, 3, &mut rng);
}

#[test]
fn losses_match_closed_forms() {
    // Cross-entropy of uniform logits over 4 classes is ln 4; BCE of logit 0 is ln 2.
    let z: Batch<Tensor1<4>> = Batch::zeros(2);
    let labels = Labels::<4>::new(vec![1, 2]).unwrap();
    let ce =
        <CrossEntropy as Loss<Linear, Tensor1<4>, Labels<4>>>::loss(&CrossEntropy, &z, &z, &labels);
    assert!((ce - 4f32.ln()).abs() < 1e-6);
    let t: Batch<Tensor1<4>> = Batch::zeros(2);
    let bce = <BinaryCrossEntropy as Loss<Linear, Tensor1<4>, Batch<Tensor1<4>>>>::loss(
        &BinaryCrossEntropy,
        &z,
        &z,
        &t,
    );
    assert!((bce - 2f32.ln()).abs() < 1e-6);
    // Huge logits stay finite.
    let big: Batch<Tensor1<4>> = Batch::from_vec(vec![1e4, -1e4, 0.0, 1.0]).unwrap();
    let one = Labels::<4>::new(vec![1]).unwrap();
    let ce = <CrossEntropy as Loss<Linear, Tensor1<4>, Labels<4>>>::loss(
        &CrossEntropy,
        &big,
        &big,
        &one,
    );
    assert!((ce - 2e4).abs() < 1.0, "{ce}");
}

/// Targets at `head(logits) − e` for residuals e drawn in ±[0.05, 1) and kept 0.05 away from
/// every `kink` of |e| (0 always): a step of H in the logits never crosses one, where the
/// loss is not twice differentiable and central differences would disagree.
fn targets_off_kinks<Hd: Head, S: Sample>(
    logits: &Batch<S>,
    kinks: &[f32],
    rng: &mut Rng,
) -> Batch<S> {
    let mut targets = logits.clone();
    Hd::default().forward(logits.as_slice(), targets.as_mut_slice(), S::ROW);
    let e: Batch<S> = random_batch(logits.rows(), 0.05, rng);
    for (t, &e) in targets.as_mut_slice().iter_mut().zip(e.as_slice()) {
        let near = kinks.iter().any(|&k| (e.abs() - k).abs() < 0.05);
        let e = if near { e + 0.1 * e.signum() } else { e };
        *t -= e;
    }
    targets
}

/// The element-wise regression losses through each head, on their own targets and on
/// padded sequences (padded steps count for nothing).
fn check_regression_loss<L>(name: &str, loss: &L, kinks: &[f32], rng: &mut Rng)
where
    L: Loss<Linear, Tensor1<5>, Batch<Tensor1<5>>>
        + Loss<Sigmoid, Tensor1<5>, Batch<Tensor1<5>>>
        + Loss<Softmax, Tensor1<5>, Batch<Tensor1<5>>>
        + Loss<Linear, Tensor2<3, 4>, Batch<Tensor2<3, 4>>>,
{
    let z: Batch<Tensor1<5>> = random_batch(3, 0.0, rng);
    let t = targets_off_kinks::<Linear, _>(&z, kinks, rng);
    check_loss_at::<Linear, _, _, _>(&format!("{name}, linear head"), loss, &t, z.clone());
    let t = targets_off_kinks::<Sigmoid, _>(&z, kinks, rng);
    check_loss_at::<Sigmoid, _, _, _>(&format!("{name}, sigmoid head"), loss, &t, z.clone());
    let t = targets_off_kinks::<Softmax, _>(&z, kinks, rng);
    check_loss_at::<Softmax, _, _, _>(&format!("{name}, softmax head"), loss, &t, z);
    let z: Batch<Tensor2<3, 4>> = random_batch::<Tensor2<3, 4>>(2, 0.0, rng)
        .with_lengths(&[3, 2])
        .unwrap();
    let t = targets_off_kinks::<Linear, _>(&z, kinks, rng);
    check_loss_at::<Linear, _, _, _>(&format!("{name}, padded steps"), loss, &t, z);
}

#[test]
fn regression_loss_gradients() {
    let mut rng = Rng::seed(71);
    check_regression_loss("L1", &L1, &[0.0], &mut rng);
    check_regression_loss(
        "Huber(0.5)",
        &Huber::new(0.5).unwrap(),
        &[0.0, 0.5],
        &mut rng,
    );
    check_regression_loss("Huber()", &Huber::default(), &[0.0, 1.0], &mut rng);
    let smooth = SmoothL1::new(0.3).unwrap();
    check_regression_loss("SmoothL1(0.3)", &smooth, &[0.0, 0.3], &mut rng);
    check_regression_loss(
        "SmoothL1(0)",
        &SmoothL1::new(0.0).unwrap(),
        &[0.0],
        &mut rng,
    );
}

/// Three sequences of 4 steps over 5 classes: an ignored step, padding past a sequence's
/// end, a one-step sequence.
fn step_labels() -> StepLabels<4, 5> {
    StepLabels::new(&[
        StepClasses::<4, 5>::from_steps([Some(0), Some(3), None, Some(4)]).unwrap(),
        StepClasses::padded(&[2, 2, 1]).unwrap(),
        StepClasses::padded(&[4]).unwrap(),
    ])
}

#[test]
fn nll_loss_gradients() {
    let mut rng = Rng::seed(72);
    let labels = Labels::<5>::new(vec![0, 3, 4]).unwrap();
    check_loss::<Linear, 5, _, _>("NLL labels", &Nll, &labels, 3, &mut rng);
    let steps = step_labels();
    let x = || random_batch::<Tensor2<4, 5>>(3, 0.0, &mut Rng::seed(73));
    check_loss_at::<Linear, _, _, _>("NLL per step", &Nll, &steps, x());
    let short = x().with_lengths(&[4, 2, 1]).unwrap();
    check_loss_at::<Linear, _, _, _>("NLL per step, lengths", &Nll, &steps, short);
}

network! {
    struct LogProbs: [5] {
        Dense(6), Tanh,
        Dense(4), LogSoftmax,
    }
}

#[test]
fn nll_through_a_generated_log_softmax_matches_finite_differences() {
    let mut rng = Rng::seed(74);
    let mut net = LogProbs::init(&mut rng);
    let x: Batch<Tensor1<5>> = random_batch(4, 0.0, &mut rng);
    let labels = Labels::<4>::new(vec![3, 0, 1, 3]).unwrap();
    check_network("LogProbs + Nll", &mut net, &x, &labels, &Nll);
}

#[test]
fn kl_divergence_gradients() {
    let mut rng = Rng::seed(75);
    // Probabilities from a softmax, one of them exactly 0 (its term is 0 whatever p is).
    let mut t: Batch<Tensor1<5>> = random_batch(3, 0.0, &mut rng);
    let logits = t.as_slice().to_vec();
    typed_nn::layers::ActivationFn::forward(&Softmax, &logits, t.as_mut_slice(), 5);
    t.as_mut_slice()[7] = 0.0;
    let log_t: Batch<Tensor1<5>> =
        Batch::from_vec(t.as_slice().iter().map(|p| p.max(1e-3).ln()).collect()).unwrap();
    check_loss::<Linear, 5, _, _>("KL", &KlDiv::default(), &t, 3, &mut rng);
    let kl_log = KlDiv { log_target: true };
    check_loss::<Linear, 5, _, _>("KL, log target", &kl_log, &log_t, 3, &mut rng);
    let x = random_batch::<Tensor2<4, 5>>(3, 0.0, &mut rng)
        .with_lengths(&[4, 2, 1])
        .unwrap();
    let t: Batch<Tensor2<4, 5>> = random_batch(3, 0.0, &mut rng);
    let t = Batch::from_vec(t.as_slice().iter().map(|v| v.abs()).collect()).unwrap();
    check_loss_at::<Linear, _, _, _>("KL per step, lengths", &KlDiv::default(), &t, x);
}

#[test]
fn kl_divergence_is_zero_at_the_target_and_divides_by_the_batch() {
    let p: Batch<Tensor1<3>> = Batch::from_vec(vec![0.5, 0.5, 0.0, 0.2, 0.3, 0.5]).unwrap();
    let log_p: Batch<Tensor1<3>> =
        Batch::from_vec(p.as_slice().iter().map(|v| v.ln().max(-30.0)).collect()).unwrap();
    let kl =
        |x: &Batch<Tensor1<3>>| <KlDiv as Loss<Linear, _, _>>::loss(&KlDiv::default(), x, x, &p);
    // Identical distributions: 0, the 0 target's term 0 whatever its log-probability.
    assert_eq!(kl(&log_p), 0.0);
    // Uniform predictions: Σ_rows Σ t (ln t + ln 3), over 2 rows (not 6 values).
    let uniform: Batch<Tensor1<3>> = Batch::from_vec(vec![-(3f32.ln()); 6]).unwrap();
    let want = (0.5f32.ln() + 3f32.ln())
        + (0.2 * 0.2f32.ln() + 0.3 * 0.3f32.ln() + 0.5 * 0.5f32.ln() + 3f32.ln());
    assert!(
        (kl(&uniform) - want / 2.0).abs() < 1e-6,
        "{} vs {}",
        kl(&uniform),
        want / 2.0
    );
}

#[test]
fn cross_entropy_with_weights_and_smoothing_gradients() {
    let mut rng = Rng::seed(76);
    let labels = Labels::<5>::new(vec![0, 3, 3]).unwrap();
    let probabilities: Batch<Tensor1<5>> = Batch::from_vec(
        (0..15)
            .map(|i| [0.1, 0.6, 0.05, 0.05, 0.2][i % 5])
            .collect(),
    )
    .unwrap();
    let weighted = CrossEntropy
        .class_weights([0.5, 1.0, 2.0, 1.5, 0.3])
        .unwrap();
    let both = weighted.clone().label_smoothing(0.15).unwrap();
    let smoothed = CrossEntropy.label_smoothing(0.25).unwrap();
    for (name, loss) in [
        ("weights", &weighted),
        ("weights + smoothing", &both),
        ("smoothing", &smoothed),
    ] {
        check_loss::<Linear, 5, _, _>(&format!("CE {name}, logits"), loss, &labels, 3, &mut rng);
        check_loss::<Softmax, 5, _, _>(&format!("CE {name}, softmax"), loss, &labels, 3, &mut rng);
        let soft = format!("CE {name}, probabilities");
        check_loss::<Softmax, 5, _, _>(&soft, loss, &probabilities, 3, &mut rng);
        let z = random_batch::<Tensor2<4, 5>>(3, 0.0, &mut rng)
            .with_lengths(&[4, 2, 1])
            .unwrap();
        let steps = format!("CE {name}, per step, lengths");
        check_loss_at::<Softmax, _, _, _>(&steps, loss, &step_labels(), z);
    }
}

#[test]
fn binary_cross_entropy_with_pos_weight_gradients() {
    let mut rng = Rng::seed(77);
    let loss = BinaryCrossEntropy
        .pos_weight([0.5, 1.0, 3.0, 0.0, 2.0])
        .unwrap();
    let t: Batch<Tensor1<5>> =
        Batch::from_vec((0..15).map(|i| [1.0, 0.0, 0.3][i % 3]).collect()).unwrap();
    check_loss::<Linear, 5, _, _>("BCE pos_weight, logits", &loss, &t, 3, &mut rng);
    check_loss::<Sigmoid, 5, _, _>("BCE pos_weight, sigmoid", &loss, &t, 3, &mut rng);
    let t: Batch<Tensor2<4, 5>> =
        Batch::from_vec((0..60).map(|i| (i % 3 == 0) as u8 as f32).collect()).unwrap();
    let z = random_batch::<Tensor2<4, 5>>(3, 0.0, &mut rng)
        .with_lengths(&[3, 4, 1])
        .unwrap();
    check_loss_at::<Sigmoid, _, _, _>("BCE pos_weight per step, lengths", &loss, &t, z);
}

#[test]
fn l1_gradient_is_zero_where_the_output_equals_the_target() {
    // PyTorch's choice at the kink of |y − t|: sgn(0) = 0, not f32::signum's 1.
    let y: Batch<Tensor1<3>> = Batch::from_vec(vec![0.5, -0.25, 2.0]).unwrap();
    let t: Batch<Tensor1<3>> = Batch::from_vec(vec![0.5, 0.25, 1.0]).unwrap();
    let mut d = Batch::default();
    let value = <L1 as Loss<Linear, _, _>>::loss_and_grad(&L1, &y, &y, &t, &mut d);
    assert!((value - 1.5 / 3.0).abs() < 1e-7, "{value}");
    assert_eq!(d.as_slice(), [0.0, -1.0 / 3.0, 1.0 / 3.0]);
}

network! {
    struct Tiny: [5] {
        Dense(6), Tanh,
        hidden: Dense(4), LeakyRelu(0.1),
        Dense(4), Sigmoid,
        out: Dense(3), Softmax,
    }
}

network! {
    struct Regressor: [3] {
        Dense(4), Relu,
        Dense(2),
    }
}

/// The generated backward pass of a whole network, through the fused loss, matches central
/// differences of the loss with respect to every parameter.
fn check_network<N, T, L>(name: &str, net: &mut N, x: &Batch<N::In>, targets: &T, loss: &L)
where
    N: Network + Send,
    T: typed_nn::data::TargetBatch + 'static,
    L: Loss<N::Head, N::Out, T> + Sync,
{
    let loss_at = |net: &N| {
        let (mut out, mut cache) = (Batch::default(), N::Cache::default());
        net.forward_train(x, &mut out, &mut cache, &mut mask_rng());
        loss.loss(N::logits(&cache, &out), &out, targets) as f64
    };
    // A step with learning rate 0 computes the gradients and leaves the parameters alone.
    typed_nn::train::train_step(net, x, targets, loss, &mut Sgd::new(0.0)).unwrap();
    let analytic = grads(net);
    assert_eq!(analytic.len(), N::PARAMS);
    check_param_grads(name, net, &analytic, loss_at);
}

#[test]
fn generated_backward_matches_finite_differences() {
    let mut rng = Rng::seed(4);
    let mut tiny = Tiny::init(&mut rng);
    let x: Batch<Tensor1<5>> = random_batch(4, 0.0, &mut rng);
    let labels = Labels::<3>::new(vec![0, 2, 1, 2]).unwrap();
    check_network("Tiny + CrossEntropy", &mut tiny, &x, &labels, &CrossEntropy);
    check_network(
        "Tiny + Mse",
        &mut tiny,
        &x,
        &random_batch::<Tensor1<3>>(4, 0.0, &mut rng),
        &Mse,
    );

    let mut reg = Regressor::init(&mut rng);
    let x: Batch<Tensor1<3>> = random_batch(3, 0.0, &mut rng);
    check_network(
        "Regressor + Mse",
        &mut reg,
        &x,
        &random_batch::<Tensor1<2>>(3, 0.0, &mut rng),
        &Mse,
    );

    // The network as a layer (input gradient included) also checks out.
    check_layer("Tiny as a layer", Tiny::init(&mut rng), 2, &mut rng);
}

network! {
    /// Valid padding, a rectangular kernel, a fused activation, odd sizes.
    struct ConvValid: [2, 5, 6] {
        Conv2d(3, (3, 2)), Tanh,
    }
}

network! {
    /// Same padding with stride 2 (uneven padding: more below and right), unfused.
    struct ConvSameStrided: [2, 5, 6] {
        Conv2d(2, 3, stride = 2, padding = same),
    }
}

network! {
    /// Same padding with an even kernel, stride (2, 1).
    struct ConvSameEven: [1, 4, 5] {
        Conv2d(2, (2, 4), stride = (2, 1), padding = same), Sigmoid,
        Flatten,
    }
}

network! {
    struct Conv1dNet: [2, 9] {
        Conv1d(3, 3, stride = 2), Tanh,
        Conv1d(2, 2, padding = same),
    }
}

#[test]
fn convolution_gradients() {
    let mut rng = Rng::seed(6);
    check_layer(
        "Conv2d valid 3x2 + tanh",
        ConvValid::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "Conv2d same, stride 2",
        ConvSameStrided::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "Conv2d same, even kernel, stride (2, 1)",
        ConvSameEven::init(&mut rng),
        3,
        &mut rng,
    );
    check_layer("Conv1d", Conv1dNet::init(&mut rng), 2, &mut rng);
}

/// PyTorch's convolution options, on layers built by hand: `Conv2d<C, H, W, CO, KH, KW, SH,
/// SW, PT, PL, OH, OW, DH, DW, G, F, BIAS>`, output sizes from PyTorch's
/// `(len + 2·pad − d·(k − 1) − 1) / s + 1`.
#[test]
fn convolution_option_gradients() {
    let mut rng = Rng::seed(12);
    check_layer(
        "Conv2d stride 2, padding 1",
        Conv2d::<2, 7, 6, 3, 3, 3, 2, 2, 1, 1, 4, 3>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "Conv2d dilation 2, padding (1, 2) + tanh",
        Conv2d::<2, 7, 8, 2, 3, 3, 1, 1, 1, 2, 5, 8, 2, 2, 1, Tanh>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "Conv2d groups 2, rectangular kernel",
        Conv2d::<4, 5, 5, 6, 3, 2, 1, 1, 1, 0, 5, 4, 1, 1, 2>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "Conv2d depthwise, channel multiplier 2, stride (2, 1) + sigmoid",
        Conv2d::<3, 6, 5, 6, 3, 3, 2, 1, 1, 1, 3, 5, 1, 1, 3, Sigmoid>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "Conv2d without bias",
        Conv2d::<2, 5, 5, 3, 3, 3, 1, 1, 1, 1, 5, 5, 1, 1, 1, Linear, false>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "Conv2d depthwise without bias, dilation (2, 1)",
        Conv2d::<2, 7, 4, 2, 3, 2, 1, 1, 2, 1, 7, 5, 2, 1, 2, Linear, false>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "Conv2d padding beyond the kernel",
        Conv2d::<1, 3, 3, 2, 2, 1, 1, 2, 2, 1, 6, 3>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "Conv1d padding 2, dilation 2, groups 2 + tanh",
        Conv1d::<4, 9, 6, 3, 2, 2, 5, 2, 2, Tanh>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "Conv1d depthwise without bias, padding 1",
        Conv1d::<3, 7, 3, 2, 1, 1, 8, 1, 3, Linear, false>::init(&mut rng),
        2,
        &mut rng,
    );
}

#[test]
fn dense_without_bias_gradients() {
    let mut rng = Rng::seed(13);
    check_layer(
        "Dense without bias",
        Dense::<5, 4, Linear, false>::init(&mut rng),
        3,
        &mut rng,
    );
    check_layer(
        "Dense without bias + tanh",
        Dense::<3, 2, Tanh, false>::init(&mut rng),
        2,
        &mut rng,
    );
}

/// A convolution and the pooling after it fused into one layer (what `network!` makes of an
/// unnamed pooling after a convolution), built by hand: central differences where the
/// pooling is smooth (average); where it is a maximum, whose window's winner a step of H in
/// the input can change after a convolution, the fused passes against the two layers' own
/// (each checked above and below): equal to the bit, but where windows overlap, because
/// the fused backward pass takes a position two windows chose as act′(y)·dy₁ + act′(y)·dy₂,
/// the two layers as act′(y)·(dy₁ + dy₂).
#[test]
fn fused_convolution_and_pooling_gradients() {
    use typed_nn::layers::{ConvLayer, ConvPool, PoolLayer};
    let mut rng = Rng::seed(15);
    type Conv = Conv2d<2, 7, 6, 3, 3, 2, 1, 1, 1, 0, 7, 5, 1, 1, 1, Tanh>;
    check_layer(
        "Conv2d 3x2 + tanh, AvgPool2d 2, stride 1, padding 1",
        ConvPool::<Conv, AvgPool2d<3, 7, 5, 2, 2, 1, 1, 8, 6, 1, 1>>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "Conv2d 1x1, GlobalAvgPool2d",
        ConvPool::<Conv2d<2, 4, 5, 3, 1, 1, 1, 1, 0, 0, 4, 5>, GlobalAvgPool2d<3, 4, 5>>::init(
            &mut rng,
        ),
        2,
        &mut rng,
    );

    /// Equal, or within rounding of a sum taken in another order where `overlapping`.
    fn same(what: &str, got: &[f32], want: &[f32], overlapping: bool) {
        if !overlapping {
            assert_eq!(got, want, "{what}");
            return;
        }
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (k, (&a, &b)) in got.iter().zip(want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6 * (1.0 + b.abs()),
                "{what} at {k}: {a} vs {b}"
            );
        }
    }
    fn against_parts<C: ConvLayer + Clone, P: PoolLayer<In = C::Out>>(name: &str, rng: &mut Rng) {
        let geom = P::POOL.geom;
        let overlapping = geom.kh > geom.sh || geom.kw > geom.sw;
        let mut fused = ConvPool::<C, P>::init(rng);
        let mut conv = fused.conv.clone();
        let mut pool = P::default();
        let x: Batch<C::In> = random_batch(3, 0.0, rng);
        let w: Batch<P::Out> = random_batch(3, 0.0, rng);
        let (mut y, mut cache, mut dx) = (Batch::default(), Default::default(), Batch::default());
        fused.forward_train(&x, &mut y, &mut cache, &mut mask_rng());
        fused.backward(&x, &y, &mut cache, &w, Some(&mut dx));

        let (mut mid, mut conv_cache, mut dmid) =
            (Batch::default(), Default::default(), Batch::default());
        let (mut y2, mut pool_cache, mut dx2) =
            (Batch::default(), Default::default(), Batch::default());
        conv.forward_train(&x, &mut mid, &mut conv_cache, &mut mask_rng());
        pool.forward_train(&mid, &mut y2, &mut pool_cache, &mut mask_rng());
        pool.backward(&mid, &y2, &mut pool_cache, &w, Some(&mut dmid));
        conv.backward(&x, &mid, &mut conv_cache, &dmid, Some(&mut dx2));
        assert_eq!(y.as_slice(), y2.as_slice(), "{name}: output");
        let what = format!("{name}: input gradient");
        same(&what, dx.as_slice(), dx2.as_slice(), overlapping);
        let what = format!("{name}: parameter gradients");
        same(&what, &grads(&mut fused), &grads(&mut conv), overlapping);
    }
    against_parts::<Conv, MaxPool2d<3, 7, 5, 3, 3, 2, 2, 3, 2>>(
        "Conv2d + MaxPool2d 3, stride 2",
        &mut rng,
    );
    against_parts::<Conv, MaxPool2d<3, 7, 5, 2, 2, 2, 2, 4, 3, 1, 1>>(
        "Conv2d + MaxPool2d 2, padding 1",
        &mut rng,
    );
    against_parts::<Conv1d<2, 9, 4, 3, 1, 0, 7, 1, 1, Sigmoid>, MaxPool1d<4, 7, 2, 2, 3>>(
        "Conv1d + MaxPool1d 2",
        &mut rng,
    );
    against_parts::<
        Conv2d<2, 4, 5, 3, 1, 1, 1, 1, 0, 0, 4, 5, 1, 1, 1, Relu>,
        GlobalMaxPool2d<3, 4, 5>,
    >("Conv2d 1x1 + relu, GlobalMaxPool2d", &mut rng);
}

/// Pooling with PyTorch's padding (−∞ for max, zeros for average), built by hand:
/// `MaxPool2d<C, H, W, KH, KW, SH, SW, OH, OW, PT, PL>`.
#[test]
fn padded_pooling_gradients() {
    let mut rng = Rng::seed(14);
    check_layer_at(
        "MaxPool2d 3x3, stride 2, padding 1",
        MaxPool2d::<2, 7, 5, 3, 3, 2, 2, 4, 3, 1, 1>::init(&mut rng),
        spread_batch(2, &mut rng),
        &mut rng,
    );
    check_layer_at(
        "MaxPool2d 2x2, stride 2, padding 1",
        MaxPool2d::<2, 5, 6, 2, 2, 2, 2, 3, 4, 1, 1>::init(&mut rng),
        spread_batch(2, &mut rng),
        &mut rng,
    );
    check_layer(
        "AvgPool2d (3, 2), stride (2, 1), padding 1",
        AvgPool2d::<2, 7, 5, 3, 2, 2, 1, 4, 6, 1, 1>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer_at(
        "MaxPool1d 3, stride 2, padding 1",
        MaxPool1d::<3, 9, 3, 2, 5, 1>::init(&mut rng),
        spread_batch(2, &mut rng),
        &mut rng,
    );
    check_layer_at(
        "GlobalMaxPool2d",
        GlobalMaxPool2d::<3, 4, 5>::init(&mut rng),
        spread_batch(2, &mut rng),
        &mut rng,
    );
}

network! {
    struct MaxPools: [2, 7, 5] {
        MaxPool2d(2),
    }
}

network! {
    /// Overlapping windows (stride below the window) and a rectangular window.
    struct OverlappingPools: [2, 7, 5] {
        MaxPool2d((3, 2), stride = 1),
    }
}

network! {
    struct AvgPools: [2, 7, 5] {
        AvgPool2d((3, 2), stride = (2, 1)),
        GlobalAvgPool2d,
    }
}

network! {
    struct Pool1d: [3, 9] {
        MaxPool1d(3, stride = 2),
    }
}

#[test]
fn pooling_and_flatten_gradients() {
    let mut rng = Rng::seed(7);
    check_layer_at(
        "MaxPool2d",
        MaxPools::init(&mut rng),
        spread_batch(2, &mut rng),
        &mut rng,
    );
    check_layer_at(
        "MaxPool2d overlapping",
        OverlappingPools::init(&mut rng),
        spread_batch(2, &mut rng),
        &mut rng,
    );
    check_layer(
        "AvgPool2d + GlobalAvgPool2d",
        AvgPools::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer_at(
        "MaxPool1d",
        Pool1d::init(&mut rng),
        spread_batch(2, &mut rng),
        &mut rng,
    );
    check_layer("Flatten", ConvSameEven::init(&mut rng), 1, &mut rng);
}

network! {
    struct RnnLast: [5, 3] {
        SimpleRNN(4),
    }
}

network! {
    struct RnnSeq: [5, 3] {
        SimpleRNN(4, return_sequences = true),
    }
}

network! {
    struct LstmLast: [4, 3] {
        LSTM(3),
    }
}

network! {
    struct LstmSeq: [4, 3] {
        LSTM(3, return_sequences = true),
    }
}

network! {
    struct GruLast: [4, 3] {
        GRU(3),
    }
}

network! {
    struct GruSeq: [4, 3] {
        GRU(3, return_sequences = true),
    }
}

network! {
    /// Stacked: gradients flow through one recurrent layer's sequence into the next.
    struct StackedRnn: [5, 2] {
        LSTM(4, return_sequences = true),
        GRU(3, return_sequences = true),
        SimpleRNN(2),
        Dense(2),
    }
}

#[test]
fn recurrent_gradients_through_time() {
    let mut rng = Rng::seed(10);
    check_layer("SimpleRNN", RnnLast::init(&mut rng), 2, &mut rng);
    check_layer(
        "SimpleRNN return_sequences",
        RnnSeq::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer("LSTM", LstmLast::init(&mut rng), 2, &mut rng);
    check_layer(
        "LSTM return_sequences",
        LstmSeq::init(&mut rng),
        3,
        &mut rng,
    );
    check_layer("GRU", GruLast::init(&mut rng), 2, &mut rng);
    check_layer("GRU return_sequences", GruSeq::init(&mut rng), 3, &mut rng);
    check_layer(
        "stacked LSTM/GRU/SimpleRNN",
        StackedRnn::init(&mut rng),
        2,
        &mut rng,
    );
}

network! {
    struct Embedded: tokens[5] {
        Embedding(7, 3),
        GRU(2),
    }
}

#[test]
fn embedding_gradients() {
    // Ids are not differentiable: check the parameters only, at fixed ids (some repeated).
    let mut rng = Rng::seed(11);
    let mut net = Embedded::init(&mut rng);
    let x = Batch::<Tokens<5>>::from_ids(&[0, 3, 3, 6, 1, 2, 2, 5, 0, 3]).unwrap();
    let w: Batch<Tensor1<2>> = random_batch(2, 0.0, &mut rng);
    let (mut y, mut cache) = (Batch::default(), Default::default());
    net.forward_train(&x, &mut y, &mut cache, &mut mask_rng());
    net.backward(&x, &y, &mut cache, &w, None);
    let analytic = grads(&mut net);
    check_param_grads("Embedding + GRU", &mut net, &analytic, |n| {
        objective(n, &x, &w)
    });
}

/// γ and β away from 1 and 0, so that their gradients and dx depend on them.
fn random_affine(weight: &mut [f32], bias: &mut [f32], rng: &mut Rng) {
    weight.iter_mut().for_each(|w| *w = rng.uniform(0.5, 1.5));
    bias.iter_mut().for_each(|b| *b = rng.uniform(-0.5, 0.5));
}

#[test]
fn batch_norm_gradients_in_training_mode() {
    // The training pass normalises with the batch's own statistics: dx includes the paths
    // through the batch mean and variance.
    let mut rng = Rng::seed(21);
    let mut vector = BatchNorm::<Tensor1<5>>::new(0.1, 1e-5);
    random_affine(&mut vector.weight, &mut vector.bias, &mut rng);
    check_layer("BatchNorm1d on [5]", vector, 4, &mut rng);
    let mut sequence = BatchNorm::<Tensor2<3, 4>>::new(0.1, 1e-5);
    random_affine(&mut sequence.weight, &mut sequence.bias, &mut rng);
    check_layer("BatchNorm1d on [3, 4]", sequence, 3, &mut rng);
    let mut image = BatchNorm::<Tensor3<2, 3, 3>>::new(0.3, 1e-3);
    random_affine(&mut image.weight, &mut image.bias, &mut rng);
    check_layer("BatchNorm2d on [2, 3, 3]", image, 2, &mut rng);
    // With an activation fused (what `BatchNorm2d, Tanh` becomes), on the vector path
    // (16 values per channel) and the scalar one.
    let mut fused = BatchNorm::<Tensor3<2, 4, 4>, Tanh>::new(0.1, 1e-5);
    random_affine(&mut fused.weight, &mut fused.bias, &mut rng);
    check_layer("BatchNorm2d + Tanh on [2, 4, 4]", fused, 2, &mut rng);
    let mut fused = BatchNorm::<Tensor1<5>, Sigmoid>::new(0.1, 1e-5);
    random_affine(&mut fused.weight, &mut fused.bias, &mut rng);
    check_layer("BatchNorm1d + Sigmoid on [5]", fused, 4, &mut rng);
    let mut fused = BatchNorm::<Tensor3<2, 4, 4>, Relu>::new(0.1, 1e-5);
    random_affine(&mut fused.weight, &mut fused.bias, &mut rng);
    check_layer("BatchNorm2d + Relu on [2, 4, 4]", fused, 2, &mut rng);
}

#[test]
fn batch_norm_gradients_on_running_statistics() {
    // In eval mode while training (a frozen block, PyTorch's `bn.eval()`), the statistics
    // are constants: a per-channel affine map.
    let mut rng = Rng::seed(22);
    let mut image = BatchNorm::<Tensor3<3, 2, 2>>::new(0.1, 1e-5);
    random_affine(&mut image.weight, &mut image.bias, &mut rng);
    rng.fill_uniform(&mut image.running_mean, 0.5);
    image.running_var = vec![0.5, 1.5, 2.0];
    image.eval_mode = true;
    check_layer("BatchNorm2d on running statistics", image, 3, &mut rng);
    let mut fused = BatchNorm::<Tensor3<2, 3, 3>, Tanh>::new(0.1, 1e-5);
    random_affine(&mut fused.weight, &mut fused.bias, &mut rng);
    fused.running_var = vec![0.5, 1.5];
    fused.eval_mode = true;
    check_layer(
        "BatchNorm2d + Tanh on running statistics",
        fused,
        3,
        &mut rng,
    );
}

#[test]
fn layer_norm_gradients() {
    let mut rng = Rng::seed(22);
    let mut vector = LayerNorm::<Tensor1<6>>::new(1e-5);
    random_affine(&mut vector.weight, &mut vector.bias, &mut rng);
    check_layer("LayerNorm on [6]", vector, 3, &mut rng);
    let mut sequence = LayerNorm::<Tensor2<3, 5>>::new(1e-5);
    random_affine(&mut sequence.weight, &mut sequence.bias, &mut rng);
    check_layer("LayerNorm on [3, 5]", sequence, 2, &mut rng);
}

#[test]
fn group_norm_gradients() {
    let mut rng = Rng::seed(23);
    let mut image = GroupNorm::<Tensor3<6, 3, 2>, 3>::new(1e-5);
    random_affine(&mut image.weight, &mut image.bias, &mut rng);
    check_layer("GroupNorm(3) on [6, 3, 2]", image, 2, &mut rng);
    let mut one_group = GroupNorm::<Tensor2<4, 5>, 1>::new(1e-3);
    random_affine(&mut one_group.weight, &mut one_group.bias, &mut rng);
    check_layer("GroupNorm(1) on [4, 5]", one_group, 3, &mut rng);
    let mut per_channel = GroupNorm::<Tensor3<3, 2, 2>, 3>::new(1e-5);
    random_affine(&mut per_channel.weight, &mut per_channel.bias, &mut rng);
    check_layer("GroupNorm(3) on [3, 2, 2]", per_channel, 2, &mut rng);
    let mut instance = InstanceNorm::<Tensor3<3, 2, 3>, true>::new(1e-5);
    random_affine(&mut instance.weight, &mut instance.bias, &mut rng);
    check_layer("InstanceNorm2d(affine) on [3, 2, 3]", instance, 2, &mut rng);
    check_layer(
        "InstanceNorm1d on [2, 5]",
        InstanceNorm::<Tensor2<2, 5>, false>::new(1e-5),
        3,
        &mut rng,
    );
}

#[test]
fn dropout_gradients() {
    // Each evaluation of the objective draws the same mask (`mask_rng`), so the training
    // pass is a fixed linear map whose gradient is checked.
    let mut rng = Rng::seed(23);
    check_layer(
        "Dropout(0.5) on [8]",
        Dropout::<Tensor1<8>>::new(0.5),
        3,
        &mut rng,
    );
    check_layer(
        "Dropout(0.25) on [4, 3]",
        Dropout::<Tensor2<4, 3>>::new(0.25),
        2,
        &mut rng,
    );
}

network! {
    /// A residual block with the identity shortcut.
    struct IdentityResidual: [6] {
        Residual { Dense(6), Tanh, Dense(6) },
        Tanh,
    }
}

network! {
    /// A downsampling residual block: strided body, strided 1×1 projection shortcut, and
    /// BatchNorm in training mode on both paths.
    struct ProjectedResidual: [2, 5, 5] {
        Residual {
            Conv2d(3, 3, stride = 2, padding = 1), BatchNorm2d, Tanh,
            Conv2d(3, 3, padding = 1),
        } shortcut {
            Conv2d(3, 1, stride = 2), BatchNorm2d,
        },
        Tanh,
    }
}

network! {
    /// Three named branches concatenated along the channels (one the identity), then two
    /// added, one of them holding a residual block of its own.
    struct Branchy: [2, 4, 4] {
        Concat {
            a: { Conv2d(2, 1), Tanh },
            b: { Conv2d(3, 3, padding = 1), Sigmoid },
            same: {},
        },
        Add {
            { Conv2d(4, 1) },
            { Residual { Conv2d(7, 3, padding = 1), Tanh }, Conv2d(4, 1) },
        },
    }
}

#[test]
fn join_gradients_sum_at_every_fork() {
    let mut rng = Rng::seed(31);
    check_layer(
        "Residual, identity shortcut",
        IdentityResidual::init(&mut rng),
        3,
        &mut rng,
    );
    check_layer(
        "Residual, projection shortcut and BatchNorm",
        ProjectedResidual::init(&mut rng),
        3,
        &mut rng,
    );
    check_layer(
        "Concat and Add, nested",
        Branchy::init(&mut rng),
        2,
        &mut rng,
    );
}

network! {
    /// A pre-norm transformer encoder block on 3 tokens of 8 features. (With fewer features
    /// a token's values can sit so close together that LayerNorm's curvature makes the
    /// central difference at step 1e-2 off by a percent; at 8 they spread enough.)
    struct EncoderBlock: [3, 8] {
        PositionalEmbedding,
        Residual { LayerNorm, MultiHeadAttention(2, 8) },
        Residual { LayerNorm, Dense(6, per_step = true), Gelu, Dense(8, per_step = true) },
    }
}

network! {
    /// AvgPool1d after a convolution, its padding counted.
    struct AvgPool1dNet: [2, 10] {
        Conv1d(3, 3), Tanh,
        AvgPool1d(3, stride = 2, padding = 1),
        Flatten,
        Dense(2),
    }
}

#[test]
fn avg_pool_1d_gradients() {
    let mut rng = Rng::seed(79);
    check_layer(
        "AvgPool1d(3, 2, 1)",
        AvgPool1dNet::init(&mut rng),
        2,
        &mut rng,
    );
}

#[test]
fn activations_of_published_architectures_gradients() {
    let mut rng = Rng::seed(73);
    check_layer("Silu", Act::<Silu, Tensor2<3, 5>>::default(), 2, &mut rng);
    check_layer(
        "Elu(0.5)",
        Act::<Elu, Tensor2<3, 5>>::new(Elu::new(0.5)),
        2,
        &mut rng,
    );
    check_layer("Mish", Act::<Mish, Tensor2<3, 5>>::default(), 2, &mut rng);
    check_layer(
        "Hardswish",
        Act::<Hardswish, Tensor2<3, 5>>::default(),
        2,
        &mut rng,
    );
    check_layer(
        "Hardsigmoid",
        Act::<Hardsigmoid, Tensor2<3, 5>>::default(),
        2,
        &mut rng,
    );
    check_layer("Relu6", Act::<Relu6, Tensor2<3, 5>>::default(), 2, &mut rng);
    check_layer(
        "Softplus(2, threshold 5)",
        Act::<Softplus, Tensor2<3, 5>>::new(Softplus::new(2.0, 5.0)),
        2,
        &mut rng,
    );
    check_layer(
        "Glu [3, 8]",
        Glu::<Tensor2<3, 8>, Tensor2<3, 4>>::default(),
        2,
        &mut rng,
    );
    check_layer(
        "Glu [6]",
        Glu::<Tensor1<6>, Tensor1<3>>::default(),
        2,
        &mut rng,
    );
    check_layer(
        "PRelu, one slope",
        PRelu::<Tensor2<3, 4>, 1>::new(0.3),
        2,
        &mut rng,
    );
    check_layer(
        "PRelu per channel",
        PRelu::<Tensor3<2, 3, 3>, 2>::new(0.2),
        2,
        &mut rng,
    );
    check_layer(
        "Identity",
        Identity::<Tensor2<3, 4>>::default(),
        2,
        &mut rng,
    );
    check_layer(
        "Reshape [2, 6] to [3, 4]",
        Reshape::<Tensor2<2, 6>, Tensor2<3, 4>>::default(),
        2,
        &mut rng,
    );
    check_layer(
        "Permute([1, 0])",
        Permute::<Tensor2<2, 3>, Tensor2<3, 2>, 1, 0, 2>::default(),
        2,
        &mut rng,
    );
    check_layer(
        "Permute([2, 0, 1])",
        Permute::<Tensor3<2, 3, 4>, Tensor3<4, 2, 3>, 2, 0, 1>::default(),
        2,
        &mut rng,
    );
    check_layer(
        "ZeroPad2d((1, 2))",
        ZeroPad2d::<Tensor3<2, 3, 4>, Tensor3<2, 5, 8>, 1, 2>::default(),
        2,
        &mut rng,
    );
}

#[test]
fn upsampling_layer_gradients() {
    let mut rng = Rng::seed(31);
    check_layer(
        "ConvTranspose2d stride 2, padding 1, output padding 1",
        ConvTranspose2d::<3, 3, 4, 4, 3, 3, 2, 2, 1, 1, 6, 8>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "ConvTranspose2d dilated, 2 groups",
        ConvTranspose2d::<4, 3, 3, 2, 2, 3, 1, 2, 0, 1, 5, 6, 2, 1, 2>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "ConvTranspose1d without bias",
        ConvTranspose1d::<2, 5, 3, 3, 2, 1, 10, 1, 1, false>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "Upsample nearest (2, 3)",
        Upsample::<Tensor3<2, 3, 2>, Tensor3<2, 6, 6>, Nearest>::default(),
        2,
        &mut rng,
    );
    check_layer(
        "Upsample bilinear (3, 2)",
        Upsample::<Tensor3<2, 3, 4>, Tensor3<2, 9, 8>, Bilinear<false>>::default(),
        2,
        &mut rng,
    );
    check_layer(
        "Upsample bilinear, align_corners",
        Upsample::<Tensor3<1, 3, 3>, Tensor3<1, 6, 6>, Bilinear<true>>::default(),
        2,
        &mut rng,
    );
    check_layer(
        "Upsample linear [C, L]",
        Upsample::<Tensor2<2, 4>, Tensor2<2, 12>, Bilinear<false>>::default(),
        2,
        &mut rng,
    );
    check_layer(
        "PixelShuffle(2)",
        PixelShuffle::<Tensor3<8, 2, 3>, Tensor3<2, 4, 6>, 2>::default(),
        2,
        &mut rng,
    );
}

#[test]
fn squeeze_excitation_gradients() {
    let mut rng = Rng::seed(38);
    // ReLU's kink: biases that keep fc1's outputs (means of about ±0.1 times weights
    // below 1) more than the step h away from 0, so that nudging a bias never crosses it.
    let mut relu = SqueezeExcitation::<Tensor3<3, 4, 5>, 2, Relu, Sigmoid>::init(&mut rng);
    relu.fc1_bias = vec![0.6, -0.5];
    relu.fc2_bias = vec![0.1, -0.2, 0.3];
    check_layer("SqueezeExcitation(2) relu, sigmoid", relu, 2, &mut rng);
    check_layer(
        "SqueezeExcitation(3) hardswish, hardsigmoid",
        SqueezeExcitation::<Tensor3<4, 3, 3>, 3, Hardswish, Hardsigmoid>::init(&mut rng),
        3,
        &mut rng,
    );
    // More squeeze channels than channels, as torchvision allows.
    check_layer(
        "SqueezeExcitation(4) silu, sigmoid",
        SqueezeExcitation::<Tensor3<2, 2, 3>, 4, Silu, Sigmoid>::init(&mut rng),
        2,
        &mut rng,
    );
}

#[test]
fn attention_and_transformer_gradients() {
    let mut rng = Rng::seed(32);
    check_layer(
        "MultiHeadAttention(2, 4)",
        MultiHeadAttention::<3, 4, 2>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "MultiHeadAttention(1, 5)",
        MultiHeadAttention::<4, 5, 1>::init(&mut rng),
        1,
        &mut rng,
    );
    check_layer("Gelu", Act::<Gelu, Tensor2<3, 5>>::default(), 2, &mut rng);
    check_layer(
        "Dense per step",
        DenseSeq::<3, 4, 5>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "PositionalEmbedding",
        PositionalEmbedding::<3, 4>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "pre-norm encoder block",
        EncoderBlock::init(&mut rng),
        2,
        &mut rng,
    );
}

network! {
    /// A causal decoder block with rotary positions, as small language models stack them.
    struct CausalBlock: [4, 8] {
        Residual { LayerNorm, MultiHeadAttention(2, 8, causal = true, rope = true) },
        Residual { LayerNorm, Dense(6, per_step = true), Gelu, Dense(8, per_step = true) },
    }
}

network! {
    /// Llama's block: RMSNorm, rotary causal attention, RMSNorm, SwiGLU.
    struct LlamaBlock: [4, 8] {
        Residual { RMSNorm, MultiHeadAttention(2, 8, causal = true, rope = true) },
        Residual { RMSNorm, SwiGLU(10) },
    }
}

#[test]
fn rms_norm_and_swiglu_gradients() {
    let mut rng = Rng::seed(53);
    check_layer(
        "RMSNorm [3, 5]",
        RmsNorm::<Tensor2<3, 5>>::new(1e-5),
        2,
        &mut rng,
    );
    check_layer("RMSNorm [4]", RmsNorm::<Tensor1<4>>::new(1e-6), 3, &mut rng);
    check_layer(
        "SwiGLU [3, 5] -> 7",
        SwiGlu::<Tensor2<3, 5>, 7>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "SwiGLU [6] -> 4",
        SwiGlu::<Tensor1<6>, 4>::init(&mut rng),
        3,
        &mut rng,
    );
    check_layer("Llama block", LlamaBlock::init(&mut rng), 2, &mut rng);
}

#[test]
fn cross_attention_and_input_selection_gradients() {
    let mut rng = Rng::seed(59);
    check_layer(
        "CrossAttention 3 queries over 5 keys",
        CrossAttention::<3, 5, 4, 2>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "CrossAttention 4 queries over 1 key",
        CrossAttention::<4, 1, 6, 3>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "Select the second part",
        typed_nn::Select::<Pair<Tensor1<3>, Tensor2<2, 2>>, Tensor2<2, 2>, 3>::default(),
        2,
        &mut rng,
    );
}

#[test]
fn attention_across_sequences_with_lengths_gradients() {
    let mut rng = Rng::seed(71);
    // Queries of 3 steps over keys padded after 2 and 5 of their 5 steps.
    let queries = random_batch::<Tensor2<3, 4>>(2, 0.05, &mut rng);
    let keys = with_lengths(random_batch::<Tensor2<5, 4>>(2, 0.05, &mut rng), &[2, 5]);
    check_layer_at(
        "CrossAttention, padded keys",
        CrossAttention::<3, 5, 4, 2>::init(&mut rng),
        Batch::zip(&queries, &keys).unwrap(),
        &mut rng,
    );
    // A decoder layer over a padded target and a padded memory.
    let target = with_lengths(random_batch::<Tensor2<3, 8>>(2, 0.05, &mut rng), &[2, 3]);
    let memory = with_lengths(random_batch::<Tensor2<4, 8>>(2, 0.05, &mut rng), &[4, 1]);
    check_layer_at(
        "DecoderLayer, padded target and memory",
        DecoderLayer::<3, 4, 8, 2, 6, Gelu, true>::init(&mut rng),
        Batch::zip(&target, &memory).unwrap(),
        &mut rng,
    );
}

#[test]
fn transformer_decoder_layer_gradients() {
    let mut rng = Rng::seed(67);
    check_layer(
        "DecoderLayer, pre-norm",
        DecoderLayer::<3, 4, 8, 2, 6, Gelu, true>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "DecoderLayer, post-norm",
        DecoderLayer::<3, 2, 8, 2, 5, Tanh, false>::init(&mut rng),
        2,
        &mut rng,
    );
}

#[test]
fn causal_and_rotary_attention_gradients() {
    let mut rng = Rng::seed(47);
    check_layer(
        "MultiHeadAttention, causal",
        MultiHeadAttention::<4, 4, 2, CausalMask>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "MultiHeadAttention, rotary",
        MultiHeadAttention::<4, 4, 2, Unmasked, Rotary>::init(&mut rng),
        2,
        &mut rng,
    );
    check_layer(
        "MultiHeadAttention, causal and rotary",
        MultiHeadAttention::<5, 6, 1, CausalMask, Rotary>::init(&mut rng),
        2,
        &mut rng,
    );
    // Both masks at once: a padded key is hidden from every query, a later one from the
    // queries before it.
    let x = with_lengths(random_batch::<Tensor2<4, 4>>(2, 0.05, &mut rng), &[2, 4]);
    check_layer_at(
        "MultiHeadAttention, causal with lengths",
        MultiHeadAttention::<4, 4, 2, CausalMask, Rotary>::init(&mut rng),
        x,
        &mut rng,
    );
    check_layer(
        "causal rotary decoder block",
        CausalBlock::init(&mut rng),
        2,
        &mut rng,
    );
}

network! {
    /// Generic over the image size and a channel count: every size after the first layer is
    /// computed from the parameters (a `Shaped` sample), through a convolution, average
    /// pooling, a concatenation with the identity, Flatten and Dense.
    struct GenericConvNet<const H: usize, const W: usize, const C: usize>: [2, H, W] {
        Conv2d(C, 3), Tanh,
        AvgPool2d(2),
        Concat { { Conv2d(2, 1), Sigmoid }, {} },
        Flatten,
        Dense(3),
    }
}

#[test]
fn generic_networks_gradients() {
    let mut rng = Rng::seed(21);
    let mut net = GenericConvNet::<7, 8, 3>::init(&mut rng);
    let x: Batch<Tensor3<2, 7, 8>> = random_batch(3, 0.0, &mut rng);
    check_network(
        "GenericConvNet<7, 8, 3> + Mse",
        &mut net,
        &x,
        &random_batch::<Tensor1<3>>(3, 0.0, &mut rng),
        &Mse,
    );
    check_layer(
        "GenericConvNet<6, 9, 2> as a layer",
        GenericConvNet::<6, 9, 2>::init(&mut rng),
        2,
        &mut rng,
    );
}

network! {
    /// Normalisation over counts computed from the parameters: BatchNorm over `A + B`
    /// concatenated channels, LayerNorm over a length `L - 2`; both read the count off
    /// their samples.
    struct GenericNormNet<const A: usize, const B: usize, const L: usize>: [2, L] {
        Concat { { Conv1d(A, 1) }, { Conv1d(B, 3, padding = 1), Tanh } },
        BatchNorm1d, Tanh,
        Conv1d(3, 3), LayerNorm,
        Flatten,
        Dense(2),
    }
}

#[test]
fn generic_normalisation_gradients() {
    let mut rng = Rng::seed(23);
    assert_eq!(
        GenericNormNet::<3, 2, 12>::PARAMS,
        (3 * 2 + 3) + (2 * 2 * 3 + 2) + 2 * 5 + (3 * 5 * 3 + 3) + 2 * 10 + (30 * 2 + 2)
    );
    let mut net = GenericNormNet::<3, 2, 12>::init(&mut rng);
    let x: Batch<Tensor2<2, 12>> = random_batch(4, 0.0, &mut rng);
    check_network(
        "GenericNormNet<3, 2, 12> + Mse",
        &mut net,
        &x,
        &random_batch::<Tensor1<2>>(4, 0.0, &mut rng),
        &Mse,
    );
}

// Sequences: per-step heads and losses, variable lengths, pooling over time, bidirectional
// recurrences, masked attention.

#[test]
fn per_step_activation_gradients() {
    let mut rng = Rng::seed(40);
    check_layer(
        "Softmax per step",
        Act::<Softmax, Tensor2<3, 4>>::default(),
        2,
        &mut rng,
    );
    check_layer(
        "LogSoftmax",
        Act::<LogSoftmax, Tensor1<6>>::default(),
        3,
        &mut rng,
    );
    check_layer(
        "LogSoftmax per step",
        Act::<LogSoftmax, Tensor2<3, 4>>::default(),
        2,
        &mut rng,
    );
}

#[test]
fn per_step_loss_gradients() {
    let mut rng = Rng::seed(41);
    // Three sequences of 4 steps over 5 classes; padding ignored (None), the last sequence
    // is only one step long.
    let steps = StepLabels::new(&[
        StepClasses::<4, 5>::from_steps([Some(0), Some(3), None, Some(4)]).unwrap(),
        StepClasses::padded(&[2, 2, 1]).unwrap(),
        StepClasses::padded(&[4]).unwrap(),
    ]);
    let logits = || random_batch::<Tensor2<4, 5>>(3, 0.0, &mut Rng::seed(42));
    check_loss_at::<Softmax, _, _, _>("CE per step, softmax head", &CrossEntropy, &steps, logits());
    check_loss_at::<Linear, _, _, _>("CE per step, logits", &CrossEntropy, &steps, logits());
    check_loss_at::<Softmax, _, _, _>(
        "CE per step, lengths",
        &CrossEntropy,
        &steps,
        logits().with_lengths(&[4, 2, 1]).unwrap(),
    );
    let dense: Batch<Tensor2<4, 5>> = random_batch(3, 0.0, &mut rng);
    let binary: Batch<Tensor2<4, 5>> =
        Batch::from_vec((0..60).map(|i| (i % 3 == 0) as u8 as f32).collect()).unwrap();
    let lengths = [3, 4, 1];
    check_loss_at::<Linear, _, _, _>(
        "MSE per step, lengths",
        &Mse,
        &dense,
        logits().with_lengths(&lengths).unwrap(),
    );
    check_loss_at::<Sigmoid, _, _, _>(
        "BCE per step, sigmoid head, lengths",
        &BinaryCrossEntropy,
        &binary,
        logits().with_lengths(&lengths).unwrap(),
    );
    check_loss_at::<Linear, _, _, _>(
        "BCE per step, logits",
        &BinaryCrossEntropy,
        &binary,
        logits(),
    );
}

network! {
    struct BiLstmSeq: [4, 3] {
        Bidirectional(LSTM(3, return_sequences = true)),
    }
}

network! {
    struct BiGruSum: [4, 3] {
        Bidirectional(GRU(3), merge = sum),
    }
}

network! {
    struct BiRnnLast: [5, 2] {
        Bidirectional(SimpleRNN(3)),
        Dense(2),
    }
}

network! {
    struct PooledOverTime: [5, 3] {
        LSTM(4, return_sequences = true),
        GlobalAvgPool1d,
    }
}

/// `spread_batch` with lengths.
fn with_lengths<S: Sample>(x: Batch<S>, lengths: &[usize]) -> Batch<S> {
    x.with_lengths(lengths).unwrap()
}

#[test]
fn variable_length_gradients() {
    let mut rng = Rng::seed(43);
    let seq = |rng: &mut Rng, rows, lengths: &[usize]| {
        with_lengths(random_batch::<Tensor2<4, 3>>(rows, 0.05, rng), lengths)
    };
    for (name, lengths) in [
        ("full", &[4, 4][..]),
        ("lengths 2 and 4", &[2, 4]),
        ("length 1", &[1, 3]),
    ] {
        let x = seq(&mut rng, 2, lengths);
        check_layer_at(
            &format!("LSTM, {name}"),
            LstmLast::init(&mut rng),
            x.clone(),
            &mut rng,
        );
        check_layer_at(
            &format!("LSTM seq, {name}"),
            LstmSeq::init(&mut rng),
            x.clone(),
            &mut rng,
        );
        check_layer_at(
            &format!("GRU seq, {name}"),
            GruSeq::init(&mut rng),
            x.clone(),
            &mut rng,
        );
        check_layer_at(
            &format!("BiLSTM seq, {name}"),
            BiLstmSeq::init(&mut rng),
            x.clone(),
            &mut rng,
        );
        check_layer_at(
            &format!("BiGRU sum, {name}"),
            BiGruSum::init(&mut rng),
            x.clone(),
            &mut rng,
        );
        check_layer_at(
            &format!("GlobalAvgPool1d, {name}"),
            GlobalAvgPool1d::<4, 3>::default(),
            x.clone(),
            &mut rng,
        );
        // Distinct values, so no nudge changes a maximum's step.
        let spread = with_lengths(spread_batch::<Tensor2<4, 3>>(2, &mut rng), lengths);
        check_layer_at(
            &format!("GlobalMaxPool1d, {name}"),
            GlobalMaxPool1d::<4, 3>::default(),
            spread,
            &mut rng,
        );
        check_layer_at(
            &format!("MultiHeadAttention, {name}"),
            MultiHeadAttention::<4, 3, 1>::init(&mut rng),
            x,
            &mut rng,
        );
    }
    let x = with_lengths(random_batch::<Tensor2<5, 2>>(3, 0.05, &mut rng), &[5, 2, 3]);
    check_layer_at(
        "BiRNN last + Dense, lengths",
        BiRnnLast::init(&mut rng),
        x,
        &mut rng,
    );
    let x = with_lengths(random_batch::<Tensor2<5, 3>>(2, 0.05, &mut rng), &[3, 5]);
    check_layer_at(
        "LSTM + mean over time, lengths",
        PooledOverTime::init(&mut rng),
        x,
        &mut rng,
    );
}
