//! The static memory plan of every example network: its consts (printed as the README's
//! table with `cargo test --test memory_plan -- --nocapture`), and `forward_in` computing
//! what `forward` computes for each network whose layers all have an arena pass.

#[path = "common/example_networks.rs"]
mod examples;

use examples::*;
use typed_nn::layers::Layer;
use typed_nn::prelude::*;
use typed_nn::{Arena, Sample};

/// A random sample of `S`.
fn random_sample<S: Sample>(seed: u64) -> S {
    let mut values = vec![0.0; S::LEN];
    Rng::seed(seed).fill_uniform(&mut values, 1.0);
    S::from_slice(&values).unwrap()
}

/// The largest difference between `forward_in` and `forward` on a random sample (`arena`),
/// or `None` for a network with a layer that has no arena pass (`forward`), whose
/// `forward_in` does not compile: which is which is checked against `ARENA_READY`.
macro_rules! check {
    ($ty:ty, arena) => {{
        const { assert!(<$ty as Layer>::ARENA_READY) };
        let net = <$ty>::init(&mut Rng::seed(7));
        let x = random_sample(8);
        let mut arena = Arena::<{ <$ty>::ARENA_FLOATS }>::boxed();
        let (a, b) = (net.forward_in(&mut arena, &x), net.forward(&x));
        Some(
            a.as_slice()
                .iter()
                .zip(b.as_slice())
                .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
                .fold(0.0f32, f32::max),
        )
    }};
    ($ty:ty, forward) => {{
        const { assert!(!<$ty as Layer>::ARENA_READY) };
        None
    }};
}

macro_rules! row {
    ($name:literal, $ty:ty, $pass:ident) => {
        (
            $name,
            <$ty>::PARAM_BYTES,
            <$ty>::ARENA_BYTES,
            <$ty>::FLOPS,
            check!($ty, $pass),
        )
    };
}

#[test]
fn every_example_network_has_a_plan_and_forward_in_agrees_with_forward() {
    // `forward_in` of the networks whose every layer has an arena pass: typed `Arena`s of
    // each network's size (a compile-time const) need concrete types, hence the macro.
    let rows = [
        row!("mnist_mlp", Mlp, arena),
        row!("mnist_cnn", MnistCnn, arena),
        row!("mnist_cnn --bn", MnistCnnBn, arena),
        row!("mnist_resnet", MnistResNet, arena),
        row!("mnist_autoencoder", Autoencoder, arena),
        row!("mnist_unet", DenoisingUNet, arena),
        row!("mobilenet_like", MobileNetLike, arena),
        row!("seq_mnist_lstm", SeqMnist, arena),
        row!("mnist_transformer", MnistTransformer, forward),
    ];
    println!("| example | parameters | arena (forward_in) | FLOPs per sample | forward_in |");
    println!("|---|---:|---:|---:|---|");
    for (name, params, arena, flops, checked) in rows {
        let runs = match checked {
            Some(_) => "yes",
            None => "not yet (a layer without an arena pass)",
        };
        println!("| {name} | {params} B | {arena} B | {flops} | {runs} |");
        if let Some(err) = checked {
            // Rounding only: the arena's convolutions run im2col + GEMM where `forward` may
            // pick Winograd or the direct algorithm.
            assert!(
                err < 1e-4,
                "{name}: forward_in differs from forward by {err}"
            );
        }
        assert!(arena > 0 && params > 0 && flops > 0, "{name}");
    }
}
