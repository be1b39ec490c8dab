//! Integer fields of request bodies that also accept a whole number written with a fraction.
//!
//! The OpenAPI document types these fields `integer`, and JSON Schema counts `3.0` as an
//! integer (its data model has numbers, not integer and float types), so a client generated
//! from the document may well send `"score": 3.0`. serde refuses a float for an integer field;
//! these deserializers accept any JSON number with no fractional part that fits the field's type,
//! and still refuse `3.5`, `1e300` and strings.
//!
//! Use: `#[serde(deserialize_with = "crate::whole_numbers::required")]` on an integer field, and
//! `#[serde(default, deserialize_with = "crate::whole_numbers::optional")]` on an optional one.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{Error, Unexpected, Visitor};

/// An integer field that must be present.
pub fn required<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    deserializer.deserialize_any(WholeNumber(PhantomData))
}

/// An optional integer field: absent or `null` is `None`.
pub fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    deserializer.deserialize_option(Optional(PhantomData))
}

struct WholeNumber<T>(PhantomData<T>);

impl<T: TryFrom<i64>> WholeNumber<T> {
    fn fit<E: Error>(&self, value: i64) -> Result<T, E> {
        T::try_from(value).map_err(|_| E::invalid_value(Unexpected::Signed(value), self))
    }
}

impl<T: TryFrom<i64>> Visitor<'_> for WholeNumber<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number in range")
    }

    fn visit_i64<E: Error>(self, value: i64) -> Result<T, E> {
        self.fit(value)
    }

    fn visit_u64<E: Error>(self, value: u64) -> Result<T, E> {
        let signed = i64::try_from(value).map_err(|_| E::invalid_value(Unexpected::Unsigned(value), &self))?;
        self.fit(signed)
    }

    fn visit_f64<E: Error>(self, value: f64) -> Result<T, E> {
        // i64's range as floats: [-2^63, 2^63). A whole float inside it converts exactly.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if value.is_finite() && value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value) {
            self.fit(value as i64) // whole and in range: exact
        } else {
            Err(E::invalid_type(Unexpected::Float(value), &self))
        }
    }
}

struct Optional<T>(PhantomData<T>);

impl<'de, T: TryFrom<i64>> Visitor<'de> for Optional<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number in range, or null")
    }

    fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        required(deserializer).map(Some)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a test fails loudly")]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Body {
        #[serde(deserialize_with = "super::required")]
        quarter: u8,
        #[serde(default, deserialize_with = "super::optional")]
        minutes: Option<i32>,
    }

    fn parse(json: &str) -> Result<Body, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn whole_numbers_are_accepted_however_they_are_written() {
        for json in
            [r#"{"quarter":3,"minutes":30}"#, r#"{"quarter":3.0,"minutes":30.0}"#, r#"{"quarter":3e0,"minutes":3.0e1}"#]
        {
            assert_eq!(parse(json).unwrap(), Body { quarter: 3, minutes: Some(30) }, "{json}");
        }
        assert_eq!(parse(r#"{"quarter":1,"minutes":-0.0}"#).unwrap().minutes, Some(0));
    }

    #[test]
    fn absent_and_null_optional_fields_are_none() {
        assert_eq!(parse(r#"{"quarter":1}"#).unwrap().minutes, None);
        assert_eq!(parse(r#"{"quarter":1,"minutes":null}"#).unwrap().minutes, None);
    }

    #[test]
    fn fractions_out_of_range_values_and_other_types_are_refused() {
        for json in [
            r#"{"quarter":3.5}"#,
            r#"{"quarter":256}"#,
            r#"{"quarter":256.0}"#,
            r#"{"quarter":-1}"#,
            r#"{"quarter":1e300}"#,
            r#"{"quarter":"3"}"#,
            r#"{"quarter":null}"#,
            r#"{"quarter":true}"#,
            r#"{"quarter":1,"minutes":2147483648}"#,
            r#"{"quarter":1,"minutes":18446744073709551615}"#,
            r#"{"quarter":1,"minutes":9223372036854775808.0}"#,
            r#"{"quarter":1,"minutes":0.1}"#,
        ] {
            let err = parse(json).unwrap_err();
            assert!(err.is_data(), "{json}: {err}");
        }
    }

    #[test]
    fn i64_extremes_convert_exactly() {
        #[derive(Deserialize)]
        struct Wide {
            #[serde(deserialize_with = "super::required")]
            v: i64,
        }
        let min: Wide = serde_json::from_str(r#"{"v":-9223372036854775808.0}"#).unwrap();
        assert_eq!(min.v, i64::MIN);
        let max: Wide = serde_json::from_str(r#"{"v":9223372036854775807}"#).unwrap();
        assert_eq!(max.v, i64::MAX);
    }
}
