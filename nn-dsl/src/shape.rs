//! The shapes of the samples flowing between layers, as the macro knows them, and the
//! runtime sample type of each.

use crate::dim::Dim;
use crate::sizes::SizeParams;
use proc_macro2::TokenStream;
use quote::quote;

/// What every pass that writes types reads besides its input: the path through which
/// generated code reaches the runtime, and the network's size parameters.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub rt: &'a TokenStream,
    pub sizes: &'a SizeParams,
}

/// The kinds of samples a layer can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// `[n]`
    Vector,
    /// `[a, b]`: a sequence `[time steps, features]` or `[channels, length]`.
    Matrix,
    /// `[channels, height, width]`
    Image,
    /// `tokens[length]`: token ids.
    Tokens,
}

/// The shape of the samples flowing between two layers.
#[derive(Clone)]
pub enum Shape {
    /// `[n]`
    Vector(Dim),
    /// `[a, b]`
    Matrix(Dim, Dim),
    /// `[c, h, w]`
    Image(Dim, Dim, Dim),
    /// A sequence of this many token ids (the input of `Embedding`).
    Tokens(Dim),
    /// Known only to the type system: the output of a sub-network, as a sample type.
    Opaque(TokenStream),
}

impl Shape {
    /// The float shape of these dimensions, outermost first; `None` unless there are 1 to 3.
    pub fn from_dims(dims: Vec<Dim>) -> Option<Shape> {
        let mut dims = dims.into_iter();
        let shape = match (dims.next(), dims.next(), dims.next()) {
            (Some(n), None, None) => Shape::Vector(n),
            (Some(a), Some(b), None) => Shape::Matrix(a, b),
            (Some(c), Some(h), Some(w)) => Shape::Image(c, h, w),
            _ => return None,
        };
        dims.next().is_none().then_some(shape)
    }

    /// The dimensions of a float shape the macro knows, outermost first.
    pub fn dims(&self) -> Option<Vec<Dim>> {
        match self {
            Shape::Vector(n) => Some(vec![n.clone()]),
            Shape::Matrix(a, b) => Some(vec![a.clone(), b.clone()]),
            Shape::Image(c, h, w) => Some(vec![c.clone(), h.clone(), w.clone()]),
            Shape::Tokens(_) | Shape::Opaque(_) => None,
        }
    }

    /// The kind of sample, when the macro knows it.
    pub fn input(&self) -> Option<Input> {
        match self {
            Shape::Vector(_) => Some(Input::Vector),
            Shape::Matrix(..) => Some(Input::Matrix),
            Shape::Image(..) => Some(Input::Image),
            Shape::Tokens(_) => Some(Input::Tokens),
            Shape::Opaque(_) => None,
        }
    }

    /// `[16, 28, 28]`, `tokens[100]`
    pub fn text(&self) -> String {
        match self {
            Shape::Tokens(t) => format!("tokens[{}]", t.text()),
            Shape::Opaque(_) => "a sub-network's output".to_string(),
            float => {
                let texts: Vec<String> = float
                    .dims()
                    .unwrap_or_default()
                    .iter()
                    .map(Dim::text)
                    .collect();
                format!("[{}]", texts.join(", "))
            }
        }
    }

    /// The runtime sample type of this shape.
    pub fn sample_type(&self, env: Env<'_>) -> TokenStream {
        let rt = env.rt;
        let tensor = match self {
            Shape::Opaque(ty) => return ty.clone(),
            Shape::Tokens(t) => {
                let t = t.arg();
                return quote!(#rt::Tokens<#t>);
            }
            Shape::Vector(n) => {
                let n = n.arg();
                quote!(#rt::Tensor1<#n>)
            }
            Shape::Matrix(a, b) => {
                let (a, b) = (a.arg(), b.arg());
                quote!(#rt::Tensor2<#a, #b>)
            }
            Shape::Image(c, h, w) => {
                let (c, h, w) = (c.arg(), h.arg(), w.arg());
                quote!(#rt::Tensor3<#c, #h, #w>)
            }
        };
        let dims = self.dims().unwrap_or_default();
        // Read off a sub-network's output type: that type, whatever it is.
        if let Some(ty) = env.sizes.read_type(&dims) {
            return ty;
        }
        if dims.iter().any(|d| env.sizes.is_derived(d)) {
            return env.sizes.shaped_type(&dims, rt);
        }
        tensor
    }
}
