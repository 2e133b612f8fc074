//! Byzantine fault tolerance arithmetic over shards: `n = 3f + 1` at best, so at most
//! `f = (n - 1) / 3` shards are faulty, a quorum is `n - f` shards and "at least one correct"
//! (validity) is `f + 1` shards.

/// The maximum number of faulty shards tolerated among `n_shards`.
pub fn max_n_faulty(n_shards: u16) -> u16 {
    n_shards.saturating_sub(1) / 3
}

/// The minimum number of correct shards, `n - f`: the weight of a quorum.
pub fn min_n_correct(n_shards: u16) -> u16 {
    n_shards - max_n_faulty(n_shards)
}

/// Whether `weight` shards form a quorum (`>= n - f`), as client-side certificate building
/// counts it.
pub fn is_quorum(weight: usize, n_shards: u16) -> bool {
    weight >= usize::from(min_n_correct(n_shards))
}

/// Whether `weight` shards include at least one correct shard (`>= f + 1`).
pub fn is_above_validity(weight: usize, n_shards: u16) -> bool {
    weight > usize::from(max_n_faulty(n_shards))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_for_common_committees() {
        assert_eq!((max_n_faulty(4), min_n_correct(4)), (1, 3));
        assert_eq!((max_n_faulty(10), min_n_correct(10)), (3, 7));
        assert_eq!((max_n_faulty(100), min_n_correct(100)), (33, 67));
        assert_eq!((max_n_faulty(1000), min_n_correct(1000)), (333, 667));
        assert_eq!((max_n_faulty(1), min_n_correct(1)), (0, 1));
        assert!(is_quorum(67, 100) && !is_quorum(66, 100));
        assert!(is_above_validity(34, 100) && !is_above_validity(33, 100));
    }
}
