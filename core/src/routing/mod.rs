//! Complexity routing: an `auto` route names tiers (small, medium, large,
//! each an ordinary list of targets) and each request goes to the tier its
//! complexity calls for. [`features`] reads the request; [`tiers`] scores
//! it with the route's weights and picks the tier, with a reason a person
//! can read. No I/O: the same request always goes to the same tier. A
//! route may instead ask a small model ([`classify`]), with the score as
//! its fallback.

pub mod classify;
pub mod features;
pub mod tiers;
