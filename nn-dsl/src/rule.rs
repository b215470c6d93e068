//! What a shape rule gets ([`RuleCx`]: the layer, where errors go, the environment) and
//! gives ([`Rule`]: the layer's type, initialiser and output shape). Rules are written over
//! [`Dim`]: with known sizes a violated rule is an error at the argument at fault, naming the
//! numbers; with named constants it becomes a const assertion with the same message.

use crate::ast::LayerDef;
use crate::ctxt::{Ctxt, Reported};
use crate::decl::{Decl, Form};
use crate::dim::{Cmp, Dim};
use crate::shape::{Env, Input, Shape};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};

/// Builds a layer's type with an element-wise activation (its runtime type) fused in.
pub type FuseFn = Box<dyn Fn(&TokenStream) -> TokenStream>;

/// A layer kind's rule applied to its input.
pub struct Rule {
    pub ty: TokenStream,
    pub init: TokenStream,
    pub out: Shape,
    /// The activation a loss fuses with, when this layer is a loss head (Softmax, Sigmoid).
    pub head: Option<TokenStream>,
    /// For a layer an activation can fuse into (Dense, convolutions): its type with it.
    pub with_activation: Option<FuseFn>,
    /// For an element-wise activation: its runtime function type, to fuse into the layer
    /// before it.
    pub activation: Option<TokenStream>,
    /// Why the output has more than one dimension, when the layer has a switch for it: the
    /// hint a following `Dense` adds to "add `Flatten` before it".
    pub rank_hint: Option<String>,
    /// Whether its runtime type runs one time step at a time (`Stepped`): a network whose
    /// every layer does gets a state and a `step`.
    pub stepped: bool,
}

impl Rule {
    pub fn new(ty: TokenStream, init: TokenStream, out: Shape) -> Self {
        Rule {
            ty,
            init,
            out,
            head: None,
            with_activation: None,
            activation: None,
            rank_hint: None,
            stepped: false,
        }
    }

    /// This rule, marked as running one time step at a time when `stepped`.
    pub fn stepped(self, stepped: bool) -> Self {
        Rule { stepped, ..self }
    }

    /// A rule for a layer type `make(activation)` into which an element-wise activation can
    /// be fused (`Linear` when none is).
    pub fn fusable(
        rt: &TokenStream,
        make: impl Fn(TokenStream) -> TokenStream + 'static,
        init: TokenStream,
        out: Shape,
    ) -> Self {
        let linear = make(quote!(#rt::Linear));
        Rule {
            with_activation: Some(Box::new(move |f: &TokenStream| make(f.clone()))),
            ..Rule::new(linear, init, out)
        }
    }
}

/// What a rule needs besides its arguments and input.
pub struct RuleCx<'a> {
    pub cx: &'a Ctxt,
    pub env: Env<'a>,
    pub layer: &'a LayerDef,
    pub decl: &'a Decl,
    /// Why the input has its rank, when the layer before has a switch for it.
    pub rank_hint: Option<&'a str>,
}

impl RuleCx<'_> {
    /// The path through which generated code reaches the runtime.
    pub fn rt(&self) -> &TokenStream {
        self.env.rt
    }

    /// The layer's kind as written, where its errors and shape assertions point.
    pub fn span(&self) -> Span {
        self.layer.kind.span()
    }

    /// The layer as messages name it: "Conv2d `conv1`", or "Conv2d".
    pub fn label(&self) -> String {
        match &self.layer.name {
            Some(name) => format!("{} `{name}`", self.decl.name),
            None => self.decl.name.to_string(),
        }
    }

    /// The runtime sample type of `shape`.
    pub fn sample_type(&self, shape: &Shape) -> TokenStream {
        shape.sample_type(self.env)
    }

    /// Requires `a cmp b` (see [`Ctxt::require`]), an error at `at` saying `message`.
    pub fn require<T: ToTokens>(
        &self,
        cmp: Cmp,
        a: &Dim,
        b: &Dim,
        at: T,
        message: impl FnOnce() -> String,
    ) -> Result<(), Reported> {
        self.cx.require(&self.label(), cmp, a, b, at, message)
    }

    /// The sizes `dims` (each with what it is, for the message) as const arguments of the
    /// layer's type. A size computed from a generic network's parameters cannot be one on
    /// stable Rust: that is an error at the layer, naming the size.
    pub fn const_args<const N: usize>(
        &self,
        dims: [(&Dim, &str); N],
    ) -> Result<[TokenStream; N], Reported> {
        let mut failed = None;
        for (dim, what) in dims {
            if self.env.sizes.is_derived(dim) {
                failed = Some(self.cx.error_spanned_by(
                    &self.layer.kind,
                    format_args!(
                        "{}: its {what} is `{}`, computed from the network's parameters; here it must be a number or a parameter itself",
                        self.label(),
                        dim.text()
                    ),
                ));
            }
        }
        match failed {
            Some(r) => Err(r),
            None => Ok(dims.map(|(d, _)| d.arg())),
        }
    }

    /// An error for an input the table's check should have kept from this rule: reported
    /// rather than assumed away, so that a gap in the table is a message, not a panic.
    pub fn unexpected(&self, input: &Shape) -> Reported {
        self.cx.error_spanned_by(
            &self.layer.kind,
            format_args!(
                "{} cannot take an input of shape {}",
                self.decl.name,
                input.text()
            ),
        )
    }

    /// `input`, or, when it is a sub-network's output and the layer in its form `form` takes
    /// one rank of samples (not a sub-network's output as it is), the dimensions of that
    /// output read off its type as const expressions. The spanned shape assertion still
    /// proves the types equal.
    pub fn read_off(&self, form: &Form, input: &Shape) -> Shape {
        let Shape::Opaque(ty) = input else {
            return input.clone();
        };
        let rank = match form.accepts {
            _ if form.after_subnetwork => return input.clone(),
            [Input::Vector] => 1,
            [Input::Matrix] => 2,
            [Input::Image] => 3,
            _ => return input.clone(),
        };
        let rt = self.rt();
        let dims: Vec<Dim> = (0..rank)
            .map(|i: usize| {
                Dim::from_tokens(
                    quote!(<#ty as #rt::Sample>::SHAPE[#i]),
                    &format!("dimension {i} of the sub-network's output"),
                )
            })
            .collect();
        self.env.sizes.record_read(&dims, ty.clone());
        Shape::from_dims(dims).unwrap_or_else(|| input.clone())
    }

    /// Whether the layer, in its form `form`, takes `input`; an error at the layer otherwise.
    pub fn check_input(&self, form: &Form, input: &Shape) -> Result<(), Reported> {
        let name = &form.label;
        let layer = &self.layer.kind;
        let sample = match input {
            Shape::Opaque(_) if form.after_subnetwork => return Ok(()),
            Shape::Opaque(_) => {
                return Err(self.cx.error_spanned_by(
                    layer,
                    format_args!(
                        "{name} cannot follow a `Net(...)` layer: its input shape must be known to the macro"
                    ),
                ))
            }
            known => known.input(),
        };
        if sample.is_some_and(|s| form.accepts.contains(&s)) {
            return Ok(());
        }
        let message = match input {
            Shape::Parts(parts) => format!(
                "{name} cannot take several named samples {}; read one by its name first (a path such as `{{ {}, … }}` in a `Zip`), or `Flatten` them into one vector",
                input.text(),
                parts.first().map_or("name", |p| p.name.as_str())
            ),
            Shape::Tokens(_) => format!(
                "{name} cannot read token ids; start with `Embedding(vocabulary, dimension)`"
            ),
            float if form.accepts == [Input::Tokens] => format!(
                "{name} takes token ids, but its input here is float values of shape {}; declare the network's input as `tokens[length]`",
                float.text()
            ),
            float => {
                let mut message = format!(
                    "{name} takes {} input, but its input here has shape {}",
                    form.input_words,
                    float.text()
                );
                if form.accepts == [Input::Vector] {
                    message += "; add `Flatten` before it";
                    if let Some(hint) = self.rank_hint {
                        message += ", ";
                        message += hint;
                    }
                }
                message
            }
        };
        Err(self.cx.error_spanned_by(layer, message))
    }
}
