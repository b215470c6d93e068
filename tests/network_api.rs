//! The API a network offers through its `Network` trait: generic code calls inference,
//! training and saving; inference and saving take `&self` (a network shared between threads
//! needs no lock); the gradients and outputs of the last step are there by PyTorch name.

use std::sync::Arc;
use typed_nn::prelude::*;

network! {
    pub struct Small: [3] {
        fc: Dense(2),
    }
}

network! {
    pub struct Classifier: [4] {
        hidden: Dense(8), Relu,
        out: Dense(3), Softmax,
    }
}

fn batch<S: Sample>(rows: usize, rng: &mut Rng) -> Batch<S> {
    Batch::from_vec((0..rows * S::LEN).map(|_| rng.uniform(-1.0, 1.0)).collect()).unwrap()
}

/// Code written once for any network: no method here is the generated one.
fn train_and_report<N>(net: &mut N, x: &Batch<N::In>, y: &Labels<3>) -> (f32, N::Out, usize)
where
    N: Network + Send,
    CrossEntropy: typed_nn::loss::Loss<N::Head, N::Out, Labels<3>>,
{
    let mut adam = Adam::new(1e-2);
    let loss = net.train_step(x, y, &CrossEntropy, &mut adam).unwrap();
    let first = net.forward(&x.sample(0));
    let rows = net.predict(x).rows();
    (loss, first, rows)
}

#[test]
fn generic_code_trains_and_infers_through_the_trait() {
    let mut rng = Rng::seed(1);
    let mut net = Classifier::init(&mut rng);
    let x: Batch<Tensor1<4>> = batch(6, &mut rng);
    let y = Labels::<3>::new(vec![0, 1, 2, 0, 1, 2]).unwrap();
    let (loss, first, rows) = train_and_report(&mut net, &x, &y);
    assert!(loss.is_finite());
    assert_eq!(rows, 6);
    // The trait's methods and the generated ones are the same computation.
    assert_eq!(first, net.forward(&x.sample(0)));
    let mut into = Batch::default();
    NetworkExt::predict_into(&net, &x, &mut into);
    assert_eq!(into.as_slice(), Classifier::predict(&net, &x).as_slice());
}

#[test]
fn gradients_and_outputs_of_a_step_by_pytorch_name() {
    let mut rng = Rng::seed(2);
    let mut net = Small::init(&mut rng);
    let x: Batch<Tensor1<3>> = batch(1, &mut rng);
    let targets = Batch::<Tensor1<2>>::from_vec(vec![0.5, -0.25]).unwrap();
    let before = net.named_parameters();
    let names: Vec<(&str, &[usize])> = before
        .iter()
        .map(|t| (t.name.as_str(), t.shape.as_slice()))
        .collect();
    assert_eq!(names, [("fc.weight", &[2, 3][..]), ("fc.bias", &[2][..])]);

    let mut sgd = Sgd::new(0.1);
    net.train_step(&x, &targets, &Mse, &mut sgd).unwrap();

    // PyTorch's `param.grad` for y = Wx + b, loss = mean((y − t)²) over 2 outputs:
    // ∂/∂y = y − t, ∂/∂W[o][i] = (y_o − t_o)·x_i, ∂/∂b = y − t; W is [out, in].
    let (w, b) = (&before[0].values, &before[1].values);
    let xs = x.as_slice();
    let y: Vec<f32> = (0..2)
        .map(|o| b[o] + (0..3).map(|i| w[o * 3 + i] * xs[i]).sum::<f32>())
        .collect();
    let dy: Vec<f32> = y
        .iter()
        .zip(targets.as_slice())
        .map(|(a, t)| a - t)
        .collect();
    let grads = net.named_gradients();
    assert_eq!(grads[0].name, "fc.weight");
    for (o, &d) in dy.iter().enumerate() {
        for (i, &xi) in xs.iter().enumerate() {
            assert!(
                (grads[0].values[o * 3 + i] - d * xi).abs() < 1e-5,
                "{o},{i}"
            );
        }
        assert!((grads[1].values[o] - d).abs() < 1e-5);
    }
    // The outputs of that step, before the update.
    let outputs = net.last_outputs().as_slice().to_vec();
    assert!(outputs.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-5));
    // And the update followed the gradient.
    let after = net.named_parameters();
    assert!((after[0].values[0] - (w[0] - 0.1 * grads[0].values[0])).abs() < 1e-6);
}

network! {
    pub struct Convolutional: [1, 6, 6] {
        Residual { Conv2d(1, 3, padding = 1) }, Flatten, Dense(2),
    }
}

#[test]
fn only_networks_whose_layers_keep_scratch_share_a_workspace_for_one_sample() {
    use typed_nn::layers::Layer;
    // A Dense needs none: one-sample inference passes an empty workspace, no lock taken.
    const { assert!(!<Classifier as Layer>::SAMPLE_WORKSPACE) };
    // A convolution's im2col buffer grows on first use, also inside a join.
    const { assert!(<Convolutional as Layer>::SAMPLE_WORKSPACE) };
    let net = Convolutional::init(&mut Rng::seed(4));
    let x = Tensor3::<1, 6, 6>::zeros();
    assert_eq!(net.forward(&x), net.forward(&x));
}

#[test]
fn a_shared_network_is_saved_while_other_threads_infer_without_a_lock() {
    let mut rng = Rng::seed(3);
    let net = Arc::new(Classifier::init(&mut rng));
    let x: Batch<Tensor1<4>> = batch(16, &mut rng);
    let expected = net.predict(&x);
    // One sample takes other kernels than a batch: compared with itself, bit for bit.
    let expected_one = net.forward(&x.sample(3));
    let dir = std::env::temp_dir().join(format!("typed-nn-shared-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("shared.safetensors");
    std::thread::scope(|s| {
        for _ in 0..3 {
            let (net, x, expected, one) = (Arc::clone(&net), &x, &expected, expected_one);
            s.spawn(move || {
                for _ in 0..20 {
                    assert_eq!(net.predict(x).as_slice(), expected.as_slice());
                    assert_eq!(net.forward(&x.sample(3)), one);
                }
            });
        }
        net.save(&path).unwrap();
    });
    let loaded = Classifier::load(&path).unwrap();
    assert_eq!(loaded.predict(&x).as_slice(), expected.as_slice());
    assert_eq!(
        loaded.to_safetensors_bytes().unwrap(),
        net.to_safetensors_bytes().unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
