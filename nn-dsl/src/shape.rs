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
    /// Several named samples: a network's inputs `(image: [1, 28, 28], text: tokens[8])`, or
    /// a `Zip`'s branches.
    Parts,
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
    /// Named samples side by side, the runtime's nested `Pair<A, Pair<B, C>>`; at least two.
    Parts(Vec<Part>),
}

/// One named sample of [`Shape::Parts`].
#[derive(Clone)]
pub struct Part {
    pub name: String,
    pub shape: Shape,
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
            Shape::Tokens(_) | Shape::Opaque(_) | Shape::Parts(_) => None,
        }
    }

    /// Whether the samples hold token ids, as a whole or in a part: inference checks them
    /// against the vocabulary (and returns a `Result`).
    pub fn reads_tokens(&self) -> bool {
        match self {
            Shape::Tokens(_) => true,
            Shape::Parts(parts) => parts.iter().any(|p| p.shape.reads_tokens()),
            _ => false,
        }
    }

    /// The number of values of a sample, when the macro knows the shape.
    pub fn len(&self) -> Option<Dim> {
        match self {
            Shape::Tokens(t) => Some(t.clone()),
            Shape::Opaque(_) => None,
            Shape::Parts(parts) => parts
                .iter()
                .try_fold(Dim::Known(0), |acc, p| Some(acc.add(&p.shape.len()?))),
            float => float
                .dims()
                .map(|d| d.iter().fold(Dim::Known(1), |acc, x| acc.mul(x))),
        }
    }

    /// The part named `name` of a [`Shape::Parts`], with the number of values before it in
    /// a sample; `None` when there is none (or the sizes before it are unknown).
    pub fn part(&self, name: &str) -> Option<(Dim, &Shape)> {
        let Shape::Parts(parts) = self else {
            return None;
        };
        let mut offset = Dim::Known(0);
        for part in parts {
            if part.name == name {
                return Some((offset, &part.shape));
            }
            offset = offset.add(&part.shape.len()?);
        }
        None
    }

    /// The kind of sample, when the macro knows it.
    pub fn input(&self) -> Option<Input> {
        match self {
            Shape::Vector(_) => Some(Input::Vector),
            Shape::Matrix(..) => Some(Input::Matrix),
            Shape::Image(..) => Some(Input::Image),
            Shape::Tokens(_) => Some(Input::Tokens),
            Shape::Parts(_) => Some(Input::Parts),
            Shape::Opaque(_) => None,
        }
    }

    /// `[16, 28, 28]`, `tokens[100]`
    pub fn text(&self) -> String {
        match self {
            Shape::Tokens(t) => format!("tokens[{}]", t.text()),
            Shape::Opaque(_) => "a sub-network's output".to_string(),
            Shape::Parts(parts) => {
                let texts: Vec<String> = parts
                    .iter()
                    .map(|p| format!("{}: {}", p.name, p.shape.text()))
                    .collect();
                format!("({})", texts.join(", "))
            }
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
            Shape::Parts(parts) => {
                // Right-nested pairs: (a, b, c) is Pair<A, Pair<B, C>>.
                let mut types = parts.iter().rev().map(|p| p.shape.sample_type(env));
                let last = types.next().unwrap_or_default();
                return types.fold(last, |rest, ty| quote!(#rt::Pair<#ty, #rest>));
            }
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
