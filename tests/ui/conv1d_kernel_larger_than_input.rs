use typed_nn::prelude::*;

network! {
    pub struct M: [2, 4] {
        Conv1d(8, 5),
    }
}

fn main() {}
