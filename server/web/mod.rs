//! The web server: pages and JSON API.
