//! Glob patterns as `KEYS`, `SCAN MATCH` and `CONFIG GET` use them.
//!
//! `*` matches any run of bytes, `?` any one byte, `[abc]`, `[a-z]` and
//! `[^a]` a byte from (or not from) a set, and `\x` the byte `x` literally.
//! Matching takes time proportional to pattern length times key length at
//! worst, never exponential time.

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Byte(u8),
    Any,
    Star,
    Class { negated: bool, items: Vec<(u8, u8)> },
}

/// A compiled glob pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    /// Compiles `pattern`. Every byte string is a valid pattern; an unclosed
    /// `[` takes the rest of the pattern as its set, and a trailing `\`
    /// matches a backslash.
    pub fn new(pattern: &[u8]) -> Glob {
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < pattern.len() {
            match pattern[i] {
                b'*' => {
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                    i += 1;
                }
                b'?' => {
                    tokens.push(Token::Any);
                    i += 1;
                }
                b'\\' if i + 1 < pattern.len() => {
                    tokens.push(Token::Byte(pattern[i + 1]));
                    i += 2;
                }
                b'[' => {
                    i += 1;
                    let negated = pattern.get(i) == Some(&b'^');
                    if negated {
                        i += 1;
                    }
                    let mut items = Vec::new();
                    while i < pattern.len() && pattern[i] != b']' {
                        let mut lo = pattern[i];
                        if lo == b'\\' && i + 1 < pattern.len() {
                            i += 1;
                            lo = pattern[i];
                            items.push((lo, lo));
                            i += 1;
                        } else if i + 2 < pattern.len()
                            && pattern[i + 1] == b'-'
                            && pattern[i + 2] != b']'
                        {
                            let mut hi = pattern[i + 2];
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            items.push((lo, hi));
                            i += 3;
                        } else {
                            items.push((lo, lo));
                            i += 1;
                        }
                    }
                    i += 1; // the closing ']', if any
                    tokens.push(Token::Class { negated, items });
                }
                b => {
                    tokens.push(Token::Byte(b));
                    i += 1;
                }
            }
        }
        Glob { tokens }
    }

    /// Whether the pattern matches every key (`*`).
    pub fn matches_all(&self) -> bool {
        self.tokens == [Token::Star]
    }

    /// The bytes every matching key starts with.
    pub fn literal_prefix(&self) -> Vec<u8> {
        self.tokens
            .iter()
            .map_while(|t| match t {
                Token::Byte(b) => Some(*b),
                _ => None,
            })
            .collect()
    }

    /// Whether `s` matches the whole pattern.
    pub fn matches(&self, s: &[u8]) -> bool {
        let t = &self.tokens;
        let (mut ti, mut si) = (0, 0);
        // Where to resume after the most recent star: (token after it, byte).
        let mut resume: Option<(usize, usize)> = None;
        while si < s.len() {
            let step = match t.get(ti) {
                Some(Token::Star) => {
                    resume = Some((ti + 1, si));
                    ti += 1;
                    continue;
                }
                Some(Token::Byte(b)) => *b == s[si],
                Some(Token::Any) => true,
                Some(Token::Class { negated, items }) => {
                    let inside = items.iter().any(|&(lo, hi)| lo <= s[si] && s[si] <= hi);
                    inside != *negated
                }
                None => false,
            };
            if step {
                ti += 1;
                si += 1;
            } else if let Some((rt, rs)) = resume {
                // Let the last star swallow one more byte and try again.
                resume = Some((rt, rs + 1));
                ti = rt;
                si = rs + 1;
            } else {
                return false;
            }
        }
        t[ti..].iter().all(|tok| *tok == Token::Star)
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p.as_bytes()).matches(s.as_bytes())
    }

    #[test]
    fn basics() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("user:*", "user:1"));
        assert!(!m("user:*", "use"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxaxxcxxbxx"));
        assert!(m("a*", "a"));
        assert!(!m("", "a"));
        assert!(!m("[", "x"));
        assert!(m("[ab", "b"));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let key = "a".repeat(2000);
        let pat = format!("{}b", "a*".repeat(100));
        assert!(!m(&pat, &key));
    }

    #[test]
    fn prefix() {
        assert_eq!(Glob::new(b"user:*").literal_prefix(), b"user:");
        assert_eq!(Glob::new(b"a\\*b*").literal_prefix(), b"a*b");
        assert_eq!(Glob::new(b"*x").literal_prefix(), b"");
        assert!(Glob::new(b"**").matches_all());
    }
}
