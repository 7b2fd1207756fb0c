//! A map swept of stale entries whenever it doubles past what was live at the last sweep, so its
//! size follows the live entries, not every key ever seen, at an amortized O(1) per insert.

use std::collections::HashMap;
use std::hash::Hash;

/// Sweeps never run below this size: small maps are not worth the pass.
const MIN_SWEEP: usize = 1024;

pub struct SweptMap<K, V> {
    pub map: HashMap<K, V>,
    sweep_at: usize,
}

impl<K, V> Default for SweptMap<K, V> {
    fn default() -> Self {
        SweptMap {
            map: HashMap::new(),
            sweep_at: MIN_SWEEP,
        }
    }
}

impl<K: Eq + Hash, V> SweptMap<K, V> {
    /// After an insert: when the map has doubled, keeps only the entries `live` says are.
    pub fn sweep_if_grown(&mut self, live: impl FnMut(&K, &mut V) -> bool) {
        if self.map.len() >= self.sweep_at {
            self.map.retain(live);
            self.sweep_at = (self.map.len() * 2).max(MIN_SWEEP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_when_doubled_and_keeps_the_live() {
        let mut m: SweptMap<u32, bool> = SweptMap::default();
        for i in 0..MIN_SWEEP as u32 - 1 {
            m.map.insert(i, i % 2 == 0);
            m.sweep_if_grown(|_, live| *live);
        }
        assert_eq!(m.map.len(), MIN_SWEEP - 1, "no sweep below the threshold");
        m.map.insert(99_999, true);
        m.sweep_if_grown(|_, live| *live);
        assert_eq!(m.map.len(), MIN_SWEEP / 2 + 1, "the stale half went");
        assert!(m.map.values().all(|live| *live));
    }
}
