//! A small ResNet on MNIST: a stem, then three stages of two residual blocks (8, 16 and 32
//! channels at 28×28, 14×14 and 7×7) with BatchNorm, the first block of the later stages
//! downsampling with a strided body and a projection shortcut; global average pooling and a
//! classifier. Adam, batch 64, the learning rate decaying from 2e-3 to 0 along a cosine over
//! the run. Each block is declared once and reused by name.
//!
//! ```text
//! cargo run --release --example mnist_resnet [-- --epochs 6 --data data/mnist --seed 0]
//! ```

use std::time::Instant;
use typed_nn::prelude::*;

network! {
    /// Two 3×3 convolutions with BatchNorm, added to the block's input.
    pub struct Block8: [8, 28, 28] {
        Residual {
            Conv2d(8, 3, padding = 1, bias = false), BatchNorm2d, Relu,
            Conv2d(8, 3, padding = 1, bias = false), BatchNorm2d,
        },
        Relu,
    }
}

network! {
    /// A downsampling block: stride 2 in the body, a strided 1×1 projection on the shortcut.
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
    /// The whole ResNet: the shapes of every stage are checked where the blocks meet.
    pub struct MnistResNet: [1, 28, 28] {
        stem: Conv2d(8, 3, padding = 1, bias = false), bn: BatchNorm2d, Relu,
        stage1a: Net(Block8), stage1b: Net(Block8),
        stage2a: Net(Down16), stage2b: Net(Block16),
        stage3a: Net(Down32), stage3b: Net(Block32),
        GlobalAvgPool2d,
        out: Dense(10), Softmax,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut epochs, mut data, mut seed) = (6usize, "data/mnist".to_string(), 0u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--epochs" => epochs = value.parse()?,
            "--data" => data = value,
            "--seed" => seed = value.parse()?,
            _ => {
                return Err(format!(
                    "unknown argument {flag}; expected --epochs N, --data DIR, --seed N"
                )
                .into())
            }
        }
    }
    let mut rng = Rng::seed(seed);
    let mut model = MnistResNet::init(&mut rng);
    print!("{}", MnistResNet::summary());
    let (train, test) = mnist::load_as::<Tensor3<1, 28, 28>>(&data)?;
    let base_lr = 2e-3;
    let mut opt = Adam::new(base_lr);
    let total_steps = epochs * train.len().div_ceil(64);
    let mut step = 0;
    for epoch in 1..=epochs {
        let start = Instant::now();
        let (mut loss_sum, mut rows) = (0.0f64, 0usize);
        for (x, y) in train.shuffled(&mut rng).batches(64)? {
            // Cosine decay: large steps while far from a minimum, small ones to settle in.
            let progress = step as f32 / total_steps as f32;
            opt.set_learning_rate(0.5 * base_lr * (1.0 + (std::f32::consts::PI * progress).cos()));
            step += 1;
            loss_sum += model.train_step(&x, &y, &CrossEntropy, &mut opt)? as f64 * x.rows() as f64;
            rows += x.rows();
        }
        let seconds = start.elapsed().as_secs_f64();
        let eval = model.evaluate(&test, &CrossEntropy)?;
        println!(
            "epoch {epoch}: train loss {:.4}, test loss {:.4}, test accuracy {:.2}%, {seconds:.1} s",
            loss_sum / rows as f64,
            eval.loss,
            100.0 * eval.accuracy
        );
    }
    Ok(())
}
