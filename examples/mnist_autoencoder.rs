//! A convolutional autoencoder on MNIST: two convolutions with 2×2 max pooling squeeze a
//! 1×28×28 digit into a 4×7×7 code (196 numbers, a quarter of the pixels); a transposed
//! convolution (7×7 → 14×14), a convolution and a bilinear `Upsample` (14×14 → 28×28) bring
//! it back, a sigmoid making pixels in [0, 1]. Trained to give back its input with binary
//! cross-entropy against the pixel values (with mean squared error through the sigmoid the
//! outputs sat at zero for the first epochs: the sigmoid's slope shrinks its gradient), Adam
//! 2e-3, batch 64.
//!
//! After every epoch the reconstruction MSE is measured on the training images and on the
//! test images (with the weights of the epoch's end, not a mean over its steps); at the end
//! the first test image of each digit and its reconstruction are drawn side by side, inputs
//! on the top row, into a PNG.
//!
//! With `--unet`, a small denoising U-Net instead: its full-resolution features skip the
//! bottleneck and are concatenated with the upsampled ones (`Concat { { Identity }, { … } }`);
//! it is given digits with uniform noise added and trained to give back the clean ones.
//!
//! ```text
//! cargo run --release --example mnist_autoencoder [-- --epochs 5 --train-images 20000]
//! cargo run --release --example mnist_autoencoder -- --unet
//! cargo run --release --example mnist_autoencoder -- --help
//! ```

use clap::Parser;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use typed_nn::fit::{Callback, Control, EpochEnd};
use typed_nn::prelude::*;
use typed_nn::train::evaluate;

mod common;

type Image = Tensor3<1, 28, 28>;
/// An image's pixels in row-major order: the target and the output.
type Pixels = Tensor1<784>;

network! {
    /// Encoder to a [4, 7, 7] code, decoder back to [1, 28, 28].
    pub struct Autoencoder: [1, 28, 28] {
        enc1: Conv2d(16, 3, padding = 1), Relu,
        MaxPool2d(2),
        enc2: Conv2d(32, 3, padding = 1), Relu,
        MaxPool2d(2),
        code: Conv2d(4, 3, padding = 1), Relu,
        dec1: ConvTranspose2d(16, 3, stride = 2, padding = 1, output_padding = 1), Relu,
        dec2: Conv2d(16, 3, padding = 1), Relu,
        Upsample(2, mode = bilinear),
        // Dense targets are vectors or [steps, features] (an image is not a target type),
        // so the reconstruction is compared as the 784 pixels in row-major order; the
        // sigmoid last, where binary cross-entropy fuses with it.
        out: Conv2d(1, 3, padding = 1), Flatten, Sigmoid,
    }
}

network! {
    /// A small U-Net that removes noise (`--unet`): the full-resolution features skip the
    /// bottleneck and are concatenated, channel by channel, with the upsampled ones.
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

/// Trains a convolutional autoencoder on MNIST and draws test digits beside their
/// reconstructions.
#[derive(Parser, Debug)]
struct Options {
    /// Passes over the training images.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Training images used (the first ones of the file), to keep the run short; at most
    /// 60000.
    #[arg(long, default_value_t = 20000)]
    train_images: usize,
    /// Learning rate of Adam.
    #[arg(long, default_value_t = 2e-3)]
    lr: f32,
    /// Where to draw the inputs and their reconstructions.
    #[arg(long, default_value = "target/mnist_autoencoder.png")]
    picture: PathBuf,
    /// A denoising U-Net with a skip concatenation instead: noisy digits in, clean out.
    #[arg(long)]
    unet: bool,
    /// With --unet: the noise added to each pixel, uniform in [-noise, noise] (then clamped
    /// to [0, 1]).
    #[arg(long, default_value_t = 0.5)]
    noise: f32,
    #[command(flatten)]
    mnist: common::MnistOptions,
}

/// Images as their own targets; with `noise`, the inputs made noisy by it (drawn from
/// `rng`), the targets clean.
fn reconstruction_set<Y: typed_nn::data::Target>(
    data: &Dataset<Image, Y>,
    noise: Option<(f32, &mut Rng)>,
) -> Result<Dataset<Image, Pixels>, Error> {
    let mut inputs = Vec::with_capacity(data.len() * 784);
    let mut targets = Vec::with_capacity(data.len());
    let mut noise = noise;
    for i in 0..data.len() {
        let clean = data.input_slice(i);
        match noise.as_mut() {
            Some((level, rng)) => inputs.extend(
                clean
                    .iter()
                    .map(|&p| (p + rng.uniform(-*level, *level)).clamp(0.0, 1.0)),
            ),
            None => inputs.extend_from_slice(clean),
        }
        targets.push(Pixels::from_slice(clean)?);
    }
    Dataset::new(inputs, targets)
}

/// Prints the reconstruction MSE on the training and test images after each epoch.
struct Report {
    train: Dataset<Image, Pixels>,
    test: Dataset<Image, Pixels>,
    started: Instant,
}

impl<N: Network<In = Image, Out = Pixels>> Callback<N> for Report {
    fn end_epoch(&mut self, end: &mut EpochEnd<'_, N>) -> Result<Control, Error> {
        let train = evaluate(end.net, &self.train, &Mse)?.loss;
        let test = evaluate(end.net, &self.test, &Mse)?.loss;
        println!(
            "epoch {}: reconstruction MSE train {train:.5}, test {test:.5} ({:.1} s)",
            end.epoch,
            self.started.elapsed().as_secs_f64()
        );
        Ok(Control::Continue)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse();
    let mut rng = Rng::seed(options.mnist.seed);
    if options.unet {
        print!("{}", DenoisingUNet::summary());
        run(DenoisingUNet::init(&mut rng), &options, Some(options.noise))
    } else {
        print!("{}", Autoencoder::summary());
        run(Autoencoder::init(&mut rng), &options, None)
    }
}

/// Trains `model` to give back clean digits from its inputs (the digits themselves, or
/// with `noise` added), reporting the MSE after each epoch; then draws test inputs above
/// the outputs.
fn run<N>(
    mut model: N,
    options: &Options,
    noise: Option<f32>,
) -> Result<(), Box<dyn std::error::Error>>
where
    N: Network<In = Image, Out = Pixels, Head = Sigmoid> + Send,
{
    let started = Instant::now();
    let (train, test) = mnist::load_as::<Image>(&options.mnist.data)?;
    let mut noise_rng = Rng::seed(options.mnist.seed + 1);
    let train = reconstruction_set(
        &train.take(options.train_images.min(train.len())),
        noise.map(|n| (n, &mut noise_rng)),
    )?;
    let test_classes = test;
    let test = reconstruction_set(&test_classes, noise.map(|n| (n, &mut noise_rng)))?;
    if let Some(level) = noise {
        // What the network starts from: the noisy input as the answer.
        let given = (0..test.len())
            .map(|i| {
                let (x, y) = (test.input_slice(i), test.target(i).as_slice());
                x.iter()
                    .zip(y)
                    .map(|(a, b)| ((a - b) as f64).powi(2))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / (test.len() * 784) as f64;
        println!("noise ±{level}: test MSE of the noisy inputs themselves {given:.5}");
    }
    println!("{} training and {} test images", train.len(), test.len());
    // The baseline any model must beat: every pixel answered with the training images'
    // mean (clean) pixel.
    let mean = (0..train.len())
        .flat_map(|i| train.target(i).as_slice().iter())
        .map(|&p| p as f64)
        .sum::<f64>()
        / (train.len() * 784) as f64;
    let baseline = (0..test.len())
        .flat_map(|i| test.target(i).as_slice().iter())
        .map(|&p| (p as f64 - mean).powi(2))
        .sum::<f64>()
        / (test.len() * 784) as f64;
    println!("test MSE of the mean pixel ({mean:.4}) everywhere: {baseline:.5}");

    let report = Report {
        train: train.clone(),
        test: test.clone(),
        started,
    };
    options
        .mnist
        .trainer(BinaryCrossEntropy, Adam::new(options.lr))
        .epochs(options.epochs)
        .callback(report)
        .fit(&mut model, &train)?;

    // The first test image of each digit.
    let mut shown = Vec::new();
    for digit in 0..10 {
        if let Some(i) = (0..test_classes.len()).find(|&i| test_classes.target(i).index() == digit)
        {
            let x = test.input(i);
            let y = model.forward(&x);
            shown.push((x, y));
        }
    }
    let picture = match (noise, options.picture.to_str()) {
        (Some(_), Some("target/mnist_autoencoder.png")) => PathBuf::from("target/mnist_unet.png"),
        _ => options.picture.clone(),
    };
    write_pairs(&picture, &shown)?;
    println!(
        "drew {} test inputs (top) and what the network gives back (bottom) in {}",
        shown.len(),
        picture.display()
    );
    println!("{:.1} s in all", started.elapsed().as_secs_f64());
    Ok(())
}

/// Pixels of an image side in the picture, and of the gap between images.
const SCALE: usize = 3;
const GAP: usize = 4;

/// A greyscale PNG: each input above its reconstruction, images scaled `SCALE` times.
fn write_pairs(path: &Path, pairs: &[(Image, Pixels)]) -> std::io::Result<()> {
    let side = 28 * SCALE;
    let (width, height) = (GAP + pairs.len() * (side + GAP), GAP + 2 * (side + GAP));
    // A mid grey background separates the digits, whose own background is black.
    let mut pixels = vec![128u8; width * height];
    for (col, pair) in pairs.iter().enumerate() {
        for (row, image) in [pair.0.as_slice(), pair.1.as_slice()]
            .into_iter()
            .enumerate()
        {
            let (left, top) = (GAP + col * (side + GAP), GAP + row * (side + GAP));
            for (k, &v) in image.iter().enumerate() {
                let grey = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                let (r, c) = (k / 28, k % 28);
                for dy in 0..SCALE {
                    let at = (top + r * SCALE + dy) * width + left + c * SCALE;
                    pixels[at..at + SCALE].fill(grey);
                }
            }
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, png_grey(width, height, &pixels)?)
}

/// The bytes of an 8-bit greyscale PNG of `pixels` (row-major): the signature, then the
/// IHDR, IDAT (zlib-compressed rows, each after filter byte 0) and IEND chunks.
fn png_grey(width: usize, height: usize, pixels: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut rows = Vec::with_capacity(height * (width + 1));
    for row in pixels.chunks_exact(width) {
        rows.push(0);
        rows.extend_from_slice(row);
    }
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(&rows)?;
    let mut header = Vec::new();
    header.extend_from_slice(&(width as u32).to_be_bytes());
    header.extend_from_slice(&(height as u32).to_be_bytes());
    // Bit depth 8, colour type 0 (greyscale), deflate, adaptive filtering, no interlace.
    header.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", header),
        (b"IDAT", zlib.finish()?),
        (b"IEND", Vec::new()),
    ] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(&data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    Ok(png)
}

/// The CRC-32 (ISO 3309) that each PNG chunk ends with, over its type and data.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
