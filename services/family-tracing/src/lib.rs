//! The family tracing service: tracing requests, match candidates and reunification.
