//! Sizes may be named constants and constant expressions: a network written with them is
//! the same type, with the same parameters and outputs, as one written with literals.

use typed_nn::prelude::*;

const SIZE: usize = 12;
const C: usize = 4;
const HIDDEN: usize = 32;
const PAD: usize = 1;

network! {
    pub struct Named: [1, SIZE, SIZE] {
        Conv2d(C, 3, padding = PAD), Relu,
        Conv2d(2 * C, (3, 3), stride = 2, padding = same, groups = C),
        MaxPool2d(2),
        Flatten,
        Dense(HIDDEN), Relu,
        Dropout(0.25),
        Dense(HIDDEN / 4 + 2),
    }
}

network! {
    pub struct Literal: [1, 12, 12] {
        Conv2d(4, 3, padding = 1), Relu,
        Conv2d(8, (3, 3), stride = 2, padding = same, groups = 4),
        MaxPool2d(2),
        Flatten,
        Dense(32), Relu,
        Dropout(0.25),
        Dense(10),
    }
}

network! {
    /// A sequence model sized by constants, with the input shape one too.
    pub struct NamedSeq: [SIZE, C] {
        LSTM(HIDDEN, return_sequences = true),
        LayerNorm,
        GRU(C * 2),
        Dense(C),
    }
}

#[test]
fn named_sizes_give_the_same_network_as_literals() {
    assert_eq!(Named::PARAMS, Literal::PARAMS);
    let named = Named::summary().replace("Named", "Literal");
    assert_eq!(named, Literal::summary());
    let a = Named::init(&mut Rng::seed(3));
    let b = Literal::init(&mut Rng::seed(3));
    let x = Tensor3::<1, 12, 12>::zeros();
    let mut x = x;
    x.as_mut_slice()
        .iter_mut()
        .enumerate()
        .for_each(|(i, v)| *v = (i as f32 * 0.37).sin());
    // The same type: the output of one is a `Tensor1<10>` like the other's.
    let (ya, yb): (Tensor1<10>, Tensor1<10>) = (a.forward(&x), b.forward(&x));
    assert_eq!(ya, yb);
}

#[test]
fn a_network_sized_by_constants_trains() {
    let mut rng = Rng::seed(4);
    let mut net = NamedSeq::init(&mut rng);
    let x =
        Batch::<Tensor2<SIZE, C>>::from_vec((0..8 * SIZE * C).map(|_| rng.next_f32()).collect())
            .unwrap();
    let t = Batch::<Tensor1<C>>::from_vec(vec![0.5; 8 * C]).unwrap();
    let mut adam = Adam::new(1e-2);
    let first = net.train_step(&x, &t, &Mse, &mut adam).unwrap();
    let mut last = first;
    for _ in 0..30 {
        last = net.train_step(&x, &t, &Mse, &mut adam).unwrap();
    }
    assert!(last < first / 2.0, "loss {first} -> {last}");
}
