//! HTTP API, web dashboard and the composition of sources, rules and store.
