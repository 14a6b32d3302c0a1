//! Deterministic idempotency keys (pure): RFC 8785 canonical JSON and SHA-256.
//!
//! Any application, in any language, that canonicalizes the same payload with
//! RFC 8785 (JCS) computes the same key, so clients can precompute keys.

use crate::domain::error::{LoyaltyError, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Largest payload accepted for hashing, in bytes of canonical JSON.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// The idempotency key of a slip's gameplay accrual.
pub fn gameplay_key(slip_id: &str) -> String {
    format!("gameplay:{slip_id}")
}

/// SHA-256 hex of the canonical form of `payload`.
pub fn hash_payload(payload: &Value) -> Result<String> {
    hash_canonical(&canonical_json(payload)?)
}

/// SHA-256 hex of canonical JSON text, refusing an oversized payload.
pub fn hash_canonical(canonical: &str) -> Result<String> {
    if canonical.len() > MAX_PAYLOAD_BYTES {
        return Err(LoyaltyError::validation(format!(
            "payload is {} bytes of canonical JSON; the limit is {MAX_PAYLOAD_BYTES}",
            canonical.len()
        )));
    }
    Ok(sha256_hex(canonical.as_bytes()))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// RFC 8785: object members sorted by UTF-16 code units at every depth, no
/// whitespace, strings escaped minimally (non-ASCII stays literal), numbers
/// in ECMAScript form.
pub fn canonical_json(v: &Value) -> Result<String> {
    let mut out = String::new();
    write_value(&mut out, v)?;
    Ok(out)
}

fn write_value(out: &mut String, v: &Value) -> Result<()> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&canonical_number(&n.to_string())?),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members = Vec::with_capacity(map.len());
            for (k, item) in map {
                let mut text = String::new();
                write_value(&mut text, item)?;
                members.push((k.as_str(), text));
            }
            write_object(out, members);
        }
    }
    Ok(())
}

/// An object from its members' keys and already-canonical values: members
/// sorted by the UTF-16 code units of their keys.
pub fn write_object<K: AsRef<str>>(out: &mut String, mut members: Vec<(K, String)>) {
    sort_members(&mut members);
    out.push('{');
    for (i, (k, text)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, k.as_ref());
        out.push(':');
        out.push_str(text);
    }
    out.push('}');
}

/// Sort object members into RFC 8785 order by their keys.
pub fn sort_members<K: AsRef<str>, V>(members: &mut [(K, V)]) {
    members.sort_by(|a, b| utf16_order(a.0.as_ref(), b.0.as_ref()));
}

/// RFC 8785 member order. UTF-8 byte order is code point order, which
/// differs from UTF-16 order only past U+FFFF, so ASCII keys skip the
/// re-encoding.
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.cmp(b)
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

pub fn write_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Only ASCII needs escaping, and no byte of a multi-byte UTF-8 sequence
    // is ASCII, so unescaped runs are copied whole.
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(esc);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// A JSON number as RFC 8785 writes it: the IEEE double's shortest
/// round-trip digits in ECMAScript `Number.prototype.toString` layout.
///
/// A number with more precision than a double holds is refused: JCS would
/// silently round it, and two different payloads (say two 19-digit ids)
/// would then share a key, so the second would be dropped as a duplicate.
pub fn canonical_number(text: &str) -> Result<String> {
    let refuse = || {
        LoyaltyError::validation(format!(
            "number {} cannot be represented exactly as an IEEE double; send it as a JSON string",
            crate::domain::error::echo(text)
        ))
    };
    if is_small_integer(text) {
        return Ok(text.to_string());
    }
    let value: f64 = text.parse().map_err(|_| refuse())?;
    if !value.is_finite() {
        return Err(refuse());
    }
    if value == 0.0 {
        // 0, -0, 0.0e5: zero. 1e-400 underflows to zero and is refused,
        // or it would share a key with {"a": 0}.
        return match decimal_parts(text) {
            Some((_, digits, _)) if digits.is_empty() => Ok("0".to_string()),
            _ => Err(refuse()),
        };
    }
    let (neg, digits, exp) = shortest_digits(value);
    if decimal_parts(text) != Some((neg, digits.clone(), exp)) {
        return Err(refuse());
    }
    Ok(ecmascript_layout(neg, &digits, exp))
}

/// An integer of at most 15 digits, without leading zeros or "-0": exact as
/// a double and already in ECMAScript form.
fn is_small_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    (1..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (!digits.starts_with('0') || text == "0")
}

/// Sign, significant digits (no leading/trailing zeros) and the decimal
/// exponent n such that value = 0.d1d2... × 10^n.
fn shortest_digits(v: f64) -> (bool, String, i32) {
    // Rust's `{:e}` prints the shortest digits that round-trip.
    let s = format!("{:e}", v.abs());
    let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0').to_string();
    (v < 0.0, digits, e + 1)
}

/// The same decomposition of a JSON number's text, exactly, or None if the
/// text is not a JSON number.
fn decimal_parts(text: &str) -> Option<(bool, String, i32)> {
    let (neg, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mant, exp) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let all = format!("{int}{frac}");
    let lead = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_matches('0').to_string();
    if digits.is_empty() {
        return Some((neg, String::new(), 0));
    }
    let n = int.len() as i64 - lead as i64 + exp as i64;
    Some((neg, digits, i32::try_from(n).ok()?))
}

fn ecmascript_layout(neg: bool, digits: &str, n: i32) -> String {
    let k = digits.len() as i32;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = n - 1;
        let _ = write!(out, "e{}{}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    out
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    fn canon(v: &str) -> String {
        canonical_json(&serde_json::from_str(v).unwrap()).unwrap()
    }

    #[test]
    fn keys_sorted_at_every_depth_without_whitespace() {
        assert_eq!(
            canon(r#"{ "b": 1, "a": { "d": [3, {"z": true, "y": null}], "c": "x" } }"#),
            r#"{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}"#
        );
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a =
            hash_payload(&json!({"player": "p1", "points": 500, "reason": "birthday"})).unwrap();
        let b =
            hash_payload(&json!({"reason": "birthday", "points": 500, "player": "p1"})).unwrap();
        assert_eq!(a, b);
        let c =
            hash_payload(&json!({"reason": "birthday", "points": 501, "player": "p1"})).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn strings_escape_minimally_and_keep_unicode() {
        assert_eq!(canon(r#""\u00e9\u20ac\ud83c\udfb0""#), "\"é€🎰\"");
        assert_eq!(
            canon(r#""a\"b\\c\n\t\u0001\u007f/""#),
            "\"a\\\"b\\\\c\\n\\t\\u0001\u{7f}/\""
        );
    }

    #[test]
    fn utf16_member_order() {
        // U+1F600 is the surrogate pair D83D DE00 in UTF-16, so it sorts
        // before U+FB01 there, though after it in UTF-8 byte order.
        assert_eq!(
            canon("{\"\u{FB01}\":2,\"\u{1F600}\":1}"),
            "{\"\u{1F600}\":1,\"\u{FB01}\":2}"
        );
    }

    #[test]
    fn rfc8785_numbers() {
        for (input, want) in [
            ("0", "0"),
            ("-0", "0"),
            ("1.0", "1"),
            ("100", "100"),
            ("1e2", "100"),
            ("0.5", "0.5"),
            ("-12.50", "-12.5"),
            ("1e21", "1e+21"),
            ("1e20", "100000000000000000000"),
            ("0.000001", "0.000001"),
            ("1e-7", "1e-7"),
            ("123456789012345680000", "123456789012345680000"),
            ("4.50", "4.5"),
            ("2e-3", "0.002"),
            ("9007199254740992", "9007199254740992"),
            ("333333333.3333333", "333333333.3333333"),
            ("-5", "-5"),
            ("123456789012345", "123456789012345"),
            ("1234567890123456", "1234567890123456"),
        ] {
            assert_eq!(canonical_number(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn numbers_beyond_double_precision_are_refused() {
        for input in [
            "9007199254740993",
            "0.10000000000000000001",
            "1e400",
            "12345678901234567890",
            "1e-400",
            "-4.9e-330",
        ] {
            let e = canonical_number(input).unwrap_err();
            assert_eq!(
                e.code,
                crate::domain::error::Code::ValidationError,
                "{input}"
            );
        }
        for zero in ["0", "-0", "0.0", "0e10", "-0.000e-5"] {
            assert_eq!(canonical_number(zero).unwrap(), "0", "{zero}");
        }
        // the smallest subnormal is exact enough to keep
        assert_eq!(canonical_number("5e-324").unwrap(), "5e-324");
    }

    #[test]
    fn readme_test_vector() {
        // README: printf '%s' '{"amount":500,"player_id":"p-1","reason":"birthday 🎂"}' | sha256sum
        let v = json!({"reason": "birthday 🎂", "player_id": "p-1", "amount": 500});
        assert_eq!(
            canonical_json(&v).unwrap(),
            r#"{"amount":500,"player_id":"p-1","reason":"birthday 🎂"}"#
        );
    }

    #[test]
    fn sha256_hex_vectors() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn gameplay_key_format() {
        assert_eq!(
            gameplay_key("0b7d2c52-4f0e-4b8e-9a57-0b8b3e0e6d11"),
            "gameplay:0b7d2c52-4f0e-4b8e-9a57-0b8b3e0e6d11"
        );
    }
}
