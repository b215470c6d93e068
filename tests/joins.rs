//! Joins as a user sees them: the summary's "Connected to" column, parameter totals equal to
//! PyTorch's `sum(p.numel())` for the examples' ResNet and transformer, and a network that
//! trains through every kind of join.

use typed_nn::prelude::*;

network! {
    pub struct Small: [2, 8, 8] {
        stem: Conv2d(4, 3, padding = 1), Relu,
        block: Residual {
            Conv2d(4, 3, padding = 1, bias = false), BatchNorm2d, Relu,
        },
        mix: Concat {
            a: { Conv2d(2, 1) },
            b: {},
        },
        GlobalAvgPool2d,
        out: Dense(3), Softmax,
    }
}

#[test]
fn summary_shows_joins_with_what_each_row_is_connected_to() {
    let expected = "\
Model: \"Small\"
________________________________________________________________________
Layer (type)                 Output Shape      Param #   Connected to
========================================================================
stem (Conv2d)                (None, 4, 8, 8)        76   input
------------------------------------------------------------------------
1 (Relu)                     (None, 4, 8, 8)         0   stem
------------------------------------------------------------------------
block.body.0 (Conv2d)        (None, 4, 8, 8)       144   1
------------------------------------------------------------------------
block.body.1 (BatchNorm2d)   (None, 4, 8, 8)        16   block.body.0
------------------------------------------------------------------------
block.body.2 (Relu)          (None, 4, 8, 8)         0   block.body.1
------------------------------------------------------------------------
block (Add)                  (None, 4, 8, 8)         0   block.body.2, 1
------------------------------------------------------------------------
mix.a.0 (Conv2d)             (None, 2, 8, 8)        10   block
------------------------------------------------------------------------
mix (Concatenate)            (None, 6, 8, 8)         0   mix.a.0, block
------------------------------------------------------------------------
4 (GlobalAvgPool2d)          (None, 6)               0   mix
------------------------------------------------------------------------
out (Dense)                  (None, 3)              21   4
------------------------------------------------------------------------
6 (Softmax)                  (None, 3)               0   out
========================================================================
Total params: 267
Trainable params: 259
Non-trainable params: 8
________________________________________________________________________
";
    assert_eq!(Small::summary(), expected);
    assert_eq!(Small::PARAMS, 259);
}

network! {
    pub struct Block8: [8, 28, 28] {
        Residual {
            Conv2d(8, 3, padding = 1, bias = false), BatchNorm2d, Relu,
            Conv2d(8, 3, padding = 1, bias = false), BatchNorm2d,
        },
        Relu,
    }
}

network! {
    pub struct Down16: [8, 28, 28] {
        Residual {
            Conv2d(16, 3, stride = 2, padding = 1, bias = false), BatchNorm2d, Relu,
            Conv2d(16, 3, padding = 1, bias = false), BatchNorm2d,
        } shortcut {
            Conv2d(16, 1, stride = 2, bias = false), BatchNorm2d,
        },
        Relu,
    }
}

network! {
    pub struct Block16: [16, 14, 14] {
        Residual {
            Conv2d(16, 3, padding = 1, bias = false), BatchNorm2d, Relu,
            Conv2d(16, 3, padding = 1, bias = false), BatchNorm2d,
        },
        Relu,
    }
}

network! {
    pub struct Down32: [16, 14, 14] {
        Residual {
            Conv2d(32, 3, stride = 2, padding = 1, bias = false), BatchNorm2d, Relu,
            Conv2d(32, 3, padding = 1, bias = false), BatchNorm2d,
        } shortcut {
            Conv2d(32, 1, stride = 2, bias = false), BatchNorm2d,
        },
        Relu,
    }
}

network! {
    pub struct Block32: [32, 7, 7] {
        Residual {
            Conv2d(32, 3, padding = 1, bias = false), BatchNorm2d, Relu,
            Conv2d(32, 3, padding = 1, bias = false), BatchNorm2d,
        },
        Relu,
    }
}

network! {
    /// examples/mnist_resnet.rs's network.
    pub struct MnistResNet: [1, 28, 28] {
        stem: Conv2d(8, 3, padding = 1, bias = false), bn: BatchNorm2d, Relu,
        stage1a: Net(Block8), stage1b: Net(Block8),
        stage2a: Net(Down16), stage2b: Net(Block16),
        stage3a: Net(Down32), stage3b: Net(Block32),
        GlobalAvgPool2d,
        out: Dense(10), Softmax,
    }
}

const DIM: usize = 64;

network! {
    pub struct EncoderBlock: [28, DIM] {
        attention: Residual { LayerNorm, MultiHeadAttention(4, DIM) },
        mlp: Residual { LayerNorm, Dense(2 * DIM, per_step = true), Gelu, Dense(DIM, per_step = true) },
    }
}

network! {
    /// examples/mnist_transformer.rs's network.
    pub struct MnistTransformer: [28, 28] {
        embed: Dense(DIM, per_step = true),
        position: PositionalEmbedding,
        block1: Net(EncoderBlock),
        block2: Net(EncoderBlock),
        norm: LayerNorm,
        Flatten,
        out: Dense(10), Softmax,
    }
}

/// PyTorch's count for `name`, written by tools/pytorch_parity.py.
fn pytorch_params(name: &str) -> usize {
    let text = include_str!("fixtures/param_counts.txt");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in param_counts.txt"))
}

#[test]
fn parameter_totals_match_pytorch() {
    assert_eq!(MnistResNet::PARAMS, pytorch_params("mnist_resnet"));
    assert_eq!(
        MnistTransformer::PARAMS,
        pytorch_params("mnist_transformer")
    );
}

#[test]
fn a_network_with_every_join_learns() {
    let mut rng = Rng::seed(5);
    let mut net = Small::init(&mut rng);
    let x = Batch::<Tensor3<2, 8, 8>>::from_vec((0..16 * 128).map(|_| rng.next_f32()).collect())
        .unwrap();
    let y = Labels::<3>::new((0..16).map(|i| (i % 3) as u32).collect()).unwrap();
    let mut adam = Adam::new(1e-2);
    let first = net.train_step(&x, &y, &CrossEntropy, &mut adam).unwrap();
    let mut last = first;
    for _ in 0..60 {
        last = net.train_step(&x, &y, &CrossEntropy, &mut adam).unwrap();
    }
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    let bytes = net.to_safetensors_bytes().unwrap();
    let loaded = Small::from_safetensors_bytes(&bytes).unwrap();
    assert_eq!(
        net.forward_batch(&x).as_slice(),
        loaded.forward_batch(&x).as_slice()
    );
}
