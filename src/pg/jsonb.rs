//! RFC 8785 canonical JSON written straight from a `jsonb` datum.
//!
//! pgrx's `JsonB` argument prints the value with `jsonb_out` and parses the
//! text with serde_json before we see it; on the key-hashing hot path that
//! round trip cost more than the hashing. Here the binary value is walked
//! with PostgreSQL's own iterator and written canonically by [`keys`].

use crate::domain::error::{LoyaltyError, Result};
use crate::domain::keys;
use pgrx::callconv::{Arg, ArgAbi};
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::FromDatum;

/// A `jsonb` argument left in its binary form.
pub struct RawJsonb(pg_sys::Datum);

impl FromDatum for RawJsonb {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        (!is_null).then_some(RawJsonb(datum))
    }
}

unsafe impl<'fcx> ArgAbi<'fcx> for RawJsonb {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

unsafe impl SqlTranslatable for RawJsonb {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(RawJsonb);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: std::result::Result<SqlMappingRef, ArgumentError> =
        Ok(SqlMappingRef::literal("jsonb"));
    const RETURN_SQL: std::result::Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("jsonb")));
}

/// Deepest nesting accepted (serde_json's default limit, which the key
/// function used before it read jsonb directly).
pub const MAX_DEPTH: usize = 128;

/// The canonical JSON text of a `jsonb` value.
pub fn canonical(value: &RawJsonb) -> Result<String> {
    // SAFETY: the datum is a non-null jsonb argument of the current call;
    // detoasting gives an aligned value (a copy, or the original) that lives
    // until the call ends, and the iterators only read it. Every string,
    // number and nested container a JsonbValue points to lies inside it.
    unsafe {
        let jb = pg_sys::pg_detoast_datum(value.0.cast_mut_ptr()) as *mut pg_sys::Jsonb;
        let mut out = String::with_capacity(256);
        write_container(&mut out, &mut (*jb).root, 0)?;
        Ok(out)
    }
}

/// Write one container. Nested containers come back from the iterator as
/// binary values (skipNested) and are written by recursion, straight into
/// `out`: an object's members are sorted before any value is written.
unsafe fn write_container(
    out: &mut String,
    container: *mut pg_sys::JsonbContainer,
    depth: usize,
) -> Result<()> {
    use pg_sys::JsonbIteratorToken::*;
    if depth >= MAX_DEPTH {
        return Err(LoyaltyError::validation(format!(
            "payload nests deeper than {MAX_DEPTH} levels"
        )));
    }
    unsafe {
        let mut it = pg_sys::JsonbIteratorInit(container);
        let mut v: pg_sys::JsonbValue = std::mem::zeroed();
        match pg_sys::JsonbIteratorNext(&mut it, &mut v, true) {
            WJB_BEGIN_ARRAY => {
                // A top-level scalar is stored as a one-element "raw" array.
                let raw = v.val.array.rawScalar;
                if !raw {
                    out.push('[');
                }
                let mut first = true;
                while pg_sys::JsonbIteratorNext(&mut it, &mut v, true) == WJB_ELEM {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    write_value(out, &v, depth)?;
                }
                if !raw {
                    out.push(']');
                }
            }
            WJB_BEGIN_OBJECT => {
                let mut members: Vec<(&str, pg_sys::JsonbValue)> =
                    Vec::with_capacity(v.val.object.nPairs.max(0) as usize);
                while pg_sys::JsonbIteratorNext(&mut it, &mut v, true) == WJB_KEY {
                    let key = text_of(&v)?;
                    pg_sys::JsonbIteratorNext(&mut it, &mut v, true); // WJB_VALUE
                    members.push((key, v));
                }
                keys::sort_members(&mut members);
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    keys::write_string(out, key);
                    out.push(':');
                    write_value(out, value, depth)?;
                }
                out.push('}');
            }
            _ => {}
        }
    }
    Ok(())
}

/// The bytes of a string value (the database encoding, UTF-8 here).
unsafe fn text_of<'a>(v: &pg_sys::JsonbValue) -> Result<&'a str> {
    let s = unsafe { v.val.string };
    let bytes = unsafe { std::slice::from_raw_parts(s.val as *const u8, s.len.max(0) as usize) };
    std::str::from_utf8(bytes)
        .map_err(|_| LoyaltyError::validation("payload contains a string that is not UTF-8"))
}

unsafe fn write_value(out: &mut String, v: &pg_sys::JsonbValue, depth: usize) -> Result<()> {
    use pg_sys::jbvType;
    match v.type_ {
        jbvType::jbvNull => out.push_str("null"),
        jbvType::jbvBool => out.push_str(if unsafe { v.val.boolean } {
            "true"
        } else {
            "false"
        }),
        jbvType::jbvString => keys::write_string(out, unsafe { text_of(v)? }),
        jbvType::jbvNumeric => {
            // numeric_normalize drops trailing fractional zeros: 1.50 -> 1.5
            let c = unsafe { pg_sys::numeric_normalize(v.val.numeric) };
            let text = unsafe { std::ffi::CStr::from_ptr(c) }.to_str();
            let canonical = keys::canonical_number(text.unwrap_or_default());
            unsafe { pg_sys::pfree(c.cast()) };
            out.push_str(&canonical?);
        }
        jbvType::jbvBinary => unsafe { write_container(out, v.val.binary.data, depth + 1)? },
        other => {
            return Err(LoyaltyError::validation(format!(
                "payload holds a jsonb value of internal type {other}"
            )))
        }
    }
    Ok(())
}
