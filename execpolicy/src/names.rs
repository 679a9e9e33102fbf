//! A map from program names, for the lookup every decision starts with.

use std::fmt;
use std::hash::BuildHasher;

use rustc_hash::FxBuildHasher;

/// Values by name: open addressing over Fx hashes, with names of up to
/// [`INLINE`] bytes kept in the slot itself. Finding a name compares its
/// hash, then its bytes in place — no pointer followed to a key elsewhere
/// in memory, no call into the C library's `memcmp` — which is most of what
/// a general map costs on the path of every command line.
#[derive(Clone)]
pub(crate) struct NameMap<V> {
    entries: Vec<(Box<str>, V)>,
    /// A power of two, at least twice `entries.len()`; empty when there is
    /// no entry.
    slots: Vec<Slot>,
}

/// Names this long or shorter are compared in the slot.
const INLINE: usize = 20;

#[derive(Clone, Copy, Default)]
struct Slot {
    hash: u64,
    /// `entries` index + 1; 0 for an empty slot.
    entry: u32,
    /// The name's length, and its bytes when it fits.
    len: u32,
    inline: [u8; INLINE],
}

fn hash(name: &str) -> u64 {
    FxBuildHasher.hash_one(name)
}

impl<V> Default for NameMap<V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            slots: Vec::new(),
        }
    }
}

impl<V> NameMap<V> {
    /// The value of `name`.
    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<&V> {
        self.position(name, hash(name))
            .and_then(|i| self.entries.get(i))
            .map(|(_, value)| value)
    }

    /// The entry index of `name`, whose hash is `hash`.
    #[inline]
    fn position(&self, name: &str, hash: u64) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        let bytes = name.as_bytes();
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots.get(i)?;
            let entry = (slot.entry as usize).checked_sub(1)?;
            if slot.hash == hash && slot.len as usize == bytes.len() {
                let same = match slot.inline.get(..bytes.len()) {
                    Some(inline) => inline.iter().zip(bytes).all(|(a, b)| a == b),
                    None => self.entries.get(entry).is_some_and(|(n, _)| **n == *name),
                };
                if same {
                    return Some(entry);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The value of `name`, made by `make` if there is none yet.
    pub(crate) fn get_or_insert_with(&mut self, name: &str, make: impl FnOnce() -> V) -> &mut V {
        let hash = hash(name);
        let index = match self.position(name, hash) {
            Some(index) => index,
            None => {
                self.entries.push((name.into(), make()));
                if self.slots.len() < 2 * self.entries.len() {
                    self.rebuild();
                } else {
                    self.place(self.entries.len() - 1, hash);
                }
                self.entries.len() - 1
            }
        };
        &mut self.entries[index].1
    }

    /// Makes the slots again, twice as many as needed or more.
    fn rebuild(&mut self) {
        let size = (2 * self.entries.len()).next_power_of_two().max(8);
        self.slots = vec![Slot::default(); size];
        for index in 0..self.entries.len() {
            let hash = hash(&self.entries[index].0);
            self.place(index, hash);
        }
    }

    /// Puts entry `index` in the first free slot from its hash's.
    fn place(&mut self, index: usize, hash: u64) {
        let mask = self.slots.len() - 1;
        let name = self.entries[index].0.as_bytes();
        let mut i = hash as usize & mask;
        while self.slots[i].entry != 0 {
            i = (i + 1) & mask;
        }
        let mut slot = Slot {
            hash,
            // Rules files are at most 1 MiB: far fewer names than `u32::MAX`.
            entry: u32::try_from(index + 1).unwrap_or(u32::MAX),
            len: u32::try_from(name.len()).unwrap_or(u32::MAX),
            inline: [0; INLINE],
        };
        if let Some(inline) = slot.inline.get_mut(..name.len()) {
            inline.copy_from_slice(name);
        }
        self.slots[i] = slot;
    }

    /// Every name and value, in the order they were inserted.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries.iter().map(|(name, value)| (&**name, value))
    }
}

impl<V: PartialEq> PartialEq for NameMap<V> {
    /// The same names with the same values, in any order.
    fn eq(&self, other: &Self) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .iter()
                .all(|(name, value)| other.get(name) == Some(value))
    }
}

impl<V: Eq> Eq for NameMap<V> {}

impl<V: fmt::Debug> fmt::Debug for NameMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_short_and_long_are_found_and_others_are_not() {
        let mut map = NameMap::default();
        let names: Vec<String> = (0..300)
            .map(|i| match i % 3 {
                0 => format!("p{i}"),
                1 => format!("a-program-name-longer-than-the-slot-{i}"),
                _ => format!("{}{i}", "é".repeat(i % 13)),
            })
            .collect();
        for (i, name) in names.iter().enumerate() {
            *map.get_or_insert_with(name, || 0) += i;
            *map.get_or_insert_with(name, || 0) += 1;
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(map.get(name), Some(&(i + 1)), "{name}");
        }
        for missing in ["", "p", "p1", "a-program-name-longer-than-the-slot-0", "é"] {
            assert_eq!(map.get(missing), None, "{missing}");
        }
        assert_eq!(NameMap::<u8>::default().get("x"), None);
        let mut reversed = NameMap::default();
        for (i, name) in names.iter().enumerate().rev() {
            reversed.get_or_insert_with(name, || i + 1);
        }
        assert_eq!(map, reversed);
    }
}
