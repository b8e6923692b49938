//! Text helpers: case-insensitive folding that keeps byte offsets, prefix and suffix stripping on word
//! boundaries, and `{}` templates.

/// Lower-cases without changing byte offsets, so positions found in the folded copy index the original text
/// (that is how titles keep the person's capitalisation).
pub(super) fn fold(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) if l.len_utf8() == c.len_utf8() => l,
                _ => c,
            }
        })
        .collect()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric()
}

pub(super) fn first_word(s: &str) -> Option<String> {
    let w = s.split(|c: char| c.is_whitespace() || ",;:!?.".contains(c)).next()?;
    (!w.is_empty()).then(|| fold(w))
}

/// `s` without the leading phrase `p` (lower-case), if `s` starts with it as whole words.
pub(super) fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    // Only the prefix's length is folded (folding keeps byte offsets): folding all of `s` for each of the
    // fillers, once per filler stripped, made an 8,000-character "thanks thanks …" take seconds.
    if s.get(..p.len()).is_none_or(|head| fold(head) != p) {
        return None;
    }
    let rest = &s[p.len()..];
    if p.ends_with(is_word) && rest.starts_with(is_word) {
        return None;
    }
    Some(rest.trim_start())
}

pub(super) fn strip_suffix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    if s.len().checked_sub(p.len()).and_then(|at| s.get(at..)).is_none_or(|tail| fold(tail) != p) {
        return None;
    }
    let head = &s[..s.len() - p.len()];
    if p.starts_with(is_word) && head.ends_with(is_word) {
        return None;
    }
    Some(head.trim_end())
}

/// The longest of `ps` that starts `s`, and what follows it.
pub(super) fn strip_any_prefix<'a>(s: &'a str, ps: &[&'static str]) -> Option<(&'a str, &'static str)> {
    ps.iter().filter_map(|p| strip_prefix_ci(s, p).map(|r| (r, *p))).max_by_key(|(_, p)| p.len())
}

pub(super) fn strip_any_suffix<'a>(s: &'a str, ps: &[&'static str]) -> Option<(&'a str, &'static str)> {
    ps.iter().filter_map(|p| strip_suffix_ci(s, p).map(|r| (r, *p))).max_by_key(|(_, p)| p.len())
}

/// Every way `text` fits `pattern`, whose `{}` are slots for non-empty text and whose literal parts must sit on
/// word boundaries (case-insensitive). Leftmost splits come first; callers try them in order.
pub(super) fn match_template<'a>(pattern: &str, text: &'a str) -> Vec<Vec<&'a str>> {
    let lower = fold(text);
    let lits: Vec<&str> = pattern.split("{}").collect();
    let mut out = Vec::new();
    if lit_at(&lower, 0, lits[0]) {
        let mut m = Matcher { lits: &lits, text, lower: &lower, caps: Vec::new(), out: &mut out };
        m.fill(0, lits[0].len());
    }
    out
}

struct Matcher<'p, 'a, 'o> {
    lits: &'p [&'p str],
    text: &'a str,
    lower: &'p str,
    caps: Vec<&'a str>,
    out: &'o mut Vec<Vec<&'a str>>,
}

impl<'a> Matcher<'_, 'a, '_> {
    /// Fills slot `i` (between literal `i` and `i + 1`) starting at byte `pos`.
    fn fill(&mut self, i: usize, pos: usize) {
        if i + 1 == self.lits.len() {
            if pos == self.text.len() {
                self.out.push(self.caps.clone());
            }
            return;
        }
        let next = self.lits[i + 1];
        let last = i + 2 == self.lits.len();
        let ends: Vec<usize> = if next.is_empty() {
            if !last {
                return; // two slots in a row are ambiguous; templates never do that
            }
            vec![self.text.len()]
        } else {
            self.lower[pos..]
                .match_indices(next)
                .map(|(q, _)| pos + q)
                .filter(|&q| lit_at(self.lower, q, next))
                .collect()
        };
        for q in ends {
            if last && q + next.len() != self.text.len() {
                continue;
            }
            let cap = self.text[pos..q].trim();
            if cap.is_empty() {
                continue;
            }
            self.caps.push(cap);
            self.fill(i + 1, q + next.len());
            self.caps.pop();
        }
    }
}

fn lit_at(lower: &str, pos: usize, lit: &str) -> bool {
    if !lower[pos..].starts_with(lit) {
        return false;
    }
    let end = pos + lit.len();
    let before_ok = !lit.starts_with(is_word) || !lower[..pos].ends_with(is_word);
    let after_ok = !lit.ends_with(is_word) || !lower[end..].starts_with(is_word);
    before_ok && after_ok
}
