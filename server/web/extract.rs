//! What handlers take from a request, as axum's extractors: typed query parameters refused
//! with a 400 that names the parameter ([`Query`]), the snapshot a request is about ([`Snap`]),
//! and the view it asks for ([`View`]).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::layout::View;

use super::error::ApiError;
use super::state::{AppState, Current};

/// Query parameters deserialized into `T`, as axum's `Query`; a query that does not fit
/// (a parameter given twice, a value of the wrong form) is refused with [`ApiError`]: 400 and
/// the parameter named, in the JSON every other error of this server has.
#[derive(Debug, Clone, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(t) = axum::extract::Query::try_from_uri(&parts.uri)?;
        Ok(Query(t))
    }
}

/// The `snap=` parameter: the saved snapshot a request is about (absent, empty or `live`: the
/// live one).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SnapParam {
    /// The saved snapshot's ID.
    pub snap: Option<String>,
}

/// The state a request is about: the live one, or the saved snapshot its `snap=` names. A
/// snapshot that cannot be opened answers at once: 404 with the reason for an unknown ID (or a
/// server that keeps none), 503 while there is no live snapshot yet.
pub struct Snap(pub Arc<Current>);

impl Snap {
    /// The live state (`None`) or the saved snapshot `id`.
    pub async fn open(state: &AppState, id: Option<&str>) -> Result<Arc<Current>, ApiError> {
        state.current_for(id).await?.ok_or_else(|| {
            let st = state.status();
            ApiError::no_snapshot(st.state, st.error)
        })
    }
}

impl FromRequestParts<AppState> for Snap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Query(p) = Query::<SnapParam>::from_request_parts(parts, state).await?;
        Ok(Snap(Snap::open(state, p.snap.as_deref()).await?))
    }
}

/// The view a request asks for (`open`, `shut`, `hide`, `sel`; repeated keys are the view's
/// own form, so it is read from the whole query string, never refused).
impl<S: Send + Sync> FromRequestParts<S> for View {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(View::from_query(parts.uri.query().unwrap_or("")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[derive(Debug, Deserialize)]
    struct Two {
        a: Option<String>,
        n: Option<u16>,
    }

    async fn query<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
        let req = axum::http::Request::builder()
            .uri(format!("/x?{q}"))
            .body(())
            .unwrap();
        let (mut parts, ()) = req.into_parts();
        Query::<T>::from_request_parts(&mut parts, &())
            .await
            .map(|Query(t)| t)
    }

    #[tokio::test]
    async fn a_query_that_does_not_fit_is_a_400_naming_the_parameter() {
        let ok: Two = query("a=x&n=7&open=1&open=2").await.unwrap();
        assert_eq!((ok.a.as_deref(), ok.n), (Some("x"), Some(7)));
        let twice = query::<Two>("a=x&a=y").await.unwrap_err();
        assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
        assert!(twice.message().contains("`a`"), "{twice}");
        let wrong = query::<Two>("n=http").await.unwrap_err();
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        assert!(
            wrong.message().starts_with("bad query string: n: "),
            "{wrong}"
        );
    }
}
