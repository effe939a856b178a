//! Load balancing: a weighted random order of a group's targets.

use super::rng::Rng;
use crate::config::{Target, Weighted};

/// The group's targets in a random order where each position is drawn with
/// probability proportional to weight among those not yet drawn (weighted
/// sampling without replacement). The first target therefore gets
/// `weight / total` of the traffic, and if it fails, the others follow.
/// Only a real choice draws: the last target left (and so a group of one,
/// the common route) takes its place without asking the RNG, which in the
/// worker is a call into the runtime.
pub fn weighted_order(group: &[Weighted], rng: &mut impl Rng) -> Vec<Target> {
    let mut left: Vec<&Weighted> = group.iter().collect();
    let mut order = Vec::with_capacity(left.len());
    while left.len() > 1 {
        let total: u64 = left.iter().map(|w| u64::from(w.weight.max(1))).sum();
        let mut pick = rng.below(total);
        let mut chosen = left.len() - 1;
        for (i, w) in left.iter().enumerate() {
            let weight = u64::from(w.weight.max(1));
            if pick < weight {
                chosen = i;
                break;
            }
            pick -= weight;
        }
        order.push(left.remove(chosen).target.clone());
    }
    order.extend(left.into_iter().map(|w| w.target.clone()));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reliability::rng::SplitMix64;

    fn weighted(name: &str, weight: u32) -> Weighted {
        Weighted { target: Target { provider: "p".into(), model: name.into() }, weight }
    }

    #[test]
    fn traffic_splits_by_weight_within_tolerance() {
        let group = [weighted("a", 3), weighted("b", 1)];
        let mut rng = SplitMix64::new(42);
        let draws = 20_000;
        let first_a = (0..draws).filter(|_| weighted_order(&group, &mut rng)[0].model == "a").count();
        let share = first_a as f64 / draws as f64;
        assert!((share - 0.75).abs() < 0.02, "a got {share:.3} of the traffic");
    }

    #[test]
    fn every_target_appears_once_so_the_rest_are_fallbacks() {
        let group = [weighted("a", 5), weighted("b", 1), weighted("c", 2)];
        let mut rng = SplitMix64::new(7);
        for _ in 0..100 {
            let mut names: Vec<String> = weighted_order(&group, &mut rng).into_iter().map(|t| t.model).collect();
            names.sort();
            assert_eq!(names, ["a", "b", "c"]);
        }
    }

    #[test]
    fn a_single_target_is_always_first() {
        let mut rng = SplitMix64::new(1);
        assert_eq!(weighted_order(&[weighted("only", 1)], &mut rng)[0].model, "only");
    }

    /// An RNG that counts how often it is asked.
    struct Counting(u32);

    impl Rng for Counting {
        fn next_u64(&mut self) -> u64 {
            self.0 += 1;
            0
        }
    }

    #[test]
    fn only_a_real_choice_draws() {
        let mut rng = Counting(0);
        weighted_order(&[weighted("only", 1)], &mut rng);
        assert_eq!(rng.0, 0, "a group of one needs no randomness");
        weighted_order(&[weighted("a", 1), weighted("b", 1), weighted("c", 1)], &mut rng);
        assert_eq!(rng.0, 2, "three targets: two choices, the last takes what is left");
    }
}
