//! ONNX as a front end of the same table: `network! { pub struct Net: onnx("model.onnx") }`
//! reads the file while compiling, maps each node to a layer kind or join of the table (or
//! folds it, for the shape computations exporters write), and hands the result to the same
//! resolve and expand passes as a network written by hand, as `network!` text. Every node
//! that cannot be imported is reported at once, naming the node, its operator and its input
//! shapes; the file's tensors are read at run time (`from_onnx_file`, or
//! `from_embedded_onnx`, which embeds the file with `include_bytes!`, which also makes
//! cargo rebuild when the file changes).

mod attention;
pub mod emit;
mod fold;
mod ops;
pub mod values;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::quote;
use std::collections::HashMap;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident, LitStr, Token, Visibility};
use values::{Data, Dim, Value};

/// The opsets of the default domain the import knows (`Squeeze` with axes as an input and
/// `Softmax` over one axis came with 13).
const OPSETS: std::ops::RangeInclusive<i64> = 13..=22;

/// `#[attrs] pub struct Name: onnx("path.onnx")`.
pub struct OnnxDef {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub path: LitStr,
}

impl OnnxDef {
    /// Whether `input` is the ONNX form (`… : onnx(…)`), without consuming it.
    pub fn peek(input: &TokenStream) -> bool {
        let tokens: Vec<TokenTree> = input.clone().into_iter().collect();
        tokens.windows(3).any(|w| {
            matches!(&w[0], TokenTree::Punct(p) if p.as_char() == ':')
                && matches!(&w[1], TokenTree::Ident(i) if i == "onnx")
                && matches!(&w[2], TokenTree::Group(g) if g.delimiter() == proc_macro2::Delimiter::Parenthesis)
        })
    }
}

impl Parse for OnnxDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        if input.peek(Token![<]) {
            return Err(input.error(
                "an imported network takes no parameters: its sizes come from the file \
                 (named dimensions other than the batch become parameters of their own)",
            ));
        }
        input.parse::<Token![:]>()?;
        let word: Ident = input.parse()?;
        if word != "onnx" {
            return Err(syn::Error::new(
                word.span(),
                "expected `onnx(\"path.onnx\")`",
            ));
        }
        let content;
        syn::parenthesized!(content in input);
        let path: LitStr = content.parse()?;
        if !content.is_empty() {
            return Err(content.error("`onnx(…)` takes the file's path only"));
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after `onnx(…)`"));
        }
        Ok(OnnxDef {
            attrs,
            vis,
            name,
            path,
        })
    }
}

/// The imported network's items, or its errors.
pub fn network(def: &OnnxDef, rt: &TokenStream) -> TokenStream {
    // Where the path is, with the hygiene of the macro's call, as the rest of the
    // expansion has it.
    let span = Span::call_site().located_at(def.path.span());
    let relative = def.path.value();
    let base = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    let path = base.join(&relative);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            let message = format!("cannot read the ONNX file {}: {e}", path.display());
            return fallback(def, &[message]);
        }
    };
    let absolute = path.to_string_lossy().into_owned();
    network_from_bytes(def, &bytes, Some(&absolute), rt, span)
}

/// The imported network's items from the file's bytes (`file`, when there is one, is what
/// `from_embedded_onnx` embeds).
pub fn network_from_bytes(
    def: &OnnxDef,
    bytes: &[u8],
    file: Option<&str>,
    rt: &TokenStream,
    span: Span,
) -> TokenStream {
    let imported = match import(bytes) {
        Ok(imported) => imported,
        Err(errors) => return fallback(def, &errors),
    };
    let (attrs, vis, name) = (&def.attrs, &def.vis, &def.name);
    let text = format!(
        "struct {name}{}: {} {{ {} }}",
        imported.generics, imported.input, imported.body
    );
    let tokens: TokenStream = match text.parse() {
        Ok(tokens) => respan(tokens, span),
        Err(e) => return fallback(def, &[format!("the imported network does not parse: {e}")]),
    };
    let items = crate::network(quote!(#(#attrs)* #vis #tokens));
    let table = emit::weight_table(&imported.weights, rt);
    let source = def.path.value();
    let embedded = match file {
        Some(file) => quote! {
            /// The network with the weights of the ONNX file it was imported from, which is
            /// embedded in the program (`include_bytes!`).
            pub fn from_embedded_onnx() -> #rt::Result<Self> {
                Self::from_onnx_bytes(::core::include_bytes!(#file))
            }
        },
        None => quote!(),
    };
    let params: Vec<Ident> = imported
        .params
        .iter()
        .map(|p| Ident::new(p, span))
        .collect();
    let generics = if params.is_empty() {
        quote!()
    } else {
        quote!(<#(const #params: usize),*>)
    };
    let args = if params.is_empty() {
        quote!()
    } else {
        quote!(<#(#params),*>)
    };
    quote! {
        #items
        impl #generics #name #args {
            /// The ONNX file this network was imported from, as the macro was given it.
            pub const ONNX_SOURCE: &'static str = #source;

            /// Where each tensor of the network comes from in the ONNX file.
            pub const ONNX_WEIGHTS: &'static [#rt::io::onnx_import::OnnxWeight] = #table;

            /// The network with the weights of an ONNX file's bytes (the file it was
            /// imported from, or one of the same graph).
            pub fn from_onnx_bytes(bytes: &[u8]) -> #rt::Result<Self> {
                let mut net = <Self as #rt::layers::Layer>::init(&mut #rt::Rng::seed(0));
                #rt::io::onnx_import::load_onnx_bytes(&mut net, bytes, Self::ONNX_WEIGHTS)?;
                Ok(net)
            }

            #rt::__if_std! {
                /// The network with the weights of an ONNX file read at run time.
                pub fn from_onnx_file(path: impl ::core::convert::AsRef<::std::path::Path>) -> #rt::Result<Self> {
                    let mut net = <Self as #rt::layers::Layer>::init(&mut #rt::Rng::seed(0));
                    #rt::io::onnx_import::load_onnx_file(&mut net, path, Self::ONNX_WEIGHTS)?;
                    ::core::result::Result::Ok(net)
                }
            }

            #embedded
        }
    }
}

/// Every token at `span`, so that errors in the imported network point at the file's path.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|t| match t {
            TokenTree::Group(g) => {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                TokenTree::Group(group)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

/// The errors at the file's path, and a placeholder struct.
fn fallback(def: &OnnxDef, errors: &[String]) -> TokenStream {
    let span = def.path.span();
    let errors = errors.iter().map(|e| {
        let message = format!("ONNX import of {:?}: {e}", def.path.value());
        syn::Error::new(span, message).to_compile_error()
    });
    let (attrs, vis, name) = (&def.attrs, &def.vis, &def.name);
    quote! {
        #(#errors)*
        #(#attrs)*
        #vis struct #name {}
    }
}

/// The network an import found.
#[derive(Debug)]
pub struct Imported {
    /// `<const SEQ: usize>` or nothing.
    pub generics: String,
    pub params: Vec<String>,
    /// `[3, 224, 224]` or `tokens[12]`.
    pub input: String,
    pub body: String,
    pub weights: Vec<(String, emit::WeightRef)>,
}

/// The state of an import: what each value is, and the steps found so far.
pub struct Importer {
    pub(crate) values: HashMap<String, Value>,
    uses: HashMap<String, usize>,
    steps: emit::Steps,
    /// A `MatMul`'s output, its dense layer and units, until an `Add` gives it a bias.
    open_dense: HashMap<String, (usize, usize, &'static str)>,
    /// An activation's output: its input and kind (for x·σ(x) and x·tanh(softplus(x))).
    pub(crate) activations: HashMap<String, (String, &'static str)>,
    /// Whether a float input is cast to token ids (the network then reads token ids).
    input_tokens: bool,
    /// The self-attention regions found so far.
    pub(crate) regions: Vec<attention::Region>,
}

impl Importer {
    fn is_used(&self, value: &str) -> bool {
        self.uses.get(value).copied().unwrap_or(0) > 0
    }

    fn is_used_once(&self, value: &str) -> bool {
        self.uses.get(value).copied() == Some(1)
    }

    fn note_activation(&mut self, node: &nn_onnx::NodeProto, kind: &'static str) {
        if let (Some(x), Some(y)) = (node.input.first(), node.output.first()) {
            self.activations.insert(y.clone(), (x.clone(), kind));
        }
    }

    /// The activations that lead from `x` to `y` (each used once), first to last.
    fn activation_chain(&self, y: &str, x: &str) -> Vec<&'static str> {
        let mut chain = Vec::new();
        let mut at = y;
        while let Some((input, kind)) = self.activations.get(at) {
            if self.uses.get(at).copied() != Some(1) || chain.len() > 2 {
                return Vec::new();
            }
            chain.push(*kind);
            if input == x {
                chain.reverse();
                return chain;
            }
            at = input;
        }
        Vec::new()
    }

    fn open_dense(&mut self, value: &str, step: usize, units: usize) {
        self.open_dense
            .insert(value.to_string(), (step, units, "bias"));
    }

    /// An attention's output, whose projection's bias an `Add` may give.
    fn open_attention(&mut self, value: &str, step: usize, units: usize) {
        self.open_dense
            .insert(value.to_string(), (step, units, "out_proj.bias"));
    }

    fn open_dense_of(&mut self, value: &str) -> Option<(usize, usize, &'static str)> {
        if self.uses.get(value).copied() != Some(1) {
            return None;
        }
        self.open_dense.remove(value)
    }
}

/// A size parameter's name from a named dimension (`seq_len` gives `SEQ_LEN`).
fn param_name(dim_param: &str) -> String {
    let mut name: String = dim_param
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name = format!("D_{name}");
    }
    name
}

/// Imports a model's bytes; the errors, all of them, otherwise.
pub fn import(bytes: &[u8]) -> Result<Imported, Vec<String>> {
    let model = nn_onnx::decode_model(bytes).map_err(|e| vec![e.to_string()])?;
    match nn_onnx::default_opset(&model) {
        Some(v) if OPSETS.contains(&v) => {}
        Some(v) => {
            return Err(vec![format!(
                "opset {v} of the default domain: typed-nn imports opsets {} to {} (re-export with `opset_version=17`)",
                OPSETS.start(),
                OPSETS.end()
            )])
        }
        None => return Err(vec!["the model imports no opset of the default domain".into()]),
    }
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| vec!["no graph".to_string()])?;
    let mut errors = Vec::new();
    let mut cx = Importer {
        values: HashMap::new(),
        uses: HashMap::new(),
        steps: emit::Steps::default(),
        open_dense: HashMap::new(),
        activations: HashMap::new(),
        input_tokens: false,
        regions: Vec::new(),
    };
    for t in &graph.initializer {
        match fold::constant(t, &t.name) {
            Ok(v) => {
                cx.values.insert(t.name.clone(), v);
            }
            Err(e) => errors.push(e),
        }
    }
    for node in &graph.node {
        for i in &node.input {
            *cx.uses.entry(i.clone()).or_default() += 1;
        }
    }
    for o in &graph.output {
        *cx.uses.entry(o.name.clone()).or_default() += 1;
    }
    // The network's input: the one graph input that is not an initializer.
    let inputs: Vec<&nn_onnx::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !cx.values.contains_key(&i.name))
        .collect();
    let [input] = inputs.as_slice() else {
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        errors.push(format!(
            "the graph has {} inputs ({}): typed-nn imports networks of one input",
            names.len(),
            names.join(", ")
        ));
        return Err(errors);
    };
    let mut params = Vec::new();
    let (input_text, data) = match network_input(input, &mut params) {
        Ok(found) => found,
        Err(e) => {
            errors.push(e);
            return Err(errors);
        }
    };
    cx.values.insert(input.name.clone(), Value::Data(data));
    for node in &graph.node {
        let mut inputs = Vec::with_capacity(node.input.len());
        let mut missing = None;
        for name in &node.input {
            if name.is_empty() {
                inputs.push(None);
            } else if let Some(v) = cx.values.get(name) {
                inputs.push(Some(v.clone()));
            } else {
                missing = Some(name.clone());
            }
        }
        let shapes: Vec<String> = inputs
            .iter()
            .map(|v| v.as_ref().map_or("(none)".into(), Value::describe))
            .collect();
        let label = format!(
            "node `{}` ({}) on {}",
            if node.name.is_empty() {
                node.output.first().map_or("", |o| o.as_str())
            } else {
                &node.name
            },
            node.op_type,
            shapes.join(", ")
        );
        let result = if let Some(name) = missing {
            Err(format!("reads `{name}`, which no node before it computes"))
        } else if inputs.iter().flatten().any(|v| matches!(v, Value::Failed)) {
            // What it reads was reported where it failed; only an operator that could never
            // import is worth a message of its own.
            if ops::OPERATORS.contains(&node.op_type.as_str()) && node.domain.is_empty() {
                Ok(vec![Value::Failed; node.output.len()])
            } else {
                Err(format!("operator `{}` is not supported", node.op_type))
            }
        } else {
            ops::import(&mut cx, node, &inputs)
        };
        match result {
            Ok(values) => {
                for (name, v) in node.output.iter().zip(values) {
                    if !name.is_empty() {
                        cx.values.insert(name.clone(), v);
                    }
                }
            }
            Err(problem) => {
                errors.push(format!("{label}: {problem}"));
                for o in &node.output {
                    cx.values.insert(o.clone(), Value::Failed);
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let [output] = graph.output.as_slice() else {
        return Err(vec![format!(
            "the graph has {} outputs: typed-nn imports networks of one output",
            graph.output.len()
        )]);
    };
    let out = match cx.values.get(&output.name) {
        Some(Value::Data(d)) => d.clone(),
        _ => {
            return Err(vec![format!(
                "the output `{}` is not computed from the input",
                output.name
            )])
        }
    };
    // The output's shape as ONNX has it, so that a user reads what onnxruntime gives.
    let out = cx.exact(&out, "output").map_err(|e| vec![e])?;
    if out.path.is_empty() {
        return Err(vec!["the output is the input: there is no layer".into()]);
    }
    let written = emit::write(&cx.steps, &out.path).map_err(|step| {
        let name = match &cx.steps.steps[step] {
            emit::Step::Layer { name, .. } | emit::Step::Join { name, .. } => name.clone(),
        };
        vec![format!(
            "the graph's forks do not meet again in blocks (residual, sum, concatenation): layer `{name}` would be computed twice"
        )]
    })?;
    let input_text = if cx.input_tokens && !input_text.starts_with("tokens") {
        format!("tokens{input_text}")
    } else {
        input_text
    };
    let generics = if params.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = params.iter().map(|p| format!("const {p}: usize")).collect();
        format!("<{}>", list.join(", "))
    };
    Ok(Imported {
        generics,
        params,
        input: input_text,
        body: written.body,
        weights: written.weights,
    })
}

/// The network's input shape (`[3, 224, 224]`, `tokens[12]`) and its value.
fn network_input(
    input: &nn_onnx::ValueInfoProto,
    params: &mut Vec<String>,
) -> Result<(String, Data), String> {
    let name = &input.name;
    let tensor = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .ok_or_else(|| format!("input `{name}` is not a tensor"))?;
    let tokens = match tensor.elem_type {
        nn_onnx::data_type::FLOAT => false,
        nn_onnx::data_type::INT64 | nn_onnx::data_type::INT32 => true,
        other => {
            return Err(format!(
                "input `{name}` holds {}: typed-nn reads float32 inputs, or integer token ids",
                nn_onnx::data_type_name(other)
            ))
        }
    };
    let dims = tensor
        .shape
        .as_ref()
        .map(|s| s.dim.as_slice())
        .unwrap_or_default();
    if dims.len() < 2 {
        return Err(format!(
            "input `{name}` has {} dimensions: the batch and at least one more are needed (give the input a shape when exporting)",
            dims.len()
        ));
    }
    let mut shape = vec![Dim::Batch];
    for (k, d) in dims.iter().enumerate().skip(1) {
        match &d.value {
            Some(nn_onnx::DimensionValue::DimValue(v)) if *v > 0 => {
                shape.push(Dim::N(ops::in_range("the input's dimensions", *v)?))
            }
            Some(nn_onnx::DimensionValue::DimParam(p)) if !p.is_empty() => {
                let p = param_name(p);
                if !params.contains(&p) {
                    params.push(p.clone());
                }
                shape.push(Dim::Param(p));
            }
            _ => {
                return Err(format!(
                    "dimension {k} of input `{name}` has no size: export it with a fixed size (or a named one, which becomes a parameter of the network)"
                ))
            }
        }
    }
    let sample: Vec<String> = shape[1..].iter().map(|d| d.to_string()).collect();
    let text = format!(
        "{}[{}]",
        if tokens { "tokens" } else { "" },
        sample.join(", ")
    );
    Ok((
        text,
        Data {
            sample: shape[1..].to_vec(),
            shape,
            path: Vec::new(),
            tokens,
            sequence_of: None,
            half_of: None,
            region: None,
            affine_of: None,
        },
    ))
}
