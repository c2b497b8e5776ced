//! The names of the event streams on the bus and of the consumer groups that read them, declared once so
//! a publisher and its consumers cannot drift apart.

/// The stream the identity service publishes to (children registered, changed, merged, erased, and
/// learner affiliations).
pub const IDENTITY_STREAM: &str = "haven:events:identity";

/// The stream the learning service publishes to (records written, learners enrolled).
pub const LEARNING_STREAM: &str = "haven:events:learning";

/// The consumer group through which identity applies learning events once per event.
pub const IDENTITY_GROUP: &str = "identity";

/// The consumer group through which learning keeps its projection of identity events.
pub const LEARNING_GROUP: &str = "learning";

/// The consumer group through which family tracing follows identity events.
pub const FAMILY_TRACING_GROUP: &str = "family-tracing";

/// The consumer group through which identity fans its own events out to partners' webhooks and change
/// feed, once per event for the whole deployment.
pub const PARTNER_FEED_GROUP: &str = "identity-partner-feed";
