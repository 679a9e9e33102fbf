//! The commands an evaluation decided on, kept compactly.

use std::fmt;

use serde::ser::{Serialize, SerializeSeq, Serializer};

/// The commands an evaluation decided on — what normalization found after
/// unwrapping wrappers and shells — each a list of words.
///
/// Every word of every command is kept in one buffer, with the positions of
/// the words beside it — both in place for a short command line — so a
/// plain command line is copied in at most two allocations (none when
/// short) rather than one per word: `check` runs before every command, and
/// the copy used to cost more than the decision. Serializes as a list of
/// lists of strings.
///
/// ```
/// use codex_execpolicy::PolicyLoader;
///
/// let policy = PolicyLoader::new().finish();
/// let argv = ["bash", "-lc", "ls -la && pwd"].map(String::from);
/// let commands = policy.check(&argv).commands;
/// assert_eq!(commands.len(), 2);
/// assert_eq!(commands.get(1).map(|c| c.to_vec()), Some(vec!["pwd".to_owned()]));
/// assert_eq!(commands, vec![vec!["ls", "-la"], vec!["pwd"]]);
/// ```
#[derive(Clone, Default)]
pub struct Commands {
    repr: Repr,
}

/// The words of every command, one after the other, and where each word
/// ends, marked when it is the last of its command. A command without
/// words (normalization never makes one) is not kept.
#[derive(Clone)]
enum Repr {
    /// A short command line, kept in place: no allocation, and small
    /// enough that returning it costs little.
    Inline {
        len: u8,
        words: u8,
        bytes: [u8; INLINE_BYTES],
        /// Ends, [`INLINE_LAST`] set on the last word of a command.
        ends: [u8; INLINE_WORDS],
    },
    /// Anything longer.
    Heap {
        text: String,
        /// Ends, [`HEAP_LAST`] set on the last word of a command.
        ends: Vec<u32>,
    },
}

/// Most command lines an agent runs fit: no more bytes and words than
/// these (as large as the heap form, so inlining makes `Commands` no
/// bigger).
const INLINE_BYTES: usize = 36;
const INLINE_WORDS: usize = 10;
/// Inline ends are below 128: the top bit marks a command's last word.
const INLINE_LAST: u8 = 0x80;
/// A command line of 2 GiB cannot be passed to a program (the kernel limits
/// arguments to far less): the top bit marks a command's last word.
const HEAP_LAST: u32 = 1 << 31;

impl Default for Repr {
    fn default() -> Self {
        Self::Inline {
            len: 0,
            words: 0,
            bytes: [0; INLINE_BYTES],
            ends: [0; INLINE_WORDS],
        }
    }
}

impl Repr {
    fn text(&self) -> &str {
        match self {
            // Whole words were copied in, so the bytes are UTF-8; the empty
            // string is a fallback that cannot be reached.
            Self::Inline { len, bytes, .. } => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            Self::Heap { text, .. } => text,
        }
    }

    fn word_count(&self) -> usize {
        match self {
            Self::Inline { words, .. } => usize::from(*words),
            Self::Heap { ends, .. } => ends.len(),
        }
    }

    /// Where word `index` ends in the text, and whether it is the last of
    /// its command.
    fn end(&self, index: usize) -> Option<(usize, bool)> {
        match self {
            Self::Inline { ends, words, .. } => ends
                .get(index)
                .filter(|_| index < usize::from(*words))
                .map(|e| (usize::from(e & !INLINE_LAST), e & INLINE_LAST != 0)),
            Self::Heap { ends, .. } => ends
                .get(index)
                .map(|e| ((e & !HEAP_LAST) as usize, e & HEAP_LAST != 0)),
        }
    }

    /// Appends a word.
    fn push(&mut self, word: &str, last: bool) {
        if let Self::Inline {
            len,
            words,
            bytes,
            ends,
        } = self
        {
            let start = usize::from(*len);
            let end = start + word.len();
            if let (Some(room), Some(slot)) =
                (bytes.get_mut(start..end), ends.get_mut(usize::from(*words)))
            {
                room.copy_from_slice(word.as_bytes());
                // Below `INLINE_BYTES` (36) and `INLINE_WORDS` (10).
                *slot = end as u8 | if last { INLINE_LAST } else { 0 };
                *len = end as u8;
                *words += 1;
                return;
            }
            let heap_ends = (0..usize::from(*words))
                .filter_map(|i| ends.get(i))
                .map(|e| {
                    u32::from(e & !INLINE_LAST) | if e & INLINE_LAST != 0 { HEAP_LAST } else { 0 }
                })
                .collect();
            let mut text = String::with_capacity(2 * end);
            text.push_str(self.text());
            *self = Self::Heap {
                text,
                ends: heap_ends,
            };
        }
        if let Self::Heap { text, ends } = self {
            text.push_str(word);
            let end = u32::try_from(text.len())
                .unwrap_or(HEAP_LAST - 1)
                .min(HEAP_LAST - 1);
            ends.push(if last { end | HEAP_LAST } else { end });
        }
    }
}

impl Commands {
    /// One command: these words.
    pub(crate) fn one(words: &[String]) -> Self {
        let mut commands = Self::default();
        commands.push(words);
        commands
    }

    /// These commands.
    pub(crate) fn from_lists(lists: &[Vec<String>]) -> Self {
        let mut commands = Self::default();
        for words in lists {
            commands.push(words);
        }
        commands
    }

    fn push(&mut self, words: &[String]) {
        for (i, word) in words.iter().enumerate() {
            self.repr.push(word, i + 1 == words.len());
        }
    }

    /// How many commands.
    pub fn len(&self) -> usize {
        (0..self.repr.word_count())
            .filter(|i| self.repr.end(*i).is_some_and(|(_, last)| last))
            .count()
    }

    /// Whether there is none (an empty command line).
    pub fn is_empty(&self) -> bool {
        self.repr.word_count() == 0
    }

    /// Each command, in order.
    pub fn iter(&self) -> impl Iterator<Item = Command<'_>> + '_ {
        let mut first = 0;
        (0..self.repr.word_count()).filter_map(move |i| {
            let (_, last) = self.repr.end(i)?;
            if !last {
                return None;
            }
            let command = Command {
                repr: &self.repr,
                first,
                words: i + 1 - first,
            };
            first = i + 1;
            Some(command)
        })
    }

    /// Command `index`.
    pub fn get(&self, index: usize) -> Option<Command<'_>> {
        self.iter().nth(index)
    }

    /// The commands as lists of owned words.
    pub fn to_vec(&self) -> Vec<Vec<String>> {
        self.iter().map(|c| c.to_vec()).collect()
    }
}

impl PartialEq for Commands {
    fn eq(&self, other: &Self) -> bool {
        let ends = |r: &Repr| (0..r.word_count()).map(|i| r.end(i)).collect::<Vec<_>>();
        self.repr.text() == other.repr.text() && ends(&self.repr) == ends(&other.repr)
    }
}

impl Eq for Commands {}

/// One command of [`Commands`]: its words.
///
/// # Examples
///
/// ```
/// use codex_execpolicy::PolicyLoader;
///
/// let policy = PolicyLoader::new().finish();
/// let argv = ["bash", "-lc", "git status && cargo test --quiet"].map(String::from);
/// let evaluation = policy.check(&argv);
/// let command = evaluation.commands.get(1).ok_or("no second command")?;
/// assert_eq!(command.len(), 3);
/// assert_eq!(command.get(0), Some("cargo")); // the program
/// assert_eq!(command.iter().collect::<Vec<_>>(), ["cargo", "test", "--quiet"]);
/// assert_eq!(serde_json::to_string(&command)?, r#"["cargo","test","--quiet"]"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct Command<'a> {
    repr: &'a Repr,
    /// Its first word, among all the words of the commands.
    first: usize,
    words: usize,
}

impl<'a> Command<'a> {
    /// How many words.
    pub fn len(&self) -> usize {
        self.words
    }

    /// Whether it has no word.
    pub fn is_empty(&self) -> bool {
        self.words == 0
    }

    /// Word `index` (0 is the program).
    pub fn get(&self, index: usize) -> Option<&'a str> {
        if index >= self.words {
            return None;
        }
        let at = self.first + index;
        let (end, _) = self.repr.end(at)?;
        let start = match at {
            0 => 0,
            _ => self.repr.end(at - 1)?.0,
        };
        self.repr.text().get(start..end)
    }

    /// Each word, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        let this = *self;
        (0..self.len()).map(move |i| this.get(i).unwrap_or_default())
    }

    /// The words, owned.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

impl fmt::Debug for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl fmt::Debug for Commands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for Command<'_> {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

impl<S: AsRef<str>> PartialEq<Vec<Vec<S>>> for Commands {
    fn eq(&self, other: &Vec<Vec<S>>) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == **b)
    }
}

impl Serialize for Command<'_> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for word in self.iter() {
            seq.serialize_element(word)?;
        }
        seq.end()
    }
}

impl Serialize for Commands {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for command in self.iter() {
            seq.serialize_element(&command)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(lists: &[&[&str]]) -> Vec<Vec<String>> {
        lists
            .iter()
            .map(|l| l.iter().map(|w| (*w).to_owned()).collect())
            .collect()
    }

    #[test]
    fn commands_keep_their_words_inline_or_not() {
        let many: Vec<String> = (0..25).map(|i| format!("w{i}")).collect();
        for case in [
            lists(&[]),
            lists(&[&["ls"]]),
            lists(&[&["ls", "-la", ""], &["", "x"], &["pwd"]]),
            vec![many.clone(), many[..3].to_vec(), many],
        ] {
            let commands = Commands::from_lists(&case);
            assert_eq!(commands.to_vec(), case);
            assert_eq!(commands, case);
            assert_eq!(commands.len(), case.len());
            assert_eq!(commands.is_empty(), case.is_empty());
            assert_eq!(commands.get(case.len()).map(|c| c.len()), None);
            let json = serde_json::to_value(&commands).unwrap_or_default();
            assert_eq!(json, serde_json::json!(case));
        }
        assert_eq!(
            Commands::one(&["é".into(), "x".into()]),
            lists(&[&["é", "x"]])
        );
    }
}
