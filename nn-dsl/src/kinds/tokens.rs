//! Layers over tokens: `Embedding` of token ids, `PositionalEmbedding` and
//! `MultiHeadAttention` over sequences of vectors.

use crate::args::{args, Count, Flag, NoArgs};
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
        r.require(Cmp::MultipleOf, dim, heads, &a.heads, || {
            format!(
                "{} heads do not divide the dimension {}: each head takes dimension / heads features",
                heads.text(),
                dim.text()
            )
        })?;
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
                    "CrossAttention reads two sequences, the queries' `[tokens, features]` and the keys' and values' `[tokens, features]`, but its input is {}",
                    input.text()
                ),
            ));
        };
        for (features, which) in [(fq, "queries"), (fk, "keys and values")] {
            r.require(Cmp::Eq, dim, features, &a.dim, || {
                format!(
                    "CrossAttention's dimension {} must be the features of its {which}, {} (input {})",
                    dim.text(),
                    features.text(),
                    input.text()
                )
            })?;
        }
        r.require(Cmp::MultipleOf, dim, heads, &a.heads, || {
            format!(
                "{} heads do not divide the dimension {}: each head takes dimension / heads features",
                heads.text(),
                dim.text()
            )
        })?;
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
    KindEntry::layer::<PositionalEmbedding>(),
];
