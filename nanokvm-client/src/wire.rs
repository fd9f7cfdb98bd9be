//! Requests as plain data, and the firmware's response envelope, with no I/O.
//!
//! Every API call is first described as an [`ApiRequest`] by a pure function in its
//! area module, and every answer is decoded by [`decode_envelope`]; only the transport in
//! `client.rs` sends anything. That keeps request shapes and decoding testable without
//! sockets.

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};

/// The HTTP methods the firmware uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
    }
}

/// One API call, before it is sent.
///
/// `Debug` shows the method and path only: bodies may carry (obfuscated) passwords.
#[derive(Clone)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) body: Option<Value>,
    /// Whether repeating the request cannot change the outcome. Only idempotent requests
    /// are repeated after a re-login; nothing is ever repeated after a timeout.
    pub(crate) idempotent: bool,
    /// Added to the client's request timeout, for calls the firmware answers only after
    /// acting (a long power press, a paste).
    pub(crate) extra_timeout: Duration,
}

impl ApiRequest {
    /// A read: `GET`, idempotent.
    pub(crate) fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            path: path.into(),
            body: None,
            idempotent: true,
            extra_timeout: Duration::ZERO,
        }
    }

    /// An action with a JSON body. Not idempotent unless marked so.
    pub(crate) fn post(path: impl Into<String>, body: Value) -> Self {
        Self {
            method: Method::Post,
            path: path.into(),
            body: Some(body),
            idempotent: false,
            extra_timeout: Duration::ZERO,
        }
    }

    /// An action with another method.
    pub(crate) fn with_method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Marks the request as safe to repeat (setting a value to the same value).
    pub(crate) fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Extends the timeout.
    pub(crate) fn extra_timeout(mut self, extra: Duration) -> Self {
        self.extra_timeout = extra;
        self
    }

    /// `"POST /api/vm/gpio"`, as errors name it.
    pub(crate) fn endpoint(&self) -> String {
        format!("{} {}", self.method.as_str(), self.path)
    }
}

impl fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiRequest({})", self.endpoint())
    }
}

/// Decodes `{"code", "msg", "data"}`: `data` as `T` when `code` is 0, else
/// [`Error::Device`]. Decoding failures name the JSON path, starting at `data`.
pub(crate) fn decode_envelope<T: DeserializeOwned>(endpoint: &str, body: &[u8]) -> Result<T> {
    let decode_error = |path: String, message: String| Error::Decode {
        endpoint: endpoint.to_owned(),
        path,
        message,
    };
    let envelope: Value = serde_json::from_slice(body)
        .map_err(|e| decode_error("$".to_owned(), format!("not JSON: {e}")))?;
    let Value::Object(mut map) = envelope else {
        return Err(decode_error(
            "$".to_owned(),
            "expected a JSON object envelope".to_owned(),
        ));
    };
    let code = match map.get("code") {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| decode_error("code".to_owned(), "not an integer".to_owned()))?,
        Some(_) => return Err(decode_error("code".to_owned(), "not an integer".to_owned())),
        None => return Err(decode_error("code".to_owned(), "missing".to_owned())),
    };
    if code != 0 {
        // The AI-control routes use `message` instead of `msg`.
        let message = map
            .get("msg")
            .or_else(|| map.get("message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        return Err(Error::Device {
            code,
            message,
            endpoint: endpoint.to_owned(),
        });
    }
    let data = map.remove("data").unwrap_or(Value::Null);
    decode_value(endpoint, data)
}

/// Decodes `data` as `T`, naming the path of a failure (`data.ips[0].addr`).
pub(crate) fn decode_value<T: DeserializeOwned>(endpoint: &str, data: Value) -> Result<T> {
    serde_path_to_error::deserialize(data).map_err(|e| {
        let path = e.path().to_string();
        Error::Decode {
            endpoint: endpoint.to_owned(),
            path: if path == "." {
                "data".to_owned()
            } else {
                format!("data.{path}")
            },
            message: e.into_inner().to_string(),
        }
    })
}

/// Deserializes a list that the firmware may send as `null`.
pub(crate) fn null_as_empty<'de, D, T>(deserializer: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize as _;
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Info {
        #[serde(deserialize_with = "null_as_empty")]
        ips: Vec<Ip>,
    }

    #[derive(serde::Deserialize, Debug)]
    struct Ip {
        #[allow(dead_code)]
        addr: String,
    }

    #[test]
    fn success_decodes_data_and_tolerates_null_lists() {
        let info: Info = decode_envelope(
            "GET /x",
            br#"{"code":0,"msg":"success","data":{"ips":null}}"#,
        )
        .unwrap();
        assert!(info.ips.is_empty());
        let unit: () =
            decode_envelope("GET /x", br#"{"code":0,"msg":"success","data":null}"#).unwrap();
        assert_eq!(unit, ());
    }

    #[test]
    fn failure_codes_become_device_errors() {
        let err = decode_envelope::<Value>(
            "POST /api/vm/gpio",
            br#"{"code":-2,"msg":"invalid power event: x","data":null}"#,
        )
        .unwrap_err();
        assert_eq!(err.device_code(), Some(-2));
        assert_eq!(
            err.to_string(),
            "POST /api/vm/gpio: device error -2: invalid power event: x"
        );
        let err =
            decode_envelope::<Value>("PUT /m", br#"{"code":-1,"message":"busy"}"#).unwrap_err();
        assert!(err.to_string().ends_with("busy"));
    }

    #[test]
    fn decode_errors_name_the_path() {
        let err = decode_envelope::<Info>(
            "GET /api/vm/info",
            br#"{"code":0,"msg":"success","data":{"ips":[{"addr":5}]}}"#,
        )
        .unwrap_err();
        match &err {
            Error::Decode { path, endpoint, .. } => {
                assert_eq!(path, "data.ips[0].addr");
                assert_eq!(endpoint, "GET /api/vm/info");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.is_decode());
        let err = decode_envelope::<Info>("GET /x", b"\"unauthorized\"").unwrap_err();
        assert!(err.is_decode());
        let err = decode_envelope::<Info>("GET /x", b"<html>").unwrap_err();
        assert!(err.is_decode());
    }

    #[test]
    fn debug_hides_the_body() {
        let req = ApiRequest::post("/api/auth/password", serde_json::json!({"password": "x"}));
        assert_eq!(format!("{req:?}"), "ApiRequest(POST /api/auth/password)");
    }
}
