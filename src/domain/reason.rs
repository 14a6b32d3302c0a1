//! Free text a person reads later (reasons, a comp's outlet, names): only
//! characters a person can see count toward a minimum, so three zero-width
//! spaces are no outlet and ten are no reason.

use crate::domain::error::{LoyaltyError, Result};

/// Shortest and longest reason, in visible characters.
pub const MIN_REASON_CHARS: usize = 10;
pub const MAX_REASON_CHARS: usize = 1000;

/// Characters that print nothing: controls, and the zero-width and
/// invisible formatting characters an insider could pad a reason with.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}'                 // soft hyphen
            | '\u{034F}'               // combining grapheme joiner
            | '\u{061C}'               // Arabic letter mark
            | '\u{115F}' | '\u{1160}'  // Hangul fillers
            | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'  // Mongolian variation selectors and vowel separator
            | '\u{200B}'..='\u{200F}'  // zero-width space, joiners, direction marks
            | '\u{202A}'..='\u{202E}'  // bidirectional embeddings
            | '\u{2060}'..='\u{206F}'  // word joiner, invisible operators, deprecated formats
            | '\u{3164}'               // Hangul filler
            | '\u{FE00}'..='\u{FE0F}'  // variation selectors
            | '\u{FEFF}'               // zero-width no-break space
            | '\u{FFA0}'
            | '\u{E0000}'..='\u{E007F}' // tags
        )
}

/// Visible characters in `s` (whitespace counts once it sits between them).
pub fn visible_chars(s: &str) -> usize {
    s.trim().chars().filter(|c| !invisible(*c)).count()
}

/// A required reason of 10 to 1,000 visible characters; returned trimmed.
pub fn check(reason: Option<&str>) -> Result<String> {
    text(reason, "reason", MIN_REASON_CHARS, MAX_REASON_CHARS)
}

/// A required free-text argument `name` with at least `min_visible`
/// visible characters and at most `max_chars` characters in all, with no
/// control character; returned trimmed. Every free-text argument goes
/// through here: the rule has one home.
pub fn text(
    value: Option<&str>,
    name: &str,
    min_visible: usize,
    max_chars: usize,
) -> Result<String> {
    let value = value.map(str::trim).unwrap_or_default();
    let min = min_visible.max(1);
    if visible_chars(value) < min {
        return Err(LoyaltyError::validation(format!(
            "{name} must have at least {min} visible character{}",
            if min == 1 { "" } else { "s" }
        )));
    }
    if value.chars().count() > max_chars {
        return Err(LoyaltyError::validation(format!(
            "{name} must be at most {max_chars} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(LoyaltyError::validation(format!(
            "{name} must not contain control characters"
        )));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn only_visible_characters_count() {
        assert_eq!(visible_chars("birthday 🎂"), 10);
        assert_eq!(visible_chars("  ten chars!  "), 10);
        assert_eq!(
            visible_chars(
                "a\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}b"
            ),
            2
        );
        assert_eq!(
            visible_chars("ab\u{0007}\u{0007}\u{0007}\u{0007}\u{0007}\u{0007}\u{0007}\u{0007}"),
            2
        );
        assert_eq!(visible_chars("x\u{FEFF}\u{2060}\u{00AD}\u{E0041}"), 1);
    }

    #[test]
    fn check_counts_visible_and_caps_total() {
        assert!(check(Some("birthday bonus")).is_ok());
        assert!(check(Some(
            "\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}x"
        ))
        .is_err());
        assert!(check(None).is_err());
        assert!(check(Some(&"x".repeat(1000))).is_ok());
        assert!(check(Some(&"x".repeat(1001))).is_err());
        assert_eq!(check(Some("  padded reason  ")).unwrap(), "padded reason");
    }

    #[test]
    fn free_text_needs_something_to_see() {
        assert!(text(Some("\u{200B}\u{200B}\u{200B}"), "p_outlet", 1, 100).is_err());
        assert!(text(Some("   "), "p_outlet", 1, 100).is_err());
        assert!(text(Some("bar\u{0007}"), "p_outlet", 1, 100).is_err());
        assert_eq!(
            text(Some(" Steakhouse "), "p_outlet", 1, 100).unwrap(),
            "Steakhouse"
        );
        assert!(text(Some(&"x".repeat(101)), "p_outlet", 1, 100).is_err());
    }
}
