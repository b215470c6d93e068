//! Fusion, the second pass: merges layers whose work one kernel does better together, as
//! the declarations' flags allow.
//!
//! - An element-wise activation (`fuses_into_previous`: Relu, Tanh, Sigmoid) right after a
//!   layer that can apply one in its kernel (Dense, convolutions, batch normalisation): one
//!   layer whose kernel activates its output in place. Only when the activation is unnamed (it has no field of
//!   its own then) and written without arguments, and never the chain's last layer when it
//!   is a loss head (a final Sigmoid, which a loss fuses with instead).
//! - A pooling (`pooling`) right after a convolution (`takes_pooling`), or after the
//!   activation fused into one: one layer that pools each sample's output while it is in
//!   cache. Only when the pooling is unnamed.
//!
//! The summary still shows the layers as written.

use crate::ir::{Body, Chain, Layer};
use crate::shape::Env;
use quote::quote;

/// The layers of a chain (and of its joins' paths), fused.
pub fn chain(layers: Vec<Layer>, env: Env<'_>) -> Vec<Layer> {
    let count = layers.len();
    let mut fused: Vec<Layer> = Vec::with_capacity(count);
    for (index, mut layer) in layers.into_iter().enumerate() {
        if let Body::Join(join) = &mut layer.body {
            for path in &mut join.paths {
                if let Some(chain) = path.chain.take() {
                    path.chain = Some(Chain {
                        layers: self::chain(chain.layers, env),
                        ..chain
                    });
                }
            }
        }
        let last = index + 1 == count;
        match fused.last_mut() {
            Some(before) if takes_activation(before, &layer, last) => {
                fuse_activation(before, layer);
            }
            Some(before) if takes_pooling(before, &layer) => fuse_pooling(before, layer, env),
            _ => fused.push(layer),
        }
    }
    fused
}

/// Whether `layer` (the chain's `last` when so) is an activation that fuses into `before`.
fn takes_activation(before: &Layer, layer: &Layer, last: bool) -> bool {
    let flags = layer.decl.flags;
    let fusable = flags.fuses_into_previous
        && !layer.named
        && layer.bare
        && !(flags.loss_head && last)
        && layer.rule().is_some_and(|r| r.activation.is_some());
    // Only into a layer that has taken nothing yet.
    fusable && before.fused.is_empty() && before.rule().is_some_and(|r| r.with_activation.is_some())
}

/// Whether `layer` is a pooling that fuses into the convolution `before` (or into the
/// activation fused into it).
fn takes_pooling(before: &Layer, layer: &Layer) -> bool {
    layer.decl.flags.pooling
        && !layer.named
        && before.decl.flags.takes_pooling
        // Nothing but an activation fused into it yet.
        && before.fused.iter().all(|d| d.flags.fuses_into_previous)
        && matches!(before.body, Body::Layer(_))
        && matches!(layer.body, Body::Layer(_))
}

fn fuse_activation(before: &mut Layer, activation: Layer) {
    let (Body::Layer(rule), Body::Layer(act)) = (&mut before.body, activation.body) else {
        return;
    };
    if let (Some(with), Some(function)) = (rule.with_activation.take(), &act.activation) {
        rule.ty = with(function);
    }
    before.rows.extend(activation.rows);
    before.fused.push(activation.decl);
}

fn fuse_pooling(conv: &mut Layer, pool: Layer, env: Env<'_>) {
    let rt = env.rt;
    let (Body::Layer(rule), Body::Layer(pool_rule)) = (&mut conv.body, pool.body) else {
        return;
    };
    let (conv_ty, pool_ty, conv_init) = (&rule.ty, &pool_rule.ty, &rule.init);
    rule.ty = quote!(#rt::layers::ConvPool<#conv_ty, #pool_ty>);
    rule.init = quote! {
        #rt::layers::ConvPool {
            conv: #conv_init,
            pool: ::core::default::Default::default(),
        }
    };
    rule.out = pool_rule.out;
    rule.rank_hint = pool_rule.rank_hint;
    rule.with_activation = None;
    rule.stepped = false;
    conv.rows.extend(pool.rows);
    conv.fused.push(pool.decl);
}
