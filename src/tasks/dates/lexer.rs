//! Splits text into tokens: runs of ASCII digits, runs of letters (lowercased), and single other characters.
//! Every token keeps its byte span in the original text and whether whitespace came before it, so the grammar
//! can tell "24th" (one word) from "24 th" and `extract` can cut the phrase out of the title.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Num,
    Word,
    Punct,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Tok {
    pub kind: Kind,
    /// Lowercased text of the token.
    pub text: String,
    /// The value of a `Num`, saturating at `u64::MAX` for absurdly long digit runs.
    pub num: u64,
    pub start: usize,
    pub end: usize,
    /// Whitespace (or the start of the text) comes right before this token.
    pub space_before: bool,
}

impl Tok {
    pub fn is(&self, word: &str) -> bool {
        self.text == word
    }

    pub fn digits(&self) -> usize {
        if self.kind == Kind::Num { self.end - self.start } else { 0 }
    }
}

pub(super) fn tokenize(text: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut space = true;
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            space = true;
            continue;
        }
        let kind = if c.is_ascii_digit() {
            Kind::Num
        } else if c.is_alphabetic() {
            Kind::Word
        } else {
            Kind::Punct
        };
        let mut end = start + c.len_utf8();
        chars.next();
        if kind != Kind::Punct {
            while let Some(&(i, d)) = chars.peek() {
                let same = match kind {
                    Kind::Num => d.is_ascii_digit(),
                    _ => d.is_alphabetic(),
                };
                if !same {
                    break;
                }
                end = i + d.len_utf8();
                chars.next();
            }
        }
        let raw = &text[start..end];
        let num = if kind == Kind::Num {
            raw.bytes().fold(0u64, |n, b| n.saturating_mul(10).saturating_add(u64::from(b - b'0')))
        } else {
            0
        };
        toks.push(Tok { kind, text: raw.to_lowercase(), num, start, end, space_before: space });
        space = false;
    }
    toks
}

/// Punctuation that may trail a phrase ("tomorrow!", "dec 24.") and is ignored.
pub(super) fn is_trailing_punct(t: &Tok) -> bool {
    t.kind == Kind::Punct && matches!(t.text.as_str(), "." | "," | "!" | "?" | ";" | ":" | ")" | "…")
}
