//! Seeded synthetic population for evaluating Haven's matching: registered
//! children, tracing requests and their ground truth. Every name is generated;
//! nothing here describes a real person.
