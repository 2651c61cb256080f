//! The router built together with its access table: a route can only be added with what it
//! needs, so no route escapes the access check ([`super::guard`] refuses any route the table
//! does not name).

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{delete, get, post, MethodRouter};
use axum::Router;

use super::{Need, Rule};

/// Routes being added, each with its rule.
pub struct Routes<S> {
    router: Router<S>,
    rules: Vec<Rule>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Self {
            router: Router::new(),
            rules: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// No routes yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn add(
        mut self,
        method: Method,
        path: &'static str,
        need: Need,
        page: bool,
        r: MethodRouter<S>,
    ) -> Self {
        self.router = self.router.route(path, r);
        self.rules.push(Rule {
            method,
            path,
            need,
            page,
        });
        self
    }

    /// An HTML page (a refusal for want of a login shows the login page).
    pub fn page<H: Handler<T, S>, T: 'static>(self, path: &'static str, need: Need, h: H) -> Self {
        self.add(Method::GET, path, need, true, get(h))
    }

    /// A GET (and HEAD) that answers data.
    pub fn get<H: Handler<T, S>, T: 'static>(self, path: &'static str, need: Need, h: H) -> Self {
        self.add(Method::GET, path, need, false, get(h))
    }

    /// A POST.
    pub fn post<H: Handler<T, S>, T: 'static>(self, path: &'static str, need: Need, h: H) -> Self {
        self.add(Method::POST, path, need, false, post(h))
    }

    /// A DELETE.
    pub fn delete<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        need: Need,
        h: H,
    ) -> Self {
        self.add(Method::DELETE, path, need, false, delete(h))
    }

    /// The router with its state, and the rules of its routes.
    pub fn finish(self, state: S) -> (Router, Vec<Rule>) {
        (self.router.with_state(state), self.rules)
    }
}
