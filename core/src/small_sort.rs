//! A stable insertion sort for the short lists the gateway orders (an
//! answer's choices and tool calls, redaction spans, the keys of an admin
//! listing).
//!
//! The standard library's stable sort is fast on any input, but each
//! element type gets its own few kilobytes of merge and small-sort code in
//! the wasm; this one is a few hundred bytes. It is quadratic, which is
//! fine for lists of a few thousand at most.

use std::cmp::Ordering;

/// Sorts `items` by `compare`, keeping equal items in their order.
pub fn sort_by<T>(items: &mut [T], mut compare: impl FnMut(&T, &T) -> Ordering) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 {
            let out_of_order = match (items.get(j - 1), items.get(j)) {
                (Some(before), Some(after)) => compare(before, after) == Ordering::Greater,
                _ => false,
            };
            if !out_of_order {
                break;
            }
            items.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Sorts `items` by the key `key` gives, keeping equal items in their order.
pub fn sort_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(items, |a, b| key(a).cmp(&key(b)));
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sorts_like_the_standard_stable_sort(items in proptest::collection::vec((0u8..8, any::<u16>()), 0..64)) {
            let mut ours = items.clone();
            super::sort_by_key(&mut ours, |(k, _)| *k);
            let mut std = items;
            std.sort_by_key(|(k, _)| *k);
            prop_assert_eq!(ours, std);
        }
    }
}
