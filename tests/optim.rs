//! Optimizer updates against first steps computed by hand from PyTorch's documented
//! update rules (p = [1, −2], g = [0.5, −0.1] unless said otherwise).

use typed_nn::prelude::*;

const P: [f32; 2] = [1.0, -2.0];
const G: [f32; 2] = [0.5, -0.1];

fn step(opt: &mut impl Optimizer, p: &mut [f32; 2], g: &[f32; 2]) {
    opt.begin_step(2).unwrap();
    // Two slices of one flat parameter vector, as a network with two tensors presents them.
    opt.update(0, &mut p[..1], &g[..1]);
    opt.update(1, &mut p[1..], &g[1..]);
}

fn assert_params(what: &str, got: [f32; 2], want: [f64; 2]) {
    for k in 0..2 {
        assert!(
            (got[k] as f64 - want[k]).abs() < 2e-7,
            "{what}[{k}]: got {} want {}",
            got[k],
            want[k]
        );
    }
}

#[test]
fn sgd_plain_momentum_nesterov_and_weight_decay() {
    let mut p = P;
    step(&mut Sgd::new(0.1), &mut p, &G);
    assert_params("sgd", p, [0.95, -1.99]);

    // Momentum 0.9: b₁ = g, b₂ = 0.9g + g = 1.9g.
    let (mut p, mut opt) = (P, Sgd::new(0.1).momentum(0.9));
    step(&mut opt, &mut p, &G);
    assert_params("momentum step 1", p, [0.95, -1.99]);
    step(&mut opt, &mut p, &G);
    assert_params("momentum step 2", p, [0.855, -1.971]);

    // Nesterov: the first step already looks ahead, g + 0.9·b₁ = 1.9g.
    let mut p = P;
    step(&mut Sgd::new(0.1).nesterov(0.9), &mut p, &G);
    assert_params("nesterov", p, [0.905, -1.981]);

    // Weight decay 0.01 adds 0.01·p to the gradient.
    let mut p = P;
    step(&mut Sgd::new(0.1).weight_decay(0.01), &mut p, &G);
    assert_params("sgd weight decay", p, [0.949, -1.988]);
}

#[test]
fn adam_bias_corrected_steps() {
    // Step 1: m̂ = g, v̂ = g², so p −= lr · g / (|g| + ε).
    let (mut p, mut opt) = (P, Adam::new(1e-3));
    step(&mut opt, &mut p, &G);
    assert_params("adam step 1", p, [0.99900000002, -1.9990000001]);
    // Step 2 with g₂ = [−0.3, 0.2]: m = 0.09g₁ + 0.1g₂, v = 0.000999g₁² + 0.001g₂²,
    // m̂ = m / 0.19, v̂ = v / 0.001999.
    step(&mut opt, &mut p, &[-0.3, 0.2]);
    assert_params("adam step 2", p, [0.9988085019894177, -1.9993661036038848]);
    assert_eq!(opt.steps(), 2);
}

#[test]
fn adamw_decays_the_weights_not_the_gradient() {
    let mut p = P;
    step(&mut AdamW::new(1e-3), &mut p, &G);
    // p·(1 − lr·0.01) − lr·g/(|g| + ε)
    assert_params("adamw step 1", p, [0.99899000002, -1.9989800001]);
}

#[test]
fn rmsprop_first_step() {
    // s = 0.01·g², so p −= lr · g / (0.1·|g| + ε) ≈ 10·lr·sign(g).
    let mut p = P;
    step(&mut RmsProp::new(0.01), &mut p, &G);
    assert_params("rmsprop", p, [0.900000019999996, -1.9000000999999]);

    // With momentum the buffer starts at the normalised gradient: the same first step.
    let mut q = P;
    step(&mut RmsProp::new(0.01).momentum(0.5), &mut q, &G);
    assert_params("rmsprop momentum", q, [0.900000019999996, -1.9000000999999]);
}

#[test]
fn invalid_hyperparameters_are_errors_and_change_nothing() {
    let bad: Vec<(&str, Box<dyn Optimizer>)> = vec![
        ("nan lr", Box::new(Adam::new(f32::NAN))),
        ("negative lr", Box::new(Sgd::new(-0.1))),
        ("beta1 = 1", Box::new(Adam::new(1e-3).betas(1.0, 0.999))),
        ("eps = 0", Box::new(AdamW::new(1e-3).eps(0.0))),
        (
            "nesterov without momentum",
            Box::new(Sgd::new(0.1).nesterov(0.0)),
        ),
        ("momentum 1", Box::new(RmsProp::new(0.1).momentum(1.0))),
        (
            "negative weight decay",
            Box::new(Sgd::new(0.1).weight_decay(-1.0)),
        ),
    ];
    for (what, mut opt) in bad {
        match opt.begin_step(2) {
            Err(Error::InvalidHyperparameter { .. }) => {}
            other => panic!("{what}: expected InvalidHyperparameter, got {other:?}"),
        }
    }
}

network! {
    struct Lin: [3] {
        Dense(2),
    }
}

#[test]
fn clip_norm_scales_the_global_gradient_norm_for_any_optimizer() {
    use typed_nn::layers::{Layer, Layout, ParamVisitor, Path};
    struct Values(Vec<f32>);
    impl ParamVisitor for Values {
        fn visit(
            &mut self,
            _: &Path<'_>,
            _: &[usize],
            _: Layout,
            value: &mut [f32],
            _: &mut [f32],
        ) {
            self.0.extend_from_slice(value);
        }
    }
    let values = |net: &mut Lin| {
        let mut v = Values(Vec::new());
        net.visit_params(&Path::ROOT, &mut v);
        v.0
    };
    let x = Batch::<Tensor1<3>>::from_vec(vec![10.0, -20.0, 30.0]).unwrap();
    let t = Batch::<Tensor1<2>>::from_vec(vec![100.0, -100.0]).unwrap();
    // Plain SGD with lr 1 moves the parameters by exactly the (clipped) gradient.
    let mut net = Lin::init(&mut Rng::seed(0));
    let before = values(&mut net);
    net.train_step(&x, &t, &Mse, &mut Sgd::new(1.0).clip_norm(0.5))
        .unwrap();
    let moved: f32 = values(&mut net)
        .iter()
        .zip(&before)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f32>()
        .sqrt();
    assert!((moved - 0.5).abs() < 1e-4, "step norm {moved}");
    // A norm below the limit is left alone; the wrapper works on every optimizer.
    let mut a = Lin::init(&mut Rng::seed(0));
    let mut b = Lin::init(&mut Rng::seed(0));
    a.train_step(&x, &t, &Mse, &mut Adam::new(1e-3)).unwrap();
    b.train_step(&x, &t, &Mse, &mut Adam::new(1e-3).clip_norm(1e9))
        .unwrap();
    assert_eq!(values(&mut a), values(&mut b));
    assert!(matches!(
        b.train_step(&x, &t, &Mse, &mut RmsProp::new(0.01).clip_norm(0.0)),
        Err(Error::InvalidHyperparameter {
            name: "clip_norm",
            ..
        })
    ));
}
