//! The examples' networks, declared as they are there, for the tests that check all of
//! them (tests/onnx_export.rs, tests/memory_plan.rs); each includes this file with `#[path]`.

use typed_nn::prelude::*;

network! {
    pub struct Mlp: [784] {
        fc1: Dense(64), Relu,
        fc2: Dense(32), Relu,
        out: Dense(10), Softmax,
    }
}

network! {
    pub struct MnistCnn: [1, 28, 28] {
        conv1: Conv2d(32, 3), Relu,
        MaxPool2d(2),
        conv2: Conv2d(64, 3), Relu,
        MaxPool2d(2),
        Flatten,
        fc: Dense(128), Relu,
        out: Dense(10), Softmax,
    }
}

network! {
    pub struct MnistCnnBn: [1, 28, 28] {
        conv1: Conv2d(32, 3, bias = false), bn1: BatchNorm2d, Relu,
        MaxPool2d(2),
        conv2: Conv2d(64, 3, bias = false), bn2: BatchNorm2d, Relu,
        MaxPool2d(2),
        Flatten,
        fc: Dense(128), Relu,
        Dropout(0.5),
        out: Dense(10), Softmax,
    }
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
    pub struct MnistResNet: [1, 28, 28] {
        stem: Conv2d(8, 3, padding = 1, bias = false), bn: BatchNorm2d, Relu,
        stage1a: Net(Block8), stage1b: Net(Block8),
        stage2a: Net(Down16), stage2b: Net(Block16),
        stage3a: Net(Down32), stage3b: Net(Block32),
        GlobalAvgPool2d,
        out: Dense(10), Softmax,
    }
}

network! {
    pub struct SeqMnist: [28, 28] {
        lstm: LSTM(128),
        out: Dense(10), Softmax,
    }
}

pub const TOKENS: usize = 28;
pub const DIM: usize = 64;

network! {
    pub struct EncoderBlock: [TOKENS, DIM] {
        attention: Residual { LayerNorm, MultiHeadAttention(4, DIM) },
        mlp: Residual {
            LayerNorm,
            Dense(2 * DIM, per_step = true), Gelu,
            Dense(DIM, per_step = true),
        },
    }
}

network! {
    pub struct MnistTransformer: [TOKENS, 28] {
        embed: Dense(DIM, per_step = true),
        position: PositionalEmbedding,
        block1: Net(EncoderBlock),
        block2: Net(EncoderBlock),
        norm: LayerNorm,
        Flatten,
        out: Dense(10), Softmax,
    }
}

network! {
    pub struct Autoencoder: [1, 28, 28] {
        enc1: Conv2d(16, 3, padding = 1), Relu,
        MaxPool2d(2),
        enc2: Conv2d(32, 3, padding = 1), Relu,
        MaxPool2d(2),
        code: Conv2d(4, 3, padding = 1), Relu,
        dec1: ConvTranspose2d(16, 3, stride = 2, padding = 1, output_padding = 1), Relu,
        dec2: Conv2d(16, 3, padding = 1), Relu,
        Upsample(2, mode = bilinear),
        out: Conv2d(1, 3, padding = 1), Flatten, Sigmoid,
    }
}

network! {
    pub struct DenoisingUNet: [1, 28, 28] {
        enc: Conv2d(16, 3, padding = 1), Relu,
        Concat {
            { Identity },
            {
                MaxPool2d(2),
                down: Conv2d(32, 3, padding = 1), Relu,
                up: ConvTranspose2d(16, 3, stride = 2, padding = 1, output_padding = 1), Relu,
            },
        },
        dec: Conv2d(16, 3, padding = 1), Relu,
        out: Conv2d(1, 3, padding = 1), Flatten, Sigmoid,
    }
}

network! {
    pub struct MobileNetLike: [1, 28, 28] {
        stem: Conv2d(16, 3, stride = 2, padding = 1, bias = false), BatchNorm2d, Hardswish,
        block1: Residual {
            Conv2d(48, 1, bias = false), BatchNorm2d, Hardswish,
            Conv2d(48, 3, padding = 1, groups = 48, bias = false), BatchNorm2d, Hardswish,
            SqueezeExcitation(12, scale_activation = hardsigmoid),
            Conv2d(16, 1, bias = false), BatchNorm2d,
        },
        block2: Conv2d(64, 1, bias = false), BatchNorm2d, Hardswish,
        Conv2d(64, 3, stride = 2, padding = 1, groups = 64, bias = false), BatchNorm2d, Hardswish,
        SqueezeExcitation(16, scale_activation = hardsigmoid),
        Conv2d(24, 1, bias = false), BatchNorm2d,
        block3: Residual {
            Conv2d(72, 1, bias = false), BatchNorm2d, Hardswish,
            Conv2d(72, 3, padding = 1, groups = 72, bias = false), BatchNorm2d, Hardswish,
            SqueezeExcitation(18, scale_activation = hardsigmoid),
            Conv2d(24, 1, bias = false), BatchNorm2d,
        },
        head: Conv2d(96, 1, bias = false), BatchNorm2d, Hardswish,
        GlobalAvgPool2d,
        out: Dense(10), Softmax,
    }
}
