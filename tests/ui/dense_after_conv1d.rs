use typed_nn::prelude::*;

network! {
    pub struct M: [2, 100] {
        Conv1d(8, 5), Relu,
        MaxPool1d(2),
        Dense(10),
    }
}

fn main() {}
