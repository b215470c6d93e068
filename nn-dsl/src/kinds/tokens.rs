//! Layers over tokens: `Embedding` of token ids, `PositionalEmbedding` and
//! `MultiHeadAttention` over sequences of vectors.

use crate::args::{args, choice, Count, Flag, NoArgs};
use crate::ctxt::Reported;
use crate::decl::{Decl, Flags};
use crate::dim::{Cmp, Dim};
use crate::kind::{Kind, KindEntry};
use crate::rule::{Rule, RuleCx};
use crate::shape::{Input, Shape};
use quote::{quote, quote_spanned};

args! {
    /// `Embedding`'s arguments.
    pub struct EmbeddingArgs {
        /// the vocabulary size
        vocabulary: Count,
        /// the embedding dimension
        dimension: Count,
    }
}

pub struct Embedding;

impl Kind for Embedding {
    type Args = EmbeddingArgs;
    const DECL: Decl = Decl {
        name: "Embedding",
        doc: "a learnt vector per token id (PyTorch's `nn.Embedding`, `weight [vocabulary, dimension]`), on a `tokens[length]` input",
        example: "Embedding(1000, 64)",
        accepts: &[Input::Tokens],
        input_words: "token ids as",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &EmbeddingArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let Shape::Tokens(t) = input else {
            return Err(r.unexpected(input));
        };
        let dim = &a.dimension.value;
        let [ta, vocab, da] = r.const_args([
            (t, "sequence length"),
            (&a.vocabulary.value, "vocabulary"),
            (dim, "dimension"),
        ])?;
        Ok(Rule::new(
            quote_spanned!(span=> #rt::Embedding<#ta, #vocab, #da>),
            quote_spanned!(span=> <_ as #rt::layers::Layer>::init(rng)),
            Shape::Matrix(t.clone(), dim.clone()),
        )
        .stepped(true))
    }
}

const TOKENS_WORDS: &str = "a sequence [tokens, features]";

args! {
    /// `MultiHeadAttention`'s arguments.
    pub struct AttentionArgs {
        /// the number of heads
        heads: Count,
        /// the dimension
        dim: Count,
        /// whether each token sees only itself and the tokens before it
        causal: Flag = "false",
        /// whether queries and keys are rotated by their positions
        rope: Flag = "false",
    }
}

pub struct MultiHeadAttention;

impl Kind for MultiHeadAttention {
    type Args = AttentionArgs;
    const DECL: Decl = Decl {
        name: "MultiHeadAttention",
        doc: "self-attention over the tokens of a `[tokens, dim]` sequence (PyTorch's `nn.MultiheadAttention`: `in_proj_weight`, `out_proj`); `dim` must be the features, `heads` must divide it; `causal = true` lets each token see only itself and the tokens before it (PyTorch's `is_causal`), and the layer then steps with a key-value cache of `tokens` steps; `rope = true` rotates each head's queries and keys by their positions (RoPE, Llama's layout; an even `dim / heads`)",
        example: "MultiHeadAttention(4, 64)",
        accepts: &[Input::Matrix],
        input_words: TOKENS_WORDS,
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &AttentionArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let Shape::Matrix(t, f) = input else {
            return Err(r.unexpected(input));
        };
        let (heads, dim) = (&a.heads.value, &a.dim.value);
        r.require(Cmp::Eq, dim, f, &a.dim, || {
            format!(
                "MultiHeadAttention's dimension {} must be its input's features, {} (input [{}, {}])",
                dim.text(),
                f.text(),
                t.text(),
                f.text()
            )
        })?;
        require_heads_divide(r, heads, dim, &a.heads)?;
        if a.rope.value {
            let per_head = dim.div(heads);
            r.require(Cmp::MultipleOf, &per_head, &Dim::Known(2), &a.rope, || {
                format!(
                    "rotary positions rotate pairs of features, but each head has {} / {} = {}, an odd number",
                    dim.text(),
                    heads.text(),
                    per_head.text()
                )
            })?;
        }
        let [ta, fa, ha] = r.const_args([
            (t, "number of tokens"),
            (f, "dimension"),
            (heads, "number of heads"),
        ])?;
        let mask = if a.causal.value {
            quote!(#rt::layers::CausalMask)
        } else {
            quote!(#rt::layers::Unmasked)
        };
        let positions = if a.rope.value {
            quote!(#rt::layers::Rotary)
        } else {
            quote!(#rt::layers::NoRotation)
        };
        Ok(Rule::new(
            quote_spanned!(span=> #rt::MultiHeadAttention<#ta, #fa, #ha, #mask, #positions>),
            quote_spanned!(span=> #rt::MultiHeadAttention::glorot_uniform(rng)),
            input.clone(),
        )
        .stepped(a.causal.value))
    }
}

pub struct CrossAttention;

impl Kind for CrossAttention {
    type Args = CrossAttentionArgs;
    const DECL: Decl = Decl {
        name: "CrossAttention",
        doc: "the queries of the first of two named sequences `[tq, dim]` attend to the keys and values of the second `[tk, dim]` (PyTorch's `nn.MultiheadAttention(query, key, value)` with `key` and `value` the second sequence: `in_proj_weight`, `out_proj`), giving `[tq, dim]`; its input comes from a `Zip` or the network's two inputs",
        example: "CrossAttention(4, 64)",
        accepts: &[Input::Parts],
        input_words: "two named sequences (queries, then keys and values) as",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &CrossAttentionArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let (heads, dim) = (&a.heads.value, &a.dim.value);
        let (tq, tk) = two_sequences(r, input, dim, &a.dim, "queries", "keys and values")?;
        require_heads_divide(r, heads, dim, &a.heads)?;
        let [tqa, tka, fa, ha] = r.const_args([
            (tq, "number of query tokens"),
            (tk, "number of key tokens"),
            (dim, "dimension"),
            (heads, "number of heads"),
        ])?;
        Ok(Rule::new(
            quote_spanned!(span=> #rt::CrossAttention<#tqa, #tka, #fa, #ha>),
            quote_spanned!(span=> #rt::CrossAttention::glorot_uniform(rng)),
            Shape::Matrix(tq.clone(), dim.clone()),
        ))
    }
}

args! {
    /// `CrossAttention`'s arguments.
    pub struct CrossAttentionArgs {
        /// the number of heads
        heads: Count,
        /// the dimension
        dim: Count,
    }
}

choice! {
    /// A transformer layer's feed-forward activation.
    pub enum FeedForwardActivation {
        Relu = "relu",
        Gelu = "gelu",
    }
}

args! {
    /// `TransformerDecoderLayer`'s arguments.
    pub struct DecoderArgs {
        /// the number of heads
        heads: Count,
        /// the dimension
        dim: Count,
        /// the feed-forward block's hidden units
        hidden: Count,
        /// whether each norm comes before its sublayer
        norm_first: Flag = "false",
        /// the feed-forward activation
        activation: FeedForwardActivation = "relu",
    }
}

pub struct TransformerDecoderLayer;

impl Kind for TransformerDecoderLayer {
    type Args = DecoderArgs;
    const DECL: Decl = Decl {
        name: "TransformerDecoderLayer",
        doc: "PyTorch's `nn.TransformerDecoderLayer` without dropout: causal self-attention over the target `[t, dim]`, cross-attention over the memory `[s, dim]`, a feed-forward block of `hidden` units (`activation = relu | gelu`), each with a residual sum and a LayerNorm, before (`norm_first = true`) or after; takes and gives the pair (target, memory), the memory passed on unchanged, so layers stack (parameters `self_attn`, `multihead_attn`, `linear1`, `linear2`, `norm1`–`norm3`)",
        example: "TransformerDecoderLayer(4, 64, 256, norm_first = true)",
        accepts: &[Input::Parts],
        input_words: "two named sequences (the target, then the memory) as",
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, a: &DecoderArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let (tq, tk) = two_sequences(r, input, &a.dim.value, &a.dim, "target", "memory")?;
        let (heads, dim) = (&a.heads.value, &a.dim.value);
        require_heads_divide(r, heads, dim, &a.heads)?;
        let [ta, sa, fa, ha, hidden] = r.const_args([
            (tq, "number of target tokens"),
            (tk, "number of memory tokens"),
            (dim, "dimension"),
            (heads, "number of heads"),
            (&a.hidden.value, "number of hidden units"),
        ])?;
        let activation = match a.activation.value {
            FeedForwardActivation::Relu => quote!(#rt::Relu),
            FeedForwardActivation::Gelu => quote!(#rt::Gelu),
        };
        let norm_first = a.norm_first.value;
        Ok(Rule::new(
            quote_spanned!(span=> #rt::DecoderLayer<#ta, #sa, #fa, #ha, #hidden, #activation, #norm_first>),
            quote_spanned!(span=> <_ as #rt::layers::Layer>::init(rng)),
            input.clone(),
        ))
    }
}

/// The lengths of the two `[tokens, dim]` sequences a layer reading a pair takes (`first`
/// and `second` say what they are in messages), each with `dim` features.
fn two_sequences<'s>(
    r: &RuleCx<'_>,
    input: &'s Shape,
    dim: &Dim,
    at: &dyn quote::ToTokens,
    first: &str,
    second: &str,
) -> Result<(&'s Dim, &'s Dim), Reported> {
    let sequences = match input {
        Shape::Parts(parts) => match parts.as_slice() {
            [q, kv] => match (&q.shape, &kv.shape) {
                (Shape::Matrix(tq, fq), Shape::Matrix(tk, fk)) => Some((tq, fq, tk, fk)),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    let Some((tq, fq, tk, fk)) = sequences else {
        return Err(r.cx.error_spanned_by(
            &r.layer.kind,
            format_args!(
                "{} reads two sequences, the {first} `[tokens, features]` and the {second} `[tokens, features]`, but its input is {}",
                r.decl.name,
                input.text()
            ),
        ));
    };
    for (features, which) in [(fq, first), (fk, second)] {
        r.require(Cmp::Eq, dim, features, at, || {
            format!(
                "{}'s dimension {} must be the features of its {which}, {} (input {})",
                r.decl.name,
                dim.text(),
                features.text(),
                input.text()
            )
        })?;
    }
    Ok((tq, tk))
}

/// `heads` must divide `dim`: each head takes dimension / heads features.
fn require_heads_divide(
    r: &RuleCx<'_>,
    heads: &Dim,
    dim: &Dim,
    at: &dyn quote::ToTokens,
) -> Result<(), Reported> {
    r.require(Cmp::MultipleOf, dim, heads, at, || {
        format!(
            "{} heads do not divide the dimension {}: each head takes dimension / heads features",
            heads.text(),
            dim.text()
        )
    })
}

pub struct PositionalEmbedding;

impl Kind for PositionalEmbedding {
    type Args = NoArgs;
    const DECL: Decl = Decl {
        name: "PositionalEmbedding",
        doc: "adds a learnt vector per position to a `[tokens, features]` sequence",
        example: "PositionalEmbedding",
        accepts: &[Input::Matrix],
        input_words: TOKENS_WORDS,
        flags: Flags::NONE,
    };

    fn rule(r: &RuleCx<'_>, _: &NoArgs, input: &Shape) -> Result<Rule, Reported> {
        let (rt, span) = (r.rt(), r.span());
        let Shape::Matrix(t, f) = input else {
            return Err(r.unexpected(input));
        };
        let [ta, fa] = r.const_args([(t, "number of tokens"), (f, "dimension")])?;
        Ok(Rule::new(
            quote_spanned!(span=> #rt::PositionalEmbedding<#ta, #fa>),
            quote_spanned!(span=> <_ as #rt::layers::Layer>::init(rng)),
            input.clone(),
        )
        .stepped(true))
    }
}

/// This family's kinds, in the order the reference lists them.
pub const KINDS: &[KindEntry] = &[
    KindEntry::layer::<Embedding>(),
    KindEntry::layer::<MultiHeadAttention>(),
    KindEntry::layer::<CrossAttention>(),
    KindEntry::layer::<TransformerDecoderLayer>(),
    KindEntry::layer::<PositionalEmbedding>(),
];
