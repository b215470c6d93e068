//! Networks with several outputs: a `Zip` at the end gives each output (as logits), a loss
//! per output weighted and summed (`Losses`), targets as tuples, metrics per output.

use typed_nn::prelude::*;

network! {
    /// From 6 features: a class (which feature is largest among the first three) and a
    /// value (the sum of the last three).
    pub struct ClassAndValue: [6] {
        Dense(32), Relu,
        Zip {
            class: { Dense(16), Relu, Dense(3) },
            value: { Dense(1) },
        },
    }
}

fn samples(rng: &mut Rng, n: usize) -> Vec<(Tensor1<6>, (Class<3>, Tensor1<1>))> {
    (0..n)
        .map(|_| {
            let x: [f32; 6] = core::array::from_fn(|_| rng.uniform(-1.0, 1.0));
            let class = (0..3).max_by(|&a, &b| x[a].total_cmp(&x[b])).unwrap_or(0);
            let value = x[3] + x[4] + x[5];
            (
                Tensor1::new(x),
                (Class::new(class).unwrap(), Tensor1::new([value])),
            )
        })
        .collect()
}

#[test]
fn two_outputs_train_with_a_loss_each_and_report_metrics_each() {
    let mut rng = Rng::seed(1);
    let train = Dataset::from_samples(&samples(&mut rng, 512));
    let mut net = ClassAndValue::init(&mut rng);
    let history = Trainer::new(
        Losses::new(CrossEntropy, Mse).weighted(1.0, 0.5),
        Adam::new(3e-3),
    )
    .epochs(40)
    .batch_size(32)
    .verbosity(Verbosity::Silent)
    .fit(&mut net, &train)
    .unwrap();
    let last = |name: &str| *history.get(name).unwrap().last().unwrap();
    assert!(
        last("out1_accuracy") > 0.9,
        "{:?}",
        history.get("out1_accuracy")
    );
    assert!(last("out2_mae") < 0.1, "{:?}", history.get("out2_mae"));
    // Inference gives both outputs apart; on samples it has not seen, both are learnt.
    let held_out = samples(&mut rng, 200);
    let (mut right, mut error) = (0, 0.0);
    for (x, (class, value)) in &held_out {
        let y = net.forward(x);
        let (scores, predicted) = (y.first(), y.second());
        right += usize::from(scores.argmax() == class.index());
        error += (predicted.data[0] - value.data[0]).abs();
    }
    assert!(right > 180, "{right} of 200 classes");
    assert!(
        error / 200.0 < 0.15,
        "mean absolute error {}",
        error / 200.0
    );
}

#[test]
fn the_loss_is_the_weighted_sum_of_each_outputs_loss() {
    let mut rng = Rng::seed(2);
    let data = samples(&mut rng, 8);
    let mut net = ClassAndValue::init(&mut rng);
    let x = Batch::from_samples(&data.iter().map(|(x, _)| *x).collect::<Vec<_>>());
    let classes =
        Labels::<3>::new(data.iter().map(|(_, (c, _))| c.index() as u32).collect()).unwrap();
    let values = Batch::from_samples(&data.iter().map(|(_, (_, v))| *v).collect::<Vec<_>>());
    let y = net.predict(&x);
    let (scores, predicted) = (y.firsts(), y.seconds());
    let ce = typed_nn::loss::Loss::<Linear, _, _>::loss(&CrossEntropy, &scores, &scores, &classes);
    let mse = typed_nn::loss::Loss::<Linear, _, _>::loss(&Mse, &predicted, &predicted, &values);
    let targets = (classes, values);
    let loss = net
        .train_step(
            &x,
            &targets,
            &Losses::new(CrossEntropy, Mse).weighted(2.0, 0.25),
            &mut Sgd::new(0.0),
        )
        .unwrap();
    assert!(
        (loss - (2.0 * ce + 0.25 * mse)).abs() < 1e-5,
        "{loss} vs {ce}, {mse}"
    );
}
