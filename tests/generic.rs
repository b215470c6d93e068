//! Networks generic over their sizes: one definition instantiated at several sizes, trained,
//! saved and loaded like any network; sizes computed from the parameters (convolutions,
//! pooling, Flatten, concatenation) in `Shaped` samples.

use typed_nn::prelude::*;

network! {
    /// An MLP over any input width and class count.
    pub struct Encoder<const IN: usize, const OUT: usize>: [IN] {
        Dense(64), Relu,
        Dense(OUT), Softmax,
    }
}

network! {
    /// A convolution block at any channel counts: its sizes are parameters themselves.
    pub struct ConvBlock<const C_IN: usize, const C_OUT: usize>: [C_IN, 12, 12] {
        Conv2d(C_OUT, 3, padding = same), Relu,
        MaxPool2d(2),
    }
}

network! {
    /// A CNN over any image size: every size after the first convolution is computed.
    pub struct Cnn<const H: usize, const W: usize>: [1, H, W] {
        Conv2d(4, 3), Relu,
        MaxPool2d(2),
        Conv2d(6, (2, 3), stride = 2),
        Flatten,
        Dense(5), Softmax,
    }
}

network! {
    /// Two branches of generic widths concatenated along the channels.
    pub struct Branches<const A: usize, const B: usize>: [2, 6, 6] {
        Concat {
            { Conv2d(A, 1), Relu },
            { Conv2d(B, 3, padding = 1), Tanh },
        },
        GlobalAvgPool2d,
        Dense(3),
    }
}

#[test]
fn one_definition_at_several_sizes() {
    let mut rng = Rng::seed(0);
    assert_eq!(Encoder::<784, 10>::PARAMS, 784 * 64 + 64 + 64 * 10 + 10);
    assert_eq!(Encoder::<64, 10>::PARAMS, 64 * 64 + 64 + 64 * 10 + 10);
    let big = Encoder::<784, 10>::init(&mut rng);
    let small = Encoder::<64, 10>::init(&mut rng);
    let y: Tensor1<10> = big.forward(&Tensor1::zeros());
    assert!((y.data.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    let _: Tensor1<10> = small.forward(&Tensor1::zeros());

    assert_eq!(ConvBlock::<1, 8>::PARAMS, 8 * 9 + 8);
    assert_eq!(ConvBlock::<8, 16>::PARAMS, 16 * 8 * 9 + 16);
    let block = ConvBlock::<8, 16>::init(&mut rng);
    let out: Tensor3<16, 6, 6> = block.forward(&Tensor3::zeros());
    assert_eq!(out.data.len(), 16);

    // 28×28: conv 26×26, pool 13×13, conv (2, 3) stride 2: 6×6, flatten 216.
    assert_eq!(
        Cnn::<28, 28>::PARAMS,
        (4 * 9 + 4) + (6 * 4 * 6 + 6) + (6 * 6 * 6 * 5 + 5)
    );
    // 12×20: conv 10×18, pool 5×9, conv: 2×4, flatten 48.
    assert_eq!(
        Cnn::<12, 20>::PARAMS,
        (4 * 9 + 4) + (6 * 4 * 6 + 6) + (6 * 2 * 4 * 5 + 5)
    );
    let cnn = Cnn::<12, 20>::init(&mut rng);
    let y = cnn.forward(&Tensor3::zeros());
    assert!((y.data.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    let summary = Cnn::<12, 20>::summary();
    assert!(summary.starts_with("Model: \"Cnn<12, 20>\""), "{summary}");
    assert!(summary.contains("(None, 4, 10, 18)"), "{summary}");
    assert!(summary.contains("(None, 48)"), "{summary}");

    assert_eq!(
        Branches::<3, 5>::PARAMS,
        (3 * 2 + 3) + (5 * 2 * 9 + 5) + (8 * 3 + 3)
    );
    let branches = Branches::<3, 5>::init(&mut rng);
    let _: Tensor1<3> = branches.forward(&Tensor3::zeros());
}

/// Both instantiations of one definition train in the same program, and save and load as
/// any network: a file of one size does not load into the other.
#[test]
fn instantiations_train_save_and_load() {
    fn blobs<const IN: usize>(n: usize, rng: &mut Rng) -> Dataset<Tensor1<IN>, Class<10>> {
        let mut inputs = Vec::with_capacity(n * IN);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let class = i % 10;
            for f in 0..IN {
                let centre = if f % 10 == class { 1.0 } else { 0.0 };
                inputs.push(centre + rng.uniform(-0.3, 0.3));
            }
            labels.push(Class::new(class).unwrap());
        }
        Dataset::new(inputs, labels).unwrap()
    }
    fn train<const IN: usize>(
        net: &mut Encoder<IN, 10>,
        data: &Dataset<Tensor1<IN>, Class<10>>,
    ) -> (f32, f32) {
        let before = net.evaluate(data, &CrossEntropy).unwrap().loss;
        Trainer::new(CrossEntropy, Adam::new(1e-2))
            .batch_size(20)
            .verbosity(Verbosity::Silent)
            .epochs(5)
            .fit(net, data)
            .unwrap();
        (before, net.evaluate(data, &CrossEntropy).unwrap().loss)
    }
    let mut rng = Rng::seed(5);
    let (wide, narrow) = (blobs::<784>(200, &mut rng), blobs::<64>(200, &mut rng));
    let mut big = Encoder::<784, 10>::init(&mut rng);
    let mut small = Encoder::<64, 10>::init(&mut rng);
    let (big_before, big_after) = train(&mut big, &wide);
    let (small_before, small_after) = train(&mut small, &narrow);
    assert!(big_after < 0.5 * big_before, "{big_before} -> {big_after}");
    assert!(
        small_after < 0.5 * small_before,
        "{small_before} -> {small_after}"
    );
    assert!(big.accuracy(&wide).unwrap() > 0.9);
    assert!(small.accuracy(&narrow).unwrap() > 0.9);

    let bytes = small.to_safetensors_bytes().unwrap();
    let loaded = Encoder::<64, 10>::from_safetensors_bytes(&bytes).unwrap();
    let x = narrow.input(3);
    assert_eq!(loaded.forward(&x), small.forward(&x));
    let err = Encoder::<784, 10>::from_safetensors_bytes(&bytes)
        .err()
        .expect("weights of another size loaded");
    assert!(err.to_string().contains("[64, 784]"), "{err}");
}

/// A generic network with computed shapes learns, and its batch and one-sample inference
/// agree (warm steps allocate nothing: `tests/no_alloc.rs`).
#[test]
fn computed_shapes_train_and_infer_like_fixed_ones() {
    let mut rng = Rng::seed(9);
    let mut cnn = Cnn::<12, 20>::init(&mut rng);
    let x =
        Batch::<Tensor3<1, 12, 20>>::from_vec((0..4 * 240).map(|i| (i % 7) as f32 / 7.0).collect())
            .unwrap();
    let labels = Labels::<5>::new(vec![0, 1, 2, 3]).unwrap();
    let mut adam = Adam::new(1e-2);
    let first = cnn
        .train_step(&x, &labels, &CrossEntropy, &mut adam)
        .unwrap();
    let mut last = first;
    for _ in 0..30 {
        last = cnn
            .train_step(&x, &labels, &CrossEntropy, &mut adam)
            .unwrap();
    }
    assert!(last < 0.5 * first, "{first} -> {last}");
    // Batch and one-sample inference agree.
    let batch = cnn.forward_batch(&x);
    for r in 0..4 {
        let one = cnn.forward(&x.sample(r));
        for (a, b) in one.data.iter().zip(batch.row(r)) {
            assert!((a - b).abs() < 1e-5);
        }
    }
}

network! {
    /// `same` padding of a kernel size that is a parameter: the layer computes the zeros.
    pub struct SameKernel<const KH: usize, const KW: usize>: [2, 7, 6] {
        Conv2d(3, (KH, KW), padding = same),
    }
}

network! {
    pub struct SameKernel5x4: [2, 7, 6] {
        Conv2d(3, (5, 4), padding = same),
    }
}

#[test]
fn same_padding_of_a_generic_kernel_matches_the_fixed_one() {
    let generic = SameKernel::<5, 4>::init(&mut Rng::seed(1));
    let fixed = SameKernel5x4::from_safetensors_bytes(
        &SameKernel::<5, 4>::init(&mut Rng::seed(1))
            .to_safetensors_bytes()
            .unwrap(),
    )
    .unwrap();
    let x = Batch::<Tensor3<2, 7, 6>>::from_vec((0..84).map(|i| (i as f32 * 0.37).sin()).collect())
        .unwrap()
        .sample(0);
    assert_eq!(generic.forward(&x), fixed.forward(&x));
}

network! {
    /// `same` padding at stride 2 on an input size that is a parameter: output size and
    /// padding both computed.
    pub struct StridedSame<const H: usize, const W: usize>: [2, H, W] {
        Conv2d(3, (3, 4), stride = 2, padding = same),
        Flatten,
    }
}

network! {
    pub struct StridedSame9x10: [2, 9, 10] {
        Conv2d(3, (3, 4), stride = 2, padding = same),
        Flatten,
    }
}

#[test]
fn strided_same_padding_of_a_generic_input_matches_the_fixed_one() {
    let generic = StridedSame::<9, 10>::init(&mut Rng::seed(2));
    let fixed = StridedSame9x10::from_safetensors_bytes(
        &StridedSame::<9, 10>::init(&mut Rng::seed(2))
            .to_safetensors_bytes()
            .unwrap(),
    )
    .unwrap();
    let x =
        Batch::<Tensor3<2, 9, 10>>::from_vec((0..180).map(|i| (i as f32 * 0.29).cos()).collect())
            .unwrap()
            .sample(0);
    // ⌈9/2⌉ × ⌈10/2⌉ = 5 × 5 positions of 3 channels.
    assert_eq!(
        generic.forward(&x).as_slice(),
        fixed.forward(&x).data.as_slice()
    );
    assert_eq!(fixed.forward(&x).data.len(), 75);
}

network! {
    /// A valid convolution and a pooling at any widths and image size: its output shape is
    /// computed, so its output samples are `Shaped`.
    pub struct ValidBlock<const C_IN: usize, const C_OUT: usize, const H: usize, const W: usize>: [C_IN, H, W] {
        Conv2d(C_OUT, 3), Relu,
        MaxPool2d(2),
    }
}

network! {
    /// Layers after a generic block take its output type as it is.
    pub struct AfterBlock: [1, 28, 28] {
        Net(ValidBlock::<1, 4, 28, 28>),
        BatchNorm2d,
        Conv2d(6, 3), Relu,
        MaxPool2d(2),
        Flatten,
        Dense(10), Softmax,
    }
}

#[test]
fn layers_follow_a_block_whose_output_shape_is_computed() {
    // Block: 28 → 26 → 13; then 13 → 11 → 5: 6 × 5 × 5 = 150 features.
    assert_eq!(
        AfterBlock::PARAMS,
        (4 * 9 + 4) + 2 * 4 + (6 * 4 * 9 + 6) + (150 * 10 + 10)
    );
    let summary = AfterBlock::summary();
    assert!(summary.contains("(None, 4, 13, 13)"), "{summary}");
    assert!(summary.contains("(None, 150)"), "{summary}");
    let mut net = AfterBlock::init(&mut Rng::seed(3));
    let x = Batch::<Tensor3<1, 28, 28>>::from_vec(
        (0..4 * 784).map(|i| (i % 13) as f32 / 13.0).collect(),
    )
    .unwrap();
    let labels = Labels::<10>::new(vec![1, 3, 5, 7]).unwrap();
    let mut adam = Adam::new(1e-2);
    let first = net
        .train_step(&x, &labels, &CrossEntropy, &mut adam)
        .unwrap();
    let mut last = first;
    for _ in 0..20 {
        last = net
            .train_step(&x, &labels, &CrossEntropy, &mut adam)
            .unwrap();
    }
    assert!(last < 0.5 * first, "{first} -> {last}");
}

network! {
    /// A residual block at any width and image size: padding 1 around a 3×3 kernel keeps
    /// `H` and `W` as written, so the block's output is the `Tensor3` its input is.
    pub struct ResBlock<const C: usize, const H: usize, const W: usize>: [C, H, W] {
        Residual {
            Conv2d(C, 3, padding = 1), BatchNorm2d, Relu,
            Conv2d(C, 3, padding = 1), BatchNorm2d,
        },
        Relu,
    }
}

network! {
    /// The block at two image sizes, chained with `Net(…)`.
    pub struct TinyResNet: [1, 12, 12] {
        Conv2d(4, 3, padding = 1), Relu,
        Net(ResBlock::<4, 12, 12>),
        MaxPool2d(2),
        Net(ResBlock::<4, 6, 6>),
        GlobalAvgPool2d,
        Dense(3),
    }
}

network! {
    /// A residual body over a computed shape: its padded convolution gives back the same
    /// computed shape (`H - 2`), so the join's two paths agree.
    pub struct ResidualAtComputedSize<const H: usize, const W: usize>: [1, H, W] {
        Conv2d(4, 3), Relu,
        Residual { Conv2d(4, 3, padding = 1), Relu },
        Flatten,
        Dense(2),
    }
}

#[test]
fn residual_blocks_generic_over_their_image_size() {
    let block = 2 * (4 * 4 * 9 + 4) + 2 * 2 * 4;
    assert_eq!(TinyResNet::PARAMS, (4 * 9 + 4) + 2 * block + (4 * 3 + 3));
    let mut net = TinyResNet::init(&mut Rng::seed(4));
    let x = Batch::<Tensor3<1, 12, 12>>::from_vec(
        (0..3 * 144).map(|i| (i % 11) as f32 / 11.0).collect(),
    )
    .unwrap();
    let y = Batch::<Tensor1<3>>::from_vec((0..9).map(|i| (i % 3) as f32).collect()).unwrap();
    let mut adam = Adam::new(1e-2);
    let first = net.train_step(&x, &y, &Mse, &mut adam).unwrap();
    let mut last = first;
    for _ in 0..30 {
        last = net.train_step(&x, &y, &Mse, &mut adam).unwrap();
    }
    assert!(last < 0.5 * first, "{first} -> {last}");

    // 9×10 → 7×8 (4 channels), the residual keeps it: 224 features.
    assert_eq!(
        ResidualAtComputedSize::<9, 10>::PARAMS,
        (4 * 9 + 4) + (4 * 4 * 9 + 4) + (224 * 2 + 2)
    );
    let net = ResidualAtComputedSize::<9, 10>::init(&mut Rng::seed(5));
    let _: Tensor1<2> = net.forward(&Tensor3::zeros());
}

network! {
    /// Parameters named as generated methods' type parameters often are.
    pub struct ShortNames<const T: usize, const L: usize, const O: usize, const Y: usize, const V: usize>: [T] {
        Dense(L), Relu,
        Dense(O), Softmax,
    }
}

#[test]
fn parameters_may_take_any_name() {
    let mut net = ShortNames::<4, 8, 3, 0, 0>::init(&mut Rng::seed(6));
    let data = Dataset::<Tensor1<4>, Class<3>>::new(
        (0..24).map(|i| (i % 5) as f32).collect(),
        (0..6).map(|i| Class::new(i % 3).unwrap()).collect(),
    )
    .unwrap();
    let (x, y) = data
        .shuffled(&mut Rng::seed(1))
        .batches(6)
        .unwrap()
        .next()
        .unwrap();
    net.train_step(&x, &y, &CrossEntropy, &mut Adam::new(1e-2))
        .unwrap();
    assert!(net.accuracy(&data).unwrap() >= 0.0);
    assert!(net.evaluate(&data, &CrossEntropy).unwrap().loss.is_finite());
}
