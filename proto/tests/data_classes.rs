//! Every field of a child record sits in a sub-message that declares its data class, so redaction by
//! sub-message can never let a field slip out of its class (DESIGN.md §3).

use haven_proto::common::DataClass;
use prost::Message as _;
use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};

fn message(set: &FileDescriptorSet, full_name: &str) -> DescriptorProto {
    let (package, name) = full_name.rsplit_once('.').expect("qualified name");
    set.file
        .iter()
        .filter(|f| f.package() == package)
        .flat_map(|f| f.message_type.iter())
        .find(|m| m.name() == name)
        .cloned()
        .unwrap_or_else(|| panic!("{full_name} not in the descriptor set"))
}

#[test]
fn every_field_of_child_is_a_classified_sub_message() {
    let set = FileDescriptorSet::decode(haven_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let child = message(&set, "haven.identity.v1.Child");
    let mut classes = Vec::new();
    for field in &child.field {
        assert_eq!(
            field.r#type(),
            Type::Message,
            "Child.{} must be a sub-message",
            field.name()
        );
        let type_name = field.type_name().trim_start_matches('.');
        let class = haven_proto::data_class_of(type_name).unwrap_or_else(|| {
            panic!(
                "Child.{} ({type_name}) declares no data class",
                field.name()
            )
        });
        classes.push(class);
    }
    assert_eq!(
        classes,
        vec![
            DataClass::Identity,
            DataClass::Whereabouts,
            DataClass::Protection,
            DataClass::RecordMeta
        ]
    );
}

#[test]
fn a_classified_message_never_nests_another_class() {
    let set = FileDescriptorSet::decode(haven_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
    for name in haven_proto::classified_messages() {
        let descriptor = message(&set, name);
        for field in &descriptor.field {
            if field.r#type() != Type::Message {
                continue;
            }
            let nested = field.type_name().trim_start_matches('.');
            assert!(
                haven_proto::data_class_of(nested).is_none(),
                "{name}.{} nests {nested}, which has its own class",
                field.name()
            );
        }
    }
}

/// Every message an RPC of `service` can return, following message fields transitively.
fn reachable_outputs(set: &FileDescriptorSet, service: &str) -> Vec<String> {
    let (package, name) = service.rsplit_once('.').expect("qualified name");
    let service = set
        .file
        .iter()
        .filter(|f| f.package() == package)
        .flat_map(|f| f.service.iter())
        .find(|s| s.name() == name)
        .unwrap_or_else(|| panic!("{service} not in the descriptor set"));
    let mut seen: Vec<String> = Vec::new();
    let mut todo: Vec<String> = service
        .method
        .iter()
        .map(|m| m.output_type().trim_start_matches('.').to_owned())
        .collect();
    while let Some(next) = todo.pop() {
        if seen.contains(&next) || next.starts_with("google.protobuf.") {
            continue;
        }
        let descriptor = message(set, &next);
        for field in &descriptor.field {
            if field.r#type() == Type::Message {
                todo.push(field.type_name().trim_start_matches('.').to_owned());
            }
        }
        seen.push(next);
    }
    seen
}

#[test]
fn no_education_rpc_can_return_a_protection_world_field() {
    let set = FileDescriptorSet::decode(haven_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let outputs = reachable_outputs(&set, "haven.learning.v1.LearningRecords");
    assert!(
        outputs.len() > 10,
        "the walk found the outputs: {outputs:?}"
    );
    for name in &outputs {
        assert!(
            !name.starts_with("haven.identity.") && !name.starts_with("haven.family_tracing."),
            "an education response reaches {name}"
        );
        let class = haven_proto::data_class_of(name);
        assert!(
            !matches!(
                class,
                Some(DataClass::Whereabouts | DataClass::Protection | DataClass::Tracing)
            ),
            "{name} is {class:?}"
        );
    }
}
