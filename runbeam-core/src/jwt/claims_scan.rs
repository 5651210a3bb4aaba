//! The common shape of a claims set read without serde: one pass over the payload's bytes,
//! every string borrowed from it. It answers only for plain JSON — no `\` escape anywhere,
//! integers without fraction or exponent for the numeric claims, each known claim at most once
//! — and gives up (`None`) on anything else, which [`super::claims::Claims::parse`] then reads
//! with serde as before. What it accepts is valid JSON that serde reads to the same claims: a
//! property test checks both readings against each other on generated and mutated payloads.

/// `user` or `team` as read: the `id` (a string, or a non-negative integer's digits), `email`
/// (`user` only) and `name`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Member<'a> {
    pub(crate) id: &'a str,
    pub(crate) email: Option<&'a str>,
    pub(crate) name: Option<&'a str>,
}

/// `aud` as read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Aud<'a> {
    One(&'a str),
    Many(Vec<&'a str>),
}

/// The typed claims of a payload, borrowed from it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Scanned<'a> {
    pub(crate) iss: Option<&'a str>,
    pub(crate) sub: Option<&'a str>,
    pub(crate) aud: Option<Aud<'a>>,
    pub(crate) exp: Option<i64>,
    pub(crate) iat: Option<i64>,
    pub(crate) nbf: Option<i64>,
    pub(crate) jti: Option<&'a str>,
    pub(crate) user: Option<Member<'a>>,
    pub(crate) team: Option<Member<'a>>,
    pub(crate) mesh_id: Option<&'a str>,
    pub(crate) dest_url: Option<&'a str>,
}

/// Unknown claims nested deeper than this are left to serde.
const MAX_DEPTH: usize = 32;

/// Reads `json` (a whole payload) when it has the common shape; `None` to let serde read it.
#[inline]
pub(crate) fn scan(json: &str) -> Option<Scanned<'_>> {
    if json.as_bytes().contains(&b'\\') {
        return None;
    }
    let mut p = Scanner { text: json, at: 0 };
    let mut out = Scanned::default();
    // Which known claims were seen (a second one is left to serde, which refuses it).
    let mut seen = 0u16;
    p.ws();
    p.object(|p, key| {
        let bit: u16 = match key {
            "iss" => 1,
            "sub" => 1 << 1,
            "aud" => 1 << 2,
            "exp" => 1 << 3,
            "iat" => 1 << 4,
            "nbf" => 1 << 5,
            "jti" => 1 << 6,
            "user" => 1 << 7,
            "team" => 1 << 8,
            "mesh_id" => 1 << 9,
            "dest_url" => 1 << 10,
            _ => return p.skip(0),
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        match bit {
            1 => out.iss = p.text_or_null()?,
            2 => out.sub = p.text_or_null()?,
            4 => out.aud = p.aud()?,
            8 => out.exp = p.int_or_null()?,
            16 => out.iat = p.int_or_null()?,
            32 => out.nbf = p.int_or_null()?,
            64 => out.jti = p.text_or_null()?,
            128 => out.user = p.member(true)?,
            256 => out.team = p.member(false)?,
            512 => out.mesh_id = p.text_or_null()?,
            _ => out.dest_url = p.text_or_null()?,
        }
        Some(())
    })?;
    p.ws();
    (p.at == json.len()).then_some(out)
}

/// A JOSE header's `alg` and `kid` when the header is plain JSON (as [`scan`] requires), both
/// strings or absent, and it has no `crit`; `None` to let serde read it.
#[inline]
pub(crate) fn scan_header(json: &str) -> Option<(Option<&str>, Option<&str>)> {
    if json.as_bytes().contains(&b'\\') {
        return None;
    }
    let mut p = Scanner { text: json, at: 0 };
    let (mut alg, mut kid) = (None, None);
    p.ws();
    p.object(|p, key| {
        let slot = match key {
            "alg" => &mut alg,
            "kid" => &mut kid,
            // `crit` is refused after `alg` is checked: serde keeps that order.
            "crit" => return None,
            _ => return p.skip(0),
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(p.string()?);
        Some(())
    })?;
    p.ws();
    (p.at == json.len()).then_some((alg, kid))
}

struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    #[inline]
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    #[inline]
    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        (self.text.as_bytes().get(self.at..end)? == word.as_bytes()).then(|| self.at = end)
    }

    /// A string without escapes (checked for the whole payload) or control characters.
    #[inline]
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let rest = self.text.as_bytes().get(self.at..)?;
        let len = rest.iter().position(|&b| b == b'"' || b < 0x20)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        // Both ends are ASCII quotes: the slice is on character boundaries.
        let s = self.text.get(self.at..self.at + len)?;
        self.at += len + 1;
        Some(s)
    }

    /// `{ "key": value, ... }` with `member` reading each value after its key and ':'.
    #[inline]
    fn object(
        &mut self,
        mut member: impl FnMut(&mut Scanner<'a>, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            member(self, key)?;
            self.ws();
            match self.peek()? {
                b',' => {
                    self.at += 1;
                    self.ws();
                }
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// The digits of an integer: `0`, or `[1-9][0-9]*` (JSON has no leading zeros), when no
    /// fraction or exponent follows.
    #[inline]
    fn digits(&mut self) -> Option<&'a str> {
        let rest = self.text.as_bytes().get(self.at..)?;
        let len = rest
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(rest.len());
        if len == 0 || (len > 1 && rest.first() == Some(&b'0')) {
            return None;
        }
        if matches!(rest.get(len), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let s = self.text.get(self.at..self.at + len)?;
        self.at += len;
        Some(s)
    }

    /// A string claim: `Some(None)` for null; anything else but a string is left to serde.
    #[inline]
    fn text_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.peek()? == b'n' {
            return self.literal("null").map(|()| None);
        }
        self.string().map(Some)
    }

    /// A numeric date given as an integer of at most 18 digits (so it fits an `i64`).
    #[inline]
    fn int_or_null(&mut self) -> Option<Option<i64>> {
        match self.peek()? {
            b'n' => self.literal("null").map(|()| None),
            b'-' => {
                self.at += 1;
                let d = self.digits().filter(|d| d.len() <= 18 && *d != "0")?;
                d.parse::<i64>().ok().map(|n| Some(-n))
            }
            _ => {
                let d = self.digits().filter(|d| d.len() <= 18)?;
                d.parse::<i64>().ok().map(Some)
            }
        }
    }

    #[inline]
    fn aud(&mut self) -> Option<Option<Aud<'a>>> {
        match self.peek()? {
            b'n' => self.literal("null").map(|()| None),
            b'"' => self.string().map(|s| Some(Aud::One(s))),
            b'[' => {
                self.at += 1;
                self.ws();
                let mut list = Vec::new();
                if self.eat(b']').is_some() {
                    return Some(Some(Aud::Many(list)));
                }
                loop {
                    list.push(self.string()?);
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.at += 1;
                            self.ws();
                        }
                        b']' => {
                            self.at += 1;
                            return Some(Some(Aud::Many(list)));
                        }
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    /// `user` (`with_email`) or `team`: null, or an object with an `id`.
    #[inline]
    fn member(&mut self, with_email: bool) -> Option<Option<Member<'a>>> {
        if self.peek()? == b'n' {
            return self.literal("null").map(|()| None);
        }
        let (mut id, mut email, mut name) = (None, None, None);
        let mut seen = 0u8;
        self.object(|p, key| {
            let bit = match key {
                "id" => 1,
                "email" if with_email => 2,
                "name" => 4,
                _ => return p.skip(1),
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            match bit {
                1 => {
                    id = Some(if p.peek()? == b'"' {
                        p.string()?
                    } else {
                        // A non-negative integer's digits are its text (19 digits fit a u64).
                        p.digits().filter(|d| d.len() <= 19)?
                    });
                    Some(())
                }
                2 => p.text_or_null().map(|v| email = v),
                _ => p.text_or_null().map(|v| name = v),
            }
        })?;
        Some(Some(Member {
            id: id?,
            email,
            name,
        }))
    }

    /// Any JSON value (an unknown claim), checked as serde checks it and skipped.
    #[inline]
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'n' => self.literal("null"),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'{' => self.object(|p, _| p.skip(depth + 1)),
            b'[' => {
                self.at += 1;
                self.ws();
                if self.eat(b']').is_some() {
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.at += 1;
                            self.ws();
                        }
                        b']' => {
                            self.at += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'-' => {
                self.at += 1;
                self.digits().map(drop)
            }
            // Integers only: a fraction or an exponent is left to serde.
            _ => self.digits().map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::claims::Claims;
    use super::*;

    /// The reading `Claims::parse` gives (scan first) and serde's, as comparable text.
    fn both(json: &str) -> (String, String) {
        let show = |r: Result<Claims, crate::Error>| match r {
            Ok(c) => format!("{c:?}"),
            Err(e) => format!("error: {e}"),
        };
        (
            show(Claims::parse(json.to_owned())),
            show(Claims::parse_serde(json.to_owned())),
        )
    }

    #[test]
    fn reads_the_common_shapes_without_serde() {
        for json in [
            r#"{"iss":"http://127.0.0.1:1/api","sub":"u-1","iat":1700000000,"nbf":1700000000,"exp":1700003600,"jti":"a1","user":{"id":"u-1","email":"alice@example.com","name":"Alice"},"team":{"id":"t-1","name":"Radiology"}}"#,
            r#"{"iss":"local:lab","sub":"gateway:gw","aud":"mesh:lab","jti":"j","mesh_id":"lab","dest_url":"https://x.example/in","iat":1,"exp":301}"#,
            r#" { "exp" : 1 , "aud" : [ "a" , "b" ] , "user" : { "id" : 7 , "x" : [1, {"y": null}] } , "extra" : true } "#,
            r#"{"exp":-5,"user":null,"team":{"id":"0","name":null},"aud":[],"é":"ü"}"#,
        ] {
            assert!(scan(json).is_some(), "{json}");
            let (fast, serde) = both(json);
            assert_eq!(fast, serde, "{json}");
        }
        // Left to serde: escapes, fractions, exponents, duplicates, trailing text, bad JSON.
        for json in [
            r#"{"exp":1,"sub":"a\"b"}"#,
            r#"{"exp":1.5}"#,
            r#"{"exp":1e3}"#,
            r#"{"exp":1,"x":2.5}"#,
            r#"{"exp":1,"sub":"a","sub":"b"}"#,
            r#"{"exp":1,"user":{"id":1,"id":2}}"#,
            r#"{"exp":1} x"#,
            r#"{"exp":01}"#,
            r#"{"exp":-0}"#,
            r#"{"exp":1,}"#,
            r#"{"exp":1,"iss":3}"#,
            r#"{"exp":1,"user":{"id":-1}}"#,
            r#"{"exp":1,"user":{"name":"n"}}"#,
            r#"{"exp":1,"aud":["a",1]}"#,
            "{\"exp\":1,\"sub\":\"a\u{1}\"}",
            r#"{"exp":1234567890123456789}"#,
        ] {
            assert!(scan(json).is_none(), "{json}");
            let (fast, serde) = both(json);
            assert_eq!(fast, serde, "{json}");
        }
    }

    #[derive(serde::Deserialize)]
    struct SerdeHeader<'a> {
        #[serde(borrow)]
        alg: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        kid: Option<std::borrow::Cow<'a, str>>,
        crit: Option<serde::de::IgnoredAny>,
    }

    /// When the header scan answers, serde reads the same `alg` and `kid` and no `crit`.
    fn header_agrees(json: &str) -> Result<(), TestCaseError> {
        if let Some((alg, kid)) = scan_header(json) {
            let h: SerdeHeader<'_> = serde_json::from_str(json)
                .map_err(|e| TestCaseError::fail(format!("{json}: serde refused: {e}")))?;
            prop_assert_eq!(h.alg.as_deref(), alg, "{}", json);
            prop_assert_eq!(h.kid.as_deref(), kid, "{}", json);
            prop_assert!(h.crit.is_none(), "{}", json);
        }
        Ok(())
    }

    #[test]
    fn reads_plain_headers_and_leaves_the_rest_to_serde() {
        assert_eq!(
            scan_header(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#),
            Some((Some("RS256"), Some("k1")))
        );
        assert_eq!(scan_header(r#"{"typ":"JWT"}"#), Some((None, None)));
        for json in [
            r#"{"alg":"RS256","kid":7}"#,
            r#"{"alg":null,"kid":"k"}"#,
            r#"{"alg":"RS256","kid":"k","crit":["x"]}"#,
            r#"{"alg":"RS256","alg":"none","kid":"k"}"#,
            r#"{"alg":"R\u0053256","kid":"k"}"#,
            r#"["RS256","k"]"#,
            r#"{"alg":"RS256","kid":"k"} {}"#,
        ] {
            assert_eq!(scan_header(json), None, "{json}");
        }
    }

    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            (0u32..3_000_000_000).prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| serde_json::to_string(&f).unwrap_or_default()),
            Just("-0".to_string()),
            Just("1e3".to_string()),
            ".{0,6}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
            "[a-z]{0,5}".prop_map(|s| format!("\"{s}\"")),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                proptest::collection::vec((key(), inner), 0..4).prop_map(|v| {
                    let members: Vec<String> =
                        v.into_iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(vec![
                "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "user", "team", "mesh_id",
                "dest_url", "id", "email", "name", "x", "é", "alg", "kid", "crit", "typ",
            ])
            .prop_map(str::to_string),
            "[a-z_]{1,4}",
        ]
    }

    /// Payloads: members with any keys (known ones often) and values, joined with or without
    /// whitespace.
    fn payload() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec((key(), value()), 0..8),
            proptest::sample::select(vec!["", " ", "\n\t", "\r\n "]),
            any::<bool>(),
        )
            .prop_map(|(members, ws, with_exp)| {
                let mut all: Vec<String> = members
                    .into_iter()
                    .map(|(k, v)| format!("\"{k}\"{ws}:{ws}{v}"))
                    .collect();
                if with_exp {
                    all.push("\"exp\":1700000000".into());
                }
                format!("{ws}{{{ws}{}{ws}}}{ws}", all.join(&format!("{ws},{ws}")))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Whenever the scan answers, it is what serde reads (claims, or the error).
        #[test]
        fn the_scan_reads_as_serde(json in payload()) {
            let (fast, serde) = both(&json);
            prop_assert_eq!(fast, serde, "{}", json);
        }

        /// Headers: generated (the payload strategy's members) and mutated.
        #[test]
        fn the_header_scan_reads_as_serde(
            json in payload(),
            at in any::<prop::sample::Index>(),
            byte in proptest::sample::select(b"{}[]:,\"0123456789-.nul \x01".to_vec()),
        ) {
            header_agrees(&json)?;
            let mut bytes = json.into_bytes();
            let i = at.index(bytes.len() + 1);
            bytes.insert(i, byte);
            if let Ok(json) = String::from_utf8(bytes) {
                header_agrees(&json)?;
            }
        }

        /// Mutated payloads (a byte dropped, replaced or inserted): still the same answers.
        #[test]
        fn mutated_payloads_read_as_serde(
            json in payload(),
            at in any::<prop::sample::Index>(),
            edit in 0u8..3,
            byte in proptest::sample::select(b"{}[]:,\"0123456789-.eEnulltrfas \t\x01".to_vec()),
        ) {
            let mut bytes = json.into_bytes();
            let i = at.index(bytes.len() + 1);
            match edit {
                0 if i < bytes.len() => { bytes.remove(i); }
                1 if i < bytes.len() => bytes[i] = byte,
                _ => bytes.insert(i, byte),
            }
            if let Ok(json) = String::from_utf8(bytes) {
                let (fast, serde) = both(&json);
                prop_assert_eq!(fast, serde, "{}", json);
            }
        }
    }
}
