//! The estimation's independent pieces of work (the savings' bootstrap blocks, the subgroup
//! fits, one fit per measure) spread over rayon's pool, which the command sizes to its
//! `--threads`. Results come back in the order of the input and each piece is computed
//! exactly as it would be alone, so what is published does not depend on the thread count.

use rayon::prelude::*;

/// `work` applied to each item side by side, the results in the items' order.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    items.par_iter().map(work).collect()
}

/// How many pieces run at once.
pub(crate) fn threads() -> usize {
    rayon::current_num_threads()
}

#[cfg(test)]
mod tests {
    use super::map;

    #[test]
    fn results_keep_the_items_order_on_any_thread_count() {
        let items: Vec<u64> = (0..1000).collect();
        let square = |item: &u64| item * item;
        let expected: Vec<u64> = items.iter().map(square).collect();
        for threads in [1, 2, 7] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            assert_eq!(pool.install(|| map(&items, square)), expected);
        }
    }
}
