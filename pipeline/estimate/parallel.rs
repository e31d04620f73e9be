//! The estimation's independent pieces of work (the savings' bootstrap blocks, the subgroup
//! fits, one fit per measure) spread over the run's threads. Results come back in the order
//! of the input and each piece is computed exactly as it would be alone, so what is published
//! does not depend on the thread count.

use datafusion::prelude::SessionContext;
use rayon::prelude::*;

/// The run's thread count (`--threads`), which the SQL engine was given as its partitions.
pub(crate) fn threads(ctx: &SessionContext) -> usize {
    ctx.state().config().target_partitions().max(1)
}

/// `work` applied to each item on up to `threads` threads, the results in the items' order.
pub(crate) fn map<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    work: impl Fn(&T) -> R + Sync + Send,
) -> Vec<R> {
    if threads <= 1 || items.len() <= 1 {
        return items.iter().map(work).collect();
    }
    match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool.install(|| items.par_iter().map(&work).collect()),
        // No threads to be had: the same work on this one.
        Err(_) => items.iter().map(work).collect(),
    }
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
            assert_eq!(map(threads, &items, square), expected);
        }
    }
}
