//! Snowflakes are written as strings in JSON, as Discord does (they do not fit in a double).

#![allow(clippy::trivially_copy_pass_by_ref)] // serde's `serialize_with` passes references

use serde::Serializer;
use serde::ser::SerializeSeq as _;

pub(crate) fn id<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

#[allow(clippy::ref_option)] // serde's `serialize_with` passes `&Option<T>`
pub(crate) fn opt_id<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

pub(crate) fn ids<S: Serializer>(v: &[u64], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for id in v {
        seq.serialize_element(&id.to_string())?;
    }
    seq.end()
}
