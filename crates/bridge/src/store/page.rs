//! Keyset pages, the one rule every list follows: a handler serving a page of `limit` rows asks
//! its store for [`with_next`]`(limit)` rows, and a store reads at most [`rows_read`]`(limit, max)`
//! — the largest page plus that one row. The extra row only tells whether another page follows
//! ([`split`]), so a list read at its largest `limit` still answers a `next_cursor`.

/// The rows a handler asks for to serve a page of `limit`: one more, to learn if another follows.
pub fn with_next(limit: u32) -> u32 {
    limit.saturating_add(1)
}

/// The rows a store reads when asked for `limit`: at least one, at most its largest page `max`
/// plus the row that tells whether another page follows.
pub fn rows_read(limit: u32, max: u32) -> u32 {
    limit.clamp(1, max.saturating_add(1))
}

/// Splits what a store returned for [`with_next`]`(limit)` into the page and whether more follow.
pub fn split<T>(mut rows: Vec<T>, limit: u32) -> (Vec<T>, bool) {
    let limit = limit as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_page_still_reads_the_next_row() {
        assert_eq!(rows_read(with_next(500), 500), 501);
        assert_eq!(rows_read(0, 500), 1);
        assert_eq!(rows_read(u32::MAX, 500), 501);
        assert_eq!(split(vec![1, 2, 3], 2), (vec![1, 2], true));
        assert_eq!(split(vec![1, 2], 2), (vec![1, 2], false));
    }
}
