//! The Haven gRPC contract. One module tree per proto package, plus the encoded descriptor set that the
//! gateway serves through reflection and the table of which message holds which data class.

#![allow(unreachable_pub, missing_debug_implementations, clippy::all)]

pub mod codec;

pub mod haven {
    pub mod auth {
        pub mod v1 {
            tonic::include_proto!("haven.auth.v1");
        }
    }
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("haven.common.v1");
        }
    }
    pub mod events {
        pub mod v1 {
            tonic::include_proto!("haven.events.v1");
        }
    }
    pub mod family_tracing {
        pub mod v1 {
            tonic::include_proto!("haven.family_tracing.v1");
        }
    }
    pub mod identity {
        pub mod v1 {
            tonic::include_proto!("haven.identity.v1");
        }
    }
    pub mod learning {
        pub mod v1 {
            tonic::include_proto!("haven.learning.v1");
        }
    }
}

pub use haven::auth::v1 as auth;
pub use haven::common::v1 as common;
pub use haven::events::v1 as events;
pub use haven::family_tracing::v1 as family_tracing;
pub use haven::identity::v1 as identity;
pub use haven::learning::v1 as learning;

/// The encoded `FileDescriptorSet` of every Haven proto and its imports, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/haven_descriptor.bin"));

mod data_classes {
    include!(concat!(env!("OUT_DIR"), "/data_classes.rs"));
}

/// The data class a message declares through the `haven.common.v1.data_class` option, by full name.
pub fn data_class_of(message_full_name: &str) -> Option<common::DataClass> {
    data_classes::MESSAGE_DATA_CLASSES
        .iter()
        .find(|(name, _)| *name == message_full_name)
        .and_then(|(_, class)| common::DataClass::try_from(*class).ok())
}

/// Full names of all messages that declare a data class.
pub fn classified_messages() -> impl Iterator<Item = &'static str> {
    data_classes::MESSAGE_DATA_CLASSES
        .iter()
        .map(|(name, _)| *name)
}
