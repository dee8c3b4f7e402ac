//! Docker's `filters` query parameter: JSON, either `{"key": ["v1", "v2"]}` or the
//! older `{"key": {"v1": true}}` the docker CLI still sends; and the engine's errors of
//! the image, network and volume endpoints as Docker's status codes.

use std::collections::BTreeMap;

use lindocker_engine::EngineError;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::query::Query;

/// The `filters` parameter as key -> values; absent or empty: no filters.
pub fn filters(query: &Query) -> ApiResult<BTreeMap<String, Vec<String>>> {
    let Some(text) = query.get("filters").filter(|t| !t.trim().is_empty()) else { return Ok(BTreeMap::new()) };
    let bad = || ApiError::bad(format!("invalid filter: {text:?}"));
    let Value::Object(map) = serde_json::from_str::<Value>(text).map_err(|_| bad())? else { return Err(bad()) };
    let mut out = BTreeMap::new();
    for (key, value) in map {
        let values: Vec<String> = match value {
            Value::Array(items) => {
                items.into_iter().map(|v| v.as_str().map(str::to_owned).ok_or_else(bad)).collect::<Result<_, _>>()?
            }
            Value::Object(set) => {
                set.into_iter().filter(|(_, on)| on.as_bool() != Some(false)).map(|(k, _)| k).collect()
            }
            _ => return Err(bad()),
        };
        out.insert(key, values);
    }
    Ok(out)
}

/// The filters as `key=value` strings (the events reader's form).
pub fn pairs(map: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    map.iter().flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}={v}"))).collect()
}

/// A boolean filter value (`dangling=true`); `None` when absent.
pub fn boolean(map: &BTreeMap<String, Vec<String>>, key: &str) -> ApiResult<Option<bool>> {
    match map.get(key).and_then(|vs| vs.last()) {
        None => Ok(None),
        Some(v) => match v.as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(ApiError::bad(format!("invalid filter '{key}={v}'"))),
        },
    }
}

/// An engine error as the API answers it (see [`ApiError`]'s `From`).
pub fn engine_error(e: EngineError) -> ApiError {
    ApiError::from(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let q = Query::parse(Some("filters=%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%2C%22name%22%3A%5B%22x%22%5D%7D"))
            .unwrap();
        let f = filters(&q).unwrap();
        assert_eq!(f["label"], vec!["a=b"]);
        assert_eq!(f["name"], vec!["x"]);
        assert_eq!(pairs(&f), vec!["label=a=b", "name=x"]);
        assert!(filters(&Query::parse(Some("filters=%5B1%5D")).unwrap()).is_err());
        assert!(filters(&Query::parse(Some("filters=%7B%22a%22%3A1%7D")).unwrap()).is_err());
        assert!(filters(&Query::default()).unwrap().is_empty());
    }
}
