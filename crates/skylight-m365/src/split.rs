//! Splits a JSON array into its elements as the bytes arrive, so that a content blob is parsed
//! while it downloads and is never held whole in memory.
//!
//! The splitter only finds where each element starts and ends (strings, escapes and nesting);
//! whether an element is valid JSON is for the record parser to say, so one broken record is
//! kept aside while the rest of the blob is read.

/// Elements larger than this are not buffered: they are reported as oversized, with their start.
pub const MAX_ELEMENT: usize = 32 * 1024 * 1024;

/// What the body of a blob turned out to be, if not an array.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// Something other than an array, or garbage between elements.
    #[error("not a json array: unexpected {found:?} at byte {at}")]
    Unexpected {
        /// The byte, as a char.
        found: char,
        /// Its offset in the body.
        at: u64,
    },
    /// The body ended before the array did (a cut connection, a truncated answer).
    #[error("the json array is cut short after {0} bytes")]
    Truncated(u64),
}

/// One element found in the array.
#[derive(Debug, PartialEq, Eq)]
pub enum Element<'a> {
    /// The element's bytes.
    Whole(&'a [u8]),
    /// An element over [`MAX_ELEMENT`] bytes: its first bytes and its full length.
    Oversized {
        /// The first [`MAX_ELEMENT`] bytes.
        head: &'a [u8],
        /// Its length.
        len: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    BeforeArray,
    BeforeElement { first: bool },
    InElement,
    AfterElement,
    Done,
}

/// An incremental splitter of one JSON array.
#[derive(Debug)]
pub struct ArraySplitter {
    state: State,
    /// Nesting depth inside the current element (0 for a scalar).
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// The current element is a number, `true`, `false` or `null`: it ends at a delimiter.
    bare: bool,
    current: Vec<u8>,
    current_len: u64,
    offset: u64,
}

impl Default for ArraySplitter {
    fn default() -> Self {
        ArraySplitter::new()
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl ArraySplitter {
    /// A splitter waiting for the array's `[`.
    pub fn new() -> ArraySplitter {
        ArraySplitter {
            state: State::BeforeArray,
            depth: 0,
            in_string: false,
            escaped: false,
            bare: false,
            current: Vec::new(),
            current_len: 0,
            offset: 0,
        }
    }

    /// Feeds the next bytes; calls `on_element` for each element they complete.
    pub fn feed<E>(
        &mut self,
        bytes: &[u8],
        mut on_element: impl FnMut(Element<'_>) -> Result<(), E>,
    ) -> Result<Result<(), SplitError>, E> {
        let mut i = 0;
        while i < bytes.len() {
            // Inside a string, runs of ordinary bytes are copied in one go.
            if self.state == State::InElement && self.in_string && !self.escaped {
                let rest = &bytes[i..];
                let run = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
                if run > 0 {
                    self.push_run(&rest[..run]);
                    self.offset += run as u64;
                    i += run;
                    continue;
                }
            }
            let b = bytes[i];
            i += 1;
            let at = self.offset;
            self.offset += 1;
            let unexpected = Err(SplitError::Unexpected {
                found: char::from(b),
                at,
            });
            match self.state {
                State::BeforeArray => match b {
                    b'[' => self.state = State::BeforeElement { first: true },
                    b if is_ws(b) => {}
                    _ => return Ok(unexpected),
                },
                State::BeforeElement { first } => match b {
                    b if is_ws(b) => {}
                    b']' if first => self.state = State::Done,
                    b',' | b']' => return Ok(unexpected),
                    _ => {
                        self.current.clear();
                        self.current_len = 0;
                        self.depth = 0;
                        self.in_string = false;
                        self.escaped = false;
                        self.bare = false;
                        match b {
                            b'{' | b'[' => self.depth = 1,
                            b'"' => self.in_string = true,
                            _ => self.bare = true,
                        }
                        self.push(b);
                        self.state = State::InElement;
                    }
                },
                State::InElement => {
                    if self.bare {
                        if b == b',' || b == b']' || is_ws(b) {
                            on_element(self.element())?;
                            self.state = match b {
                                b',' => State::BeforeElement { first: false },
                                b']' => State::Done,
                                _ => State::AfterElement,
                            };
                        } else {
                            self.push(b);
                        }
                        continue;
                    }
                    self.push(b);
                    if self.in_string {
                        if self.escaped {
                            self.escaped = false;
                        } else if b == b'\\' {
                            self.escaped = true;
                        } else if b == b'"' {
                            self.in_string = false;
                        }
                    } else {
                        match b {
                            b'"' => self.in_string = true,
                            b'{' | b'[' => self.depth += 1,
                            b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                            _ => {}
                        }
                    }
                    if !self.in_string && self.depth == 0 {
                        on_element(self.element())?;
                        self.state = State::AfterElement;
                    }
                }
                State::AfterElement => match b {
                    b',' => self.state = State::BeforeElement { first: false },
                    b']' => self.state = State::Done,
                    b if is_ws(b) => {}
                    _ => return Ok(unexpected),
                },
                State::Done => {
                    if !is_ws(b) {
                        return Ok(unexpected);
                    }
                }
            }
        }
        Ok(Ok(()))
    }

    /// Checks that the array ended.
    pub fn finish(&self) -> Result<(), SplitError> {
        match self.state {
            State::Done => Ok(()),
            _ => Err(SplitError::Truncated(self.offset)),
        }
    }

    fn push_run(&mut self, run: &[u8]) {
        self.current_len += run.len() as u64;
        let room = MAX_ELEMENT.saturating_sub(self.current.len());
        self.current.extend_from_slice(&run[..run.len().min(room)]);
    }

    fn push(&mut self, b: u8) {
        self.current_len += 1;
        if self.current.len() < MAX_ELEMENT {
            self.current.push(b);
        }
    }

    fn element(&self) -> Element<'_> {
        if self.current_len > MAX_ELEMENT as u64 {
            Element::Oversized {
                head: &self.current,
                len: self.current_len,
            }
        } else {
            Element::Whole(&self.current)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `body` fed in pieces of `piece` bytes.
    fn split(body: &[u8], piece: usize) -> Result<Vec<String>, SplitError> {
        let mut s = ArraySplitter::new();
        let mut out = Vec::new();
        for chunk in body.chunks(piece.max(1)) {
            s.feed(chunk, |e| {
                match e {
                    Element::Whole(b) => out.push(String::from_utf8_lossy(b).into_owned()),
                    Element::Oversized { len, .. } => out.push(format!("<{len} bytes>")),
                }
                Ok::<_, ()>(())
            })
            .expect("no callback error")?;
        }
        s.finish()?;
        Ok(out)
    }

    #[test]
    fn elements_come_out_whole_however_the_body_is_cut() {
        let body = br#" [ {"Id":"a","s":"x,]}\"y","n":[1,{"k":[]}]} ,{"Id":"b"},
            "str\\", 12 ,true,null,[1,[2]],{}]  "#;
        let want = vec![
            r#"{"Id":"a","s":"x,]}\"y","n":[1,{"k":[]}]}"#,
            r#"{"Id":"b"}"#,
            r#""str\\""#,
            "12",
            "true",
            "null",
            "[1,[2]]",
            "{}",
        ];
        for piece in [1, 2, 3, 7, 64, body.len()] {
            assert_eq!(
                split(body, piece).expect("splits"),
                want,
                "pieces of {piece}"
            );
        }
        assert_eq!(split(b"[]", 1).expect("empty"), Vec::<String>::new());
        assert_eq!(split(b"\n[ \n]\n", 1).expect("empty"), Vec::<String>::new());
    }

    #[test]
    fn what_is_not_an_array_is_an_error() {
        for (body, want) in [
            (&b"{\"Id\":1}"[..], "unexpected '{' at byte 0"),
            (b"[1,,2]", "unexpected ',' at byte 3"),
            (b"[1,]", "unexpected ']' at byte 3"),
            (b"[{} {}]", "unexpected '{' at byte 4"),
            (b"[] x", "unexpected 'x' at byte 3"),
        ] {
            let err = split(body, 1).expect_err("refused");
            assert!(err.to_string().contains(want), "{err} vs {want}");
        }
        for body in [
            &b""[..],
            b"[",
            b"[{\"Id\":\"a\"",
            b"[{\"Id\":\"a\"},",
            b"[\"abc",
        ] {
            assert!(
                matches!(split(body, 1), Err(SplitError::Truncated(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn an_oversized_element_is_reported_not_buffered() {
        let big = format!(
            "[{{\"x\":\"{}\"}},{{\"Id\":\"b\"}}]",
            "a".repeat(MAX_ELEMENT)
        );
        let out = split(big.as_bytes(), 1 << 20).expect("splits");
        assert_eq!(
            out,
            vec![
                format!("<{} bytes>", MAX_ELEMENT + 8),
                r#"{"Id":"b"}"#.to_owned()
            ]
        );
    }
}
