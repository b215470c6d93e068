// `mixed_precision` names the precision of the training products; bf16 is the one there is.
use typed_nn::prelude::*;

network! {
    #[mixed_precision(fp8)]
    pub struct Mlp: [4] {
        out: Dense(2),
    }
}

fn main() {}
