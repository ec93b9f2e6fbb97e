//! Support code shared by the integration tests (`mod support;`).

pub mod apiserver;
pub mod tarpit;
