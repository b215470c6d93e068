// A kernel path is chosen with an `Arch` token, which only a feature check can make: naming
// an instruction set is not enough to run it.
fn main() {
    let mut y = [1.0f32, -1.0];
    typed_nn::kernels::activation_forward_with(
        typed_nn::kernels::Isa::Avx512,
        typed_nn::kernels::EpilogueAct::Relu,
        &mut y,
    );
}
